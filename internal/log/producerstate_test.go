package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestAddSequence(t *testing.T) {
	t.Parallel()
	tests := []struct{ seq, delta, want int32 }{
		{0, 0, 0},
		{5, 3, 8},
		{math.MaxInt32 - 2, 2, math.MaxInt32},
		{math.MaxInt32, 1, 0},
		{math.MaxInt32 - 1, 3, 1},
		{math.MaxInt32, math.MaxInt32, math.MaxInt32 - 1},
	}
	for _, tc := range tests {
		if got := addSequence(tc.seq, tc.delta); got != tc.want {
			t.Errorf("addSequence(%d, %d) = %d, want %d", tc.seq, tc.delta, got, tc.want)
		}
	}
}

type idemStep struct {
	name     string
	pid      int64 // -1: not idempotent
	epoch    int16
	seq      int32
	records  int
	wantErr  error
	wantBase int64 // for success and duplicates
	wantDup  bool
}

func runSteps(t *testing.T, l *Log, steps []idemStep) {
	t.Helper()
	for _, st := range steps {
		s := spec{records: st.records, pid: st.pid, epoch: st.epoch, seq: st.seq, idem: st.pid >= 0}
		res, err := l.Append(buildBatch(s), AppendOptions{LogAppendTime: -1})
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: err %v, want %v", st.name, err, st.wantErr)
		}
		if err != nil {
			continue
		}
		if res.BaseOffset != st.wantBase || res.LastOffset != st.wantBase+int64(max(st.records, 1)-1) || res.Duplicate != st.wantDup {
			t.Fatalf("%s: result %+v, want base %d dup %v", st.name, res, st.wantBase, st.wantDup)
		}
	}
}

var idemSteps = []idemStep{
	{"first batch", 7, 0, 0, 2, nil, 0, false},
	{"next batch", 7, 0, 2, 3, nil, 2, false},
	{"retry of the latest", 7, 0, 2, 3, nil, 2, true},
	{"retry of an older one", 7, 0, 0, 2, nil, 0, true},
	{"gap", 7, 0, 6, 1, ErrOutOfOrderSequence, 0, false},
	{"in order again", 7, 0, 5, 1, nil, 5, false},
	{"unknown producer must start at 0", 8, 0, 3, 1, ErrOutOfOrderSequence, 0, false},
	{"second producer", 8, 0, 0, 1, nil, 6, false},
	{"non-idempotent batch is not checked", -1, 0, 0, 2, nil, 7, false},
	{"epoch bump restarts at 0", 7, 1, 0, 1, nil, 9, false},
	{"old epoch is fenced", 7, 0, 6, 1, ErrInvalidProducerEpoch, 0, false},
	{"new epoch must start at 0", 7, 2, 5, 1, ErrOutOfOrderSequence, 0, false},
	{"retry in the new epoch", 7, 1, 0, 1, nil, 9, true},
	{"epoch 1 seq 1", 7, 1, 1, 1, nil, 10, false},
	{"epoch 1 seq 2", 7, 1, 2, 1, nil, 11, false},
	{"epoch 1 seq 3", 7, 1, 3, 1, nil, 12, false},
	{"epoch 1 seq 4", 7, 1, 4, 1, nil, 13, false},
	{"oldest of the last five is still a duplicate", 7, 1, 0, 1, nil, 9, true},
	{"epoch 1 seq 5", 7, 1, 5, 1, nil, 14, false},
	{"a sixth-oldest batch is forgotten", 7, 1, 0, 1, ErrOutOfOrderSequence, 0, false},
	{"latest still known", 7, 1, 5, 1, nil, 14, true},
}

func TestIdempotentProducer(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{}, nil, nil)
	defer l.Close()
	runSteps(t, l, idemSteps)
	if l.EndOffset() != 15 {
		t.Fatalf("end %d, want 15", l.EndOffset())
	}
}

func TestSequenceWrap(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir(), Config{}, nil, nil)
	defer l.Close()
	// Seed a producer whose last batch ended just below the wrap.
	l.producers.producers[9] = &producerEntry{epoch: 3, batches: []batchMeta{
		{firstSeq: math.MaxInt32 - 4, lastSeq: math.MaxInt32 - 1, firstOffset: -10, lastOffset: -7},
	}, coordinatorEpoch: -1, txnFirstOffset: -1}
	runSteps(t, l, []idemStep{
		{"crosses MaxInt32", 9, 3, math.MaxInt32, 3, nil, 0, false}, // seqs MaxInt32, 0, 1
		{"continues at 2", 9, 3, 2, 1, nil, 3, false},
		{"retry of the wrapping batch", 9, 3, math.MaxInt32, 3, nil, 0, true},
		{"gap after wrap", 9, 3, 4, 1, ErrOutOfOrderSequence, 0, false},
		{"3 follows", 9, 3, 3, 1, nil, 4, false},
	})
}

