package log

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/record"
)

// txnData is a transactional batch of n records of producer pid.
func txnData(pid int64, epoch int16, seq int32, n int) []byte {
	return buildBatch(spec{records: n, pid: pid, epoch: epoch, seq: seq, idem: true, txn: true})
}

// markerBatch is a transaction marker, as the coordinator has it written.
func markerBatch(pid int64, epoch int16, coordinatorEpoch int32, commit bool) []byte {
	return record.BuildMarker(record.Marker{ProducerID: pid, ProducerEpoch: epoch, CoordinatorEpoch: coordinatorEpoch, Commit: commit, Timestamp: baseTS})
}

// fuo is FirstUnstableOffset as one value, -1 for none.
func fuo(l *Log) int64 {
	off, ok := l.FirstUnstableOffset()
	if !ok {
		return -1
	}
	return off
}

func wantFUO(t testing.TB, l *Log, want int64) {
	t.Helper()
	if got := fuo(l); got != want {
		t.Fatalf("first unstable offset %d, want %d", got, want)
	}
}

func wantAborted(t testing.TB, l *Log, from, upper int64, want ...AbortedTxn) {
	t.Helper()
	got, err := l.AbortedTxns(from, upper)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 || len(want) != 0 {
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("AbortedTxns(%d, %d) = %+v, want %+v", from, upper, got, want)
		}
	}
}

func appendAt(t testing.TB, l *Log, b []byte, wantBase int64) {
	t.Helper()
	if res := mustAppend(t, l, b); res.BaseOffset != wantBase {
		t.Fatalf("appended at %d, want %d", res.BaseOffset, wantBase)
	}
}

// TestTxnLastStableOffset: two producers' transactions interleave, end in
// either order, commit or abort; the first unstable offset follows the
// earliest undecided transaction, and an ended one holds it until the high
// watermark passes its marker. Abort index entries carry Kafka's values.
func TestTxnLastStableOffset(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{}, nil, nil)
	defer l.Close()
	wantFUO(t, l, -1)

	appendAt(t, l, txnData(1, 0, 0, 3), 0) // A opens at 0
	wantFUO(t, l, 0)
	appendAt(t, l, txnData(2, 0, 0, 2), 3) // B opens at 3
	appendAt(t, l, buildBatch(spec{}), 5)  // a plain batch in between
	wantFUO(t, l, 0)
	if !l.OngoingTxn(1) || !l.OngoingTxn(2) || l.OngoingTxn(3) {
		t.Fatalf("ongoing: 1 %v, 2 %v, 3 %v", l.OngoingTxn(1), l.OngoingTxn(2), l.OngoingTxn(3))
	}

	appendAt(t, l, markerBatch(1, 0, 0, true), 6) // A commits
	if l.OngoingTxn(1) {
		t.Fatal("A's transaction still open after its marker")
	}
	// Committed but not replicated: the marker is above the high
	// watermark, which the log has not been told of.
	wantFUO(t, l, 0)
	l.UpdateHighWatermark(6)
	wantFUO(t, l, 0)
	l.UpdateHighWatermark(7)
	wantFUO(t, l, 3)
	if got := l.LastStableOffset(7); got != 3 {
		t.Fatalf("last stable offset %d, want 3", got)
	}

	appendAt(t, l, txnData(1, 0, 3, 2), 7)         // A opens again at 7
	appendAt(t, l, markerBatch(2, 0, 0, false), 9) // B aborts; A's is open
	wantFUO(t, l, 3)
	l.UpdateHighWatermark(10)
	wantFUO(t, l, 7)
	appendAt(t, l, markerBatch(1, 0, 0, false), 10) // A aborts; none open
	wantFUO(t, l, 7)
	l.UpdateHighWatermark(11)
	wantFUO(t, l, -1)
	if got := l.LastStableOffset(11); got != 11 {
		t.Fatalf("last stable offset %d, want 11", got)
	}

	wantAborted(t, l, 0, 11,
		AbortedTxn{ProducerID: 2, FirstOffset: 3, LastOffset: 9, LastStableOffset: 7},
		AbortedTxn{ProducerID: 1, FirstOffset: 7, LastOffset: 10, LastStableOffset: 11})
	wantAborted(t, l, 10, 11, AbortedTxn{ProducerID: 1, FirstOffset: 7, LastOffset: 10, LastStableOffset: 11})
	// B's entry ends the search for a range below 7: nothing that began
	// there can be aborted later.
	wantAborted(t, l, 0, 5, AbortedTxn{ProducerID: 2, FirstOffset: 3, LastOffset: 9, LastStableOffset: 7})
	wantAborted(t, l, 0, 3)

	infos := l.Producers()
	if len(infos) != 2 || infos[0].CoordinatorEpoch != 0 || infos[0].TxnStartOffset != -1 || infos[1].TxnStartOffset != -1 {
		t.Fatalf("producers %+v", infos)
	}
}

