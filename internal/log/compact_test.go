package log

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/record"
)

type kv struct {
	key, value string
	tombstone  bool
}

// keyedBatch builds a plain (non-idempotent) batch of keyed records.
func keyedBatch(t testing.TB, codec int, ts int64, kvs ...kv) []byte {
	t.Helper()
	recs := make([]record.Record, len(kvs))
	for i, r := range kvs {
		recs[i] = record.Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: []byte(r.key)}
		if !r.tombstone {
			recs[i].Value = []byte(r.value)
		}
	}
	b, err := record.BuildBatch(codec, 0, recs, record.BuildOptions{
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: ts, PartitionLeaderEpoch: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stored is one record as read back: offset, key, value (nil: tombstone).
type stored struct {
	offset     int64
	key, value string
	tombstone  bool
}

// readRecords reads the whole log and checks every batch: CRC, codec as
// want (-1: any), records decodable.
func readRecords(t testing.TB, l *Log, wantCodec int) []stored {
	t.Helper()
	var out []stored
	for _, b := range readAll(t, l) {
		h, recs, err := record.ReadRecords(b, 0)
		if err != nil {
			t.Fatalf("ReadRecords at %d: %v", h.BaseOffset, err)
		}
		if record.ComputeCRC(b) != h.CRC {
			t.Fatalf("batch at %d: bad CRC", h.BaseOffset)
		}
		if wantCodec >= 0 && h.Codec() != wantCodec {
			t.Fatalf("batch at %d: codec %d, want %d", h.BaseOffset, h.Codec(), wantCodec)
		}
		if int(h.NumRecords) != len(recs) {
			t.Fatalf("batch at %d: count %d, %d records", h.BaseOffset, h.NumRecords, len(recs))
		}
		for _, r := range recs {
			out = append(out, stored{h.BaseOffset + int64(r.OffsetDelta), string(r.Key), string(r.Value), r.Value == nil})
		}
	}
	return out
}

const (
	nKeys       = 100
	nUpdates    = 100
	nTombstones = 20
	bigValue    = 8 << 10
)

// fillerValue is incompressible, so a filler batch fills a segment
// whatever the codec.
var fillerValue = func() string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, bigValue)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return string(b)
}()

// fillUpdates appends nUpdates rounds over nKeys keys (batches of 10:
// key k's update u is at offset u*nKeys+k), then tombstones for keys
// 0..nTombstones-1, then two big "filler" batches of one segment each so
// every update and tombstone sits in a closed segment. It returns the
// offset of the first tombstone.
func fillUpdates(t testing.TB, l *Log, codec int, clk *clock) int64 {
	t.Helper()
	for u := range nUpdates {
		for g := 0; g < nKeys; g += 10 {
			var kvs []kv
			for k := g; k < g+10; k++ {
				kvs = append(kvs, kv{key: fmt.Sprintf("key-%03d", k), value: fmt.Sprintf("value-%03d-%03d", k, u)})
			}
			mustAppend(t, l, keyedBatch(t, codec, clk.now().UnixMilli(), kvs...))
		}
	}
	tomb := l.EndOffset()
	for g := 0; g < nTombstones; g += 10 {
		var kvs []kv
		for k := g; k < g+10; k++ {
			kvs = append(kvs, kv{key: fmt.Sprintf("key-%03d", k), tombstone: true})
		}
		mustAppend(t, l, keyedBatch(t, codec, clk.now().UnixMilli(), kvs...))
	}
	for range 2 {
		mustAppend(t, l, keyedBatch(t, codec, clk.now().UnixMilli(), kv{key: "filler", value: fillerValue}))
	}
	return tomb
}

