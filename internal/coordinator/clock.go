package coordinator

import "time"

// Clock is a coordinator's time source: the wall clock in a broker, a
// manual clock in tests, so that timeouts (sessions, rebalances,
// transactions) and expiry (offsets, transactional ids) are tested without
// sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f on its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc. Stop does not wait for a callback that
// has already started; a callback therefore re-checks, under its owner's
// lock, that it is still the current timer.
type Timer interface {
	Stop() bool
}

// WallClock is the real clock.
type WallClock struct{}

func (WallClock) Now() time.Time                            { return time.Now() }
func (WallClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
