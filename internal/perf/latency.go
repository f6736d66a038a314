// Package perf holds the measuring parts of samsa's load generators
// (`samsa perf ...`): an exact latency recorder, a throughput meter that
// reports per-interval windows and a run summary, and a fixed-rate pacer.
//
// Nothing here knows about Kafka; the commands in cmd/samsa feed it.
package perf

import (
	"math"
	"slices"
	"time"
)

// Latencies records every sample it is given, so percentiles are exact
// rather than bucketed. At 8 bytes a sample, 10 million samples cost 80 MB,
// an acceptable price for a load generator whose p99.9 is the number people
// quote; a log-linear histogram would bound memory but round every
// percentile to its bucket.
//
// Latencies is not safe for concurrent use; Meter wraps it with a lock.
type Latencies struct {
	samples []time.Duration
	sorted  bool
	sum     time.Duration // 10M samples of 10s still fit: 1e17 ns < 9.2e18
	max     time.Duration
}

// NewLatencies returns a recorder with room for capHint samples, so that a
// run whose size is known up front never reallocates (and never briefly
// holds two copies of a large slice).
func NewLatencies(capHint int) *Latencies {
	return &Latencies{samples: make([]time.Duration, 0, max(capHint, 0))}
}

// Add records one sample.
func (l *Latencies) Add(d time.Duration) {
	l.samples = append(l.samples, d)
	l.sorted = false
	l.sum += d
	l.max = max(l.max, d)
}

// Len is the number of samples recorded.
func (l *Latencies) Len() int { return len(l.samples) }

// Mean is the arithmetic mean, or 0 without samples.
func (l *Latencies) Mean() time.Duration {
	if len(l.samples) == 0 {
		return 0
	}
	return l.sum / time.Duration(len(l.samples))
}

// Max is the largest sample, or 0 without samples.
func (l *Latencies) Max() time.Duration { return l.max }

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100): the
// smallest sample such that at least p percent of all samples are less than
// or equal to it. It is always a value that was actually observed, never an
// interpolation. p <= 0 returns the minimum; without samples it returns 0.
//
// The first call after an Add sorts the samples in place (O(n log n));
// later calls are O(1).
func (l *Latencies) Percentile(p float64) time.Duration {
	n := len(l.samples)
	if n == 0 {
		return 0
	}
	if !l.sorted {
		slices.Sort(l.samples)
		l.sorted = true
	}
	return l.samples[rank(p, n)-1]
}

// rank is the 1-based nearest rank ceil(p/100 * n), clamped to [1, n].
//
// p/100*n is computed in floating point, where e.g. 99.9/100*1000 comes out
// as 999.0000000000001 and would ceil to 1000. Rounding the product to 1e-6
// first removes that error while changing no true value: a rank is an
// integer, and n is at most ~1e10, far below where 1e-6 steps lose precision.
func rank(p float64, n int) int {
	x := math.Round(p/100*float64(n)*1e6) / 1e6
	r := int(math.Ceil(x))
	return min(max(r, 1), n)
}
