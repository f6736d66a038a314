package log

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/samsa-kafka/samsa/internal/record"
)

// leaderLog fills a log as a leader would: idempotent and plain batches
// over three leader epochs, enough of them to roll segments and write
// index entries. It returns the stored batches (offsets assigned).
func leaderLog(t *testing.T, dir string, cfg Config) (*Log, [][]byte) {
	t.Helper()
	l := openLog(t, dir, cfg, nil, nil)
	seq := int32(0)
	for i := range 24 {
		epoch := int32([]int{1, 3, 4}[i/8])
		s := spec{records: 1 + i%3}
		if i%2 == 0 {
			s.idem, s.pid, s.epoch, s.seq = true, 7, 0, seq
			seq += int32(s.records)
		}
		if _, err := l.Append(buildBatch(s), AppendOptions{LeaderEpoch: epoch, LogAppendTime: -1}); err != nil {
			t.Fatal(err)
		}
	}
	return l, readAll(t, l)
}

// fetchChunks cuts the stored batches into fetch responses of per batches
// each; every response but the last ends with a partial copy of the next
// batch, as a leader's byte limit leaves it.
func fetchChunks(batches [][]byte, per int) [][]byte {
	var out [][]byte
	for i := 0; i < len(batches); i += per {
		j := min(i+per, len(batches))
		chunk := bytes.Join(batches[i:j], nil)
		if j < len(batches) {
			chunk = append(chunk, batches[j][:len(batches[j])/2]...)
		}
		out = append(out, chunk)
	}
	return out
}

// dirFiles reads every file of a closed log directory.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

// TestAppendReplicatedMirrorsLeader: a follower that appends the leader's
// batches, several per call with torn tails, ends with the same files as
// the leader, byte for byte: segments, indexes, leader-epoch checkpoint
// and producer snapshots. Its producer state recognises the leader's
// batches as duplicates.
func TestAppendReplicatedMirrorsLeader(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		cfg Config
		per int // batches per fetch response
	}{
		{Config{SegmentBytes: 900, IndexIntervalBytes: 200}, 1},
		{Config{SegmentBytes: 900, IndexIntervalBytes: 200}, 5},
		{Config{SegmentBytes: 900, IndexIntervalBytes: 200}, 24},
		// Rolls by segment.index.bytes: a run must count the index
		// entries it adds.
		{Config{IndexIntervalBytes: 1, SegmentIndexBytes: 48}, 24},
	} {
		cfg, per := tc.cfg, tc.per
		leaderDir, followerDir := t.TempDir(), t.TempDir()
		leader, batches := leaderLog(t, leaderDir, cfg)
		follower := openLog(t, followerDir, cfg, nil, nil)
		for _, chunk := range fetchChunks(batches, per) {
			end := follower.EndOffset()
			res, err := follower.AppendReplicated(chunk)
			if err != nil {
				t.Fatalf("case %d: AppendReplicated at %d: %v", i, end, err)
			}
			if res.BaseOffset != end || res.LastOffset != follower.EndOffset()-1 || res.End != follower.EndPosition() {
				t.Fatalf("case %d: result %+v, end was %d, is %v", i, res, end, follower.EndPosition())
			}
		}
		if got, want := follower.EndPosition(), leader.EndPosition(); got != want {
			t.Fatalf("case %d: follower ends at %+v, leader at %+v", i, got, want)
		}
		equalBatches(t, readAll(t, follower), batches)
		wantEpochs := []EpochEntry{{1, 0}, {3, 15}, {4, 31}}
		if got := follower.EpochEntries(); !slices.Equal(got, wantEpochs) || !slices.Equal(leader.EpochEntries(), wantEpochs) {
			t.Fatalf("case %d: epochs follower %v, leader %v, want %v", i, got, leader.EpochEntries(), wantEpochs)
		}
		// The last idempotent batch (i = 22: 2 records, sequences 22-23)
		// is a duplicate on the follower too.
		last := header(t, batches[22])
		dup, err := follower.Append(buildBatch(spec{records: 2, idem: true, pid: 7, seq: last.BaseSequence}), AppendOptions{LeaderEpoch: 5, LogAppendTime: -1})
		if err != nil || !dup.Duplicate || dup.BaseOffset != last.BaseOffset || dup.LastOffset != last.LastOffset() {
			t.Fatalf("case %d: retry of the last idempotent batch: %+v, %v", i, dup, err)
		}
		mustClose(t, leader)
		mustClose(t, follower)
		if n := len(segmentBases(t, leaderDir)); n < 3 {
			t.Fatalf("case %d: %d segments; the case must roll", i, n)
		}
		lf, ff := dirFiles(t, leaderDir), dirFiles(t, followerDir)
		if len(lf) < 10 || len(lf) != len(ff) {
			t.Fatalf("case %d: leader has %d files, follower %d", i, len(lf), len(ff))
		}
		for name, b := range lf {
			if !bytes.Equal(ff[name], b) {
				t.Fatalf("case %d: %s differs between leader and follower", i, name)
			}
		}
	}
}