// TestTxnLeaderChecks: ProducerAppendInfo's rules for a leader's appends.
func TestTxnLeaderChecks(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{}, nil, nil)
	defer l.Close()
	appendAt(t, l, txnData(1, 2, 0, 2), 0)
	appendAt(t, l, markerBatch(1, 2, 5, true), 2)
	appendAt(t, l, txnData(1, 2, 2, 1), 3)

	_, err := l.Append(buildBatch(spec{pid: 1, epoch: 2, seq: 3, idem: true}), AppendOptions{LogAppendTime: -1})
	if !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("idempotent batch inside a transaction: %v, want ErrInvalidTxnState", err)
	}
	if _, err := l.Append(markerBatch(1, 2, 4, false), AppendOptions{LogAppendTime: -1}); !errors.Is(err, ErrCoordinatorFenced) {
		t.Fatalf("marker of an older coordinator: %v, want ErrCoordinatorFenced", err)
	}
	if _, err := l.Append(markerBatch(1, 1, 5, false), AppendOptions{LogAppendTime: -1}); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("marker of an older producer epoch: %v, want ErrInvalidProducerEpoch", err)
	}
	if l.EndOffset() != 4 {
		t.Fatalf("refused batches appended: end %d", l.EndOffset())
	}
	// A transaction version 2 marker carries the bumped epoch: the
	// producer moves to it with no batches, so its next batch starts at
	// sequence 0.
	appendAt(t, l, markerBatch(1, 3, 6, false), 4)
	if _, err := l.Append(txnData(1, 3, 3, 1), AppendOptions{LogAppendTime: -1}); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("sequence 3 after an epoch-bumping marker: %v, want ErrOutOfOrderSequence", err)
	}
	appendAt(t, l, txnData(1, 3, 0, 1), 5)
	// A marker for a producer with nothing open here is appended, and
	// indexes nothing.
	appendAt(t, l, markerBatch(7, 0, 6, false), 6)
	wantAborted(t, l, 0, 7, AbortedTxn{ProducerID: 1, FirstOffset: 3, LastOffset: 4, LastStableOffset: 5})
	// A coordinator's transactional batch without a sequence (a
	// transactional offset commit) opens a transaction too.
	b := buildBatch(spec{pid: 9, epoch: 0, seq: -1, idem: true, txn: true})
	if _, err := l.Append(b, AppendOptions{LogAppendTime: -1, Coordinator: true}); err != nil {
		t.Fatal(err)
	}
	if !l.OngoingTxn(9) {
		t.Fatal("a transactional offset commit opened no transaction")
	}
	got := l.Producers()
	want := []ProducerInfo{
		{ProducerID: 1, ProducerEpoch: 3, LastSequence: 0, LastTimestamp: baseTS, CoordinatorEpoch: 6, TxnStartOffset: 5},
		{ProducerID: 7, ProducerEpoch: 0, LastSequence: -1, LastTimestamp: baseTS, CoordinatorEpoch: 6, TxnStartOffset: -1},
		{ProducerID: 9, ProducerEpoch: 0, LastSequence: -1, LastTimestamp: baseTS, CoordinatorEpoch: -1, TxnStartOffset: 7},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("producers\n%+v\nwant\n%+v", got, want)
	}
}

