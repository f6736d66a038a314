package hotkeys

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/record"
)

// checkGuarantees asserts Space-Saving's bounds against exact counts: every
// monitored key's true count lies in [Count-Err, Count]; every key whose
// true count exceeds total/k is monitored; the counters sum to total.
func checkGuarantees(t *testing.T, s *Sketch, exact map[string]uint64, total uint64) {
	t.Helper()
	gotTotal, _ := s.Total()
	if gotTotal != total {
		t.Fatalf("total %d, want %d", gotTotal, total)
	}
	top := s.Top(-1)
	var sum uint64
	seen := map[string]bool{}
	for _, c := range top {
		sum += c.Count
		seen[c.Key] = true
		if n := exact[c.Key]; n > c.Count || c.Count-c.Err > n {
			t.Fatalf("key %q: estimate %d err %d, true count %d", c.Key, c.Count, c.Err, n)
		}
	}
	if sum != total {
		t.Fatalf("counters sum to %d, want %d (no null keys)", sum, total)
	}
	for k, n := range exact {
		if n > total/uint64(s.k) && !seen[k] {
			t.Fatalf("key %q with %d of %d (> 1/%d) not monitored", k, n, total, s.k)
		}
	}
}

// TestSketchSkewed: on a Zipf-distributed stream the heaviest keys come out
// on top, in order, within the sketch's error bounds.
func TestSketchSkewed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.3, 1, 10000)
	s := NewSketch(Counters)
	exact := map[string]uint64{}
	const n = 200000
	for range n {
		k := fmt.Sprintf("user-%d", zipf.Uint64())
		if rng.IntN(10) == 0 {
			k = fmt.Sprintf("noise-%d", rng.IntN(1e6)) // a long tail of one-off keys
		}
		exact[k]++
		s.Add([]byte(k), 1)
	}
	checkGuarantees(t, s, exact, n)
	top := s.Top(3)
	want := []string{"user-0", "user-1", "user-2"}
	for i, c := range top {
		if c.Key != want[i] {
			t.Fatalf("top %d is %q (%d), want %q; top %+v", i, c.Key, c.Count, want[i], top)
		}
	}
}

func TestSketchExactWhenFewKeys(t *testing.T) {
	s := NewSketch(4)
	for i, k := range []string{"a", "b", "a", "c", "a", "b"} {
		s.Add([]byte(k), uint64(i%2+1))
	}
	s.Add(nil, 5)
	got := fmt.Sprint(s.Top(-1))
	if want := "[{b false 4 0} {a false 3 0} {c false 2 0}]"; got != want {
		t.Fatalf("top %s, want %s", got, want)
	}
	if total, null := s.Total(); total != 14 || null != 5 {
		t.Fatalf("total %d null %d, want 14 and 5", total, null)
	}
}

func TestSketchTruncatesLongKeys(t *testing.T) {
	s := NewSketch(2)
	long := bytes.Repeat([]byte("k"), MaxKeyLen+10)
	s.Add(long, 1)
	s.Add(long[:MaxKeyLen+1], 1)
	top := s.Top(-1)
	if len(top) != 1 || len(top[0].Key) != MaxKeyLen || !top[0].Truncated || top[0].Count != 2 {
		t.Fatalf("top %+v, want one truncated key of %d bytes counted twice", top, MaxKeyLen)
	}
}

