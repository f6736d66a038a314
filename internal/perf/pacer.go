package perf

import (
	"context"
	"time"
)

// Pacer spaces events at a fixed rate by schedule: the n-th event (from 0)
// is due at start + n/rate, where start is the first Wait. Each Wait sleeps
// only until its own due time, so oversleeping (Go timers routinely overshoot
// sub-millisecond sleeps, and 10,000/s is a 100µs interval) is repaid by the
// next events going out without sleeping, instead of accumulating as drift
// the way a fixed Sleep per event does. The long-run rate is exact.
//
// The flip side: after a stall (a full producer buffer, a GC pause) the
// pacer sends the missed events back to back until it is on schedule again.
// That is what a fixed-rate load (`perf e2e`) and a throughput cap (`perf
// produce --throughput`, like Kafka's ThroughputThrottler) both want: the
// offered load over the run is what was asked for.
//
// A Pacer is used by one goroutine.
type Pacer struct {
	rate  float64 // events per second; <= 0 means unlimited
	start time.Time
	n     int64
	clock clock
}

// clock is the time source; tests substitute a fake one so that no test
// depends on the machine's timer accuracy.
type clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// NewPacer returns a pacer for rate events per second; rate <= 0 never waits.
func NewPacer(rate float64) *Pacer {
	return &Pacer{rate: rate, clock: realClock{}}
}

// Wait blocks until the next event is due, or ctx is done.
func (p *Pacer) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.rate <= 0 {
		return nil
	}
	now := p.clock.Now()
	if p.n == 0 {
		p.start = now
	}
	// Computing the due time from n (not from the previous due time) keeps
	// float rounding from accumulating over millions of events.
	due := p.start.Add(time.Duration(float64(p.n) * float64(time.Second) / p.rate))
	p.n++
	if d := due.Sub(now); d > 0 {
		return p.clock.Sleep(ctx, d)
	}
	return nil
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