func TestAppendReplicatedRefuses(t *testing.T) {
	t.Parallel()
	leader, batches := leaderLog(t, t.TempDir(), Config{})
	defer leader.Close()
	corrupt := bytes.Clone(batches[11])
	corrupt[len(corrupt)-1] ^= 1
	tests := []struct {
		name    string
		records []byte
		want    error
	}{
		{"crc mismatch in the second batch", bytes.Join([][]byte{batches[10], corrupt}, nil), ErrCorruptBatch},
		{"overlapping offsets", bytes.Join([][]byte{batches[10], batches[10]}, nil), ErrCorruptBatch},
		{"offsets going back", bytes.Join([][]byte{batches[11], batches[10]}, nil), ErrCorruptBatch},
		{"length below a header", append(bytes.Clone(batches[10]), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0), ErrCorruptBatch},
		{"starts below the log end", bytes.Join([][]byte{batches[9], batches[10]}, nil), ErrUnexpectedAppendOffset},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := openLog(t, t.TempDir(), Config{}, nil, nil)
			defer l.Close()
			if _, err := l.AppendReplicated(bytes.Join(batches[:10], nil)); err != nil {
				t.Fatal(err)
			}
			end, epochs := l.EndPosition(), l.EpochEntries()
			_, err := l.AppendReplicated(tc.records)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if l.EndPosition() != end || !slices.Equal(l.EpochEntries(), epochs) {
				t.Fatalf("log moved: end %+v (was %+v), epochs %v (were %v)", l.EndPosition(), end, l.EpochEntries(), epochs)
			}
			var ue *UnexpectedAppendOffsetError
			if errors.As(err, &ue) {
				first, last := header(t, batches[9]), header(t, batches[10])
				if *ue != (UnexpectedAppendOffsetError{First: first.BaseOffset, Last: last.LastOffset(), LogEnd: end.Offset}) {
					t.Fatalf("error %+v", *ue)
				}
			}
		})
	}
}

// TestAppendReplicatedNothingWhole: records with no whole batch append
// nothing and are no error (a leader's limit cut the only batch).
func TestAppendReplicatedNothingWhole(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{}, nil, nil)
	defer l.Close()
	b := buildBatch(spec{records: 3})
	for _, n := range []int{0, 5, record.LogOverhead, record.HeaderSize, len(b) - 1} {
		res, err := l.AppendReplicated(b[:n])
		if err != nil || res.BaseOffset != -1 || res.LastOffset != -1 || l.EndOffset() != 0 {
			t.Fatalf("%d bytes: %+v, %v, end %d", n, res, err, l.EndOffset())
		}
	}
}