// TestTxnFollowerAppend: a follower's batches build the same transactions
// and abort index as the leader's, without the leader's checks.
func TestTxnFollowerAppend(t *testing.T) {
	t.Parallel()
	leader := openLog(t, t.TempDir(), Config{}, nil, nil)
	defer leader.Close()
	for _, b := range [][]byte{txnData(1, 0, 0, 2), txnData(2, 0, 0, 1), markerBatch(1, 0, 0, false), markerBatch(2, 0, 0, true)} {
		mustAppend(t, leader, b)
	}
	follower := openLog(t, t.TempDir(), Config{}, nil, nil)
	defer follower.Close()
	r, err := leader.Read(0, 1<<20, leader.EndPosition(), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.AppendReplicated(sliceBytes(t, r)); err != nil {
		t.Fatal(err)
	}
	want := AbortedTxn{ProducerID: 1, FirstOffset: 0, LastOffset: 3, LastStableOffset: 2}
	wantAborted(t, leader, 0, 5, want)
	wantAborted(t, follower, 0, 5, want)
	follower.UpdateHighWatermark(4)
	wantFUO(t, follower, 2) // producer 2's commit at 4 is not replicated
	follower.UpdateHighWatermark(5)
	wantFUO(t, follower, -1)
}

// TestAbortedTxnsAcrossSegments: every batch in a segment of its own; an
// entry lives in the segment of its marker, and the search walks forward
// from the fetch offset's segment until an entry's last stable offset
// reaches the upper bound.
func TestAbortedTxnsAcrossSegments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 1}
	l := openLog(t, dir, cfg, nil, nil)
	steps := [][]byte{
		txnData(1, 0, 0, 1),         // 0 A
		txnData(2, 0, 0, 1),         // 1 B
		markerBatch(1, 0, 0, false), // 2 A aborts; B open at 1
		txnData(3, 0, 0, 1),         // 3 C
		markerBatch(2, 0, 0, false), // 4 B aborts; C open at 3
		markerBatch(3, 0, 0, true),  // 5 C commits
		txnData(1, 0, 1, 1),         // 6 A
		markerBatch(1, 0, 0, false), // 7 A aborts; none open
	}
	for i, b := range steps {
		appendAt(t, l, b, int64(i))
	}
	a0 := AbortedTxn{ProducerID: 1, FirstOffset: 0, LastOffset: 2, LastStableOffset: 1}
	b1 := AbortedTxn{ProducerID: 2, FirstOffset: 1, LastOffset: 4, LastStableOffset: 3}
	a6 := AbortedTxn{ProducerID: 1, FirstOffset: 6, LastOffset: 7, LastStableOffset: 8}
	check := func(l *Log) {
		t.Helper()
		wantAborted(t, l, 0, 8, a0, b1, a6)
		wantAborted(t, l, 3, 5, b1)
		wantAborted(t, l, 5, 6)
		wantAborted(t, l, 0, 1, a0)
		wantAborted(t, l, 2, 3, a0, b1)
		wantAborted(t, l, 7, 8, a6)
	}
	check(l)
	mustClose(t, l)
	// On disk: a file for the segments with a marker that aborted
	// something, in Kafka's layout, and none for the others.
	for base := int64(0); base < 8; base++ {
		b, err := os.ReadFile(filepath.Join(dir, segmentFileName(base, txnIndexSuffix)))
		var want []byte
		switch base {
		case 2:
			want = encodeTxnEntries(nil, []AbortedTxn{a0})
		case 4:
			want = encodeTxnEntries(nil, []AbortedTxn{b1})
		case 7:
			want = encodeTxnEntries(nil, []AbortedTxn{a6})
		}
		if want == nil {
			if !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("segment %d has a transaction index (%v)", base, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(b, want) {
			t.Fatalf("segment %d's transaction index %x (%v), want %x", base, b, err, want)
		}
	}
	// Kafka's bytes for the first entry.
	if got := encodeTxnEntries(nil, []AbortedTxn{a0}); !bytes.Equal(got, []byte{
		0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1,
	}) {
		t.Fatalf("entry bytes %x", got)
	}
	l = openLog(t, dir, cfg, nil, nil)
	defer l.Close()
	check(l)
}

// TestTruncateReopensTxn: a truncation below an abort marker removes its
// index entry, in a sealed segment's file too, and reopens the transaction.
func TestTruncateReopensTxn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 1}
	l := openLog(t, dir, cfg, nil, nil)
	defer l.Close()
	appendAt(t, l, txnData(1, 0, 0, 2), 0)
	appendAt(t, l, markerBatch(1, 0, 0, false), 2)
	appendAt(t, l, buildBatch(spec{}), 3) // seals the marker's segment
	path := filepath.Join(dir, segmentFileName(2, txnIndexSuffix))
	if fi, err := os.Stat(path); err != nil || fi.Size() != txnEntrySize {
		t.Fatalf("sealed segment's transaction index: %v, %v", fi, err)
	}
	l.UpdateHighWatermark(2)
	wantFUO(t, l, 0)
	wantAborted(t, l, 0, 4, AbortedTxn{ProducerID: 1, FirstOffset: 0, LastOffset: 2, LastStableOffset: 3})

	if err := l.Truncate(2); err != nil {
		t.Fatal(err)
	}
	wantAborted(t, l, 0, 4)
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("transaction index after the truncation: %v, %v", fi, err)
	}
	if !l.OngoingTxn(1) {
		t.Fatal("the transaction did not reopen")
	}
	wantFUO(t, l, 0)
	// The new leader's coordinator commits it instead.
	appendAt(t, l, markerBatch(1, 0, 1, true), 2)
	wantAborted(t, l, 0, 4)
	l.UpdateHighWatermark(3)
	wantFUO(t, l, -1)
	mustClose(t, l)
	l = openLog(t, dir, cfg, nil, nil)
	wantAborted(t, l, 0, 4)
}

