package group

import "time"

// Clock is the coordinator's time source: the wall clock in a broker, a
// manual clock in tests, so session timeouts, rebalance timeouts and offset
// expiry are tested without sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f on its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc. Stop does not wait for a callback that has
// already started; callbacks therefore re-check, under the group's lock,
// that they are still the current timer (see the seq fields of group and
// member).
type Timer interface {
	Stop() bool
}

type wallClock struct{}

func (wallClock) Now() time.Time                            { return time.Now() }
func (wallClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