// TestAppendReplicatedGap: a batch above the log end is taken, as Kafka's
// follower takes the gaps of a compacted leader log; a gap too wide for
// the active segment's relative offsets rolls to a segment at the batch,
// and the log reopens to the same end.
func TestAppendReplicatedGap(t *testing.T) {
	t.Parallel()
	at := func(base int64, epoch int32, s spec) []byte {
		b := buildBatch(s)
		record.SetBaseOffset(b, base)
		record.SetPartitionLeaderEpoch(b, epoch)
		return b
	}
	dir := t.TempDir()
	l := openLog(t, dir, Config{}, nil, nil)
	if _, err := l.AppendReplicated(bytes.Join([][]byte{at(0, 2, spec{records: 2}), at(5, 2, spec{})}, nil)); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != 6 {
		t.Fatalf("end %d, want 6", l.EndOffset())
	}
	if r, err := l.Read(2, 1<<20, l.EndPosition(), true); err != nil || r.FirstBatchOffset != 5 {
		t.Fatalf("read in the gap: first batch %d, %v", r.FirstBatchOffset, err)
	} else {
		r.Slice.Release()
	}
	far := int64(6 + 1<<31 + 10)
	res, err := l.AppendReplicated(at(far, 3, spec{records: 4}))
	if err != nil || res.BaseOffset != far || l.EndOffset() != far+4 {
		t.Fatalf("far batch: %+v, %v, end %d", res, err, l.EndOffset())
	}
	if got := segmentBases(t, dir); !slices.Equal(got, []int64{0, far}) {
		t.Fatalf("segments %v", got)
	}
	want := readAll(t, l)
	wantEpochs := []EpochEntry{{2, 0}, {3, far}}
	abandon(l)
	l = openLog(t, dir, Config{}, nil, nil)
	defer l.Close()
	if l.EndOffset() != far+4 || !slices.Equal(l.EpochEntries(), wantEpochs) {
		t.Fatalf("after recovery: end %d, epochs %v", l.EndOffset(), l.EpochEntries())
	}
	equalBatches(t, readAll(t, l), want)
}

