package group

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestPartitionFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   string
		hash int32
		n    int32
		want int32
	}{
		{"", 0, 50, 0},
		{"a", 97, 50, 47},
		{"hello", 99162322, 50, 22},
		// Java's hashCode overflows like int32 arithmetic, and Kafka's
		// Utils.abs maps Integer.MIN_VALUE to 0.
		{"polygenelubricants", -1 << 31, 50, 0},
		{"Aa", 2112, 7, 5},
		// Outside the BMP, Java hashes the UTF-16 surrogate pair.
		{"😀", 31*0xD83D + 0xDE00, 50, (31*0xD83D + 0xDE00) % 50},
		{"é", 0xE9, 10, 3},
	} {
		if got := javaStringHash(tc.id); got != tc.hash {
			t.Errorf("javaStringHash(%q) = %d, want %d", tc.id, got, tc.hash)
		}
		if got := PartitionFor(tc.id, tc.n); got != tc.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", tc.id, tc.n, got, tc.want)
		}
	}
	// A negative hash that is not MinInt32 is negated.
	id := "negative-hash-group-id-xyz"
	h := javaStringHash(id)
	if h >= 0 {
		t.Fatalf("test id %q must hash negative, got %d", id, h)
	}
	if got, want := PartitionFor(id, 50), (-h)%50; got != want {
		t.Errorf("PartitionFor(%q) = %d, want %d", id, got, want)
	}
}

func TestJoinSyncLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.member("g"), e.member("g")

	// KIP-394: a v4+ first join gets MEMBER_ID_REQUIRED and an id.
	first := recv(t, e.c.JoinGroup(a.joinReq(), Client{ID: "cl"}))
	wantCode(t, "first join", first.ErrorCode, kerr.MemberIDRequired)
	if first.MemberID == "" || first.MemberID[:3] != "cl-" {
		t.Fatalf("member id %q: want the client id and a UUID", first.MemberID)
	}
	a.id = first.MemberID

	ja := a.joinAsync()
	jb := b.joinAsync()
	if got := e.stateOf("g"); got != "PreparingRebalance" {
		t.Fatalf("state %s, want PreparingRebalance", got)
	}
	// The initial delay holds the first rebalance.
	e.clock.Advance(e.c.cfg.initialDelay - time.Millisecond)
	pending(t, ja)
	pending(t, jb)
	// b joined during the delay, which therefore runs once more.
	e.clock.Advance(time.Millisecond)
	pending(t, ja)
	e.clock.Advance(e.c.cfg.initialDelay)
	ra, rb := a.took(recv(t, ja)), b.took(recv(t, jb))
	if ra.Generation != 1 || rb.Generation != 1 {
		t.Fatalf("generations %d, %d, want 1", ra.Generation, rb.Generation)
	}
	if ra.LeaderID != a.id || rb.LeaderID != a.id {
		t.Fatalf("leader %q/%q, want the first member %q", ra.LeaderID, rb.LeaderID, a.id)
	}
	if len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("members: leader got %d, follower %d; want 2 and 0", len(ra.Members), len(rb.Members))
	}
	if *ra.Protocol != "range" || *ra.ProtocolType != "consumer" {
		t.Fatalf("protocol %v/%v", *ra.ProtocolType, *ra.Protocol)
	}
	if got := e.stateOf("g"); got != "CompletingRebalance" {
		t.Fatalf("state %s, want CompletingRebalance", got)
	}
	// Heartbeats between JoinGroup and SyncGroup are fine.
	wantCode(t, "heartbeat while completing", a.heartbeat(), nil)
	// A commit before the assignment is known is refused.
	e.createTopic("t", 2)
	wantCode(t, "commit while completing", a.commit("t", 0, 1, ""), kerr.RebalanceInProgress)

	sb := b.syncAsync(nil)
	pending(t, sb)
	sa := a.syncAsync(map[string][]byte{a.id: []byte("A"), b.id: []byte("B")})
	if got := recv(t, sa); got.ErrorCode != 0 || string(got.MemberAssignment) != "A" || *got.Protocol != "range" {
		t.Fatalf("leader sync: %+v", got)
	}
	if got := recv(t, sb); got.ErrorCode != 0 || string(got.MemberAssignment) != "B" {
		t.Fatalf("follower sync: %+v", got)
	}
	if got := e.stateOf("g"); got != "Stable" {
		t.Fatalf("state %s, want Stable", got)
	}
	d := e.c.DescribeGroup("g")
	if len(d.Members) != 2 || d.Protocol != "range" || d.Members[0].ClientHost != "/127.0.0.1" || !bytes.Equal(d.Members[1].MemberAssignment, []byte("B")) {
		t.Fatalf("describe: %+v", d)
	}

	wantCode(t, "heartbeat", a.heartbeat(), nil)
	wantCode(t, "commit", a.commit("t", 0, 42, "meta"), nil)
	stale := *a
	stale.gen = 0
	wantCode(t, "stale heartbeat", stale.heartbeat(), kerr.IllegalGeneration)
	stranger := *a
	stranger.id = "nobody"
	wantCode(t, "stranger heartbeat", stranger.heartbeat(), kerr.UnknownMemberID)
	wantCode(t, "stranger commit", stranger.commit("t", 0, 1, ""), kerr.UnknownMemberID)
	wantCode(t, "stale commit", stale.commit("t", 0, 1, ""), kerr.IllegalGeneration)
	// A SyncGroup in a Stable group returns the member's assignment.
	if got := recv(t, b.syncAsync(nil)); string(got.MemberAssignment) != "B" {
		t.Fatalf("resync: %q", got.MemberAssignment)
	}

	// b leaves: a learns of the rebalance from its heartbeat, rejoins,
	// and the group stabilises alone.
	wantCode(t, "leave", b.leave(), nil)
	wantCode(t, "heartbeat after leave", a.heartbeat(), kerr.RebalanceInProgress)
	// Commits of the current generation are still accepted while
	// preparing (eager consumers commit before they rejoin).
	wantCode(t, "commit while preparing", a.commit("t", 1, 7, ""), nil)
	r := a.took(recv(t, a.joinAsync()))
	if r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("rejoin: generation %d, %d members", r.Generation, len(r.Members))
	}
	// The leader sends no assignment for anyone: members get an empty one.
	if got := recv(t, a.syncAsync(nil)); got.ErrorCode != 0 || len(got.MemberAssignment) != 0 {
		t.Fatalf("sync without assignment: %+v", got)
	}
	wantCode(t, "last leave", a.leave(), nil)
	if got := e.stateOf("g"); got != "Empty" {
		t.Fatalf("state %s, want Empty", got)
	}
	wantCode(t, "heartbeat of a left member", a.heartbeat(), kerr.UnknownMemberID)
}

func TestJoinValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "group.max.session.timeout.ms=60000", "group.max.size=2")
	m := e.member("")
	wantCode(t, "empty group id", recv(t, m.joinAsync()).ErrorCode, kerr.InvalidGroupID)
	m = e.member("v")
	m.session = 50
	wantCode(t, "session below min", recv(t, m.joinAsync()).ErrorCode, kerr.InvalidSessionTimeout)
	m.session = 60001
	wantCode(t, "session above max", recv(t, m.joinAsync()).ErrorCode, kerr.InvalidSessionTimeout)
	m = e.member("v")
	m.id = "made-up"
	wantCode(t, "unknown member of unknown group", recv(t, m.joinAsync()).ErrorCode, kerr.UnknownMemberID)
	m = e.member("v")
	m.protocols = nil
	wantCode(t, "no protocols", recv(t, m.joinAsync()).ErrorCode, kerr.InconsistentGroupProtocol)
	// The failed joins created no group.
	if got := e.stateOf("v"); got != "Dead" {
		t.Fatalf("state of a group only failed joins touched: %s", got)
	}

	a := e.member("v")
	e.stabilize(byName, a)
	other := e.member("v")
	other.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "roundrobin", Metadata: sub(nil, "t")}}
	wantCode(t, "no common protocol", recv(t, other.joinAsync()).ErrorCode, kerr.InconsistentGroupProtocol)
	connect := e.member("v")
	connect.ptype = "connect"
	wantCode(t, "other protocol type", recv(t, connect.joinAsync()).ErrorCode, kerr.InconsistentGroupProtocol)
	b := e.member("v")
	// The new member first: a leader that rejoins a Stable group alone
	// would complete a generation by itself at once.
	e.stabilize(byName, b, a)
	c := e.member("v")
	wantCode(t, "third member", recv(t, c.joinAsync()).ErrorCode, kerr.GroupMaxSizeReached)
}