// wantLatest is the compacted content of fillUpdates: each live key's last
// update, the tombstones (unless gone), and the fillers from firstFiller.
func wantLatest(tomb int64, tombstones bool, fillers []int64) []stored {
	var want []stored
	for k := nTombstones; k < nKeys; k++ {
		want = append(want, stored{int64((nUpdates-1)*nKeys + k), fmt.Sprintf("key-%03d", k), fmt.Sprintf("value-%03d-%03d", k, nUpdates-1), false})
	}
	if tombstones {
		for k := range nTombstones {
			want = append(want, stored{tomb + int64(k), fmt.Sprintf("key-%03d", k), "", true})
		}
	}
	for _, f := range fillers {
		want = append(want, stored{f, "filler", fillerValue, false})
	}
	slices.SortFunc(want, func(a, b stored) int { return int(a.offset - b.offset) })
	return want
}

func equalStored(t testing.TB, what string, got, want []stored) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: %d records, want %d\n got: %v\nwant: %v", what, len(got), len(want), abbrev(got), abbrev(want))
	}
}

func abbrev(s []stored) string {
	var b strings.Builder
	for i, r := range s {
		if i == 12 {
			fmt.Fprintf(&b, "... (%d more)", len(s)-i)
			break
		}
		v := r.value
		if len(v) > 20 {
			v = v[:20] + "..."
		}
		fmt.Fprintf(&b, "%d:%s=%s(t=%v) ", r.offset, r.key, v, r.tombstone)
	}
	return b.String()
}

func compactOpts(hw int64) CompactOptions {
	return CompactOptions{DeleteRetentionMs: time.Hour.Milliseconds(), MaxCompactionLagMs: -1, HW: hw}
}

func mustCompact(t testing.TB, l *Log, now time.Time, opts CompactOptions) CompactStats {
	t.Helper()
	st, err := l.Compact(now, opts)
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if !st.Cleaned {
		t.Fatalf("Compact did not clean: %+v", st)
	}
	return st
}

// TestCompactKeepsLatestPerKey: 100 keys x 100 updates and 20 tombstones
// compact to the latest value of each key at its original offset;
// tombstones stay until delete.retention.ms has passed since their
// segment's newest record, then go. Every codec gives the same records,
// stored with the batch's own codec.
func TestCompactKeepsLatestPerKey(t *testing.T) {
	t.Parallel()
	for _, codec := range []int{record.CodecNone, record.CodecGzip, record.CodecZstd, record.CodecSnappy, record.CodecLZ4} {
		t.Run(fmt.Sprint(codec), func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			l := openLog(t, t.TempDir(), Config{SegmentBytes: 4096}, nil, clk)
			defer l.Close()
			tomb := fillUpdates(t, l, codec, clk)
			filler := tomb + nTombstones
			before := l.Size()

			st := mustCompact(t, l, clk.now(), compactOpts(l.EndOffset()))
			equalStored(t, "after compaction", readRecords(t, l, codec), wantLatest(tomb, true, []int64{filler, filler + 1}))
			if st.CleanedTo != filler+1 || st.RecordsRemoved != nKeys*(nUpdates-1)+nTombstones || st.TombstonesRemoved != 0 {
				t.Fatalf("stats %+v: want cleaned to %d, %d removed, no tombstone", st, filler+1, nKeys*(nUpdates-1)+nTombstones)
			}
			if l.Size() >= before/10 {
				t.Fatalf("size %d after compaction, %d before", l.Size(), before)
			}
			// No new dirty data: nothing is due.
			if st, err := l.Compact(clk.now(), compactOpts(l.EndOffset())); err != nil || st.Cleaned {
				t.Fatalf("second pass with nothing dirty: %+v, %v", st, err)
			}

			// Past delete.retention.ms, the next pass drops the tombstones
			// and the superseded filler.
			clk.advance(time.Hour + time.Second) // past the newest record of the tombstones' segment
			mustAppend(t, l, keyedBatch(t, codec, clk.now().UnixMilli(), kv{key: "filler", value: fillerValue}))
			st = mustCompact(t, l, clk.now(), compactOpts(l.EndOffset()))
			equalStored(t, "after delete.retention.ms", readRecords(t, l, codec), wantLatest(tomb, false, []int64{filler + 1, filler + 2}))
			if st.TombstonesRemoved != nTombstones {
				t.Fatalf("stats %+v: want %d tombstones removed", st, nTombstones)
			}

			// The result survives a restart, and reads at removed offsets
			// land on the next batch.
			dir := l.dir
			mustClose(t, l)
			l = openLog(t, dir, Config{SegmentBytes: 4096}, nil, clk)
			equalStored(t, "after restart", readRecords(t, l, codec), wantLatest(tomb, false, []int64{filler + 1, filler + 2}))
			r, err := l.Read(5, 1<<20, l.EndPosition(), true)
			if err != nil {
				t.Fatal(err)
			}
			got := splitBatches(t, sliceBytes(t, r))
			if want := int64((nUpdates-1)*nKeys + nTombstones); r.FirstBatchOffset != want-want%10 || len(got) == 0 {
				t.Fatalf("Read(5): first batch %d, want the batch holding %d", r.FirstBatchOffset, want)
			}
		})
	}
}

