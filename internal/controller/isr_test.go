package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// pstate is what the ISR tests assert of a partition.
type pstate struct {
	Leader, LeaderEpoch, PartitionEpoch int32
	ISR                                 []int32
}

func (s pstate) String() string {
	return fmt.Sprintf("leader %d (epoch %d) isr %v, partition epoch %d", s.Leader, s.LeaderEpoch, s.ISR, s.PartitionEpoch)
}

func (s pstate) equal(o pstate) bool {
	return s.Leader == o.Leader && s.LeaderEpoch == o.LeaderEpoch && s.PartitionEpoch == o.PartitionEpoch && slices.Equal(s.ISR, o.ISR)
}

func stateOf(t *testing.T, c *Controller, topic string, idx int32) pstate {
	t.Helper()
	tp := c.Image().Topics[topic]
	if tp == nil || int(idx) >= len(tp.Partitions) {
		t.Fatalf("no partition %s-%d", topic, idx)
	}
	p := tp.Partitions[idx]
	return pstate{p.Leader, p.LeaderEpoch, p.PartitionEpoch, p.ISR}
}

func wantState(t *testing.T, what string, c *Controller, topic string, idx int32, want pstate) {
	t.Helper()
	if got := stateOf(t, c, topic, idx); !got.equal(want) {
		t.Errorf("%s: %s-%d: %v; want %v", what, topic, idx, got, want)
	}
}

// createAssigned creates a topic with explicit replica lists and configs.
func createAssigned(t *testing.T, c *Controller, name string, configs map[string]string, replicas ...[]int32) *metadata.Topic {
	t.Helper()
	_, errs := c.CreateTopics(context.Background(), []TopicSpec{{Name: name, NumPartitions: -1, ReplicationFactor: -1,
		Assignments: replicas, Configs: configs}}, false)
	if errs[0] != nil {
		t.Fatalf("create %s: %v", name, errs[0])
	}
	return c.Image().Topics[name]
}

// heartbeat sends broker id's heartbeat at its registered epoch, caught up.
func heartbeat(t *testing.T, c *Controller, id int32, fence, shutDown bool) {
	t.Helper()
	epoch := c.Image().Brokers[id].Epoch
	if _, err := c.BrokerHeartbeat(context.Background(), Heartbeat{NodeID: id, Epoch: epoch, MetadataOffset: c.Image().Offset,
		WantFence: fence, WantShutDown: shutDown}); err != nil {
		t.Fatalf("heartbeat of %d: %v", id, err)
	}
}

// shutDown takes broker id through a controlled shutdown: its leaderships
// move, then it is fenced.
func shutDown(t *testing.T, c *Controller, id int32) {
	t.Helper()
	heartbeat(t, c, id, false, true)
	heartbeat(t, c, id, false, true)
	if b := c.Image().Brokers[id]; !b.Fenced || !b.ShuttingDown {
		t.Fatalf("broker %d after a controlled shutdown: %+v", id, b)
	}
}

// reregister registers a new incarnation of broker id and unfences it, as
// a restarted broker does.
func reregister(t *testing.T, c *Controller, id int32) {
	t.Helper()
	epoch, err := c.RegisterBroker(context.Background(), Registration{NodeID: id, Incarnation: metadata.NewUUID(), Host: "h",
		Port: 9092 + id, MaxMetadataVersion: metadata.MaxMetadataVersion})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.BrokerHeartbeat(context.Background(), Heartbeat{NodeID: id, Epoch: epoch, MetadataOffset: epoch}); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, what string, err error, code *kerr.Error) {
	t.Helper()
	if code == nil {
		if err != nil {
			t.Errorf("%s: %v, want success", what, err)
		}
		return
	}
	var e *Error
	if !errors.Is(err, code) || !errors.As(err, &e) {
		t.Errorf("%s: %v, want %s", what, err, code.Message)
	}
}