func buildBatch(t testing.TB, codec int, keys [][]byte) []byte {
	t.Helper()
	recs := make([]record.Record, len(keys))
	for i, k := range keys {
		recs[i] = record.Record{OffsetDelta: int32(i), Key: k, Value: []byte("value"),
			Headers: []record.RecordHeader{{Key: "h", Value: []byte("v")}}}
	}
	b, err := record.BuildBatch(codec, 0, recs, record.BuildOptions{ProducerID: -1, BaseSequence: -1})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestObserve: at a low rate every batch is counted, uncompressed or
// compressed, every key of it.
func TestObserve(t *testing.T) {
	tr := NewTracker()
	keys := [][]byte{[]byte("hot"), []byte("hot"), nil, []byte("cold")}
	// Two batches in one request.
	two := append(buildBatch(t, record.CodecNone, keys), buildBatch(t, record.CodecNone, keys[:1])...)
	tr.Observe("t", 0, two)
	if got := fmt.Sprint(tr.Sketch("t", 0).Top(-1)); got != "[{hot false 3 0} {cold false 1 0}]" {
		t.Fatalf("uncompressed: %s", got)
	}
	if total, null := tr.Sketch("t", 0).Total(); total != 5 || null != 1 {
		t.Fatalf("total %d null %d, want 5 and 1", total, null)
	}
	tr.Observe("t", 1, buildBatch(t, record.CodecGzip, keys[:2]))
	if got := fmt.Sprint(tr.Sketch("t", 1).Top(-1)); got != "[{hot false 2 0}]" {
		t.Fatalf("compressed: %s", got)
	}
	tr.Retain(func(tp TopicPartition) bool { return tp.Partition == 1 })
	if tr.Sketch("t", 0) != nil || tr.Sketch("t", 1) == nil {
		t.Fatal("Retain kept the wrong sketches")
	}
	var nilTracker *Tracker
	nilTracker.Observe("t", 0, two) // must not panic
}

// TestObserveSamplesAtHighRate: past SampledRecordsPerSecond records a
// second (here one a batch) the
// tracker reads one batch in N, weighting its keys by N, so the totals
// stay what was produced while the batches read stay near the target.
func TestObserveSamplesAtHighRate(t *testing.T) {
	tr := NewTracker()
	clock := time.Unix(1000, 0)
	tr.now = func() time.Time { return clock }
	tr.rateStart = clock
	batch := buildBatch(t, record.CodecNone, [][]byte{[]byte("k")})
	// 16 * SampledRecordsPerSecond one-record batches in the first
	// second: from then on one batch in 16 is read.
	const rate = 16 * SampledRecordsPerSecond
	for range rate {
		tr.Observe("t", 0, batch)
	}
	if total, _ := tr.Sketch("t", 0).Total(); total != rate {
		t.Fatalf("first second: counted %d, want %d (every batch)", total, rate)
	}
	clock = clock.Add(time.Second)
	for range adaptEvery {
		tr.Observe("t", 0, batch) // the next look at the clock
	}
	if got := tr.every.Load(); got != 16 {
		t.Fatalf("sampling one in %d, want 16", got)
	}
	before, _ := tr.Sketch("t", 0).Total()
	for range 16 * 100 {
		tr.Observe("t", 0, batch)
	}
	if after, _ := tr.Sketch("t", 0).Total(); after-before != 16*100 {
		t.Fatalf("sampled: counted %d for %d batches", after-before, 16*100)
	}
	// A quiet second brings it back to every batch.
	clock = clock.Add(10 * time.Second)
	for range adaptEvery {
		tr.Observe("t", 0, batch)
	}
	if got := tr.every.Load(); got != 1 {
		t.Fatalf("after a quiet spell: one in %d, want 1", got)
	}
}

// FuzzSketch feeds a stream of keys cut from the input and checks the
// Space-Saving bounds against exact counts.
func FuzzSketch(f *testing.F) {
	f.Add([]byte("aaabacadaeafagahaiaj"), uint8(3))
	f.Add([]byte{0, 1, 0, 2, 0, 3, 0, 0, 0}, uint8(1))
	f.Fuzz(func(t *testing.T, stream []byte, k uint8) {
		s := NewSketch(int(k%8) + 1)
		exact := map[string]uint64{}
		for i := 0; i+1 < len(stream); i += 2 {
			key := stream[i : i+2]
			exact[string(key)]++
			s.Add(key, 1)
		}
		checkGuarantees(t, s, exact, uint64(len(stream)/2))
	})
}

// BenchmarkObserve measures the produce-path cost per batch of 100
// records: "read" when every batch is read (below SampledRecordsPerSecond
// batches a second), "1in64" in the sampling regime of a busy broker.
// A read batch of rarely repeating keys is the worst case: each key
// replaces a counter.
func BenchmarkObserve(b *testing.B) {
	for _, c := range []struct {
		name     string
		codec    int
		distinct int
	}{{"none/16keys", record.CodecNone, 16}, {"none/100keys", record.CodecNone, 100}, {"lz4/100keys", record.CodecLZ4, 100}} {
		keys := make([][]byte, 100)
		for i := range keys {
			keys[i] = fmt.Appendf(nil, "key-%d", i%c.distinct)
		}
		batch := buildBatch(b, c.codec, keys)
		for _, every := range []uint64{1, 64} {
			name := c.name + "/read"
			if every > 1 {
				name = fmt.Sprintf("%s/1in%d", c.name, every)
			}
			b.Run(name, func(b *testing.B) {
				tr := NewTracker()
				// A frozen clock keeps the sampling period as set.
				frozen := tr.rateStart
				tr.now = func() time.Time { return frozen }
				tr.every.Store(every)
				b.SetBytes(int64(len(batch)))
				b.ReportAllocs()
				for b.Loop() {
					tr.Observe("t", 0, batch)
				}
			})
		}
	}
}