// TestCompactLeavesActiveSegment: the active segment's bytes never change,
// and neither does anything at or above the high watermark.
func TestCompactLeavesActiveSegment(t *testing.T) {
	t.Parallel()
	clk := newClock()
	dir := t.TempDir()
	l := openLog(t, dir, Config{SegmentBytes: 1 << 20}, nil, clk)
	defer l.Close()
	for u := range 10 {
		mustAppend(t, l, keyedBatch(t, record.CodecNone, clk.now().UnixMilli(), kv{key: "a", value: fmt.Sprint(u)}, kv{key: "b", value: fmt.Sprint(u)}))
	}
	active := filepath.Join(dir, segmentFileName(0, logSuffix))
	before, err := os.ReadFile(active)
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Compact(clk.now(), compactOpts(l.EndOffset()))
	if err != nil || st.Cleaned {
		t.Fatalf("Compact with only an active segment: %+v, %v", st, err)
	}
	after, _ := os.ReadFile(active)
	if !bytes.Equal(before, after) {
		t.Fatal("active segment changed")
	}
}

// crashSteps are the points of the swap protocol a crash can stop at, and
// whether the pass counts as done once stopped there.
var crashSteps = []struct {
	step      string
	committed bool
}{
	{"cleaned", false},
	{"swapping", false},
	{"committed", true},
	{"retired", true},
	{"renamed", true},
}

// TestCompactCrashAtEachStep: a crash at any step of the swap leaves, after
// Open, either the old segments or the cleaned one, never a mix and never
// a leftover .cleaned or .swap file; nothing is lost either way.
func TestCompactCrashAtEachStep(t *testing.T) {
	t.Parallel()
	// One source segment, so one group: the outcomes are all or nothing.
	fill := func(t *testing.T, l *Log, clk *clock) {
		for u := range 10 {
			var kvs []kv
			for k := range 10 {
				kvs = append(kvs, kv{key: fmt.Sprint("k", k), value: fmt.Sprint(u)})
			}
			mustAppend(t, l, keyedBatch(t, record.CodecGzip, clk.now().UnixMilli(), kvs...))
		}
		mustAppend(t, l, keyedBatch(t, record.CodecGzip, clk.now().UnixMilli(), kv{key: "big", value: fillerValue}))
	}
	cfg := Config{SegmentBytes: 4 << 10}
	ref := openLog(t, t.TempDir(), cfg, nil, nil)
	fill(t, ref, newClock())
	old := readRecords(t, ref, record.CodecGzip)
	mustCompact(t, ref, newClock().now(), compactOpts(ref.EndOffset()))
	cleaned := readRecords(t, ref, record.CodecGzip)
	mustClose(t, ref)
	if len(cleaned) != 11 || len(old) != 101 {
		t.Fatalf("reference: %d records before, %d after; want 101, 11", len(old), len(cleaned))
	}

	for _, c := range crashSteps {
		t.Run(c.step, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			clk := newClock()
			l := openLog(t, dir, cfg, nil, clk)
			fill(t, l, clk)
			l.compactHook = func(step string) error {
				if step == c.step {
					return errCrashPoint
				}
				return nil
			}
			if _, err := l.Compact(clk.now(), compactOpts(l.EndOffset())); !errors.Is(err, errCrashPoint) {
				t.Fatalf("Compact: %v, want the simulated crash", err)
			}
			// The crashed log is abandoned, as a killed process's would be.
			l2 := openLog(t, dir, cfg, nil, clk)
			defer l2.Close()
			want := old
			if c.committed {
				want = cleaned
			}
			equalStored(t, "after restart", readRecords(t, l2, record.CodecGzip), want)
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), cleanedSuffix) || strings.HasSuffix(e.Name(), swapSuffix) || strings.HasSuffix(e.Name(), deletedSuffix) {
					t.Errorf("leftover %s", e.Name())
				}
			}
			// A later pass finishes the job.
			if !c.committed {
				mustCompact(t, l2, clk.now(), compactOpts(l2.EndOffset()))
			}
			equalStored(t, "after the next pass", readRecords(t, l2, record.CodecGzip), cleaned)
		})
	}
}

