package group

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// adminCommit commits as a tool or a consumer without group management
// does: no generation, no member id.
func (e *env) adminCommit(group string, version int16, offsets map[string]map[int32]int64, mutate ...func(*kmsg.OffsetCommitRequest)) *kmsg.OffsetCommitResponse {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = version
	r.Group = group
	for topic, ps := range offsets {
		rt := kmsg.OffsetCommitRequestTopic{Topic: topic}
		for p, o := range ps {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, o
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	for _, m := range mutate {
		m(r)
	}
	return e.c.CommitOffsets(r)
}

// committed returns the committed offset of topic/partition, -1 if none.
func (e *env) committed(group, topic string, partition int32) FetchedPartition {
	e.t.Helper()
	out, err := e.c.FetchOffsets(group, []TopicPartitions{{Topic: topic, Partitions: []int32{partition}}}, false)
	if err != nil {
		e.t.Fatalf("fetch %s: %v", group, err)
	}
	return out[0].Partitions[0]
}

func TestCommitValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "offset.metadata.max.bytes=8")
	e.createTopic("t", 2)

	r := e.adminCommit("simple", 8, map[string]map[int32]int64{"t": {0: 5, 7: 1}, "nope": {0: 1}})
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			want := kerr.UnknownTopicOrPartition
			if rt.Topic == "t" && rp.Partition == 0 {
				want = nil
			}
			wantCode(t, rt.Topic, rp.ErrorCode, want)
		}
	}
	if got := e.committed("simple", "t", 0); got.Offset != 5 || got.LeaderEpoch != -1 || got.Metadata != "" {
		t.Fatalf("committed %+v", got)
	}
	// The commit created an Empty group without a protocol type.
	groups, err := e.c.ListGroups(nil, nil)
	if err != nil || len(groups) != 1 || groups[0] != (ListedGroup{ID: "simple", State: "Empty"}) {
		t.Fatalf("groups %+v, %v", groups, err)
	}

	// A commit with a generation for a group that does not exist comes
	// from a member of a generation this coordinator never had.
	r = e.adminCommit("ghost", 8, map[string]map[int32]int64{"t": {0: 1}}, func(r *kmsg.OffsetCommitRequest) {
		r.Generation, r.MemberID = 3, "m"
	})
	wantCode(t, "commit to an unknown generation", r.Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)
	if got := e.stateOf("ghost"); got != "Dead" {
		t.Fatalf("the refused commit created group ghost (%s)", got)
	}
	// The empty group id is a group like any other for offsets.
	r = e.adminCommit("", 8, map[string]map[int32]int64{"t": {0: 3}})
	wantCode(t, "empty group id", r.Topics[0].Partitions[0].ErrorCode, nil)
	if got := e.committed("", "t", 0); got.Offset != 3 {
		t.Fatalf("offset of group \"\": %+v", got)
	}
	if errs := e.c.DeleteGroups([]string{""}); errs[0] != nil {
		t.Fatalf("delete group \"\": %v", errs[0])
	}

	// Metadata over offset.metadata.max.bytes fails only its partition.
	long, short := strings.Repeat("x", 9), "12345678"
	r = e.adminCommit("simple", 8, map[string]map[int32]int64{"t": {0: 6, 1: 9}}, func(r *kmsg.OffsetCommitRequest) {
		for i := range r.Topics[0].Partitions {
			p := &r.Topics[0].Partitions[i]
			if p.Partition == 0 {
				p.Metadata = &long
			} else {
				p.Metadata = &short
			}
		}
	})
	for _, rp := range r.Topics[0].Partitions {
		want := map[int32]*kerr.Error{0: kerr.OffsetMetadataTooLarge, 1: nil}[rp.Partition]
		wantCode(t, "metadata size", rp.ErrorCode, want)
	}
	if got := e.committed("simple", "t", 0); got.Offset != 5 {
		t.Fatalf("refused commit changed the offset: %+v", got)
	}
	if got := e.committed("simple", "t", 1); got.Offset != 9 || got.Metadata != short {
		t.Fatalf("committed %+v", got)
	}

	// Once the group has members, anonymous commits are refused.
	m := e.member("simple")
	e.stabilize(byName, m)
	r = e.adminCommit("simple", 8, map[string]map[int32]int64{"t": {0: 1}})
	wantCode(t, "anonymous commit to a live group", r.Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID)
	// v0 has neither generation nor member id.
	r = e.adminCommit("simple", 0, map[string]map[int32]int64{"t": {0: 1}})
	wantCode(t, "v0 commit to a live group", r.Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID)
}

