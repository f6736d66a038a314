package group

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// restarted is a new incarnation of a static member: same instance id, no
// member id.
func restarted(m *tmember) *tmember {
	n := *m
	n.id, n.gen = "", 0
	return &n
}

func TestStaticRejoinKeepsAssignment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic("t", 2)
	d, s := e.member("st"), e.staticMember("st", "inst-1")
	e.stabilize(byName, d, s) // d leads
	oldID := s.id

	s2 := restarted(s)
	r := recv(t, s2.joinAsync()) // answered at once: no rebalance
	wantCode(t, "static rejoin", r.ErrorCode, nil)
	if r.MemberID == oldID || r.Generation != 1 || r.LeaderID != d.id || len(r.Members) != 0 || r.SkipAssignment {
		t.Fatalf("static rejoin answer: %+v", r)
	}
	s2.took(r)
	if got := e.stateOf("st"); got != "Stable" {
		t.Fatalf("state %s, want Stable (no rebalance)", got)
	}
	wantCode(t, "other member's heartbeat", d.heartbeat(), nil)
	sr := recv(t, s2.syncAsync(nil))
	if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "assigned:"+oldID {
		t.Fatalf("assignment after the restart: %+v", sr)
	}
	wantCode(t, "new id heartbeat", s2.heartbeat(), nil)
	// The old incarnation is fenced (KIP-345).
	wantCode(t, "old id heartbeat", s.heartbeat(), kerr.FencedInstanceID)
	wantCode(t, "old id commit", s.commit("t", 0, 1, ""), kerr.FencedInstanceID)
	wantCode(t, "old id sync", recv(t, s.syncAsync(nil)).ErrorCode, kerr.FencedInstanceID)
	wantCode(t, "old id join", recv(t, s.joinAsync()).ErrorCode, kerr.FencedInstanceID)
	wantCode(t, "new id commit", s2.commit("t", 0, 1, ""), nil)
	desc := e.c.DescribeGroup("st")
	if len(desc.Members) != 2 || desc.Members[1].MemberID != s2.id || *desc.Members[1].InstanceID != "inst-1" {
		t.Fatalf("describe: %+v", desc.Members)
	}
}

func TestStaticLeaderRejoin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s, d := e.staticMember("sl", "leader"), e.member("sl")
	e.stabilize(byName, s, d) // s leads

	// v9 (KIP-814): the new incarnation learns it leads, with the
	// members, and that it must not assign.
	s2 := restarted(s)
	r := s2.took(recv(t, s2.joinAsync()))
	if r.LeaderID != s2.id || !r.SkipAssignment || len(r.Members) != 2 || r.Generation != 1 {
		t.Fatalf("v9 static leader rejoin: %+v", r)
	}
	// Before v9 it is told the old leader id, so it only syncs.
	s3 := restarted(s2)
	s3.version = 8
	r = s3.took(recv(t, s3.joinAsync()))
	if r.LeaderID != s2.id || r.SkipAssignment || len(r.Members) != 0 {
		t.Fatalf("v8 static leader rejoin: %+v", r)
	}
	if got := recv(t, s3.syncAsync(nil)); string(got.MemberAssignment) != "assigned:"+s.id {
		t.Fatalf("assignment %q", got.MemberAssignment)
	}
	if got := e.stateOf("sl"); got != "Stable" {
		t.Fatalf("state %s", got)
	}
	wantCode(t, "follower heartbeat", d.heartbeat(), nil)
	// The group still knows s3 as its leader: its rejoin rebalances.
	j := s3.joinAsync()
	wantCode(t, "follower heartbeat", d.heartbeat(), kerr.RebalanceInProgress)
	jd := d.joinAsync()
	if r := s3.took(recv(t, j)); r.Generation != 2 || r.LeaderID != s3.id {
		t.Fatalf("leader rejoin: %+v", r)
	}
	d.took(recv(t, jd))
}

// TestStaticFencesParkedRequest: a second process with the same instance id
// fences the first even while the first waits in SyncGroup; a group still
// completing its rebalance rebalances again, so the leader's assignment
// cannot go to the old member id.
func TestStaticFencesParkedRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d, s := e.member("sf"), e.staticMember("sf", "dup")
	jd, js := d.joinAsync(), s.joinAsync()
	e.clock.Advance(time.Second)
	d.took(recv(t, jd))
	s.took(recv(t, js))
	parked := s.syncAsync(nil)
	pending(t, parked)

	twin := restarted(s)
	jt := twin.joinAsync()
	wantCode(t, "parked sync of the fenced member", recv(t, parked).ErrorCode, kerr.FencedInstanceID)
	if got := e.stateOf("sf"); got != "PreparingRebalance" {
		t.Fatalf("state %s, want PreparingRebalance", got)
	}
	wantCode(t, "fenced heartbeat", s.heartbeat(), kerr.FencedInstanceID)
	jd = d.joinAsync()
	twin.took(recv(t, jt))
	d.took(recv(t, jd))
	if twin.gen != 2 {
		t.Fatalf("generation %d", twin.gen)
	}
}

// TestStaticMemberKeptThroughRebalance: a static member that does not
// rejoin a rebalance keeps its place until its session expires.
func TestStaticMemberKeptThroughRebalance(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d, s := e.member("sk"), e.staticMember("sk", "slow")
	d.rebalance, s.rebalance = 2000, 2000
	s.session = 6000
	e.stabilize(byName, d, s)
	d.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: sub(nil, "t", "u")}}
	j := d.joinAsync()
	e.clock.Advance(2 * time.Second)
	r := d.took(recv(t, j))
	if r.Generation != 2 || len(r.Members) != 2 {
		t.Fatalf("generation %d with %d members; the static member must stay", r.Generation, len(r.Members))
	}
	// It cannot sync in time (it never heard of the generation): the
	// pending-sync bound removes it, then the session would have anyway.
	_ = recv(t, d.syncAsync(byName(r.Members)))
	for range 3 {
		e.clock.Advance(500 * time.Millisecond)
		wantCode(t, "d heartbeat", d.heartbeat(), nil)
	}
	e.clock.Advance(500 * time.Millisecond) // the rebalance timeout since generation 2
	wantCode(t, "d heartbeat", d.heartbeat(), kerr.RebalanceInProgress)
	wantCode(t, "s heartbeat", s.heartbeat(), kerr.UnknownMemberID)
}