// TestAlterPartition: a leader's ISR changes are checked in KRaft's order
// and applied with a partition epoch bump and the leader epoch unchanged;
// refusals commit nothing.
func TestAlterPartition(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, append(racked(3), testBroker{id: 4, fenced: true}, testBroker{id: 5, shuttingDown: true})...)
	ctx := context.Background()
	tp := createAssigned(t, c, "t", nil, []int32{1, 2, 3}, []int32{1, 2, 4}, []int32{1, 2, 5})
	// Broker 4 is fenced, 5 in controlled shutdown: the ISRs of a new
	// topic hold only live replicas, as KRaft's createTopic makes them;
	// here by a change in the creating entry, so at partition epoch 1.
	wantState(t, "created", c, "t", 1, pstate{1, 0, 1, []int32{1, 2}})
	wantState(t, "created", c, "t", 2, pstate{1, 0, 1, []int32{1, 2}})
	epoch := func(id int32) int64 { return c.Image().Brokers[id].Epoch }
	one := func(r PartitionISRRequest) PartitionISRRequest {
		if r.Topic == "" && !r.ByID {
			r.Topic = "t"
		}
		return r
	}
	alter := func(broker int32, reqs ...PartitionISRRequest) []PartitionISRResult {
		t.Helper()
		for i := range reqs {
			reqs[i] = one(reqs[i])
		}
		res, err := c.AlterPartition(ctx, broker, epoch(broker), reqs)
		if err != nil {
			t.Fatalf("alter partition: %v", err)
		}
		return res
	}

	// Shrink p0 to [1 2]: the partition epoch moves, the leader epoch not.
	res := alter(1, PartitionISRRequest{Partition: 0, LeaderEpoch: 0, PartitionEpoch: 0, NewISR: []int32{1, 2}})
	want := PartitionISRResult{Leader: 1, LeaderEpoch: 0, ISR: []int32{1, 2}, PartitionEpoch: 1}
	if r := res[0]; r.Err != nil || r.Leader != want.Leader || r.LeaderEpoch != want.LeaderEpoch || r.PartitionEpoch != want.PartitionEpoch || !slices.Equal(r.ISR, want.ISR) {
		t.Errorf("shrink: %+v, want %+v", r, want)
	}
	wantState(t, "shrink", c, "t", 0, pstate{1, 0, 1, []int32{1, 2}})

	// A stale broker epoch refuses the whole request.
	_, err := c.AlterPartition(ctx, 1, epoch(1)-1, []PartitionISRRequest{one(PartitionISRRequest{NewISR: []int32{1}, PartitionEpoch: 1})})
	wantCode(t, "stale broker epoch", err, kerr.StaleBrokerEpoch)
	_, err = c.AlterPartition(ctx, 9, 0, nil)
	wantCode(t, "unregistered broker", err, kerr.StaleBrokerEpoch)

	offset := c.Image().Offset
	for _, tc := range []struct {
		name   string
		broker int32
		req    PartitionISRRequest
		code   *kerr.Error
	}{
		{"unknown topic", 1, PartitionISRRequest{Topic: "nope", NewISR: []int32{1}}, kerr.UnknownTopicOrPartition},
		{"unknown topic id", 1, PartitionISRRequest{ByID: true, TopicID: metadata.UUID{9}, NewISR: []int32{1}}, kerr.UnknownTopicID},
		{"zero topic id", 1, PartitionISRRequest{ByID: true, NewISR: []int32{1}}, kerr.UnknownTopicID},
		{"unknown partition", 1, PartitionISRRequest{Partition: 3, NewISR: []int32{1}}, kerr.UnknownTopicOrPartition},
		{"negative partition", 1, PartitionISRRequest{Partition: -1, NewISR: []int32{1}}, kerr.UnknownTopicOrPartition},
		{"newer leader epoch", 1, PartitionISRRequest{LeaderEpoch: 1, PartitionEpoch: 1, NewISR: []int32{1}}, kerr.NotController},
		{"newer partition epoch", 1, PartitionISRRequest{PartitionEpoch: 2, NewISR: []int32{1}}, kerr.NotController},
		{"not the leader", 2, PartitionISRRequest{PartitionEpoch: 1, NewISR: []int32{1, 2}}, kerr.InvalidRequest},
		{"older partition epoch", 1, PartitionISRRequest{PartitionEpoch: 0, NewISR: []int32{1}}, kerr.InvalidUpdateVersion},
		{"without the leader", 1, PartitionISRRequest{PartitionEpoch: 1, NewISR: []int32{2, 3}}, kerr.InvalidRequest},
		{"empty", 1, PartitionISRRequest{PartitionEpoch: 1, NewISR: []int32{}}, kerr.InvalidRequest},
		{"twice", 1, PartitionISRRequest{PartitionEpoch: 1, NewISR: []int32{1, 1}}, kerr.InvalidRequest},
		{"not assigned", 1, PartitionISRRequest{PartitionEpoch: 1, NewISR: []int32{1, 4}}, kerr.InvalidRequest},
		{"recovering", 1, PartitionISRRequest{PartitionEpoch: 1, NewISR: []int32{1}, LeaderRecoveryState: 1}, kerr.InvalidRequest},
		{"fenced replica", 1, PartitionISRRequest{Partition: 1, PartitionEpoch: 1, NewISR: []int32{1, 2, 4}}, kerr.IneligibleReplica},
		{"shutting-down replica", 1, PartitionISRRequest{Partition: 2, PartitionEpoch: 1, NewISR: []int32{1, 2, 5}}, kerr.IneligibleReplica},
		{"other broker epoch", 1, PartitionISRRequest{PartitionEpoch: 1, NewISR: []int32{1, 2, 3}, NewISREpochs: []int64{-1, -1, epoch(3) + 1}}, kerr.IneligibleReplica},
	} {
		res := alter(tc.broker, tc.req)
		wantCode(t, tc.name, res[0].Err, tc.code)
	}
	if got := c.Image().Offset; got != offset {
		t.Errorf("refused changes committed: offset %d, want %d", got, offset)
	}

	// Grow back, the epochs checked (-1: unchecked); by topic id.
	res = alter(1, PartitionISRRequest{ByID: true, TopicID: tp.ID, PartitionEpoch: 1, NewISR: []int32{1, 2, 3}, NewISREpochs: []int64{epoch(1), -1, epoch(3)}})
	wantCode(t, "grow", res[0].Err, nil)
	wantState(t, "grow", c, "t", 0, pstate{1, 0, 2, []int32{1, 2, 3}})

	// The same ISR commits nothing and answers the current state.
	offset = c.Image().Offset
	res = alter(1, PartitionISRRequest{PartitionEpoch: 2, NewISR: []int32{1, 2, 3}})
	if r := res[0]; r.Err != nil || r.PartitionEpoch != 2 || !slices.Equal(r.ISR, []int32{1, 2, 3}) || c.Image().Offset != offset {
		t.Errorf("no-op: %+v, offset %d (was %d)", r, c.Image().Offset, offset)
	}

	// Two changes of one partition in one request: the second meets the
	// first's partition epoch; other partitions commit with the first.
	res = alter(1,
		PartitionISRRequest{PartitionEpoch: 2, NewISR: []int32{1, 3}},
		PartitionISRRequest{PartitionEpoch: 2, NewISR: []int32{1}},
		PartitionISRRequest{Partition: 1, PartitionEpoch: 1, NewISR: []int32{1}})
	wantCode(t, "first of two", res[0].Err, nil)
	wantCode(t, "second of two", res[1].Err, kerr.InvalidUpdateVersion)
	wantCode(t, "other partition", res[2].Err, nil)
	wantState(t, "first of two", c, "t", 0, pstate{1, 0, 3, []int32{1, 3}})
	wantState(t, "other partition", c, "t", 1, pstate{1, 0, 2, []int32{1}})
	if got := c.Image().Offset; got != offset+1 {
		t.Errorf("one request committed %d entries, want 1", got-offset)
	}

	// Leadership moves (broker 1 fenced): its late request has an old
	// leader epoch.
	heartbeat(t, c, 1, true, false)
	wantState(t, "leader fenced", c, "t", 0, pstate{3, 1, 4, []int32{3}})
	res = alter(1, PartitionISRRequest{PartitionEpoch: 3, NewISR: []int32{1}})
	wantCode(t, "old leader epoch", res[0].Err, kerr.FencedLeaderEpoch)

	// Not the active controller.
	c.active.Store(false)
	_, err = c.AlterPartition(ctx, 3, epoch(3), nil)
	c.active.Store(true)
	wantCode(t, "not active", err, kerr.NotController)
}

