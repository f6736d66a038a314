package perf

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeClock advances only when slept on, or when a test moves it, and
// records every sleep.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func TestPacerSchedule(t *testing.T) {
	t.Parallel()
	c := &fakeClock{now: time.Unix(0, 0)}
	p := &Pacer{rate: 10_000, clock: c}
	ctx := context.Background()
	for range 10_001 {
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The first event goes at once, each later one exactly 100µs after
	// its predecessor: 10,001 events span exactly one second.
	if got := c.now.Sub(time.Unix(0, 0)); got != time.Second {
		t.Fatalf("10001 events at 10000/s took %v, want 1s", got)
	}
	if len(c.sleeps) != 10_000 {
		t.Fatalf("slept %d times, want 10000", len(c.sleeps))
	}
	for i, d := range c.sleeps {
		if d != 100*time.Microsecond {
			t.Fatalf("sleep %d = %v, want 100µs", i, d)
		}
	}
}

func TestPacerOversleepDoesNotDrift(t *testing.T) {
	t.Parallel()
	// A clock whose every sleep overshoots by 1ms, as a coarse timer
	// would: the pacer must still average 10,000/s, by skipping sleeps.
	c := &overshootClock{fakeClock: fakeClock{now: time.Unix(0, 0)}, extra: time.Millisecond}
	p := &Pacer{rate: 10_000, clock: c}
	for range 100_000 {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Event 99,999 is due at 9.9999s; the last sleep can overshoot it by
	// at most the 1ms slack.
	elapsed := c.now.Sub(time.Unix(0, 0))
	if due := 9999900 * time.Microsecond; elapsed < due || elapsed > due+time.Millisecond {
		t.Fatalf("100000 events took %v, want within [%v, %v]", elapsed, due, due+time.Millisecond)
	}
}

type overshootClock struct {
	fakeClock
	extra time.Duration
}

func (c *overshootClock) Sleep(ctx context.Context, d time.Duration) error {
	return c.fakeClock.Sleep(ctx, d+c.extra)
}

func TestPacerCatchesUpAfterStall(t *testing.T) {
	t.Parallel()
	c := &fakeClock{now: time.Unix(0, 0)}
	p := &Pacer{rate: 1000, clock: c}
	ctx := context.Background()
	if err := p.Wait(ctx); err != nil { // event 0 at t=0
		t.Fatal(err)
	}
	c.now = c.now.Add(10 * time.Millisecond) // a 10ms stall
	// Events 1..10 were due at 1..10ms: all are late or on time, none waits.
	for range 10 {
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.sleeps) != 0 {
		t.Fatalf("slept %v while behind schedule", c.sleeps)
	}
	if err := p.Wait(ctx); err != nil { // event 11, due at 11ms
		t.Fatal(err)
	}
	if len(c.sleeps) != 1 || c.sleeps[0] != time.Millisecond {
		t.Fatalf("sleeps = %v, want [1ms]", c.sleeps)
	}
}

func TestPacerUnlimitedAndCancel(t *testing.T) {
	t.Parallel()
	c := &fakeClock{now: time.Unix(0, 0)}
	p := &Pacer{rate: -1, clock: c}
	for range 1000 {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.sleeps) != 0 {
		t.Fatalf("unlimited pacer slept %d times", len(c.sleeps))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewPacer(1).Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on canceled ctx = %v, want context.Canceled", err)
	}
	// The real clock's sleep ends on cancellation: the second event is a
	// full second away, and whether cancel lands before or during that
	// sleep, Wait reports it.
	ctx, cancel = context.WithCancel(context.Background())
	rp := NewPacer(1)
	if err := rp.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- rp.Wait(ctx) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait interrupted by cancel = %v, want context.Canceled", err)
	}
}
