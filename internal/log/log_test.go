package log

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/record"
)

func segmentBases(t *testing.T, dir string) []int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var bases []int64
	for _, e := range ents {
		if b, ok := parseBaseName(e.Name(), logSuffix); ok {
			bases = append(bases, b)
		}
	}
	return bases
}

// TestAppendReadRoundTrip appends batches of 1..4 records to a log with
// small segments and reads them back, from the start and from every offset.
func TestAppendReadRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Batches are 61 + n*(~20) bytes: a segment holds a few of them.
	l := openLog(t, dir, Config{SegmentBytes: 400, IndexIntervalBytes: 100}, nil, nil)
	var want [][]byte
	var next int64
	for i := range 30 {
		n := i%4 + 1
		b := buildBatch(spec{records: n, ts: baseTS + int64(i)})
		res := mustAppend(t, l, b)
		if res.BaseOffset != next || res.LastOffset != next+int64(n-1) || res.Duplicate || res.LogAppendTime != -1 {
			t.Fatalf("batch %d: result %+v, want base %d last %d", i, res, next, next+int64(n-1))
		}
		if h := header(t, b); h.BaseOffset != next || h.PartitionLeaderEpoch != 0 {
			t.Fatalf("batch %d rewritten to base %d epoch %d", i, h.BaseOffset, h.PartitionLeaderEpoch)
		}
		next += int64(n)
		if res.End.Offset != next || l.EndOffset() != next {
			t.Fatalf("batch %d: end %+v, EndOffset %d, want %d", i, res.End, l.EndOffset(), next)
		}
		want = append(want, b)
	}
	if got := segmentBases(t, dir); len(got) < 5 {
		t.Fatalf("segments %v: want several rolls", got)
	}
	check := func(l *Log) {
		t.Helper()
		got := readAll(t, l)
		if len(got) != len(want) {
			t.Fatalf("read %d batches, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("batch %d differs", i)
			}
		}
		// From every offset the first batch is the one holding it.
		for off := int64(0); off < next; off++ {
			r, err := l.Read(off, 1<<20, l.EndPosition(), false)
			if err != nil {
				t.Fatalf("Read(%d): %v", off, err)
			}
			bs := splitBatches(t, sliceBytes(t, r))
			h := header(t, bs[0])
			if h.BaseOffset > off || h.LastOffset() < off || r.FirstBatchOffset != h.BaseOffset {
				t.Fatalf("Read(%d): first batch [%d, %d], FirstBatchOffset %d", off, h.BaseOffset, h.LastOffset(), r.FirstBatchOffset)
			}
		}
		var size int64
		for _, b := range want {
			size += int64(len(b))
		}
		if l.Size() != size {
			t.Fatalf("Size %d, want %d", l.Size(), size)
		}
	}
	check(l)
	mustClose(t, l)
	l = openLog(t, dir, Config{SegmentBytes: 400, IndexIntervalBytes: 100}, nil, nil)
	defer l.Close()
	check(l)
}

func TestReadBounds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, dir, Config{}, nil, nil)
	defer l.Close()
	var sizes []int64
	for i := range 4 {
		b := buildBatch(spec{records: 2, value: 100 * (i + 1)})
		sizes = append(sizes, int64(len(b)))
		mustAppend(t, l, b)
	}
	// Offsets: batch i holds 2i and 2i+1.
	pos := func(i int) int64 {
		var p int64
		for _, s := range sizes[:i] {
			p += s
		}
		return p
	}
	end := l.EndPosition()
	hw := Position{Offset: 6, SegmentBase: 0, FilePos: pos(3)}
	tests := []struct {
		name      string
		offset    int64
		maxBytes  int64
		upTo      Position
		minOne    bool
		wantPos   int64
		wantLen   int64
		wantFirst int64
		wantErr   error
	}{
		{"whole log", 0, 1 << 20, end, false, 0, pos(4), 0, nil},
		{"mid batch offset starts at its batch", 3, 1 << 20, end, false, pos(1), pos(4) - pos(1), 2, nil},
		{"maxBytes cuts inside a batch", 0, sizes[0] + 10, end, false, 0, sizes[0] + 10, 0, nil},
		{"minOne returns the whole oversize first batch", 2, 5, end, true, pos(1), sizes[1], 2, nil},
		{"without minOne an oversize batch is cut", 2, 5, end, false, pos(1), 5, 2, nil},
		{"zero maxBytes without minOne is empty", 2, 0, end, false, 0, 0, -1, nil},
		{"zero maxBytes with minOne is one batch", 2, 0, end, true, pos(1), sizes[1], 2, nil},
		{"upTo bounds the read", 0, 1 << 20, hw, false, 0, pos(3), 0, nil},
		{"offset at upTo is empty", 6, 1 << 20, hw, false, 0, 0, -1, nil},
		{"offset at end is empty", 8, 1 << 20, end, false, 0, 0, -1, nil},
		{"past end is out of range", 9, 1 << 20, end, false, 0, 0, -1, ErrOffsetOutOfRange},
		{"negative is out of range", -1, 1 << 20, end, false, 0, 0, -1, ErrOffsetOutOfRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := l.Read(tc.offset, tc.maxBytes, tc.upTo, tc.minOne)
			defer r.Slice.Release()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if r.Slice.Pos != tc.wantPos || r.Slice.Len != tc.wantLen || r.FirstBatchOffset != tc.wantFirst {
				t.Fatalf("slice pos %d len %d first %d, want %d %d %d",
					r.Slice.Pos, r.Slice.Len, r.FirstBatchOffset, tc.wantPos, tc.wantLen, tc.wantFirst)
			}
		})
	}
}

