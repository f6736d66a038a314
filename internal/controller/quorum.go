package controller

// What DescribeQuorum reports: the Raft leader, its term and commit index,
// and each voter's progress.
//
// Kafka's leader knows each voter's log end offset from its fetches
// (KIP-595) and when it last fetched and was last caught up (KIP-836).
// hashicorp/raft keeps its followers' match indexes private
// (followerReplication, commitment), and neither Stats nor its observations
// say anything per follower. So the controller learns them as Raft's own
// commitment does, from the answers to the leader's AppendEntries and
// InstallSnapshot RPCs: progressTransport wraps the Raft transport and reads
// each successful answer as it passes. A successful AppendEntries proves the
// follower's log matches the leader's through its last entry (or, with no
// entries, through PrevLogEntry); a successful InstallSnapshot, through the
// snapshot's index. Heartbeats (no PrevLogEntry, no entries) are answered on
// a fast path that never looks at the log, so they prove nothing and are
// skipped; the leader sends every follower an AppendEntries at least every
// CommitTimeout (50 ms) even when idle, so the times stay fresh.
//
// Offsets are Raft indexes, as everywhere in samsa's metadata log: the
// high watermark is the commit index and a log end offset the index of the
// last entry (not Kafka's next offset), so a caught-up voter's log end
// equals the leader's.

import (
	"errors"
	"io"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"
)

// QuorumState is what DescribeQuorum reports.
type QuorumState struct {
	LeaderID    int32
	LeaderEpoch int32 // the Raft term
	HighWater   int64 // the commit index
	Voters      []VoterState
}

// VoterState is one voter's replication progress as the leader sees it.
type VoterState struct {
	ID     int32
	LogEnd int64 // -1 when unknown
	// LastFetch is when the leader last heard the voter's log position;
	// LastCaughtUp, the last time that position was the leader's log end
	// (Kafka's rule: or reached the leader's end as of the previous
	// fetch). Zero when unknown; both are now for the leader.
	LastFetch, LastCaughtUp time.Time
}

// Quorum describes the quorum; only the active controller knows the
// voters' progress, so others answer NOT_CONTROLLER. A follower's progress
// is known once it has answered the leader in the leader's term.
func (c *Controller) Quorum() (QuorumState, error) {
	if !c.Active() {
		return QuorumState{}, errNotController()
	}
	term := c.raft.CurrentTerm()
	st := QuorumState{LeaderID: c.cfg.NodeID, LeaderEpoch: int32(term), HighWater: int64(c.raft.CommitIndex())}
	cf := c.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return st, errorf(kerr.UnknownServerError, "%v", err)
	}
	now := time.Now()
	for _, s := range cf.Configuration().Servers {
		id, err := strconv.Atoi(string(s.ID))
		if err != nil || s.Suffrage != raft.Voter {
			continue
		}
		v := VoterState{ID: int32(id), LogEnd: -1}
		if int32(id) == c.cfg.NodeID {
			v.LogEnd, v.LastFetch, v.LastCaughtUp = int64(c.raft.LastIndex()), now, now
		} else if p, ok := c.progress.of(s.ID, term); ok {
			v.LogEnd, v.LastFetch, v.LastCaughtUp = int64(p.match), p.lastFetch, p.caughtUp
		}
		st.Voters = append(st.Voters, v)
	}
	return st, nil
}

// VoterAddr is a voter's controller endpoint.
type VoterAddr struct {
	ID   int32
	Host string
	Port int
}

// VoterAddrs returns the configured voters' endpoints (none for a
// one-node quorum without a controller listener).
func (c *Controller) VoterAddrs() []VoterAddr {
	var out []VoterAddr
	for _, v := range c.cfg.Voters {
		host, port, err := net.SplitHostPort(v.Addr)
		if err != nil {
			continue
		}
		p, _ := strconv.Atoi(port)
		out = append(out, VoterAddr{ID: v.ID, Host: host, Port: p})
	}
	return out
}

// progressTransport is a Raft transport that records what the answers to
// this node's AppendEntries and InstallSnapshot say of its followers' logs
// (see the top of this file). Everything else passes through.
type progressTransport struct {
	raft.Transport
	// node gives the leader's log end when an answer arrives; nil until
	// raft.NewRaft has returned.
	node  atomic.Pointer[raft.Raft]
	mu    sync.Mutex
	peers map[raft.ServerID]*peerProgress
}