// TestCompactReaderKeepsOldSegment: a Slice taken before a compaction
// reads the old bytes whole after it.
func TestCompactReaderKeepsOldSegment(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 4096}, nil, clk)
	defer l.Close()
	fillUpdates(t, l, record.CodecZstd, clk)
	held, err := l.Read(0, 1<<20, l.EndPosition(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, held.Slice.Len)
	if _, err := held.Slice.File.ReadAt(want, held.Slice.Pos); err != nil {
		t.Fatal(err)
	}
	mustCompact(t, l, clk.now(), compactOpts(l.EndOffset()))
	got := sliceBytes(t, held)
	if !bytes.Equal(got, want) {
		t.Fatal("held slice changed under compaction")
	}
	if len(splitBatches(t, got)) == 0 {
		t.Fatal("held slice has no batch")
	}
}

// TestCompactKeepsProducerState: a producer's last batch stays, emptied,
// when compaction removes all its records, so its offsets, sequence and
// the producer state rebuilt from the log stay right.
func TestCompactKeepsProducerState(t *testing.T) {
	t.Parallel()
	clk := newClock()
	dir := t.TempDir()
	l := openLog(t, dir, Config{SegmentBytes: 4096}, nil, clk)
	defer l.Close()
	idem := func(seq int32, kvs ...kv) []byte {
		recs := make([]record.Record, len(kvs))
		for i, r := range kvs {
			recs[i] = record.Record{OffsetDelta: int32(i), Key: []byte(r.key), Value: []byte(r.value)}
		}
		b, err := record.BuildBatch(record.CodecNone, 0, recs, record.BuildOptions{ProducerID: 7, ProducerEpoch: 1, BaseSequence: seq, BaseTimestamp: clk.now().UnixMilli(), PartitionLeaderEpoch: -1})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mustAppend(t, l, idem(0, kv{key: "a", value: "1"}, kv{key: "b", value: "1"}))
	mustAppend(t, l, idem(2, kv{key: "a", value: "2"}, kv{key: "b", value: "2"}))
	// Another writer supersedes both keys; the producer writes nothing more.
	mustAppend(t, l, keyedBatch(t, record.CodecNone, clk.now().UnixMilli(), kv{key: "a", value: "3"}, kv{key: "b", value: "3"}))
	mustAppend(t, l, keyedBatch(t, record.CodecNone, clk.now().UnixMilli(), kv{key: "big", value: strings.Repeat("z", 8<<10)}))
	mustAppend(t, l, keyedBatch(t, record.CodecNone, clk.now().UnixMilli(), kv{key: "big", value: "tail"}))
	mustCompact(t, l, clk.now(), compactOpts(l.EndOffset()))
	var hs []record.Header
	for _, b := range readAll(t, l) {
		hs = append(hs, header(t, b))
	}
	if len(hs) != 4 || hs[0].BaseOffset != 2 || hs[0].NumRecords != 0 || hs[0].LastOffsetDelta != 1 ||
		hs[0].ProducerID != 7 || hs[0].ProducerEpoch != 1 || hs[0].BaseSequence != 2 {
		t.Fatalf("batches after compaction: %+v; want the producer's last batch kept empty at offset 2", hs)
	}
	// A retry of the producer's last batch is still a duplicate.
	res, err := l.Append(idem(2, kv{key: "a", value: "2"}, kv{key: "b", value: "2"}), AppendOptions{LogAppendTime: -1})
	if err != nil || !res.Duplicate || res.BaseOffset != 2 {
		t.Fatalf("retry: %+v, %v; want a duplicate at offset 2", res, err)
	}
}

// TestCompactRespectsLagAndRatio: nothing younger than
// min.compaction.lag.ms and nothing when the dirty ratio is below the
// minimum, unless max.compaction.lag.ms has passed.
func TestCompactRespectsLagAndRatio(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 4096}, nil, clk)
	defer l.Close()
	fillUpdates(t, l, record.CodecNone, clk)
	o := compactOpts(l.EndOffset())
	o.MinCompactionLagMs = time.Minute.Milliseconds()
	if st, err := l.Compact(clk.now(), o); err != nil || st.Cleaned {
		t.Fatalf("within min.compaction.lag.ms: %+v, %v", st, err)
	}
	o.MinCompactionLagMs = 0
	o.MinCleanableRatio = 1.01
	if st, err := l.Compact(clk.now(), o); err != nil || st.Cleaned || st.DirtyRatio != 1 {
		t.Fatalf("below the dirty ratio: %+v, %v", st, err)
	}
	o.MaxCompactionLagMs = time.Minute.Milliseconds()
	clk.advance(2 * time.Minute)
	mustCompact(t, l, clk.now(), o)
}

