package broker

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReadinessReasons(t *testing.T) {
	const session = 9 * time.Second
	t0 := time.Unix(1000, 0)
	r := newReadiness()
	if got := r.reasons(t0, session, true); len(got) != 0 {
		t.Fatalf("fresh: %q", got)
	}
	// Controller contact: stale only past the session timeout.
	r.heartbeatAnswered(t0)
	if got := r.reasons(t0.Add(session), session, true); len(got) != 0 {
		t.Fatalf("at the session timeout: %q", got)
	}
	got := r.reasons(t0.Add(session+time.Millisecond), session, true)
	if len(got) != 1 || !strings.HasPrefix(got[0], "no heartbeat answered by the controller quorum for 9.001s") {
		t.Fatalf("past the session timeout: %q", got)
	}
	if got := r.reasons(t0.Add(time.Hour), session, false); len(got) != 0 {
		t.Fatalf("a controller-only node sends no heartbeats: %q", got)
	}
	r.heartbeatAnswered(t0.Add(time.Hour))

	// Metadata: the lag is timed from the first offset seen undelivered.
	t1 := t0.Add(time.Hour)
	r.observeMetadata(t1, 10, 12)
	r.observeMetadata(t1.Add(5*time.Second), 11, 15) // still short of 12: the clock keeps running
	r.heartbeatAnswered(t1.Add(8 * time.Second))
	if got := r.reasons(t1.Add(session), session, true); len(got) != 0 {
		t.Fatalf("behind for exactly the session timeout: %q", got)
	}
	got = r.reasons(t1.Add(session+time.Second), session, true)
	if len(got) != 1 || got[0] != "metadata behind: offset 12, committed 10s ago, not yet applied here" {
		t.Fatalf("behind past the session timeout: %q", got)
	}
	// Offset 12 delivered: the newer gap (15) starts its own clock.
	r.observeMetadata(t1.Add(session+2*time.Second), 13, 15)
	if got := r.reasons(t1.Add(session+3*time.Second), session, true); len(got) != 0 {
		t.Fatalf("caught up to the old offset, newly behind: %q", got)
	}
	// Caught up: nothing remembered (and no broker role, no heartbeats).
	r.observeMetadata(t1.Add(session+4*time.Second), 15, 15)
	if got := r.reasons(t1.Add(time.Hour), session, false); len(got) != 0 {
		t.Fatalf("caught up: %q", got)
	}
	r.listenerStopped(errors.New("accept: too many open files"))
	got = r.reasons(t1.Add(time.Hour), session, false)
	if len(got) != 1 || got[0] != "the Kafka listener stopped: accept: too many open files" {
		t.Fatalf("listener stopped: %q", got)
	}
}