func TestFetchOffsets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic("t", 3)
	e.createTopic("u", 1)
	m := e.member("f")
	e.stabilize(byName, m)
	wantCode(t, "commit", m.commit("t", 2, 100, "hello"), nil)
	wantCode(t, "commit", m.commit("u", 0, 3, ""), nil)

	got := e.committed("f", "t", 2)
	if got != (FetchedPartition{Partition: 2, Offset: 100, LeaderEpoch: 7, Metadata: "hello"}) {
		t.Fatalf("fetched %+v", got)
	}
	if got := e.committed("f", "t", 0); got.Offset != -1 || got.LeaderEpoch != -1 {
		t.Fatalf("uncommitted partition %+v", got)
	}
	if got := e.committed("nobody", "t", 0); got.Offset != -1 {
		t.Fatalf("unknown group %+v", got)
	}
	all, err := e.c.FetchOffsets("f", nil, false)
	if err != nil || len(all) != 2 || all[0].Topic != "t" || all[1].Topic != "u" || len(all[0].Partitions) != 1 {
		t.Fatalf("all offsets %+v, %v", all, err)
	}
	if _, err := e.c.DeleteOffsets("", nil); err != kerr.InvalidGroupID {
		t.Fatalf("offset delete of the empty group id: %v", err)
	}
}

// TestPersistenceRoundTrip: what the coordinator acknowledged is back after
// a restart from the same __consumer_offsets partitions.
func TestPersistenceRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic("t", 4)
	d, s := e.member("p"), e.staticMember("p", "inst")
	s.session = 30000
	assigned := e.stabilize(byName, d, s)
	wantCode(t, "commit", d.commit("t", 0, 10, "m0"), nil)
	wantCode(t, "commit", s.commit("t", 1, 11, ""), nil)
	wantCode(t, "recommit", d.commit("t", 0, 12, "m1"), nil)
	e.adminCommit("simple", 8, map[string]map[int32]int64{"t": {2: 5}})
	e.adminCommit("gone", 8, map[string]map[int32]int64{"t": {2: 6}})
	if errs := e.c.DeleteGroups([]string{"gone"}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	e.adminCommit("x", 8, map[string]map[int32]int64{"t": {3: 7, 2: 1}})
	if res, err := e.c.DeleteOffsets("x", []TopicPartitions{{Topic: "t", Partitions: []int32{3}}}); err != nil || res[0].Code != 0 {
		t.Fatalf("offset delete: %+v %v", res, err)
	}
	before := e.c.DescribeGroup("p")

	e.restart()

	after := e.c.DescribeGroup("p")
	if after.State != "Stable" || after.Protocol != before.Protocol || len(after.Members) != 2 {
		t.Fatalf("after restart: %+v", after)
	}
	for i, m := range after.Members {
		b := before.Members[i]
		if m.MemberID != b.MemberID || string(m.MemberAssignment) != string(assigned[m.MemberID]) ||
			string(m.ProtocolMetadata) != string(b.ProtocolMetadata) || m.ClientID != b.ClientID ||
			(m.InstanceID == nil) != (b.InstanceID == nil) {
			t.Fatalf("member %d: %+v, was %+v", i, m, b)
		}
	}
	// Members carry on with their generation: no rebalance.
	wantCode(t, "heartbeat after restart", d.heartbeat(), nil)
	wantCode(t, "commit after restart", d.commit("t", 3, 1, ""), nil)
	for _, c := range []struct {
		group     string
		partition int32
		want      FetchedPartition
	}{
		{"p", 0, FetchedPartition{Partition: 0, Offset: 12, LeaderEpoch: 7, Metadata: "m1"}},
		{"p", 1, FetchedPartition{Partition: 1, Offset: 11, LeaderEpoch: 7}},
		{"simple", 2, FetchedPartition{Partition: 2, Offset: 5, LeaderEpoch: -1}},
		{"gone", 2, FetchedPartition{Partition: 2, Offset: -1, LeaderEpoch: -1}},
		{"x", 3, FetchedPartition{Partition: 3, Offset: -1, LeaderEpoch: -1}},
		{"x", 2, FetchedPartition{Partition: 2, Offset: 1, LeaderEpoch: -1}},
	} {
		if got := e.committed(c.group, "t", c.partition); got != c.want {
			t.Errorf("%s t/%d: %+v, want %+v", c.group, c.partition, got, c.want)
		}
	}
	if got := e.stateOf("gone"); got != "Dead" {
		t.Errorf("deleted group is %s after restart", got)
	}
	// The static member restarts too and gets its assignment back
	// without a rebalance.
	s2 := restarted(s)
	r := s2.took(recv(t, s2.joinAsync()))
	if r.Generation != s.gen {
		t.Fatalf("static rejoin after restart: generation %d, want %d", r.Generation, s.gen)
	}
	if got := recv(t, s2.syncAsync(nil)); string(got.MemberAssignment) != string(assigned[s.id]) {
		t.Fatalf("assignment %q", got.MemberAssignment)
	}
	// Loaded members must still heartbeat: d's session runs out.
	e.clock.Advance(11 * time.Second)
	wantCode(t, "static member", s2.heartbeat(), kerr.RebalanceInProgress)
	wantCode(t, "silent member", d.heartbeat(), kerr.UnknownMemberID)
}

func TestOffsetExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "offsets.retention.minutes=1") // swept every 10s
	e.createTopic("t", 1)
	e.createTopic("u", 1)
	// T=0
	e.adminCommit("simple", 8, map[string]map[int32]int64{"t": {0: 1}})
	// v2-v4 may ask for a retention of their own.
	e.adminCommit("short", 2, map[string]map[int32]int64{"t": {0: 1}}, func(r *kmsg.OffsetCommitRequest) { r.RetentionTimeMillis = 5000 })
	live, left := e.member("live"), e.member("left")
	e.stabilize(byName, live)
	wantCode(t, "commit t", live.commit("t", 0, 1, ""), nil) // subscribed: kept while Stable
	wantCode(t, "commit u", live.commit("u", 0, 1, ""), nil) // not subscribed: expires
	e.stabilize(byName, left)
	wantCode(t, "commit", left.commit("t", 0, 2, ""), nil)
	// T=0.2
	tick := func(seconds int) {
		for range seconds {
			e.clock.Advance(time.Second)
			for _, m := range []*tmember{live, left} {
				if m.id != "" {
					m.heartbeat()
				}
			}
		}
	}
	expired := func(group, topic string, want bool) {
		t.Helper()
		if got := e.committed(group, topic, 0); (got.Offset == -1) != want {
			t.Fatalf("%s %s: %+v, expired: want %v", group, topic, got, want)
		}
	}
	tick(10) // T=10.2, swept at 10
	expired("short", "t", true)
	expired("simple", "t", false)
	wantCode(t, "leave", left.leave(), nil) // Empty from T=10.2
	left.id = ""
	tick(50)                     // swept at 60
	expired("simple", "t", true) // committed at 0
	expired("live", "u", false)  // committed at 0.1
	tick(10)                     // swept at 70
	expired("live", "u", true)
	expired("live", "t", false) // subscribed by a member of a Stable group
	expired("left", "t", false) // Empty for 59.8s only
	tick(10)                    // swept at 80
	expired("left", "t", true)
	groups, _ := e.c.ListGroups(nil, nil)
	if len(groups) != 1 || groups[0].ID != "live" {
		t.Fatalf("groups left %+v: Empty groups without offsets must be deleted", groups)
	}
	e.restart() // the tombstones are on disk
	expired("left", "t", true)
	expired("live", "u", true)
	expired("live", "t", false)
}

func TestDeleteGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic("t", 1)
	m := e.member("busy")
	e.stabilize(byName, m)
	e.adminCommit("idle", 8, map[string]map[int32]int64{"t": {0: 1}})
	errs := e.c.DeleteGroups([]string{"busy", "idle", "never", ""})
	for i, want := range []*kerr.Error{kerr.NonEmptyGroup, nil, kerr.GroupIDNotFound, kerr.GroupIDNotFound} {
		if (want == nil) != (errs[i] == nil) || (want != nil && errs[i] != want) {
			t.Errorf("delete %d: %v, want %v", i, errs[i], want)
		}
	}
	if got := e.committed("idle", "t", 0); got.Offset != -1 {
		t.Fatalf("offsets of a deleted group: %+v", got)
	}
	// The id can be used again at once.
	r := e.adminCommit("idle", 8, map[string]map[int32]int64{"t": {0: 2}})
	wantCode(t, "commit after delete", r.Topics[0].Partitions[0].ErrorCode, nil)
}

func TestDeleteOffsets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic("t", 1)
	e.createTopic("u", 1)
	m := e.member("od")
	e.stabilize(byName, m)
	wantCode(t, "commit", m.commit("t", 0, 1, ""), nil)
	wantCode(t, "commit", m.commit("u", 0, 1, ""), nil)
	res, err := e.c.DeleteOffsets("od", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}, {Topic: "u", Partitions: []int32{0}}, {Topic: "zz", Partitions: []int32{0}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []*kerr.Error{kerr.GroupSubscribedToTopic, nil, kerr.UnknownTopicOrPartition} {
		wantCode(t, res[i].Topic, res[i].Code, want)
	}
	if e.committed("od", "u", 0).Offset != -1 || e.committed("od", "t", 0).Offset != 1 {
		t.Fatal("wrong offsets deleted")
	}
	if _, err := e.c.DeleteOffsets("nope", nil); err != kerr.GroupIDNotFound {
		t.Fatalf("unknown group: %v", err)
	}
	c := e.member("conn")
	c.ptype = "connect"
	e.stabilize(byName, c)
	if _, err := e.c.DeleteOffsets("conn", nil); err != kerr.NonEmptyGroup {
		t.Fatalf("live non-consumer group: %v", err)
	}
}

func TestListAndDescribe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic("t", 1)
	a := e.member("a")
	e.stabilize(byName, a)
	e.adminCommit("b", 8, map[string]map[int32]int64{"t": {0: 1}})
	j := e.member("c").joinAsync()
	pending(t, j)
	for _, tc := range []struct {
		states, types []string
		want          []string
	}{
		{nil, nil, []string{"a", "b", "c"}},
		{[]string{"stable"}, nil, []string{"a"}},
		{[]string{"Empty", "PreparingRebalance"}, nil, []string{"b", "c"}},
		{nil, []string{"Classic"}, []string{"a", "b", "c"}},
		{nil, []string{"consumer"}, nil},
	} {
		got, err := e.c.ListGroups(tc.states, tc.types)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, g := range got {
			ids = append(ids, g.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("states %v types %v: %v, want %v", tc.states, tc.types, ids, tc.want)
		}
	}
	d := e.c.DescribeGroup("c")
	if d.State != "PreparingRebalance" || len(d.Members) != 1 || len(d.Members[0].ProtocolMetadata) != 0 || d.Protocol != "" {
		t.Fatalf("a rebalancing group shows no metadata: %+v", d)
	}
	if d := e.c.DescribeGroup("missing"); d.State != "Dead" || d.ErrorCode != 0 {
		t.Fatalf("missing group: %+v", d)
	}
	if d := e.c.DescribeGroup(""); d.ErrorCode != 0 || d.State != "Dead" {
		t.Fatalf("empty id: %+v", d)
	}
}
