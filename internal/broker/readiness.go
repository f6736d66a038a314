package broker

import (
	"fmt"
	"sync"
	"time"
)

// readiness keeps what /readyz needs beyond start-up: when the controller
// quorum last answered a heartbeat, and whether this node's metadata
// keeps up with what the quorum committed. A probe must see a node cut
// off from the controller, or stuck behind its metadata, stop being
// ready (a Kubernetes Service then routes around it), not only a node
// that has not started yet.
type readiness struct {
	mu sync.Mutex
	// contact: when the quorum last answered this broker's heartbeat
	// (zero: never; the start-up check covers that).
	contact time.Time
	// behind: an offset known committed at behindSince that this node
	// had not yet delivered to its subscribers; -1 when caught up.
	behind      int64
	behindSince time.Time
	// listenerErr: why the Kafka listener stopped serving, if it did.
	listenerErr error
}

func newReadiness() *readiness { return &readiness{behind: -1} }

// heartbeatAnswered records a heartbeat the controller answered.
func (r *readiness) heartbeatAnswered(now time.Time) {
	r.mu.Lock()
	r.contact = now
	r.mu.Unlock()
}

// observeMetadata compares the offset this node has delivered with one the
// quorum has committed (the active controller's high watermark, or this
// controller's own applied image). Only the oldest offset not yet
// delivered is remembered, with the time it was first seen, so a lag is
// measured from when it began however seldom this is called, and a node
// that keeps up with a steady trickle of records is never behind for long.
func (r *readiness) observeMetadata(now time.Time, delivered, committed int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.behind >= 0 && delivered >= r.behind {
		r.behind = -1
	}
	if r.behind < 0 && delivered < committed {
		r.behind, r.behindSince = committed, now
	}
}

// listenerStopped records that the Kafka listener's Serve returned.
func (r *readiness) listenerStopped(err error) {
	r.mu.Lock()
	if err == nil {
		err = fmt.Errorf("closed")
	}
	r.listenerErr = err
	r.mu.Unlock()
}

// reasons lists why the node is not ready at now, given the broker's
// session timeout: no heartbeat answered within it, metadata committed
// that long ago still not applied, or a stopped listener.
func (r *readiness) reasons(now time.Time, session time.Duration, broker bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	if r.listenerErr != nil {
		out = append(out, fmt.Sprintf("the Kafka listener stopped: %v", r.listenerErr))
	}
	if broker && !r.contact.IsZero() && now.Sub(r.contact) > session {
		out = append(out, fmt.Sprintf("no heartbeat answered by the controller quorum for %s (broker.session.timeout.ms is %d)",
			now.Sub(r.contact).Round(time.Millisecond), session.Milliseconds()))
	}
	if r.behind >= 0 && now.Sub(r.behindSince) > session {
		out = append(out, fmt.Sprintf("metadata behind: offset %d, committed %s ago, not yet applied here",
			r.behind, now.Sub(r.behindSince).Round(time.Millisecond)))
	}
	return out
}