// TestTruncateLowersCleanerCheckpoint: after a truncation below the
// cleaner checkpoint, what is appended again from the new end is dirty, so
// the next pass removes its superseded records (z@3 here).
func TestTruncateLowersCleanerCheckpoint(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 1}, nil, clk) // a segment per batch
	defer l.Close()
	ts := clk.now().UnixMilli()
	for i := range 6 {
		mustAppend(t, l, keyedBatch(t, record.CodecNone, ts, kv{key: fmt.Sprint("a", i), value: "v"}))
	}
	mustCompact(t, l, clk.now(), compactOpts(l.EndOffset()))
	if got, _ := readOffsetFile(l.fs, l.dir, cleanerCheckpointFile); got != 5 {
		t.Fatalf("checkpoint %d after the first pass, want 5", got)
	}

	if err := l.Truncate(3); err != nil {
		t.Fatal(err)
	}
	if got, _ := readOffsetFile(l.fs, l.dir, cleanerCheckpointFile); got != 3 {
		t.Fatalf("checkpoint %d after Truncate(3), want 3", got)
	}
	for _, r := range []kv{{key: "z", value: "1"}, {key: "z", value: "2"}, {key: "w", value: "1"}, {key: "w", value: "2"}, {key: "f", value: "1"}} {
		mustAppend(t, l, keyedBatch(t, record.CodecNone, ts, r))
	}
	mustCompact(t, l, clk.now(), compactOpts(l.EndOffset()))
	equalStored(t, "after the second pass", readRecords(t, l, record.CodecNone), []stored{
		{offset: 0, key: "a0", value: "v"}, {offset: 1, key: "a1", value: "v"}, {offset: 2, key: "a2", value: "v"},
		{offset: 4, key: "z", value: "2"}, {offset: 6, key: "w", value: "2"}, {offset: 7, key: "f", value: "1"},
	})
}