// TestProducerStateSurvivesRestart replays the idempotence steps, restarts
// in different ways, and checks that retries are still recognised.
func TestProducerStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	after := []idemStep{
		{"retry after restart", 7, 1, 5, 1, nil, 14, true},
		{"retry of an older one after restart", 7, 1, 2, 1, nil, 11, true},
		{"second producer retry", 8, 0, 0, 1, nil, 6, true},
		{"old epoch still fenced", 7, 0, 6, 1, ErrInvalidProducerEpoch, 0, false},
		{"gap still refused", 7, 1, 7, 1, ErrOutOfOrderSequence, 0, false},
		{"next in order", 7, 1, 6, 1, nil, 15, false},
	}
	tests := []struct {
		name         string
		segmentBytes int64
		restart      func(t *testing.T, l *Log, ffs *FaultFS, dir string)
		wantReplay   int
	}{
		{"clean close uses the snapshot", 0, func(t *testing.T, l *Log, _ *FaultFS, _ string) { mustClose(t, l) }, 0},
		{"process crash replays the log", 0, func(t *testing.T, l *Log, _ *FaultFS, _ string) { abandon(l) }, 11},
		{"power loss after flush replays the log", 0, func(t *testing.T, l *Log, ffs *FaultFS, _ string) {
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := ffs.Crash(); err != nil {
				t.Fatal(err)
			}
		}, 11},
		// The 11 batches are 84 to 130 bytes: segments start at 0, 5, 7,
		// 10 and 13, with a snapshot at each roll; the last holds the
		// batches at 13 and 14.
		{"crash after rolls replays from the last snapshot", 3 * 84, func(t *testing.T, l *Log, _ *FaultFS, _ string) { abandon(l) }, 2},
		{"corrupt snapshot is dropped and the log replayed", 0, func(t *testing.T, l *Log, _ *FaultFS, dir string) {
			mustClose(t, l)
			p := snapshotPath(dir, 15)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ffs := NewFaultFS(nil)
			cfg := Config{SegmentBytes: tc.segmentBytes}
			l := openLog(t, dir, cfg, ffs, nil)
			runSteps(t, l, idemSteps)
			tc.restart(t, l, ffs, dir)
			l = openLog(t, dir, cfg, ffs, nil)
			defer l.Close()
			if l.stats.replayedBatches != tc.wantReplay {
				t.Fatalf("replayed %d batches, want %d", l.stats.replayedBatches, tc.wantReplay)
			}
			runSteps(t, l, after)
		})
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	ps := newProducerState()
	ps.producers[1] = &producerEntry{epoch: 2, batches: []batchMeta{{0, 4, 10, 14, 99}, {5, 5, 20, 20, 100}}, lastTimestamp: 100, coordinatorEpoch: 3, txnFirstOffset: 12}
	ps.producers[-5] = newProducerEntry(-1)
	ps.producers[7] = &producerEntry{epoch: 1, lastTimestamp: 5, coordinatorEpoch: 4, txnFirstOffset: 3}
	ps.completed = []txnRange{{pid: 8, first: 1, last: 30}, {pid: 1, first: 2, last: 31}}
	b := ps.encode(42)
	got, err := decodeProducerState(b, 42)
	if err != nil {
		t.Fatal(err)
	}
	if again := got.encode(42); !bytes.Equal(again, b) {
		t.Fatal("re-encoding differs")
	}
	if !reflect.DeepEqual(got.producers, ps.producers) || !reflect.DeepEqual(got.completed, ps.completed) {
		t.Fatalf("decoded %+v, %+v; want %+v, %+v", got.producers[1], got.completed, ps.producers[1], ps.completed)
	}
	// The open transactions come back from the entries, by first offset.
	if want := []txnRange{{pid: 7, first: 3, last: -1}, {pid: 1, first: 12, last: -1}}; !reflect.DeepEqual(got.ongoing, want) {
		t.Fatalf("open transactions %+v, want %+v", got.ongoing, want)
	}
	if _, err := decodeProducerState(b, 43); !errors.Is(err, errBadSnapshot) {
		t.Fatalf("wrong offset accepted: %v", err)
	}
}