// txnScenario appends transactions of three producers over several
// segments, with aborts in each, and leaves two open.
func txnScenario() [][]byte {
	return [][]byte{
		txnData(1, 0, 0, 2), txnData(2, 0, 0, 1), buildBatch(spec{records: 3}),
		markerBatch(1, 0, 0, false), txnData(3, 0, 0, 1), markerBatch(2, 0, 0, true),
		txnData(1, 0, 2, 1), buildBatch(spec{}), markerBatch(3, 0, 0, false),
		txnData(2, 0, 1, 2), markerBatch(1, 0, 0, false), txnData(3, 0, 1, 1),
		txnData(1, 0, 3, 1), buildBatch(spec{records: 2}), markerBatch(2, 0, 0, false),
		txnData(2, 0, 3, 1), buildBatch(spec{}), markerBatch(3, 0, 0, false),
	}
}

// txnState is what must match between two logs of the same batches.
type txnState struct {
	End       int64
	FUO       int64
	Segments  []int64
	Entries   [][]AbortedTxn
	Producers []ProducerInfo
}

func stateOf(t testing.TB, l *Log, hw int64) txnState {
	t.Helper()
	l.UpdateHighWatermark(hw)
	st := txnState{End: l.EndOffset(), FUO: fuo(l), Producers: l.Producers()}
	for _, s := range l.segs {
		if s.size.Load() == 0 && s.txn.count() == 0 {
			continue // a crash may leave the segment a roll created empty
		}
		st.Segments = append(st.Segments, s.base)
		st.Entries = append(st.Entries, s.txn.list())
	}
	return st
}

// reference builds, in a fresh directory, the log of the first batches
// that reach end, appended in order: what a recovered log must equal.
func reference(t testing.TB, cfg Config, batches [][]byte, end int64) *Log {
	t.Helper()
	l := openLog(t, t.TempDir(), cfg, nil, nil)
	for _, b := range batches {
		if l.EndOffset() >= end {
			break
		}
		mustAppend(t, l, bytes.Clone(b))
	}
	if l.EndOffset() != end {
		t.Fatalf("reference log ends at %d, want %d", l.EndOffset(), end)
	}
	return l
}