// peerProgress is one follower's progress in one leader term.
type peerProgress struct {
	term      uint64
	match     uint64    // the follower's log matches the leader's through here
	lastFetch time.Time // the last answer that proved match
	caughtUp  time.Time
	// leaderEnd is the leader's log end at lastFetch: a follower that
	// reaches it was caught up as of lastFetch.
	leaderEnd uint64
}

func newProgressTransport(t raft.Transport) *progressTransport {
	return &progressTransport{Transport: t, peers: map[raft.ServerID]*peerProgress{}}
}

// of returns what this node, leading in term, knows of follower id. A nil
// transport (a one-node quorum) knows nothing.
func (t *progressTransport) of(id raft.ServerID, term uint64) (peerProgress, bool) {
	if t == nil {
		return peerProgress{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peers[id]
	if p == nil || p.term != term {
		return peerProgress{}, false
	}
	return *p, true
}

// leaderEnd is the index of this leader's last entry, or the largest index
// before raft.NewRaft has returned (so nothing counts as caught up).
func (t *progressTransport) leaderEnd() uint64 {
	if r := t.node.Load(); r != nil {
		return r.LastIndex()
	}
	return math.MaxUint64
}

// matched records that follower id's log matches the leader's through
// match, as an answer in term proved at now, when the leader's log ended at
// end. Within a term a follower's matching prefix only grows (an answer
// may arrive after a later one); a new term starts over.
func (t *progressTransport) matched(id raft.ServerID, term, match, end uint64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peers[id]
	if p == nil || p.term != term {
		p = &peerProgress{term: term}
		t.peers[id] = p
	}
	p.match = max(p.match, match)
	// Kafka's ReplicaState.updateFollowerState: caught up now when at the
	// leader's end, else as of the previous fetch when at the end the
	// leader had then.
	switch {
	case p.match >= end:
		p.caughtUp = now
	case !p.lastFetch.IsZero() && p.match >= p.leaderEnd && p.lastFetch.After(p.caughtUp):
		p.caughtUp = p.lastFetch
	}
	p.lastFetch, p.leaderEnd = now, end
}

// appended records a successful answer to an AppendEntries.
func (t *progressTransport) appended(id raft.ServerID, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) {
	if !resp.Success || resp.Term > args.Term {
		return
	}
	match := args.PrevLogEntry
	if n := len(args.Entries); n > 0 {
		match = args.Entries[n-1].Index
	}
	if match == 0 { // a heartbeat
		return
	}
	t.matched(id, args.Term, match, t.leaderEnd(), time.Now())
}

func (t *progressTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	err := t.Transport.AppendEntries(id, target, args, resp)
	if err == nil {
		t.appended(id, args, resp)
	}
	return err
}

func (t *progressTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	err := t.Transport.InstallSnapshot(id, target, args, resp, data)
	if err == nil && resp.Success && resp.Term <= args.Term {
		t.matched(id, args.Term, args.LastLogIndex, t.leaderEnd(), time.Now())
	}
	return err
}

func (t *progressTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := t.Transport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	w := &progressPipeline{AppendPipeline: p, ch: make(chan raft.AppendFuture), done: make(chan struct{})}
	w.wg.Add(1)
	go w.relay(t, id)
	return w, nil
}

// RequestPreVote and Close pass through the optional interfaces raft looks
// for (raft.WithPreVote, raft.WithClose), which embedding hides.
func (t *progressTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	pv, ok := t.Transport.(raft.WithPreVote)
	if !ok {
		return errors.New("controller: the raft transport has no pre-vote")
	}
	return pv.RequestPreVote(id, target, args, resp)
}

func (t *progressTransport) Close() error {
	if c, ok := t.Transport.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

// progressPipeline relays a pipeline's answers to raft, recording each on
// the way. The relay goroutine is owned by the pipeline: Close stops it.
type progressPipeline struct {
	raft.AppendPipeline
	ch        chan raft.AppendFuture
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func (p *progressPipeline) relay(t *progressTransport, id raft.ServerID) {
	defer p.wg.Done()
	in := p.AppendPipeline.Consumer()
	for {
		select {
		case f := <-in:
			// The future is done: the inner pipeline hands it over once
			// its answer is decoded.
			if f.Error() == nil {
				t.appended(id, f.Request(), f.Response())
			}
			select {
			case p.ch <- f:
			case <-p.done:
				return
			}
		case <-p.done:
			return
		}
	}
}

func (p *progressPipeline) Consumer() <-chan raft.AppendFuture { return p.ch }

func (p *progressPipeline) Close() error {
	p.closeOnce.Do(func() { close(p.done) })
	err := p.AppendPipeline.Close()
	p.wg.Wait()
	return err
}