// FuzzProducerSnapshot: decoding arbitrary bytes must not panic, and
// whatever decodes re-encodes to the same bytes.
func FuzzProducerSnapshot(f *testing.F) {
	ps := newProducerState()
	ps.producers[1] = &producerEntry{epoch: 2, batches: []batchMeta{{0, 4, 10, 14, 99}}}
	f.Add(ps.encode(7))
	f.Add([]byte{})
	f.Add(encodeV1(ps, 7))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeProducerState(b, 7)
		if err != nil {
			return
		}
		again := got.encode(7)
		if b[1] == snapshotVersion && !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
		// A version 1 snapshot is written back as the current version,
		// which holds the same state.
		back, err := decodeProducerState(again, 7)
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Fatalf("re-encoded state differs: %v", err)
		}
	})
}

// encodeV1 is the version 1 snapshot encoding, which lacks the entries'
// last timestamp and transaction fields.
func encodeV1(ps *producerState, offset int64) []byte {
	var ids []int64
	for id := range ps.producers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b := binary.BigEndian.AppendUint16(nil, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := ps.producers[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = append(b, byte(len(e.batches)))
		for _, m := range e.batches {
			b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.lastOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.timestamp))
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// TestSnapshotV1: a snapshot written before version 2 still loads: each
// producer takes its last batch's timestamp and no transaction.
func TestSnapshotV1(t *testing.T) {
	t.Parallel()
	ps := newProducerState()
	ps.producers[1] = &producerEntry{epoch: 2, batches: []batchMeta{{0, 4, 10, 14, 99}, {5, 5, 20, 20, 100}}}
	ps.producers[3] = &producerEntry{epoch: 0}
	got, err := decodeProducerState(encodeV1(ps, 42), 42)
	if err != nil {
		t.Fatal(err)
	}
	want := newProducerState()
	want.producers[1] = &producerEntry{epoch: 2, batches: ps.producers[1].batches, lastTimestamp: 100, coordinatorEpoch: -1, txnFirstOffset: -1}
	want.producers[3] = newProducerEntry(0)
	if !reflect.DeepEqual(got.producers, want.producers) || len(got.ongoing) != 0 || len(got.completed) != 0 {
		t.Fatalf("decoded %+v, %+v; want %+v, %+v", got.producers[1], got.producers[3], want.producers[1], want.producers[3])
	}
}

// TestExpireProducers: producer.id.expiration.ms forgets a producer whose
// last batch's timestamp is that old, and only it; a retry of its batch is
// then a new producer's (OUT_OF_ORDER_SEQUENCE_NUMBER unless it starts at
// sequence 0), as in Kafka. The state after expiry survives a restart.
func TestExpireProducers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openLog(t, dir, Config{}, nil, nil)
	const hour = int64(3600_000)
	for _, s := range []spec{
		{records: 2, pid: 1, idem: true, seq: 0, ts: baseTS}, // producer 1: last write at baseTS+1
		{records: 1, pid: 2, idem: true, seq: 0, ts: baseTS}, // producer 2: written again later
		{records: 1, pid: 2, idem: true, seq: 1, ts: baseTS + 2*hour},
	} {
		if _, err := l.Append(buildBatch(s), AppendOptions{LogAppendTime: -1}); err != nil {
			t.Fatal(err)
		}
	}
	at := func(ms int64) time.Time { return time.UnixMilli(ms) }
	if n := l.ExpireProducers(at(baseTS+hour), time.Hour); n != 0 {
		t.Fatalf("expired %d producers before an hour passed", n)
	}
	if n := l.ExpireProducers(at(baseTS+1+hour), time.Hour); n != 1 {
		t.Fatalf("expired %d producers, want 1", n)
	}
	l.Close()
	l = openLog(t, dir, Config{}, nil, nil)
	defer l.Close()
	runSteps(t, l, []idemStep{
		{"expired producer's retry", 1, 0, 0, 2, nil, 4, false}, // sequence 0 again: a new producer
		{"live producer's retry", 2, 0, 1, 1, nil, 3, true},
		{"live producer's gap", 2, 0, 3, 1, ErrOutOfOrderSequence, 0, false},
	})
}
