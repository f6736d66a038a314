package controller

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// Broker lifecycle on the active controller, as KRaft's: a broker
// registers (BrokerRegistration) and is fenced until it has caught up with
// the metadata log up to its own registration; it then heartbeats
// (BrokerHeartbeat) and is unfenced. A broker whose heartbeats stop for
// the session timeout is fenced, and the partitions it leads get a new
// leader from their in-sync replicas. A controlled shutdown moves its
// leaderships away before the broker stops.

// sessions holds the heartbeat deadlines the active controller keeps in
// memory; a new active controller starts every live broker's clock anew.
type sessions struct {
	mu       sync.Mutex
	deadline map[int32]time.Time
	// heard: a heartbeat reached this controller during its term (an
	// inherited deadline only gives the broker time to find it).
	heard map[int32]bool
}

func newSessions() *sessions {
	return &sessions{deadline: map[int32]time.Time{}, heard: map[int32]bool{}}
}

func (s *sessions) reset(img *metadata.Image, deadline time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.deadline)
	clear(s.heard)
	for id, b := range img.Brokers {
		if !b.Fenced {
			s.deadline[id] = deadline
		}
	}
}

// shorten moves a live broker's inherited deadline earlier, to deadline,
// unless a heartbeat has reached this controller since.
func (s *sessions) shorten(id int32, deadline time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.deadline[id]; ok && !s.heard[id] && deadline.Before(d) {
		s.deadline[id] = deadline
	}
}

func (s *sessions) touch(id int32, deadline time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline[id] = deadline
	s.heard[id] = true
}

func (s *sessions) alive(id int32, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deadline[id]
	return ok && now.Before(d)
}

// heardAlive: alive, and heard from during this controller's term.
func (s *sessions) heardAlive(id int32, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deadline[id]
	return ok && s.heard[id] && now.Before(d)
}

func (s *sessions) expired(now time.Time) []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int32
	for id, d := range s.deadline {
		if !now.Before(d) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (s *sessions) forget(id int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.deadline, id)
	delete(s.heard, id)
}

// Registration is a BrokerRegistration request.
type Registration struct {
	NodeID      int32
	ClusterID   string
	Incarnation metadata.UUID
	Host        string
	Port        int32
	Rack        *string
	// HTTP is the broker's HTTP listener (host:port), "" for none.
	HTTP string
	// Listeners are the broker's client listeners by name (Host and Port
	// are the inter-broker one's); nil from a broker that names none.
	Listeners []metadata.Endpoint
	// MaxMetadataVersion is the newest metadata.version the broker reads.
	MaxMetadataVersion int16
}

// RegisterBroker registers a broker incarnation and returns its epoch. A
// retry of the same incarnation gets the same epoch; a new incarnation of
// a broker whose session is still alive is refused
// (DUPLICATE_BROKER_REGISTRATION), as Kafka refuses it, so two processes
// with one node id never both serve. A session this controller only
// inherited from its predecessor (no heartbeat heard in its term) does not
// block a new incarnation: after a whole-cluster restart every broker is a
// new incarnation, and none should wait out a session nobody is renewing.
func (c *Controller) RegisterBroker(ctx context.Context, r Registration) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Active() {
		return 0, errNotController()
	}
	img := c.Image()
	if r.ClusterID != "" && r.ClusterID != img.ClusterID {
		return 0, errorf(kerr.InconsistentClusterID, "broker %d belongs to cluster %s, this is cluster %s", r.NodeID, r.ClusterID, img.ClusterID)
	}
	if r.MaxMetadataVersion < img.Features[metadata.MetadataVersionFeature] {
		return 0, errorf(kerr.UnsupportedVersion, "broker %d reads metadata.version up to %d; the cluster is at %d",
			r.NodeID, r.MaxMetadataVersion, img.Features[metadata.MetadataVersionFeature])
	}
	if r.NodeID < 0 {
		return 0, errorf(kerr.InvalidRequest, "broker id %d", r.NodeID)
	}
	old, known := img.Brokers[r.NodeID]
	if known && old.Incarnation == r.Incarnation {
		return old.Epoch, nil
	}
	if known && !old.Fenced && c.sessions.heardAlive(r.NodeID, time.Now()) {
		return 0, errorf(kerr.DuplicateBrokerRegistration, "broker %d is registered by another incarnation whose session has not expired", r.NodeID)
	}
	recs := []metadata.Record{{RegisterBroker: &metadata.RegisterBroker{
		NodeID: r.NodeID, Host: r.Host, Port: r.Port, Rack: r.Rack, Incarnation: r.Incarnation,
	}}}
	if img.Features[metadata.MetadataVersionFeature] >= 4 {
		// Below 4 a node of an older build may still read the log; it
		// would stop at a registration carrying the field.
		recs[0].RegisterBroker.HTTP = r.HTTP
	}
	if img.Features[metadata.MetadataVersionFeature] >= 5 {
		recs[0].RegisterBroker.Listeners = r.Listeners
	}
	// The new incarnation starts fenced: what the old one led moves now.
	next, err := img.Apply(img.Offset+1, recs[0])
	if err != nil {
		return 0, errorf(kerr.UnknownServerError, "%v", err)
	}
	recs = append(recs, c.electLeaders(next)...)
	off, err := c.commit(recs)
	if err != nil {
		return 0, err
	}
	c.sessions.touch(r.NodeID, time.Now().Add(c.cfg.SessionTimeout))
	return off, nil
}