// TestIndexLookups checks, at every offset of a multi-segment log, that the
// index names exactly the batch a model of Kafka's interval rule predicts,
// both while segments are active and after a reopen (sealed, file-backed).
func TestIndexLookups(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 2000, IndexIntervalBytes: 150}
	l := openLog(t, dir, cfg, nil, nil)
	type batchAt struct{ seg, base, last, pos int64 }
	var batches []batchAt
	indexed := map[int64]bool{} // base offsets that got an index entry
	var segBase, pos, since int64
	for i := range 60 {
		b := buildBatch(spec{records: i%3 + 1, value: 10 + i%50})
		res := mustAppend(t, l, b)
		if res.End.SegmentBase != segBase {
			segBase, pos, since = res.End.SegmentBase, 0, 0
		}
		if since >= cfg.IndexIntervalBytes {
			indexed[res.BaseOffset] = true
			since = 0
		}
		since += int64(len(b))
		batches = append(batches, batchAt{segBase, res.BaseOffset, res.LastOffset, pos})
		pos += int64(len(b))
	}
	check := func(l *Log) {
		t.Helper()
		for _, b := range batches {
			for off := b.base; off <= b.last; off++ {
				s, err := l.pinFloor(off)
				if err != nil || s == nil || s.base != b.seg {
					t.Fatalf("offset %d: segment %v (%v), want %d", off, s, err, b.seg)
				}
				// Expected: the last indexed batch of this segment at or below off.
				var want int64
				for _, c := range batches {
					if c.seg == b.seg && c.base <= off && indexed[c.base] {
						want = c.pos
					}
				}
				got, err := s.lookupPos(off)
				if err != nil || got != want {
					t.Fatalf("offset %d: lookupPos %d (%v), want %d", off, got, err, want)
				}
				fpos, h, found, err := s.find(off, s.size.Load())
				if err != nil || !found || fpos != b.pos || h.BaseOffset != b.base {
					t.Fatalf("offset %d: find pos %d base %d found %v (%v), want pos %d base %d", off, fpos, h.BaseOffset, found, err, b.pos, b.base)
				}
				s.unpin()
			}
		}
	}
	check(l)
	mustClose(t, l)
	l = openLog(t, dir, cfg, nil, nil)
	defer l.Close()
	if !l.stats.clean {
		t.Fatal("reopen after Close was not clean")
	}
	check(l)
}

func TestRoll(t *testing.T) {
	t.Parallel()
	one := int64(len(buildBatch(spec{})))
	tests := []struct {
		name    string
		cfg     Config
		batches []spec
		advance time.Duration // clock step before each append
		want    []int64       // segment bases
	}{
		{"by size: exactly two batches per segment", Config{SegmentBytes: 2 * one},
			[]spec{{}, {}, {}, {}, {}}, 0, []int64{0, 2, 4}},
		{"an oversize batch gets a segment of its own", Config{SegmentBytes: one},
			[]spec{{}, {value: 500}, {}}, 0, []int64{0, 1, 2}},
		{"by time", Config{SegmentMs: 1000},
			[]spec{{}, {}, {}, {}}, 600 * time.Millisecond, []int64{0, 2}},
		{"time below segment.ms does not roll", Config{SegmentMs: 1000},
			[]spec{{}, {}}, 999 * time.Millisecond, []int64{0}},
		{"by index size", Config{SegmentIndexBytes: 24, IndexIntervalBytes: 1},
			// The time index holds 2 entries, one kept for seal's final
			// entry; the first batch of a segment needs no entry.
			[]spec{{}, {}, {}, {}, {}, {}}, 0, []int64{0, 2, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			clk := newClock()
			l := openLog(t, dir, tc.cfg, nil, clk)
			defer l.Close()
			for _, s := range tc.batches {
				clk.advance(tc.advance)
				mustAppend(t, l, buildBatch(s))
			}
			if got := segmentBases(t, dir); !slices.Equal(got, tc.want) {
				t.Fatalf("segments %v, want %v", got, tc.want)
			}
			if n := len(readAll(t, l)); n != len(tc.batches) {
				t.Fatalf("read %d batches, want %d", n, len(tc.batches))
			}
		})
	}
}