// TestAppendReplicatedEpochs: the epoch cache follows the replicated
// batches as Kafka's follower cache does, including an epoch below the
// latest one (the entries it contradicts go).
func TestAppendReplicatedEpochs(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{}, nil, nil)
	defer l.Close()
	off := int64(0)
	next := func(epoch int32) []byte {
		b := buildBatch(spec{records: 2})
		record.SetBaseOffset(b, off)
		record.SetPartitionLeaderEpoch(b, epoch)
		off += 2
		return b
	}
	steps := []struct {
		epochs []int32
		want   []EpochEntry
	}{
		{[]int32{0, 0, 2}, []EpochEntry{{0, 0}, {2, 4}}},
		{[]int32{2, 5}, []EpochEntry{{0, 0}, {2, 4}, {5, 8}}},
		{[]int32{-1}, []EpochEntry{{0, 0}, {2, 4}, {5, 8}}}, // no epoch: nothing learnt
		{[]int32{3}, []EpochEntry{{0, 0}, {2, 4}, {3, 12}}}, // below the latest: 5 goes
	}
	for i, s := range steps {
		var rs [][]byte
		for _, e := range s.epochs {
			rs = append(rs, next(e))
		}
		res, err := l.AppendReplicated(bytes.Join(rs, nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := l.EpochEntries(); !slices.Equal(got, s.want) || res.LeaderEpoch != s.epochs[len(s.epochs)-1] {
			t.Fatalf("step %d: epochs %v (want %v), result epoch %d", i, got, s.want, res.LeaderEpoch)
		}
	}
}

// TestAppendReplicatedCrashTorn: a power loss during replicated appends
// (each file keeps a random prefix of its unsynced bytes) recovers to a
// batch boundary between the synced and the written end, with the epoch
// checkpoint and producer state matching what survived, and the follower
// continues from there.
func TestAppendReplicatedCrashTorn(t *testing.T) {
	t.Parallel()
	cfg := Config{SegmentBytes: 1500, IndexIntervalBytes: 128}
	leader, batches := leaderLog(t, t.TempDir(), cfg)
	leader.Close()
	ends := map[int64]int{} // batch boundaries: end offset -> batches below
	for i, b := range batches {
		h := header(t, b)
		ends[h.LastOffset()+1] = i + 1
	}
	for seed := range uint64(30) {
		dir := t.TempDir()
		ffs := NewFaultFS(nil)
		l := openLog(t, dir, cfg, ffs, nil)
		if _, err := l.AppendReplicated(bytes.Join(batches[:6], nil)); err != nil {
			t.Fatal(err)
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		synced := l.EndOffset()
		for _, chunk := range fetchChunks(batches[6:], 7) {
			if _, err := l.AppendReplicated(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if err := ffs.CrashTorn(seed); err != nil {
			t.Fatal(err)
		}
		l = openLog(t, dir, cfg, ffs, nil)
		end := l.EndOffset()
		n, boundary := ends[end]
		if !boundary || end < synced {
			t.Fatalf("seed %d: end %d is not a batch boundary at or above %d", seed, end, synced)
		}
		equalBatches(t, readAll(t, l), batches[:n])
		for _, e := range l.EpochEntries() {
			if e.StartOffset >= end {
				t.Fatalf("seed %d: epoch entry %v at or past the end %d", seed, e, end)
			}
		}
		// The follower fetches from its end again and catches up.
		if _, err := l.AppendReplicated(bytes.Join(batches[n:], nil)); err != nil {
			t.Fatalf("seed %d: catching up from %d: %v", seed, end, err)
		}
		equalBatches(t, readAll(t, l), batches)
		if got, want := l.EpochEntries(), []EpochEntry{{1, 0}, {3, 15}, {4, 31}}; !slices.Equal(got, want) {
			t.Fatalf("seed %d: epochs %v", seed, got)
		}
		mustClose(t, l)
	}
}

// TestAppendReplicatedWriteFault: a write that fails half way through a
// run of batches leaves the log as it was, epochs included, and the same
// fetch response appends whole afterwards.
func TestAppendReplicatedWriteFault(t *testing.T) {
	t.Parallel()
	_, batches := leaderLog(t, t.TempDir(), Config{})
	ffs := NewFaultFS(nil)
	l := openLog(t, t.TempDir(), Config{}, ffs, nil)
	defer l.Close()
	if _, err := l.AppendReplicated(bytes.Join(batches[:7], nil)); err != nil {
		t.Fatal(err)
	}
	end, epochs := l.EndPosition(), l.EpochEntries()
	rest := bytes.Join(batches[7:], nil) // crosses into epoch 3 at batch 8
	ffs.InjectWrite(WriteFault{Match: logSuffix, Nth: 1, Partial: len(rest) / 2})
	if _, err := l.AppendReplicated(rest); !errors.Is(err, ErrInjected) {
		t.Fatalf("faulty append: %v", err)
	}
	if l.EndPosition() != end || !slices.Equal(l.EpochEntries(), epochs) {
		t.Fatalf("after the fault: end %+v (was %+v), epochs %v (were %v)", l.EndPosition(), end, l.EpochEntries(), epochs)
	}
	lastH := header(t, batches[23])
	if res, err := l.AppendReplicated(rest); err != nil || res.LastOffset != lastH.LastOffset() {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	equalBatches(t, readAll(t, l), batches)
}

func TestPositionOf(t *testing.T) {
	t.Parallel()
	one := int64(len(buildBatch(spec{records: 3})))
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 3 * one}, nil, nil)
	defer l.Close()
	appendN(t, l, 7, spec{records: 3}) // segments 0 (0-8), 9 (9-17), 18 (18-20)
	tests := []struct {
		offset int64
		want   Position
	}{
		{0, Position{0, 0, 0}},
		{2, Position{2, 0, 0}}, // inside the first batch: its start
		{3, Position{3, 0, one}},
		{8, Position{8, 0, 2 * one}},
		{9, Position{9, 9, 0}},
		{13, Position{13, 9, one}},
		{21, l.EndPosition()},
	}
	for _, tc := range tests {
		if got, err := l.PositionOf(tc.offset); err != nil || got != tc.want {
			t.Errorf("PositionOf(%d) = %+v, %v; want %+v", tc.offset, got, err, tc.want)
		}
	}
	if _, err := l.PositionOf(22); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Errorf("past the end: %v", err)
	}
}

// TestEndOffsetForEpoch: the cases of Kafka's LeaderEpochFileCacheTest.
func TestEndOffsetForEpoch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		entries   []EpochEntry
		leo       int64
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{"latest epoch: the log end", []EpochEntry{{2, 10}}, 11, 2, 2, 11},
		{"undefined epoch", []EpochEntry{{2, 11}, {3, 12}}, 0, -1, -1, -1},
		{"empty cache", nil, 0, 0, -1, -1},
		{"empty cache, undefined epoch", nil, 73, -1, -1, -1},
		{"below the first epoch: echoed with the first start", []EpochEntry{{5, 11}, {6, 12}, {7, 13}}, 0, 4, 4, 11},
		{"previous epoch: start of the next", []EpochEntry{{1, 11}, {2, 13}, {3, 15}}, 17, 2, 2, 15},
		{"missing epoch: the floor and the next start", []EpochEntry{{0, 10}, {2, 13}, {4, 17}}, 0, 1, 0, 13},
		{"missing epoch between 2 and 4", []EpochEntry{{0, 10}, {2, 13}, {4, 17}}, 0, 3, 2, 17},
		{"above every epoch", []EpochEntry{{2, 100}}, 100, 3, -1, -1},
		{"epoch with no data yet", []EpochEntry{{0, 0}, {1, 0}}, 0, 0, 0, 0},
		{"epochs not from zero", []EpochEntry{{2, 6}}, 7, 2, 2, 7},
	}
	for _, tc := range tests {
		c := &epochCache{entries: tc.entries}
		if e, off := c.endOffsetFor(tc.epoch, tc.leo); e != tc.wantEpoch || off != tc.wantEnd {
			t.Errorf("%s: endOffsetFor(%d, %d) = (%d, %d), want (%d, %d)", tc.name, tc.epoch, tc.leo, e, off, tc.wantEpoch, tc.wantEnd)
		}
	}
}