// TestISROnBrokerStateChanges: a fenced broker and one in controlled
// shutdown leave every ISR, but never empty one; leadership goes to the
// next live ISR member in replica order, or nowhere (-1); a returning
// broker leads again only where it is the ISR.
func TestISROnBrokerStateChanges(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, racked(3)...)
	createAssigned(t, c, "t", nil, []int32{1, 2, 3}, []int32{2, 3, 1})
	for _, step := range []struct {
		what   string
		do     func()
		p0, p1 pstate
	}{
		{"created", func() {}, pstate{1, 0, 0, []int32{1, 2, 3}}, pstate{2, 0, 0, []int32{2, 3, 1}}},
		{"1 fenced", func() { heartbeat(t, c, 1, true, false) },
			pstate{2, 1, 1, []int32{2, 3}}, pstate{2, 0, 1, []int32{2, 3}}},
		{"1 unfenced: not in the ISR", func() { heartbeat(t, c, 1, false, false) },
			pstate{2, 1, 1, []int32{2, 3}}, pstate{2, 0, 1, []int32{2, 3}}},
		{"2 in controlled shutdown", func() { heartbeat(t, c, 2, false, true) },
			pstate{3, 2, 2, []int32{3}}, pstate{3, 1, 2, []int32{3}}},
		{"2 done", func() { heartbeat(t, c, 2, false, true) },
			pstate{3, 2, 2, []int32{3}}, pstate{3, 1, 2, []int32{3}}},
		{"3 fenced: the last ISR member stays", func() { heartbeat(t, c, 3, true, false) },
			pstate{-1, 3, 3, []int32{3}}, pstate{-1, 2, 3, []int32{3}}},
		{"2 restarted: not in the ISR", func() { reregister(t, c, 2) },
			pstate{-1, 3, 3, []int32{3}}, pstate{-1, 2, 3, []int32{3}}},
		{"3 unfenced: leads again", func() { heartbeat(t, c, 3, false, false) },
			pstate{3, 4, 4, []int32{3}}, pstate{3, 3, 4, []int32{3}}},
	} {
		step.do()
		wantState(t, step.what, c, "t", 0, step.p0)
		wantState(t, step.what, c, "t", 1, step.p1)
	}
	if b := c.Image().Brokers[2]; b.Fenced || b.ShuttingDown {
		t.Errorf("broker 2 after restart: %+v", b)
	}
}