// Heartbeat is a BrokerHeartbeat request.
type Heartbeat struct {
	NodeID         int32
	Epoch          int64
	MetadataOffset int64
	WantFence      bool
	WantShutDown   bool
}

// HeartbeatReply is the answer to a heartbeat.
type HeartbeatReply struct {
	CaughtUp       bool
	Fenced         bool
	ShouldShutDown bool
}

// BrokerHeartbeat renews a broker's session and moves it through its
// states: unfenced once it has caught up, leaderships moved away and then
// told to stop when it asked for a controlled shutdown.
func (c *Controller) BrokerHeartbeat(ctx context.Context, h Heartbeat) (HeartbeatReply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Active() {
		return HeartbeatReply{}, errNotController()
	}
	img := c.Image()
	b, ok := img.Brokers[h.NodeID]
	if !ok || b.Epoch != h.Epoch {
		return HeartbeatReply{}, errorf(kerr.StaleBrokerEpoch, "broker %d epoch %d is not the registered one", h.NodeID, h.Epoch)
	}
	c.sessions.touch(h.NodeID, time.Now().Add(c.cfg.SessionTimeout))
	caughtUp := h.MetadataOffset >= b.Epoch
	change := metadata.BrokerChange{NodeID: h.NodeID, Epoch: b.Epoch}
	switch {
	case h.WantShutDown:
		if !b.ShuttingDown {
			change.ShuttingDown = ptr(true)
		}
		if leads(img, h.NodeID) == 0 && !b.Fenced && b.ShuttingDown {
			// Nothing left to move: fence it so no one waits out its session.
			change.Fenced = ptr(true)
		}
	case h.WantFence:
		if !b.Fenced {
			change.Fenced = ptr(true)
		}
	case b.Fenced && caughtUp:
		change.Fenced = ptr(false)
	}
	if change.Fenced != nil || change.ShuttingDown != nil {
		rec := metadata.Record{BrokerChange: &change}
		next, err := img.Apply(img.Offset+1, rec)
		if err != nil {
			return HeartbeatReply{}, errorf(kerr.UnknownServerError, "%v", err)
		}
		if _, err := c.commit(append([]metadata.Record{rec}, c.electLeaders(next)...)); err != nil {
			return HeartbeatReply{}, err
		}
		img = c.Image()
		b = img.Brokers[h.NodeID]
	}
	if b.Fenced && h.WantShutDown {
		c.sessions.forget(h.NodeID)
	}
	return HeartbeatReply{
		CaughtUp:       caughtUp,
		Fenced:         b.Fenced,
		ShouldShutDown: h.WantShutDown && b.Fenced,
	}, nil
}

func ptr[T any](v T) *T { return &v }

// leads counts the partitions broker id leads.
func leads(img *metadata.Image, id int32) int {
	n := 0
	for _, t := range img.Topics {
		for _, p := range t.Partitions {
			if p.Leader == id {
				n++
			}
		}
	}
	return n
}

// fenceExpired fences brokers whose sessions expired (run periodically by
// the active controller).
func (c *Controller) fenceExpired() {
	for _, id := range c.sessions.expired(time.Now()) {
		if err := c.fence(id); err != nil {
			c.log.Warn("controller: fencing a broker failed", "node_id", id, "err", err)
		}
	}
}

func (c *Controller) fence(id int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions.alive(id, time.Now()) {
		return nil // it heartbeated meanwhile
	}
	c.sessions.forget(id)
	img := c.Image()
	b, ok := img.Brokers[id]
	if !ok || b.Fenced {
		return nil
	}
	rec := metadata.Record{BrokerChange: &metadata.BrokerChange{NodeID: id, Epoch: b.Epoch, Fenced: ptr(true)}}
	next, err := img.Apply(img.Offset+1, rec)
	if err != nil {
		return err
	}
	// Logged once committed: a controller that resumes from a pause longer
	// than the sessions still believes it is active until Raft tells it
	// otherwise, and its attempts fail (NOT_CONTROLLER) without fencing.
	if _, err := c.commit(append([]metadata.Record{rec}, c.electLeaders(next)...)); err != nil {
		return err
	}
	c.log.Info("fenced broker: session expired", "node_id", id, "session_timeout", c.cfg.SessionTimeout)
	return nil
}
