package perf

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	t.Parallel()
	// 1..1000 ms in shuffled order: the p-th percentile by nearest rank is
	// exactly ceil(p*10) ms.
	l := NewLatencies(1000)
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(1000) {
		l.Add(time.Duration(i+1) * time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{
		{0, 1 * time.Millisecond},
		{0.05, 1 * time.Millisecond},
		{0.1, 1 * time.Millisecond},
		{0.11, 2 * time.Millisecond},
		{50, 500 * time.Millisecond},
		{95, 950 * time.Millisecond},
		{99, 990 * time.Millisecond},
		// 99.9/100*1000 is 999.0000000000001 in floating point; a naive
		// ceil would answer 1000.
		{99.9, 999 * time.Millisecond},
		{99.95, 1000 * time.Millisecond},
		{100, 1000 * time.Millisecond},
		{150, 1000 * time.Millisecond},
	} {
		if got := l.Percentile(tc.p); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got, want := l.Mean(), 500500*time.Microsecond; got != want {
		t.Errorf("Mean = %v, want %v", got, want)
	}
	if got, want := l.Max(), 1000*time.Millisecond; got != want {
		t.Errorf("Max = %v, want %v", got, want)
	}
}

func TestPercentileSmallAndEmpty(t *testing.T) {
	t.Parallel()
	l := NewLatencies(0)
	if got := l.Percentile(99); got != 0 {
		t.Fatalf("empty Percentile = %v, want 0", got)
	}
	if got := l.Mean(); got != 0 {
		t.Fatalf("empty Mean = %v, want 0", got)
	}
	l.Add(7)
	for _, p := range []float64{1, 50, 99.9, 100} {
		if got := l.Percentile(p); got != 7 {
			t.Errorf("one sample: Percentile(%v) = %v, want 7", p, got)
		}
	}
	// Two samples: p50 is the lower one (rank 1), anything above is the
	// upper one. Adding after a percentile query must re-sort.
	l.Add(3)
	if got := l.Percentile(50); got != 3 {
		t.Errorf("Percentile(50) = %v, want 3", got)
	}
	if got := l.Percentile(50.1); got != 7 {
		t.Errorf("Percentile(50.1) = %v, want 7", got)
	}
	l.Add(1)
	if got := l.Percentile(1); got != 1 {
		t.Errorf("after Add: Percentile(1) = %v, want 1", got)
	}
}

func TestRankLarge(t *testing.T) {
	t.Parallel()
	// At 10M samples every percentile of interest is an exact integer rank.
	const n = 10_000_000
	for _, tc := range []struct {
		p    float64
		want int
	}{
		{50, 5_000_000},
		{99, 9_900_000},
		{99.9, 9_990_000},
		{99.99, 9_999_000},
		{99.999, 9_999_900},
	} {
		if got := rank(tc.p, n); got != tc.want {
			t.Errorf("rank(%v, %d) = %d, want %d", tc.p, n, got, tc.want)
		}
	}
}

func TestMeter(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	m := NewMeter(t0, 4)
	m.ObserveLatency(100, 2*time.Millisecond)
	m.ObserveLatency(100, 4*time.Millisecond)
	m.Observe(50) // counted for throughput, not latency

	iv := m.Interval(t0.Add(time.Second))
	want := Interval{Records: 3, Bytes: 250, Elapsed: time.Second, MeanLatency: 3 * time.Millisecond, MaxLatency: 4 * time.Millisecond}
	if iv != want {
		t.Fatalf("first interval = %+v, want %+v", iv, want)
	}
	if got := iv.RecordsPerSec(); got != 3 {
		t.Errorf("RecordsPerSec = %v, want 3", got)
	}

	m.ObserveLatency(1<<20, 10*time.Millisecond)
	iv = m.Interval(t0.Add(3 * time.Second))
	want = Interval{Records: 1, Bytes: 1 << 20, Elapsed: 2 * time.Second, MeanLatency: 10 * time.Millisecond, MaxLatency: 10 * time.Millisecond}
	if iv != want {
		t.Fatalf("second interval = %+v, want %+v", iv, want)
	}
	if got := iv.MBPerSec(); got != 0.5 {
		t.Errorf("MBPerSec = %v, want 0.5", got)
	}
	if iv := m.Interval(t0.Add(4 * time.Second)); iv.Records != 0 || iv.MeanLatency != 0 {
		t.Errorf("empty interval = %+v", iv)
	}

	s := m.Summary(t0.Add(4 * time.Second))
	wantS := Summary{
		Records: 4, Bytes: 250 + 1<<20, Elapsed: 4 * time.Second,
		LatencyCount: 3, Mean: 16 * time.Millisecond / 3,
		P50: 4 * time.Millisecond, P95: 10 * time.Millisecond, P99: 10 * time.Millisecond,
		P999: 10 * time.Millisecond, Max: 10 * time.Millisecond,
	}
	if s != wantS {
		t.Fatalf("Summary = %+v, want %+v", s, wantS)
	}
	if got := s.RecordsPerSec(); got != 1 {
		t.Errorf("summary RecordsPerSec = %v, want 1", got)
	}
}