func TestProtocolSelection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := func(names ...string) []kmsg.JoinGroupRequestProtocol {
		var out []kmsg.JoinGroupRequestProtocol
		for _, n := range names {
			out = append(out, kmsg.JoinGroupRequestProtocol{Name: n, Metadata: sub(nil, "t")})
		}
		return out
	}
	a, b, c := e.member("p"), e.member("p"), e.member("p")
	a.protocols = p("range", "roundrobin", "sticky")
	b.protocols = p("roundrobin", "range")
	c.protocols = p("sticky", "roundrobin")
	// Common to all: roundrobin. (range and sticky are not.)
	e.stabilize(func(ms []kmsg.JoinGroupResponseMember) map[string][]byte {
		for _, m := range ms {
			topics, err := subscribedTopics(m.ProtocolMetadata)
			if err != nil || len(topics) != 1 {
				t.Fatalf("leader got metadata %x for %s", m.ProtocolMetadata, m.MemberID)
			}
		}
		return nil
	}, a, b, c)
	if d := e.c.DescribeGroup("p"); d.Protocol != "roundrobin" {
		t.Fatalf("protocol %q, want roundrobin", d.Protocol)
	}

	// Votes: two members prefer cooperative-sticky, one range.
	x, y, z := e.member("q"), e.member("q"), e.member("q")
	x.protocols = p("range", "cooperative-sticky")
	y.protocols = p("cooperative-sticky", "range")
	z.protocols = p("cooperative-sticky", "range")
	e.stabilize(byName, x, y, z)
	if d := e.c.DescribeGroup("q"); d.Protocol != "cooperative-sticky" {
		t.Fatalf("protocol %q, want cooperative-sticky", d.Protocol)
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.member("s"), e.member("s")
	a.session, b.session = 1000, 2000
	e.stabilize(byName, a, b)

	// a keeps heartbeating; b goes silent.
	for range 3 {
		e.clock.Advance(600 * time.Millisecond)
		wantCode(t, "heartbeat", a.heartbeat(), nil)
	}
	e.clock.Advance(300 * time.Millisecond) // 2100ms since b's last sync
	wantCode(t, "heartbeat after b expired", a.heartbeat(), kerr.RebalanceInProgress)
	wantCode(t, "b's heartbeat", b.heartbeat(), kerr.UnknownMemberID)
	r := a.took(recv(t, a.joinAsync()))
	if r.Generation != 2 || len(r.Members) != 1 || r.Members[0].MemberID != a.id {
		t.Fatalf("after expiry: generation %d, members %+v", r.Generation, r.Members)
	}

	// A member waiting for the rebalance is not expired for its silence.
	c := e.member("s")
	c.session = 1000
	_ = recv(t, a.syncAsync(nil))
	jc := c.joinAsync() // rebalance: a must rejoin within the rebalance timeout
	ja := a.joinAsync()
	ra, rc := a.took(recv(t, ja)), c.took(recv(t, jc))
	if ra.Generation != 3 || rc.Generation != 3 {
		t.Fatalf("generations %d, %d", ra.Generation, rc.Generation)
	}
	sc := c.syncAsync(nil)
	// c waits for the leader's assignment far beyond its own session.
	for range 10 {
		e.clock.Advance(500 * time.Millisecond)
		wantCode(t, "leader heartbeat", a.heartbeat(), nil)
	}
	pending(t, sc)
	_ = recv(t, a.syncAsync(byName(ra.Members)))
	if r := recv(t, sc); string(r.MemberAssignment) != "assigned:"+c.id {
		t.Fatalf("c's assignment %q", r.MemberAssignment)
	}

	// A member that heartbeats but never syncs is removed when the
	// rebalance timeout bounds the wait for every SyncGroup.
	d := e.member("s")
	d.session = 1000
	jd := d.joinAsync()
	ja = a.joinAsync()
	jc = c.joinAsync()
	d.took(recv(t, jd))
	ra = a.took(recv(t, ja))
	c.took(recv(t, jc))
	_ = recv(t, a.syncAsync(byName(ra.Members)))
	_ = recv(t, c.syncAsync(nil))
	for range 59 {
		e.clock.Advance(500 * time.Millisecond)
		for _, m := range []*tmember{a, c, d} {
			wantCode(t, "heartbeat", m.heartbeat(), nil)
		}
	}
	e.clock.Advance(500 * time.Millisecond)
	wantCode(t, "heartbeat after d failed to sync", a.heartbeat(), kerr.RebalanceInProgress)
	wantCode(t, "d", d.heartbeat(), kerr.UnknownMemberID)
}