// TestAssignEpoch: a new leader's epoch is in the checkpoint at the log
// end before anything is appended in it, and OffsetForLeaderEpoch for the
// previous epoch ends there.
func TestAssignEpoch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, dir, Config{}, nil, nil)
	for _, e := range []int32{1, 1, 1} {
		if _, err := l.Append(buildBatch(spec{records: 2}), AppendOptions{LeaderEpoch: e, LogAppendTime: -1}); err != nil {
			t.Fatal(err)
		}
	}
	if end, err := l.AssignEpoch(4); err != nil || end != 6 {
		t.Fatalf("AssignEpoch: %d, %v", end, err)
	}
	if end, err := l.AssignEpoch(3); err != nil || end != 6 { // older: ignored
		t.Fatalf("AssignEpoch(stale): %d, %v", end, err)
	}
	want := []EpochEntry{{1, 0}, {4, 6}}
	if got := l.EpochEntries(); !slices.Equal(got, want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	if e, off := l.EndOffsetForEpoch(1); e != 1 || off != 6 {
		t.Fatalf("EndOffsetForEpoch(1) = (%d, %d), want (1, 6)", e, off)
	}
	if e, off := l.EndOffsetForEpoch(4); e != 4 || off != 6 {
		t.Fatalf("EndOffsetForEpoch(4) = (%d, %d), want (4, 6)", e, off)
	}
	mustClose(t, l)
	b, err := os.ReadFile(filepath.Join(dir, leaderEpochFile))
	if err != nil || string(b) != "0\n2\n1 0\n4 6\n" {
		t.Fatalf("checkpoint %q, %v", b, err)
	}
}

// TestTruncateAtEndDropsEmptyEpoch: truncating at the log end cuts no
// batch but drops an epoch entry there (a leadership that appended
// nothing), as Kafka's truncateTo does, so the latest epoch is again the
// last batch's.
func TestTruncateAtEndDropsEmptyEpoch(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{}, nil, nil)
	if _, err := l.Append(buildBatch(spec{records: 2}), AppendOptions{LeaderEpoch: 1, LogAppendTime: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AssignEpoch(2); err != nil {
		t.Fatal(err)
	}
	if err := l.Truncate(2); err != nil {
		t.Fatal(err)
	}
	if got, want := l.EpochEntries(), []EpochEntry{{1, 0}}; !slices.Equal(got, want) || l.EndOffset() != 2 {
		t.Fatalf("entries %v, end %d; want %v, 2", got, l.EndOffset(), want)
	}
	mustClose(t, l)
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, dir, Config{}, nil, nil)
	appendN(t, l, 3, spec{records: 2})
	if err := l.TruncateFullyAndStartAt(100); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 100 || l.EndOffset() != 100 || len(l.EpochEntries()) != 0 {
		t.Fatalf("start %d, end %d, epochs %v", l.StartOffset(), l.EndOffset(), l.EpochEntries())
	}
	b := buildBatch(spec{records: 2})
	record.SetBaseOffset(b, 100)
	record.SetPartitionLeaderEpoch(b, 6)
	if _, err := l.AppendReplicated(b); err != nil {
		t.Fatal(err)
	}
	abandon(l)
	l = openLog(t, dir, Config{}, nil, nil)
	defer l.Close()
	if l.StartOffset() != 100 || l.EndOffset() != 102 || !slices.Equal(l.EpochEntries(), []EpochEntry{{6, 100}}) {
		t.Fatalf("after reopen: start %d, end %d, epochs %v", l.StartOffset(), l.EndOffset(), l.EpochEntries())
	}
}