// TestRollRelativeOffsetOverflow: a batch whose last offset would be more
// than MaxInt32 above the segment base goes to a new segment.
func TestRollRelativeOffsetOverflow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, dir, Config{}, nil, nil)
	defer l.Close()
	big := buildBatch(spec{})
	binary32(big[record.LastOffsetDeltaOffset:], math.MaxInt32-1) // offsets 0..MaxInt32-1
	fixCRC(big)
	mustAppend(t, l, big)
	res := mustAppend(t, l, buildBatch(spec{records: 2}))
	if res.BaseOffset != math.MaxInt32 || res.End.SegmentBase != math.MaxInt32 {
		t.Fatalf("result %+v: want a new segment at %d", res, math.MaxInt32)
	}
	if got := segmentBases(t, dir); !slices.Equal(got, []int64{0, math.MaxInt32}) {
		t.Fatalf("segments %v", got)
	}
}

func binary32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

func fixCRC(b []byte) {
	binary32(b[record.CRCOffset:], crc32.Checksum(b[record.AttributesOffset:], castagnoli))
}

func TestLogAppendTime(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{}, nil, nil)
	defer l.Close()
	b := buildBatch(spec{records: 3})
	res, err := l.Append(b, AppendOptions{LeaderEpoch: 7, LogAppendTime: 42})
	if err != nil {
		t.Fatal(err)
	}
	if res.LogAppendTime != 42 {
		t.Fatalf("LogAppendTime %d", res.LogAppendTime)
	}
	got := readAll(t, l) // checks the CRC
	h := header(t, got[0])
	if h.MaxTimestamp != 42 || h.Attributes&record.AttrTimestampType == 0 || h.PartitionLeaderEpoch != 7 || h.BaseTimestamp != baseTS {
		t.Fatalf("stored header %+v", h)
	}
	// A retried idempotent batch is answered with its original time.
	idem := spec{records: 2, pid: 3, idem: true}
	if _, err := l.Append(buildBatch(idem), AppendOptions{LogAppendTime: 50}); err != nil {
		t.Fatal(err)
	}
	res, err = l.Append(buildBatch(idem), AppendOptions{LogAppendTime: 99})
	if err != nil || !res.Duplicate || res.BaseOffset != 3 || res.LogAppendTime != 50 {
		t.Fatalf("retry: %+v, %v", res, err)
	}
}

func TestSetConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one := int64(len(buildBatch(spec{})))
	l := openLog(t, dir, Config{}, nil, nil)
	defer l.Close()
	appendN(t, l, 3, spec{})
	l.SetConfig(Config{SegmentBytes: 2 * one})
	appendN(t, l, 3, spec{})
	if got := segmentBases(t, dir); !slices.Equal(got, []int64{0, 3, 5}) {
		t.Fatalf("segments %v, want [0 3 5]", got)
	}
}

