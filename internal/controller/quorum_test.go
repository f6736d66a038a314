package controller

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestProgressFromAnswers: which answers move a follower's progress, and
// Kafka's caught-up rule over a sequence of them.
func TestProgressFromAnswers(t *testing.T) {
	t.Parallel()
	tr := newProgressTransport(nil)
	at := func(s int) time.Time { return time.Unix(1000+int64(s), 0) }
	type want struct {
		match               uint64
		lastFetch, caughtUp time.Time
	}
	check := func(step string, term uint64, w want) {
		t.Helper()
		p, ok := tr.of("2", term)
		if !ok {
			t.Fatalf("%s: no progress in term %d", step, term)
		}
		if p.match != w.match || !p.lastFetch.Equal(w.lastFetch) || !p.caughtUp.Equal(w.caughtUp) {
			t.Errorf("%s: match %d, last fetch %v, caught up %v; want %d, %v, %v",
				step, p.match, p.lastFetch.Unix(), p.caughtUp.Unix(), w.match, w.lastFetch.Unix(), w.caughtUp.Unix())
		}
	}
	if _, ok := tr.of("2", 5); ok {
		t.Fatal("progress before any answer")
	}
	tr.matched("2", 5, 10, 10, at(1))
	check("at the leader's end", 5, want{10, at(1), at(1)})
	tr.matched("2", 5, 12, 15, at(2))
	check("past the previous end, behind the current", 5, want{12, at(2), at(1)})
	tr.matched("2", 5, 15, 18, at(3))
	check("reached the end of the previous fetch", 5, want{15, at(3), at(2)})
	tr.matched("2", 5, 14, 18, at(4))
	check("a late answer for less", 5, want{15, at(4), at(2)})
	tr.matched("2", 6, 3, 20, at(5))
	check("a new term starts over", 6, want{3, at(5), time.Time{}})
	if _, ok := tr.of("2", 5); ok {
		t.Error("progress of an earlier term reported")
	}
	if _, ok := tr.of("3", 6); ok {
		t.Error("progress of a follower that never answered")
	}

	// Only successful answers that prove a match count.
	tr = newProgressTransport(nil)
	entries := []*raft.Log{{Index: 7}, {Index: 8}}
	for _, c := range []struct {
		name  string
		args  raft.AppendEntriesRequest
		resp  raft.AppendEntriesResponse
		match uint64 // 0: not recorded
	}{
		{"heartbeat", raft.AppendEntriesRequest{Term: 2}, raft.AppendEntriesResponse{Term: 2, Success: true, LastLog: 9}, 0},
		{"refused", raft.AppendEntriesRequest{Term: 2, PrevLogEntry: 6, Entries: entries}, raft.AppendEntriesResponse{Term: 2, LastLog: 9}, 0},
		{"newer term", raft.AppendEntriesRequest{Term: 2, PrevLogEntry: 6, Entries: entries}, raft.AppendEntriesResponse{Term: 3, Success: true}, 0},
		{"entries", raft.AppendEntriesRequest{Term: 2, PrevLogEntry: 6, Entries: entries}, raft.AppendEntriesResponse{Term: 2, Success: true, LastLog: 9}, 8},
		{"no entries", raft.AppendEntriesRequest{Term: 2, PrevLogEntry: 6}, raft.AppendEntriesResponse{Term: 2, Success: true, LastLog: 9}, 6},
	} {
		tr.peers = map[raft.ServerID]*peerProgress{}
		tr.appended("2", &c.args, &c.resp)
		p, ok := tr.of("2", 2)
		if got := map[bool]uint64{true: p.match}[ok]; got != c.match {
			t.Errorf("%s: match %d (recorded %v), want %d", c.name, got, ok, c.match)
		}
	}
}

// TestQuorumReportsFollowerProgress: three voters over real controller
// listeners. The leader reports every voter caught up; a stopped follower's
// log end stays where it was while the leader commits more, and the live
// follower's follows the leader's.
func TestQuorumReportsFollowerProgress(t *testing.T) {
	t.Parallel()
	const n = 3
	var lns []net.Listener
	var voters []Voter
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		voters = append(voters, Voter{ID: int32(i + 1), Addr: ln.Addr().String()})
	}
	ctls := make([]*Controller, n)
	for i := range n {
		mux := NewMux(lns[i], lns[i].Addr())
		t.Cleanup(func() { mux.Close() })
		c, err := Open(Config{DataDir: t.TempDir(), NodeID: int32(i + 1), Voters: voters, Mux: mux,
			Logger: slog.New(slog.DiscardHandler), ElectionTimeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ctls[i] = c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var leader *Controller
	var st QuorumState
	poll(t, ctx, func() error {
		for _, c := range ctls {
			if !c.Active() {
				continue
			}
			var err error
			if st, err = c.Quorum(); err != nil {
				return err
			}
			leader = c
			return caughtUp(st, 1, 2, 3)
		}
		return fmt.Errorf("no active controller")
	})
	if st.LeaderID != leader.cfg.NodeID || st.LeaderEpoch < 2 || len(st.Voters) != n {
		t.Fatalf("quorum %+v from node %d", st, leader.cfg.NodeID)
	}

	// Stop a follower; the leader commits on.
	var stopped, live int32
	for _, c := range ctls {
		switch {
		case c == leader:
		case stopped == 0:
			stopped = c.cfg.NodeID
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		default:
			live = c.cfg.NodeID
		}
	}
	st, err := leader.Quorum()
	if err != nil {
		t.Fatal(err)
	}
	before := voter(st, stopped)
	if _, err := leader.AllocateProducerIDs(ctx, leader.cfg.NodeID, 1000); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, func() error {
		var err error
		if st, err = leader.Quorum(); err != nil {
			return err
		}
		if err := caughtUp(st, leader.cfg.NodeID, live); err != nil {
			return err
		}
		if voter(st, leader.cfg.NodeID).LogEnd <= before.LogEnd {
			return fmt.Errorf("leader log end %d, not past %d", voter(st, leader.cfg.NodeID).LogEnd, before.LogEnd)
		}
		return nil
	})
	after := voter(st, stopped)
	if after.LogEnd != before.LogEnd || after.LastFetch.Before(before.LastFetch) || after.LastCaughtUp.After(after.LastFetch) {
		t.Errorf("stopped voter %d went from %+v to %+v; want its log end and times kept", stopped, before, after)
	}
	if st.HighWater != voter(st, live).LogEnd {
		t.Errorf("high watermark %d, live follower at %d: a majority of two commits what both have", st.HighWater, voter(st, live).LogEnd)
	}
}

func voter(st QuorumState, id int32) VoterState {
	for _, v := range st.Voters {
		if v.ID == id {
			return v
		}
	}
	return VoterState{ID: id, LogEnd: -2}
}

// caughtUp checks that the named voters are at the leader's log end, with
// a caught-up time no later than their last fetch.
func caughtUp(st QuorumState, ids ...int32) error {
	end := voter(st, st.LeaderID).LogEnd
	for _, id := range ids {
		v := voter(st, id)
		if v.LogEnd != end || v.LastFetch.IsZero() || v.LastCaughtUp.IsZero() || v.LastCaughtUp.After(v.LastFetch) {
			return fmt.Errorf("voter %d: %+v, leader's log end %d", id, v, end)
		}
	}
	return nil
}

func poll(t *testing.T, ctx context.Context, cond func() error) {
	t.Helper()
	var last error
	for ctx.Err() == nil {
		if last = cond(); last == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("condition not met: %v", last)
}
