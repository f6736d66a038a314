package perf

import (
	"sync"
	"time"
)

// Meter counts records and bytes, and optionally their latencies, for a
// load generator. It is safe for concurrent use: producers record from
// client callbacks while a reporter goroutine reads intervals.
type Meter struct {
	mu     sync.Mutex
	start  time.Time
	lat    *Latencies
	total  counters
	window counters
	winAt  time.Time // start of the current window
}

type counters struct {
	records int64
	bytes   int64
	latSum  time.Duration
	latN    int64
	latMax  time.Duration
}

func (c *counters) add(bytes int, latency time.Duration, hasLatency bool) {
	c.records++
	c.bytes += int64(bytes)
	if hasLatency {
		c.latSum += latency
		c.latN++
		c.latMax = max(c.latMax, latency)
	}
}

// NewMeter starts a meter at start. capHint sizes the latency recorder (the
// expected number of latency samples; 0 if unknown or if the caller will
// only use Observe).
func NewMeter(start time.Time, capHint int) *Meter {
	return &Meter{start: start, winAt: start, lat: NewLatencies(capHint)}
}

// Observe counts one record of the given size, without a latency.
func (m *Meter) Observe(bytes int) {
	m.mu.Lock()
	m.total.add(bytes, 0, false)
	m.window.add(bytes, 0, false)
	m.mu.Unlock()
}

// ObserveLatency counts one record of the given size with its latency.
func (m *Meter) ObserveLatency(bytes int, latency time.Duration) {
	m.mu.Lock()
	m.total.add(bytes, latency, true)
	m.window.add(bytes, latency, true)
	m.lat.Add(latency)
	m.mu.Unlock()
}

// Records is the number of records observed so far.
func (m *Meter) Records() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total.records
}

// Interval is what a meter saw during one reporting window.
type Interval struct {
	Records     int64
	Bytes       int64
	Elapsed     time.Duration
	MeanLatency time.Duration // 0 if no latencies were observed
	MaxLatency  time.Duration
}

// RecordsPerSec is the window's record rate.
func (iv Interval) RecordsPerSec() float64 { return perSec(float64(iv.Records), iv.Elapsed) }

// MBPerSec is the window's throughput in MiB/s, the unit Kafka's perf tools
// call "MB/sec".
func (iv Interval) MBPerSec() float64 { return perSec(float64(iv.Bytes)/(1<<20), iv.Elapsed) }

// Interval returns the window since the previous call (or since the start)
// and opens a new one at now.
func (m *Meter) Interval(now time.Time) Interval {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.window
	iv := Interval{
		Records:    w.records,
		Bytes:      w.bytes,
		Elapsed:    now.Sub(m.winAt),
		MaxLatency: w.latMax,
	}
	if w.latN > 0 {
		iv.MeanLatency = w.latSum / time.Duration(w.latN)
	}
	m.window = counters{}
	m.winAt = now
	return iv
}

// Summary describes a whole run.
type Summary struct {
	Records int64
	Bytes   int64
	Elapsed time.Duration

	// Latency fields are 0 when no latencies were observed.
	LatencyCount int
	Mean         time.Duration
	P50          time.Duration
	P95          time.Duration
	P99          time.Duration
	P999         time.Duration
	Max          time.Duration
}

// RecordsPerSec is the run's average record rate.
func (s Summary) RecordsPerSec() float64 { return perSec(float64(s.Records), s.Elapsed) }

// MBPerSec is the run's average throughput in MiB/s.
func (s Summary) MBPerSec() float64 { return perSec(float64(s.Bytes)/(1<<20), s.Elapsed) }

// Summary summarises the run from the meter's start to end. It sorts the
// recorded latencies, so call it once, after the run.
func (m *Meter) Summary(end time.Time) Summary {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Summary{
		Records:      m.total.records,
		Bytes:        m.total.bytes,
		Elapsed:      end.Sub(m.start),
		LatencyCount: m.lat.Len(),
		Mean:         m.lat.Mean(),
		P50:          m.lat.Percentile(50),
		P95:          m.lat.Percentile(95),
		P99:          m.lat.Percentile(99),
		P999:         m.lat.Percentile(99.9),
		Max:          m.lat.Max(),
	}
}

func perSec(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}