func TestRebalanceTimeoutRemovesStragglers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.member("r"), e.member("r")
	a.rebalance, b.rebalance = 5000, 5000
	a.session, b.session = 60000, 60000
	e.stabilize(byName, a, b)

	// b (not the leader) changes its subscription: a rebalance starts.
	b.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: sub(nil, "t", "u")}}
	jb := b.joinAsync()
	pending(t, jb)
	wantCode(t, "a's heartbeat", a.heartbeat(), kerr.RebalanceInProgress)
	// a never rejoins: after the rebalance timeout b's generation starts without it.
	e.clock.Advance(5 * time.Second)
	rb := b.took(recv(t, jb))
	if rb.Generation != 2 || rb.LeaderID != b.id || len(rb.Members) != 1 {
		t.Fatalf("b: generation %d leader %q members %d", rb.Generation, rb.LeaderID, len(rb.Members))
	}
	wantCode(t, "a after the timeout", a.heartbeat(), kerr.UnknownMemberID)
}

func TestInitialDelayExtends(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "group.initial.rebalance.delay.ms=1000")
	ms := []*tmember{e.member("d"), e.member("d"), e.member("d")}
	for _, m := range ms {
		m.rebalance = 10000
	}
	j0 := ms[0].joinAsync()
	e.clock.Advance(900 * time.Millisecond)
	j1 := ms[1].joinAsync() // arrives inside the delay: extends it
	e.clock.Advance(900 * time.Millisecond)
	pending(t, j0)
	j2 := ms[2].joinAsync()
	// Each expiry of the delay that saw a new member extends it by
	// another delay: 1000 → 2000 → 3000.
	e.clock.Advance(1199 * time.Millisecond)
	pending(t, j0)
	e.clock.Advance(time.Millisecond)
	for i, ch := range []<-chan *kmsg.JoinGroupResponse{j0, j1, j2} {
		if r := ms[i].took(recv(t, ch)); r.Generation != 1 {
			t.Fatalf("member %d generation %d", i, r.Generation)
		}
	}
}

func TestCooperativeRebalanceTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.member("c"), e.member("c")
	for _, m := range []*tmember{a, b} {
		m.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "cooperative-sticky", Metadata: sub(nil, "t")}}
	}
	e.stabilize(byName, a, b)
	// KIP-429: members rejoin with what they own in their metadata; the
	// broker relays it, and an immediate second rebalance follows.
	a.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "cooperative-sticky", Metadata: sub(map[string][]int32{"t": {0}}, "t")}}
	b.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "cooperative-sticky", Metadata: sub(map[string][]int32{"t": {1}}, "t")}}
	var owned []byte
	e.stabilize(func(ms []kmsg.JoinGroupResponseMember) map[string][]byte {
		for _, m := range ms {
			if m.MemberID == b.id {
				owned = m.ProtocolMetadata
			}
		}
		return byName(ms)
	}, a, b)
	if !bytes.Equal(owned, b.protocols[0].Metadata) {
		t.Fatal("the leader did not get b's metadata verbatim")
	}
	if a.gen != 2 {
		t.Fatalf("generation %d, want 2", a.gen)
	}
	got := e.stabilize(byName, a, b) // the immediate follow-up rebalance
	if a.gen != 3 || string(got[b.id]) != "assigned:"+b.id {
		t.Fatalf("generation %d, assignment %q", a.gen, got[b.id])
	}
}

func TestLeaveGroupBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, s := e.member("l"), e.staticMember("l", "inst-1")
	e.stabilize(byName, a, s)
	bad := "other-instance"
	members := []kmsg.LeaveGroupRequestMember{
		{MemberID: "", InstanceID: s.instance}, // an admin removing a static member
		{MemberID: "", InstanceID: &bad},
		{MemberID: "nobody"},
		{MemberID: a.id, InstanceID: &bad},
	}
	out, err := e.c.LeaveGroup("l", members)
	if err != nil {
		t.Fatal(err)
	}
	want := []*kerr.Error{nil, kerr.UnknownMemberID, kerr.UnknownMemberID, kerr.UnknownMemberID}
	for i, w := range want {
		wantCode(t, "member "+members[i].MemberID, out[i].ErrorCode, w)
	}
	if _, err := e.c.LeaveGroup("nope", members[:1]); err != kerr.UnknownMemberID {
		t.Fatalf("unknown group: %v", err)
	}
	if _, err := e.c.LeaveGroup("", members[:1]); err != kerr.InvalidGroupID {
		t.Fatalf("empty group id: %v", err)
	}
	r := a.took(recv(t, a.joinAsync()))
	if len(r.Members) != 1 {
		t.Fatalf("after the static member left: %d members", len(r.Members))
	}
}

func TestNotCoordinatorAndLoading(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	idx := PartitionFor("x", 3)
	s, err := e.c.rt.Lookup(func(int32) int32 { return idx })
	if err != nil {
		t.Fatal(err)
	}
	set := func(loaded, unloaded bool) {
		s.mu.Lock()
		s.loaded, s.unloaded = loaded, unloaded
		s.mu.Unlock()
	}
	set(false, false) // loading
	m := e.member("x")
	wantCode(t, "join while loading", recv(t, m.joinAsync()).ErrorCode, kerr.CoordinatorLoadInProgress)
	m.id = "someone"
	wantCode(t, "heartbeat while loading", m.heartbeat(), nil)
	if _, err := e.c.ListGroups(nil, nil); err != kerr.CoordinatorLoadInProgress {
		t.Fatalf("list while loading: %v", err)
	}
	if d := e.c.DescribeGroup("x"); d.ErrorCode != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("describe while loading: %v", d.ErrorCode)
	}
	set(true, true) // given up
	wantCode(t, "join elsewhere", recv(t, e.member("x").joinAsync()).ErrorCode, kerr.NotCoordinator)
	wantCode(t, "sync elsewhere", recv(t, m.syncAsync(nil)).ErrorCode, kerr.NotCoordinator)
	set(true, false)
}

// TestCloseAnswersParkedRequests: a JoinGroup parked in a rebalance is
// answered when the coordinator closes, so no connection waits forever.
func TestCloseAnswersParkedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ch := e.member("z").joinAsync()
	pending(t, ch)
	e.close()
	wantCode(t, "parked join at close", recv(t, ch).ErrorCode, kerr.NotCoordinator)
}