// TestTxnRecoveryAfterCrash: after a power loss, plain or tearing the
// unsynced bytes, recovery rebuilds the abort index and the transactions
// exactly as a log holding the surviving batches has them.
func TestTxnRecoveryAfterCrash(t *testing.T) {
	t.Parallel()
	cfg := Config{SegmentBytes: 400, IndexIntervalBytes: 100}
	for seed := range uint64(12) {
		dir := t.TempDir()
		ffs := NewFaultFS(nil)
		l := openLog(t, dir, cfg, ffs, nil)
		batches := txnScenario()
		for i, b := range batches {
			mustAppend(t, l, bytes.Clone(b))
			if i == 6 {
				if err := l.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		var err error
		if seed == 0 {
			err = ffs.Crash()
		} else {
			err = ffs.CrashTorn(seed)
		}
		if err != nil {
			t.Fatal(err)
		}
		l = openLog(t, dir, cfg, ffs, nil)
		ref := reference(t, cfg, batches, l.EndOffset())
		for _, hw := range []int64{0, l.EndOffset() / 2, l.EndOffset()} {
			got, want := stateOf(t, l, hw), stateOf(t, ref, hw)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d, high watermark %d: recovered\n%+v\nwant\n%+v", seed, hw, got, want)
			}
		}
		// The files agree once both are sealed.
		refDir := ref.dir
		mustClose(t, l)
		mustClose(t, ref)
		for _, base := range stateOf(t, openLog(t, refDir, cfg, nil, nil), 0).Segments {
			name := segmentFileName(base, txnIndexSuffix)
			a, aerr := os.ReadFile(filepath.Join(dir, name))
			b, berr := os.ReadFile(filepath.Join(refDir, name))
			if !bytes.Equal(a, b) || (aerr == nil) != (berr == nil) {
				t.Fatalf("seed %d: %s: %x (%v), want %x (%v)", seed, name, a, aerr, b, berr)
			}
		}
	}
}

// TestTxnIndexCorruptRebuilt: a sealed segment's .txnindex that is torn,
// of a wrong version or naming offsets outside its segment is rebuilt from
// the log on a clean open, byte for byte.
func TestTxnIndexCorruptRebuilt(t *testing.T) {
	t.Parallel()
	cfg := Config{SegmentBytes: 400, IndexIntervalBytes: 100}
	damages := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"torn", func(b []byte) []byte { return b[:len(b)-3] }},
		{"bad version", func(b []byte) []byte { b[1] = 1; return b }},
		{"offset outside the segment", func(b []byte) []byte { b[25] ^= 0x40; return b }},
		{"removed", nil},
	}
	for _, tc := range damages {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := openLog(t, dir, cfg, nil, nil)
			for _, b := range txnScenario() {
				mustAppend(t, l, b)
			}
			want := stateOf(t, l, 5)
			mustClose(t, l)
			var victim string
			for _, base := range want.Segments[:len(want.Segments)-1] {
				if p := filepath.Join(dir, segmentFileName(base, txnIndexSuffix)); victim == "" {
					if _, err := os.Stat(p); err == nil {
						victim = p
					}
				}
			}
			orig, err := os.ReadFile(victim)
			if err != nil {
				t.Fatal(err)
			}
			if tc.damage == nil {
				err = os.Remove(victim)
			} else {
				err = os.WriteFile(victim, tc.damage(bytes.Clone(orig)), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, cfg, nil, nil)
			defer l.Close()
			if got := stateOf(t, l, 5); tc.damage != nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("reopened\n%+v\nwant\n%+v", got, want)
			}
			if tc.damage == nil {
				// A missing file reads as no abort: it cannot be told
				// from a segment without one (Kafka creates it lazily
				// too); an unclean shutdown rebuilds it.
				return
			}
			if b, err := os.ReadFile(victim); err != nil || !bytes.Equal(b, orig) {
				t.Fatalf("rebuilt file %x (%v), want %x", b, err, orig)
			}
		})
	}
}