func TestFindByTimestampAndMax(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 300, IndexIntervalBytes: 1}
	l := openLog(t, dir, cfg, nil, nil)
	// Batch i has one record at tss[i]; offsets equal i.
	tss := []int64{100, 300, 200, 500, 400, 500, 700, 600, 650, 100}
	for _, ts := range tss {
		mustAppend(t, l, buildBatch(spec{ts: ts}))
	}
	tests := []struct {
		ts   int64
		want int64 // offset of the batch, -1 for none
	}{
		{0, 0}, {100, 0}, {101, 1}, {250, 1}, {300, 1}, {301, 3}, {450, 3}, {500, 3}, {501, 6}, {650, 6}, {700, 6}, {701, -1},
	}
	check := func(l *Log) {
		t.Helper()
		for _, tc := range tests {
			b, err := l.FindByTimestamp(tc.ts)
			if err != nil {
				t.Fatalf("FindByTimestamp(%d): %v", tc.ts, err)
			}
			got := int64(-1)
			if b != nil {
				got = header(t, b).BaseOffset
			}
			if got != tc.want {
				t.Errorf("FindByTimestamp(%d) = offset %d, want %d", tc.ts, got, tc.want)
			}
		}
		b, err := l.MaxTimestampBatch()
		if err != nil || b == nil {
			t.Fatalf("MaxTimestampBatch: %v", err)
		}
		if h := header(t, b); h.BaseOffset != 6 || h.MaxTimestamp != 700 {
			t.Fatalf("MaxTimestampBatch: offset %d ts %d", h.BaseOffset, h.MaxTimestamp)
		}
	}
	check(l)
	mustClose(t, l)
	l = openLog(t, dir, cfg, nil, nil)
	defer l.Close()
	check(l)

	empty := openLog(t, t.TempDir(), Config{}, nil, nil)
	defer empty.Close()
	if b, err := empty.MaxTimestampBatch(); b != nil || err != nil {
		t.Fatalf("empty log: MaxTimestampBatch %v, %v", b, err)
	}
	if b, err := empty.FindByTimestamp(0); b != nil || err != nil {
		t.Fatalf("empty log: FindByTimestamp %v, %v", b, err)
	}
}

func TestEpochEntries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, dir, Config{SegmentBytes: 300}, nil, nil)
	for _, e := range []int32{0, 0, 2, 2, 2, 1, 5, 5} { // 1 is stale: ignored
		if _, err := l.Append(buildBatch(spec{}), AppendOptions{LeaderEpoch: e, LogAppendTime: -1}); err != nil {
			t.Fatal(err)
		}
	}
	want := []EpochEntry{{0, 0}, {2, 2}, {5, 6}}
	if got := l.EpochEntries(); !slices.Equal(got, want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	mustClose(t, l)
	l = openLog(t, dir, Config{SegmentBytes: 300}, nil, nil)
	if got := l.EpochEntries(); !slices.Equal(got, want) {
		t.Fatalf("after reopen %v, want %v", got, want)
	}
	if err := l.Truncate(4); err != nil {
		t.Fatal(err)
	}
	if got := l.EpochEntries(); !slices.Equal(got, want[:2]) {
		t.Fatalf("after Truncate(4) %v", got)
	}
	mustClose(t, l)
	b, err := os.ReadFile(filepath.Join(dir, leaderEpochFile))
	if err != nil || string(b) != "0\n2\n0 0\n2 2\n" {
		t.Fatalf("checkpoint %q, %v", b, err)
	}
}

// TestSlicePinsSegment: a slice stays readable after the log is deleted.
func TestSlicePinsSegment(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "topic-0")
	l := openLog(t, dir, Config{}, nil, nil)
	b := buildBatch(spec{records: 3})
	mustAppend(t, l, b)
	r, err := l.Read(0, 1<<20, l.EndPosition(), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dir still there: %v", err)
	}
	if got := sliceBytes(t, r); !bytes.Equal(got, b) {
		t.Fatal("pinned slice changed")
	}
	r.Slice.Release() // a second Release is harmless
	if _, err := l.Append(buildBatch(spec{}), AppendOptions{LogAppendTime: -1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Delete: %v", err)
	}
	if _, err := l.Read(0, 1, l.EndPosition(), false); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Delete: %v", err)
	}
}