// TestUncleanElection: with no live ISR member, a partition gets its first
// live replica as leader and sole ISR member when its topic allows unclean
// elections: the topic's override, else this node's dynamic config, else
// the cluster-wide dynamic default, else the static config. Enabling it
// dynamically elects at once.
func TestUncleanElection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := openCluster(t, Config{}, racked(3)...)
	on := map[string]string{uncleanKey: "TRUE"}
	createAssigned(t, c, "dirty", on, []int32{1, 2, 3})
	createAssigned(t, c, "clean", nil, []int32{1, 2, 3})
	createAssigned(t, c, "never", map[string]string{uncleanKey: "false"}, []int32{1, 2, 3})
	createAssigned(t, c, "pair", on, []int32{1, 2})

	// The leader of "pair" drops 2 from its ISR; when 1 is fenced, 2 is
	// elected in the same decision.
	res, err := c.AlterPartition(ctx, 1, c.Image().Brokers[1].Epoch, []PartitionISRRequest{{Topic: "pair", NewISR: []int32{1}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	heartbeat(t, c, 1, true, false)
	wantState(t, "pair: leader fenced", c, "pair", 0, pstate{2, 1, 2, []int32{2}})

	heartbeat(t, c, 2, true, false)
	heartbeat(t, c, 3, true, false)
	for _, name := range []string{"dirty", "clean", "never"} {
		wantState(t, "all fenced", c, name, 0, pstate{-1, 3, 3, []int32{3}})
	}
	heartbeat(t, c, 1, false, false)
	wantState(t, "1 back", c, "dirty", 0, pstate{1, 4, 4, []int32{1}})
	wantState(t, "1 back", c, "clean", 0, pstate{-1, 3, 3, []int32{3}})
	wantState(t, "1 back", c, "never", 0, pstate{-1, 3, 3, []int32{3}})

	set := func(k, v string) func(map[string]string) (map[string]string, error) {
		return func(cur map[string]string) (map[string]string, error) { cur[k] = v; return cur, nil }
	}
	// The cluster-wide default: "never" keeps its override.
	if err := c.AlterBrokerConfig(ctx, nil, false, set(uncleanKey, "true")); err != nil {
		t.Fatal(err)
	}
	wantState(t, "cluster default", c, "clean", 0, pstate{1, 4, 4, []int32{1}})
	wantState(t, "cluster default", c, "never", 0, pstate{-1, 3, 3, []int32{3}})
	// The topic's own change.
	if err := c.AlterTopicConfig(ctx, "never", false, set(uncleanKey, "true")); err != nil {
		t.Fatal(err)
	}
	wantState(t, "topic config", c, "never", 0, pstate{1, 4, 4, []int32{1}})

	// This node's dynamic config beats the cluster default, the static
	// config comes last.
	for _, tc := range []struct {
		static          bool
		node, dflt, top string // "": unset
		want            bool
	}{
		{false, "", "", "", false},
		{true, "", "", "", true},
		{true, "", "false", "", false},
		{false, "true", "false", "", true},
		{false, "false", "true", "", false},
		{true, "true", "true", "false", false},
		{false, "", "", " True ", true},
	} {
		img := metadata.Empty("c", 100)
		put := func(m map[string]string, v string) map[string]string {
			if v != "" {
				m[uncleanKey] = v
			}
			return m
		}
		img.BrokerConfigs = map[int32]map[string]string{100: put(map[string]string{}, tc.node)}
		img.DefaultBrokerConfigs = put(map[string]string{}, tc.dflt)
		ctl := &Controller{cfg: Config{NodeID: 100, UncleanLeaderElection: tc.static}}
		if got := ctl.uncleanEnabled(img, &metadata.Topic{Configs: put(map[string]string{}, tc.top)}); got != tc.want {
			t.Errorf("%+v: %v", tc, got)
		}
	}
}

// TestElectLeaders: PREFERRED and UNCLEAN elections with Kafka's
// per-partition errors; all partitions when none are named.
func TestElectLeaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := openCluster(t, Config{}, racked(3)...)
	createAssigned(t, c, "t", nil, []int32{1, 2, 3}, []int32{2, 3, 1}, []int32{3, 1, 2})
	createAssigned(t, c, "solo", nil, []int32{3})
	// 1 fenced and back: p0 is led by 2, 1 is in no ISR.
	heartbeat(t, c, 1, true, false)
	heartbeat(t, c, 1, false, false)
	wantState(t, "1 back", c, "t", 0, pstate{2, 1, 1, []int32{2, 3}})

	type res struct {
		topic string
		part  int32
		code  int16
		msg   string
	}
	flatten := func(rs []ElectResult) []res {
		var out []res
		for _, r := range rs {
			if len(r.Partitions) == 0 {
				out = append(out, res{r.Topic, -1, 0, ""})
			}
			for _, p := range r.Partitions {
				x := res{r.Topic, p.Partition, 0, ""}
				var ke *kerr.Error
				if errors.As(p.Err, &ke) {
					x.code, x.msg = ke.Code, p.Err.Error()
				}
				out = append(out, x)
			}
		}
		return out
	}
	elect := func(typ int8, topics []ElectTopic, want ...res) {
		t.Helper()
		got, err := c.ElectLeaders(ctx, typ, topics)
		if err != nil {
			t.Fatalf("elect: %v", err)
		}
		if g := flatten(got); !slices.Equal(g, want) {
			t.Errorf("elect %d %v:\n got %v\nwant %v", typ, topics, g, want)
		}
	}
	notAvail := res{"t", 0, kerr.PreferredLeaderNotAvailable.Code, msgPreferredNotAvail}
	elect(ElectPreferred, []ElectTopic{{"t", []int32{0, 1, 7}}, {"nope", []int32{0}}},
		notAvail,
		res{"t", 1, kerr.ElectionNotNeeded.Code, msgElectionNotNeeded},
		res{"t", 7, kerr.UnknownTopicOrPartition.Code, "No such partition as t-7"},
		res{"nope", 0, kerr.UnknownTopicOrPartition.Code, "No such topic as nope"})
	// All partitions: only those that needed an election, every topic listed.
	elect(ElectPreferred, nil, res{"solo", -1, 0, ""}, notAvail)

	// Once 1 is back in the ISR, the preferred election moves p0 to it.
	st := stateOf(t, c, "t", 0)
	if _, err := c.AlterPartition(ctx, 2, c.Image().Brokers[2].Epoch, []PartitionISRRequest{{Topic: "t",
		LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.PartitionEpoch, NewISR: []int32{2, 3, 1}}}); err != nil {
		t.Fatal(err)
	}
	elect(ElectPreferred, []ElectTopic{{"t", []int32{0, 0}}}, res{"t", 0, 0, ""},
		res{"t", 0, kerr.ElectionNotNeeded.Code, msgElectionNotNeeded})
	wantState(t, "preferred", c, "t", 0, pstate{1, 2, 3, []int32{2, 3, 1}})

	// UNCLEAN: not needed while a partition has a leader; else the first
	// live replica, whatever the topic config.
	elect(ElectUnclean, []ElectTopic{{"t", []int32{2}}}, res{"t", 2, kerr.ElectionNotNeeded.Code, msgElectionNotNeeded})
	heartbeat(t, c, 3, true, false)
	wantState(t, "3 fenced", c, "solo", 0, pstate{-1, 1, 1, []int32{3}})
	elect(ElectUnclean, []ElectTopic{{"solo", []int32{0}}}, res{"solo", 0, kerr.EligibleLeadersNotAvailable.Code, msgEligibleNotAvail})
	heartbeat(t, c, 1, true, false)
	heartbeat(t, c, 2, true, false)
	wantState(t, "all fenced", c, "t", 1, pstate{-1, 1, 3, []int32{2}})
	// 3 back: it leads "solo" again (its ISR), not "t" (unclean elections
	// are off for it).
	heartbeat(t, c, 3, false, false)
	wantState(t, "3 back", c, "t", 1, pstate{-1, 1, 3, []int32{2}})
	wantState(t, "3 back", c, "solo", 0, pstate{3, 2, 2, []int32{3}})
	elect(ElectUnclean, nil, res{"solo", -1, 0, ""}, res{"t", 0, 0, ""}, res{"t", 1, 0, ""}, res{"t", 2, 0, ""})
	wantState(t, "unclean", c, "t", 1, pstate{3, 2, 4, []int32{3}})

	_, err := c.ElectLeaders(ctx, 2, nil)
	wantError(t, "election type 2", err, kerr.InvalidRequest, "Unknown election type 2")
	got, err := c.ElectLeaders(ctx, ElectPreferred, []ElectTopic{})
	if err != nil || len(got) != 0 {
		t.Errorf("no topics: %v, %v", got, err)
	}
}

// TestBalanceLeaders: the leader balancing moves every partition whose
// first replica is a live ISR member back to it, and leaves the others;
// with an interval set the active controller runs it by itself.
func TestBalanceLeaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := openCluster(t, Config{}, racked(3)...)
	createAssigned(t, c, "t", nil, []int32{1, 2, 3}, []int32{2, 1, 3}, []int32{3, 1, 2})
	heartbeat(t, c, 1, true, false)
	heartbeat(t, c, 1, false, false)
	// p0 went to 2; 1 is in no ISR. Let 1 back into p0's ISR only.
	st := stateOf(t, c, "t", 0)
	if _, err := c.AlterPartition(ctx, 2, c.Image().Brokers[2].Epoch, []PartitionISRRequest{{Topic: "t",
		LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.PartitionEpoch, NewISR: []int32{2, 3, 1}}}); err != nil {
		t.Fatal(err)
	}
	// Controlled shutdown of 3 and its restart: p2 went to 2 and 3 is in
	// no ISR.
	shutDown(t, c, 3)
	reregister(t, c, 3)
	wantState(t, "before", c, "t", 0, pstate{2, 1, 3, []int32{2, 1}})
	wantState(t, "before", c, "t", 2, pstate{2, 1, 2, []int32{2}})
	n, err := c.BalanceLeaders(ctx)
	if err != nil || n != 1 {
		t.Errorf("balance: %d, %v; want 1 moved", n, err)
	}
	wantState(t, "balanced", c, "t", 0, pstate{1, 2, 4, []int32{2, 1}})
	wantState(t, "balanced", c, "t", 1, pstate{2, 0, 2, []int32{2}})
	wantState(t, "not movable", c, "t", 2, pstate{2, 1, 2, []int32{2}})
	if n, err := c.BalanceLeaders(ctx); err != nil || n != 0 {
		t.Errorf("second pass: %d, %v; want 0", n, err)
	}

	t.Run("periodic", func(t *testing.T) {
		t.Parallel()
		c := openCluster(t, Config{LeaderImbalanceCheckInterval: 10 * time.Millisecond}, racked(2)...)
		createAssigned(t, c, "t", nil, []int32{1, 2})
		shutDown(t, c, 1)
		wantState(t, "shut down", c, "t", 0, pstate{2, 1, 1, []int32{2}})
		reregister(t, c, 1)
		st := stateOf(t, c, "t", 0)
		if _, err := c.AlterPartition(ctx, 2, c.Image().Brokers[2].Epoch, []PartitionISRRequest{{Topic: "t",
			LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.PartitionEpoch, NewISR: []int32{2, 1}}}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for stateOf(t, c, "t", 0).Leader != 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		wantState(t, "balanced", c, "t", 0, pstate{1, 2, 3, []int32{2, 1}})
	})
}

// TestUncleanElectionOnActivation: a newly active controller makes the
// elections its own static unclean.leader.election.enable allows, which
// its predecessor's did not.
func TestUncleanElectionOnActivation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := openCluster(t, Config{}, racked(2)...)
	createAssigned(t, c, "t", nil, []int32{1, 2})
	if _, err := c.AlterPartition(ctx, 1, c.Image().Brokers[1].Epoch, []PartitionISRRequest{{Topic: "t", NewISR: []int32{1}}}); err != nil {
		t.Fatal(err)
	}
	heartbeat(t, c, 1, true, false)
	wantState(t, "1 fenced", c, "t", 0, pstate{-1, 1, 2, []int32{1}})
	cfg := c.cfg
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.UncleanLeaderElection = true
	c, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.WaitActive(wctx); err != nil {
		t.Fatal(err)
	}
	for stateOf(t, c, "t", 0).Leader != 2 && wctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	wantState(t, "reopened", c, "t", 0, pstate{2, 2, 3, []int32{2}})
}