// TestTxnSurvivesRestart: open transactions and ended ones the high
// watermark has not passed come back after a clean restart (snapshot) and
// an unclean one (snapshot plus replay).
func TestTxnSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, clean := range []bool{true, false} {
		dir := t.TempDir()
		cfg := Config{SegmentBytes: 300}
		l := openLog(t, dir, cfg, nil, nil)
		appendAt(t, l, txnData(1, 0, 0, 2), 0)
		appendAt(t, l, txnData(2, 0, 0, 1), 2)
		appendAt(t, l, buildBatch(spec{records: 4}), 3)
		appendAt(t, l, markerBatch(1, 0, 3, true), 7)
		appendAt(t, l, txnData(3, 0, 0, 1), 8)
		l.UpdateHighWatermark(5)
		want := stateOf(t, l, 5)
		if want.FUO != 0 || len(want.Segments) < 2 {
			t.Fatalf("before the restart: %+v", want)
		}
		if clean {
			mustClose(t, l)
		} else {
			abandon(l)
		}
		l = openLog(t, dir, cfg, nil, nil)
		if got := stateOf(t, l, 5); !reflect.DeepEqual(got, want) {
			t.Fatalf("clean %v: after the restart\n%+v\nwant\n%+v", clean, got, want)
		}
		if !l.OngoingTxn(2) || !l.OngoingTxn(3) || l.OngoingTxn(1) {
			t.Fatalf("clean %v: open transactions lost", clean)
		}
		l.UpdateHighWatermark(8)
		wantFUO(t, l, 2)
		mustClose(t, l)
	}
}