// TestCloseForDelete: a log closed for deletion writes nothing (no
// clean-shutdown marker, no producer snapshot), refuses later calls,
// leaves its files for the caller to move and remove (RemoveDir), and a
// slice taken before stays readable through the move and the removal.
func TestCloseForDelete(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "topic-0")
	l := openLog(t, dir, Config{}, nil, nil)
	b := buildBatch(spec{records: 3})
	mustAppend(t, l, b)
	r, err := l.Read(0, 1<<20, l.EndPosition(), false)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.CloseForDelete()
	after, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := func(ents []os.DirEntry) (out []string) {
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	if !slices.Equal(names(after), names(before)) {
		t.Fatalf("CloseForDelete changed the directory: %q, before %q", names(after), names(before))
	}
	if _, err := l.Append(buildBatch(spec{}), AppendOptions{LogAppendTime: -1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after CloseForDelete: %v", err)
	}
	moved := dir + ".0123456789abcdef0123456789abcdef-delete"
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if err := RemoveDir(OSFS(), moved); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(parent); err != nil || len(ents) != 0 {
		t.Fatalf("after RemoveDir the parent holds %q (%v), want nothing", names(ents), err)
	}
	if err := RemoveDir(OSFS(), moved); err != nil {
		t.Fatalf("RemoveDir of a directory already gone: %v", err)
	}
	if got := sliceBytes(t, r); !bytes.Equal(got, b) {
		t.Fatal("pinned slice changed")
	}
}

func TestSetStartOffset(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one := int64(len(buildBatch(spec{})))
	cfg := Config{SegmentBytes: 2 * one}
	l := openLog(t, dir, cfg, nil, nil)
	for range 6 {
		mustAppend(t, l, buildBatch(spec{}))
	}
	r, _ := l.Read(0, 1<<20, l.EndPosition(), false) // pins segment 0
	if err := l.SetStartOffset(3); err != nil {
		t.Fatal(err)
	}
	if got := segmentBases(t, dir); !slices.Equal(got, []int64{2, 4}) {
		t.Fatalf("segments %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, segmentFileName(0, logSuffix+deletedSuffix))); err != nil {
		t.Fatalf("pinned segment not kept as .deleted: %v", err)
	}
	r.Slice.Release()
	if _, err := os.Stat(filepath.Join(dir, segmentFileName(0, logSuffix+deletedSuffix))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("released segment not removed: %v", err)
	}
	if _, err := l.Read(2, 1, l.EndPosition(), false); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read below start: %v", err)
	}
	if err := l.SetStartOffset(7); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("SetStartOffset past end: %v", err)
	}
	mustClose(t, l)
	l = openLog(t, dir, cfg, nil, nil)
	defer l.Close()
	if l.StartOffset() != 3 || l.EndOffset() != 6 {
		t.Fatalf("after reopen start %d end %d", l.StartOffset(), l.EndOffset())
	}
}

// TestConcurrentReaders runs readers against an appender that rolls
// segments; run with -race. Every read must return whole, CRC-valid
// batches holding the requested offset.
func TestConcurrentReaders(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 4096, IndexIntervalBytes: 256}, nil, nil)
	defer l.Close()
	const batches = 400
	var wg sync.WaitGroup
	done := make(chan struct{})
	errc := make(chan error, 8)
	for r := range 4 {
		wg.Go(func() {
			off := int64(r)
			for {
				select {
				case <-done:
					return
				default:
				}
				end := l.EndPosition()
				if off >= end.Offset {
					off = int64(r)
					continue
				}
				res, err := l.Read(off, 1024, end, true)
				if err != nil {
					errc <- err
					return
				}
				b := make([]byte, res.Slice.Len)
				_, err = res.Slice.File.ReadAt(b, res.Slice.Pos)
				res.Slice.Release()
				if err != nil {
					errc <- err
					return
				}
				h, err := record.ParseHeader(b)
				if err != nil || h.BaseOffset > off || h.LastOffset() < off || int64(len(b)) < h.Size() {
					errc <- fmt.Errorf("read %d: header %+v, %d bytes, %v", off, h, len(b), err)
					return
				}
				if crc32.Checksum(b[record.AttributesOffset:h.Size()], castagnoli) != h.CRC {
					errc <- fmt.Errorf("read %d: bad crc", off)
					return
				}
				off += 7
			}
		})
	}
	for i := range batches {
		mustAppend(t, l, buildBatch(spec{records: i%5 + 1, value: 40}))
		if i%50 == 0 {
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

func TestFlushIfDueFlushesIdleLog(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_000_000)
	clock := func() time.Time { return now }
	ffs := NewFaultFS(OSFS())
	l, err := Open(t.TempDir(), Options{FS: ffs, Now: clock, Config: Config{FlushMs: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(buildBatch(spec{records: 3}), AppendOptions{LogAppendTime: -1}); err != nil {
		t.Fatal(err)
	}
	name := l.segs[0].log.Name()
	if err := l.FlushIfDue(); err != nil {
		t.Fatal(err)
	}
	if got := ffs.SyncedSize(name); got != 0 {
		t.Fatalf("synced %d bytes before flush.ms passed, want 0", got)
	}
	now = now.Add(1001 * time.Millisecond)
	if err := l.FlushIfDue(); err != nil {
		t.Fatal(err)
	}
	if got, want := ffs.SyncedSize(name), l.Size(); got != want {
		t.Fatalf("synced %d bytes after flush.ms, want %d", got, want)
	}
}