// keyedTxn is a batch of keyed records of producer pid, transactional.
func keyedTxn(t testing.TB, pid int64, seq int32, kvs ...kv) []byte {
	t.Helper()
	recs := make([]record.Record, len(kvs))
	for i, r := range kvs {
		recs[i] = record.Record{OffsetDelta: int32(i), Key: []byte(r.key), Value: []byte(r.value)}
	}
	b, err := record.BuildBatch(record.CodecNone, 0, recs, record.BuildOptions{
		ProducerID: pid, BaseSequence: seq, BaseTimestamp: baseTS, PartitionLeaderEpoch: -1, Attributes: record.AttrTransactional,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCompactTransactions: the cleaner drops an aborted transaction's
// records (which never supersede a committed key), keeps committed ones
// as any others, stops at the last stable offset, and removes a marker
// once its transaction has nothing left before it and delete.retention.ms
// has passed; the log replayed from its start has no transaction left
// open.
func TestCompactTransactions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	cfg := Config{SegmentBytes: 1}
	l := openLog(t, dir, cfg, nil, clk)
	steps := [][]byte{
		keyedBatch(t, record.CodecNone, baseTS, kv{key: "k1", value: "v0"}, kv{key: "k2", value: "v0"}), // 0, 1
		keyedTxn(t, 1, 0, kv{key: "k1", value: "A"}),                                                    // 2
		keyedTxn(t, 2, 0, kv{key: "k2", value: "B"}, kv{key: "k3", value: "B"}),                         // 3, 4
		markerBatch(1, 0, 0, true),                                             // 5
		markerBatch(2, 0, 0, false),                                            // 6
		keyedTxn(t, 2, 2, kv{key: "k4", value: "B2"}),                          // 7
		keyedTxn(t, 3, 0, kv{key: "k5", value: "C"}),                           // 8: open
		markerBatch(2, 0, 0, true),                                             // 9
		keyedBatch(t, record.CodecNone, baseTS, kv{key: "filler", value: "1"}), // 10
		keyedBatch(t, record.CodecNone, baseTS, kv{key: "filler", value: "2"}), // 11
	}
	for i, b := range steps {
		appendAt(t, l, b, []int64{0, 2, 3, 5, 6, 7, 8, 9, 10, 11}[i])
	}
	l.UpdateHighWatermark(l.EndOffset())
	compact := func(deleteRetentionMs int64) CompactStats {
		t.Helper()
		st, err := l.Compact(clk.now(), CompactOptions{DeleteRetentionMs: deleteRetentionMs, HW: l.EndOffset()})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// Producer 3's open transaction at 8 bounds the pass.
	if st := compact(-1); !st.Cleaned || st.CleanedTo != 8 {
		t.Fatalf("first pass: %+v", st)
	}
	wantRecords := func(want ...stored) {
		t.Helper()
		if got := readRecords(t, l, -1); !reflect.DeepEqual(got, want) {
			t.Fatalf("records\n%+v\nwant\n%+v", got, want)
		}
	}
	marker := func(off int64) stored {
		v := "\x00\x00\x00\x00\x00\x00"
		k := "\x00\x00\x00\x01"
		if off == 6 {
			k = "\x00\x00\x00\x00"
		}
		return stored{offset: off, key: k, value: v}
	}
	wantRecords(
		stored{offset: 1, key: "k2", value: "v0"}, // k2 survives the aborted k2
		stored{offset: 2, key: "k1", value: "A"},
		marker(5), marker(6), // B's batch went in this pass: its marker stays
		stored{offset: 7, key: "k4", value: "B2"},
		stored{offset: 8, key: "k5", value: "C"},
		marker(9),
		stored{offset: 10, key: "filler", value: "1"},
		stored{offset: 11, key: "filler", value: "2"},
	)
	wantAborted(t, l, 0, 12, AbortedTxn{ProducerID: 2, FirstOffset: 3, LastOffset: 6, LastStableOffset: 7})

	// Producer 3 commits; k1 is written again; delete.retention.ms is
	// short and has passed.
	appendAt(t, l, markerBatch(3, 0, 0, true), 12)
	appendAt(t, l, keyedBatch(t, record.CodecNone, baseTS, kv{key: "k1", value: "v2"}), 13)
	appendAt(t, l, keyedBatch(t, record.CodecNone, baseTS, kv{key: "filler", value: "3"}), 14)
	l.UpdateHighWatermark(l.EndOffset())
	clk.advance(time.Hour)
	if st := compact(1000); !st.Cleaned || st.CleanedTo != 14 {
		t.Fatalf("second pass: %+v", st)
	}
	// k1=A goes, but its batch stays empty: it is producer 1's last, so
	// its commit marker stays too. B's abort marker has nothing left to
	// abort and goes, with its index entry.
	wantRecords(
		stored{offset: 1, key: "k2", value: "v0"},
		marker(5),
		stored{offset: 7, key: "k4", value: "B2"},
		stored{offset: 8, key: "k5", value: "C"},
		marker(9),
		stored{offset: 11, key: "filler", value: "2"}, // the next is in the active segment
		marker(12),
		stored{offset: 13, key: "k1", value: "v2"},
		stored{offset: 14, key: "filler", value: "3"},
	)
	wantAborted(t, l, 0, 15)
	empty := false
	for _, b := range readAll(t, l) {
		if h := header(t, b); h.BaseOffset == 2 && h.NumRecords == 0 && h.ProducerID == 1 && h.LastOffsetDelta == 0 {
			empty = true
		}
	}
	if !empty {
		t.Fatal("producer 1's last batch was not kept empty")
	}

	// Replayed from the log start, no transaction is left open.
	mustClose(t, l)
	offs, err := listSnapshots(OSFS(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range offs {
		if err := os.Remove(snapshotPath(dir, off)); err != nil {
			t.Fatal(err)
		}
	}
	l = openLog(t, dir, cfg, nil, clk)
	defer l.Close()
	l.UpdateHighWatermark(l.EndOffset())
	wantFUO(t, l, -1)
}

// FuzzTxnIndex: decoding arbitrary bytes never panics, and whatever
// decodes re-encodes to the same bytes.
func FuzzTxnIndex(f *testing.F) {
	f.Add(encodeTxnEntries(nil, []AbortedTxn{{1, 0, 2, 1}, {2, 1, 4, 3}}), int64(0), int64(10))
	f.Add([]byte{}, int64(0), int64(0))
	f.Add(make([]byte, txnEntrySize), int64(5), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, b []byte, base, limit int64) {
		got, err := decodeTxnIndex(b, base, limit)
		if err != nil {
			return
		}
		if again := encodeTxnEntries(nil, got); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// TestAbortedTxnsRead: a read_committed read gets the aborted transactions
// up to the first batch past its bytes (the offset index's upper bound),
// not those that begin later.
func TestAbortedTxnsRead(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{IndexIntervalBytes: 1}, nil, nil)
	defer l.Close()
	steps := [][]byte{
		txnData(1, 0, 0, 1), txnData(2, 0, 0, 1), markerBatch(1, 0, 0, false), // 0, 1, 2
		buildBatch(spec{}), buildBatch(spec{}), txnData(3, 0, 0, 1), // 3, 4, 5
		markerBatch(2, 0, 0, false), markerBatch(3, 0, 0, false), // 6, 7
	}
	sizes := make([]int64, len(steps))
	for i, b := range steps {
		sizes[i] = int64(len(b))
		appendAt(t, l, b, int64(i))
	}
	a := AbortedTxn{ProducerID: 1, FirstOffset: 0, LastOffset: 2, LastStableOffset: 1}
	b := AbortedTxn{ProducerID: 2, FirstOffset: 1, LastOffset: 6, LastStableOffset: 5}
	c := AbortedTxn{ProducerID: 3, FirstOffset: 5, LastOffset: 7, LastStableOffset: 8}
	for _, tc := range []struct {
		from     int64
		maxBytes int64
		want     []AbortedTxn
	}{
		{0, sizes[0] + sizes[1], []AbortedTxn{a, b}},
		{3, sizes[3] + sizes[4], []AbortedTxn{b}},
		{5, sizes[5], []AbortedTxn{b, c}},
		{0, 1 << 20, []AbortedTxn{a, b, c}},
	} {
		r, err := l.Read(tc.from, tc.maxBytes, l.EndPosition(), false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := l.AbortedTxnsRead(tc.from, r, l.EndPosition())
		r.Slice.Release()
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("read from %d, %d bytes: aborted %+v (%v), want %+v", tc.from, tc.maxBytes, got, err, tc.want)
		}
	}
}

// TestRetentionRemovesTxnIndex: a segment deleted by retention or a moved
// log start takes its abort index file and entries with it.
func TestRetentionRemovesTxnIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, dir, Config{SegmentBytes: 1}, nil, nil)
	defer l.Close()
	for i, b := range [][]byte{txnData(1, 0, 0, 1), markerBatch(1, 0, 0, false), txnData(1, 0, 1, 1), markerBatch(1, 0, 0, false), buildBatch(spec{})} {
		appendAt(t, l, b, int64(i))
	}
	exists := func(base int64) bool {
		_, err := os.Stat(filepath.Join(dir, segmentFileName(base, txnIndexSuffix)))
		return err == nil
	}
	if !exists(1) || !exists(3) {
		t.Fatal("abort index files missing")
	}
	if err := l.SetStartOffset(2); err != nil {
		t.Fatal(err)
	}
	wantAborted(t, l, 0, 5, AbortedTxn{ProducerID: 1, FirstOffset: 2, LastOffset: 3, LastStableOffset: 4})
	if exists(1) || !exists(3) {
		t.Fatalf("after DeleteRecords: segment 1's file %v, segment 3's %v", exists(1), exists(3))
	}
	if n, err := l.DeleteOldSegments(time.UnixMilli(baseTS), -1, 0, l.EndOffset()); err != nil || n != 3 {
		t.Fatalf("retention deleted %d segments: %v", n, err)
	}
	wantAborted(t, l, 0, 5)
	if exists(3) {
		t.Fatal("segment 3's abort index survived retention")
	}
}
