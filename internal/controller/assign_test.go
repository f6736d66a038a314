package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// testBroker is a broker openCluster registers.
type testBroker struct {
	id           int32
	rack         string // "": none
	fenced       bool   // registered, never heartbeated
	shuttingDown bool   // unfenced, then asked for a controlled shutdown
}

// openCluster opens a one-node quorum (node 100, not a broker itself) and
// registers brokers in it, the unfenced ones caught up as a broker's first
// heartbeat reports. Sessions last an hour, so none is fenced meanwhile.
func openCluster(t *testing.T, cfg Config, brokers ...testBroker) *Controller {
	t.Helper()
	cfg.DataDir, cfg.NodeID, cfg.ClusterID, cfg.SessionTimeout = t.TempDir(), 100, "c", time.Hour
	c, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitActive(ctx); err != nil {
		t.Fatal(err)
	}
	for _, b := range brokers {
		reg := Registration{NodeID: b.id, Incarnation: metadata.NewUUID(), Host: "h", Port: 9092 + b.id,
			MaxMetadataVersion: metadata.MaxMetadataVersion}
		if b.rack != "" {
			reg.Rack = &b.rack
		}
		epoch, err := c.RegisterBroker(ctx, reg)
		if err != nil {
			t.Fatal(err)
		}
		if b.fenced {
			continue
		}
		hb := Heartbeat{NodeID: b.id, Epoch: epoch, MetadataOffset: epoch}
		if _, err := c.BrokerHeartbeat(ctx, hb); err != nil {
			t.Fatal(err)
		}
		if b.shuttingDown {
			hb.WantShutDown = true
			if _, err := c.BrokerHeartbeat(ctx, hb); err != nil {
				t.Fatal(err)
			}
		}
	}
	img := c.Image()
	for _, b := range brokers {
		got := img.Brokers[b.id]
		if got.Fenced != b.fenced || got.ShuttingDown != b.shuttingDown {
			t.Fatalf("broker %d: fenced %v, shutting down %v; want %v, %v", b.id, got.Fenced, got.ShuttingDown, b.fenced, b.shuttingDown)
		}
	}
	return c
}

// racked returns brokers 1..n, broker i in rack racks[(i-1)%len(racks)].
func racked(n int, racks ...string) []testBroker {
	out := make([]testBroker, n)
	for i := range out {
		out[i] = testBroker{id: int32(i + 1)}
		if len(racks) > 0 {
			out[i].rack = racks[i%len(racks)]
		}
	}
	return out
}

// create creates one topic and returns its replica lists.
func create(t *testing.T, c *Controller, name string, n int32, rf int16) [][]int32 {
	t.Helper()
	_, errs := c.CreateTopics(context.Background(), []TopicSpec{{Name: name, NumPartitions: n, ReplicationFactor: rf}}, false)
	if errs[0] != nil {
		t.Fatalf("create %s: %v", name, errs[0])
	}
	return replicasOf(t, c, name)
}

func replicasOf(t *testing.T, c *Controller, name string) [][]int32 {
	t.Helper()
	tp := c.Image().Topics[name]
	if tp == nil {
		t.Fatalf("topic %s does not exist", name)
	}
	out := make([][]int32, len(tp.Partitions))
	for i, p := range tp.Partitions {
		out[i] = p.Replicas
	}
	return out
}

// wantError checks err's code and message.
func wantError(t *testing.T, what string, err error, code *kerr.Error, msg string) {
	t.Helper()
	var e *Error
	if !errors.Is(err, code) || !errors.As(err, &e) || e.Message != msg {
		t.Errorf("%s: %v; want %s: %s", what, err, code.Message, msg)
	}
}

// TestCreateTopicsRackAware: six brokers in three racks. Every partition
// of a replication factor 3 topic spans the three racks, each broker leads
// and holds equally many, and the next topic's rotation starts one broker
// further.
func TestCreateTopicsRackAware(t *testing.T) {
	t.Parallel()
	// Rack-alternated list: 1 (a), 2 (b), 3 (c), 4 (a), 5 (b), 6 (c).
	c := openCluster(t, Config{}, racked(6, "a", "b", "c")...)
	rackOf := map[int32]string{1: "a", 2: "b", 3: "c", 4: "a", 5: "b", 6: "c"}
	for _, tc := range []struct {
		name string
		n    int32
		want [][]int32
	}{
		// Kafka's pattern: leaders along the list, followers next to
		// them, the shift growing by one rack after the first round.
		{"first", 12, [][]int32{{1, 2, 3}, {2, 3, 4}, {3, 4, 5}, {4, 5, 6}, {5, 6, 1}, {6, 1, 2},
			{1, 5, 6}, {2, 6, 1}, {3, 1, 2}, {4, 2, 3}, {5, 3, 4}, {6, 4, 5}}},
		// The second topic starts at broker 2.
		{"second", 4, [][]int32{{2, 6, 1}, {3, 4, 5}, {4, 2, 3}, {5, 6, 1}}},
	} {
		got := create(t, c, tc.name, tc.n, 3)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got  %v\nwant %v", tc.name, got, tc.want)
		}
		leads, holds := map[int32]int{}, map[int32]int{}
		for p, rs := range got {
			racks := map[string]bool{}
			for _, r := range rs {
				racks[rackOf[r]] = true
				holds[r]++
			}
			if len(racks) != 3 {
				t.Errorf("%s: partition %d on %v spans racks %v", tc.name, p, rs, racks)
			}
			leads[rs[0]]++
		}
		if lo, hi := countSpread(leads, []int32{1, 2, 3, 4, 5, 6}); hi-lo > 1 {
			t.Errorf("%s: leaders per broker %v", tc.name, leads)
		}
		if lo, hi := countSpread(holds, []int32{1, 2, 3, 4, 5, 6}); lo != hi {
			t.Errorf("%s: replicas per broker %v", tc.name, holds)
		}
	}
}

// TestCreateTopicsSomeRacks: as in KRaft, brokers without a rack form a
// rack of their own rather than making the placement fail (Kafka's
// AdminUtils refused: "Not all brokers have rack information").
func TestCreateTopicsSomeRacks(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, testBroker{id: 1, rack: "a"}, testBroker{id: 2, rack: "a"}, testBroker{id: 3})
	got := create(t, c, "t", 3, 2)
	// Rack-alternated list 3 (no rack), 1 (a), 2 (a): every partition has
	// broker 3 and one of rack a.
	if want := [][]int32{{3, 1}, {1, 3}, {2, 3}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestCreateTopicsLeadersSpread: successive topics, and the topics of one
// request, take turns at partition 0 and leadership; leaders stay within
// one of each other per broker over many topics of mixed sizes; after a
// deletion the brokers leading least lead first.
func TestCreateTopicsLeadersSpread(t *testing.T) {
	t.Parallel()
	t.Run("one-partition topics", func(t *testing.T) {
		t.Parallel()
		c := openCluster(t, Config{}, racked(5)...)
		var got [][]int32
		for i := range 7 {
			got = append(got, create(t, c, fmt.Sprint("t", i), 1, 2)[0])
		}
		// Leaders take turns; the followers' shift moves with the
		// topic count, as Kafka's random one does.
		want := [][]int32{{1, 2}, {2, 4}, {3, 1}, {4, 3}, {5, 1}, {1, 3}, {2, 5}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %v\nwant %v", got, want)
		}
	})
	t.Run("full rounds", func(t *testing.T) {
		t.Parallel()
		// Topics of a multiple of the broker count still start on
		// successive brokers.
		c := openCluster(t, Config{}, racked(3)...)
		var starts []int32
		for i := range 4 {
			starts = append(starts, create(t, c, fmt.Sprint("t", i), 3, 1)[0][0])
		}
		if want := []int32{1, 2, 3, 1}; !slices.Equal(starts, want) {
			t.Errorf("partition 0 leaders %v, want %v", starts, want)
		}
	})
	t.Run("one request", func(t *testing.T) {
		t.Parallel()
		c := openCluster(t, Config{}, racked(3)...)
		_, errs := c.CreateTopics(context.Background(), []TopicSpec{
			{Name: "a", NumPartitions: 2, ReplicationFactor: 1},
			{Name: "bad", NumPartitions: 2, ReplicationFactor: 4},
			{Name: "b", NumPartitions: 2, ReplicationFactor: 1},
		}, false)
		if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], kerr.InvalidReplicationFactor) {
			t.Fatal(errs)
		}
		// b's rotation starts at broker 2 (a counts, the refused topic
		// does not); its second partition goes to 3, which leads least.
		if a, b := replicasOf(t, c, "a"), replicasOf(t, c, "b"); !reflect.DeepEqual(a, [][]int32{{1}, {2}}) || !reflect.DeepEqual(b, [][]int32{{2}, {3}}) {
			t.Errorf("a %v, b %v", a, b)
		}
	})
	t.Run("after a deletion", func(t *testing.T) {
		t.Parallel()
		c := openCluster(t, Config{}, racked(3)...)
		create(t, c, "x", 3, 1)
		create(t, c, "y", 1, 1) // led by 2
		if _, errs := c.DeleteTopics(context.Background(), []string{"x"}, nil); errs[0] != nil {
			t.Fatal(errs[0])
		}
		if got, want := create(t, c, "z", 2, 1), [][]int32{{3}, {1}}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("many topics", func(t *testing.T) {
		t.Parallel()
		c := openCluster(t, Config{}, racked(6, "a", "b", "c")...)
		ids := []int32{1, 2, 3, 4, 5, 6}
		leads, starts := map[int32]int{}, map[int32]int{}
		for i := range 40 {
			name := fmt.Sprint("t", i)
			rs := create(t, c, name, int32(1+i*5%9), 3)
			starts[rs[0][0]]++
			for p, r := range rs {
				leads[r[0]]++
				if r[0]%3 == r[1]%3 || r[1]%3 == r[2]%3 || r[0]%3 == r[2]%3 {
					t.Fatalf("%s partition %d on %v: a rack twice", name, p, r)
				}
			}
			if lo, hi := countSpread(leads, ids); hi-lo > 1 {
				t.Fatalf("after %s: leaders per broker %v", name, leads)
			}
		}
		holds := map[int32]int{}
		for _, tp := range c.Image().Topics {
			for _, p := range tp.Partitions {
				for _, r := range p.Replicas {
					holds[r]++
				}
			}
		}
		// The exact answers of this deterministic placer: every broker
		// starts some topics, and holds within 4 of the others' replicas
		// over 588 (replicas are balanced per topic, not across topics).
		if want := map[int32]int{1: 7, 2: 7, 3: 7, 4: 5, 5: 8, 6: 6}; !maps.Equal(starts, want) {
			t.Errorf("partition 0 leaders per broker %v, want %v", starts, want)
		}
		if want := map[int32]int{1: 99, 2: 96, 3: 98, 4: 97, 5: 100, 6: 98}; !maps.Equal(holds, want) {
			t.Errorf("replicas per broker %v, want %v", holds, want)
		}
	})
}

// TestCreateTopicsUnusableBrokers: fenced brokers and brokers in a
// controlled shutdown get no replicas, and a replication factor above the
// rest is refused with KRaft's error.
func TestCreateTopicsUnusableBrokers(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, testBroker{id: 1}, testBroker{id: 2}, testBroker{id: 3},
		testBroker{id: 4, fenced: true}, testBroker{id: 5, shuttingDown: true})
	for p, rs := range create(t, c, "t", 6, 3) {
		if slices.Contains(rs, 4) || slices.Contains(rs, 5) {
			t.Errorf("partition %d on %v", p, rs)
		}
	}
	for _, validateOnly := range []bool{false, true} {
		_, errs := c.CreateTopics(context.Background(), []TopicSpec{{Name: "rf4", NumPartitions: 1, ReplicationFactor: 4}}, validateOnly)
		wantError(t, fmt.Sprint("rf 4, validate only ", validateOnly), errs[0], kerr.InvalidReplicationFactor,
			"Unable to replicate the partition 4 time(s): The target replication factor of 4 cannot be reached because only 3 broker(s) are registered and unfenced.")
	}

	fenced := openCluster(t, Config{}, testBroker{id: 1, fenced: true})
	_, errs := fenced.CreateTopics(context.Background(), []TopicSpec{{Name: "t", NumPartitions: 1, ReplicationFactor: 1}}, false)
	wantError(t, "all fenced", errs[0], kerr.InvalidReplicationFactor, "Unable to replicate the partition 1 time(s): All brokers are currently fenced.")
}

// TestCreateTopicsCounts: -1 takes the broker defaults; other values below
// 1 are refused as KRaft refuses them, the replication factor first.
func TestCreateTopicsCounts(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{DefaultPartitions: 4, DefaultReplicationFactor: 2}, racked(3)...)
	out, errs := c.CreateTopics(context.Background(), []TopicSpec{{Name: "d", NumPartitions: -1, ReplicationFactor: -1}}, false)
	if errs[0] != nil || out[0].NumPartitions != 4 || out[0].ReplicationFactor != 2 {
		t.Fatalf("defaults: %+v, %v", out[0], errs[0])
	}
	if rs := replicasOf(t, c, "d"); len(rs) != 4 || len(rs[0]) != 2 {
		t.Errorf("defaults: %v", rs)
	}
	const badRF = "Replication factor must be larger than 0, or -1 to use the default value."
	const badN = "Number of partitions was set to an invalid non-positive value."
	for _, tc := range []struct {
		n    int32
		rf   int16
		code *kerr.Error
		msg  string
	}{
		{1, 0, kerr.InvalidReplicationFactor, badRF},
		{1, -2, kerr.InvalidReplicationFactor, badRF},
		{0, 0, kerr.InvalidReplicationFactor, badRF},
		{0, 1, kerr.InvalidPartitions, badN},
		{-2, -1, kerr.InvalidPartitions, badN},
	} {
		_, errs := c.CreateTopics(context.Background(), []TopicSpec{{Name: "bad", NumPartitions: tc.n, ReplicationFactor: tc.rf}}, false)
		wantError(t, fmt.Sprintf("n %d rf %d", tc.n, tc.rf), errs[0], tc.code, tc.msg)
	}

	small := openCluster(t, Config{DefaultPartitions: 1, DefaultReplicationFactor: 3}, racked(2)...)
	_, errs = small.CreateTopics(context.Background(), []TopicSpec{{Name: "d", NumPartitions: -1, ReplicationFactor: -1}}, false)
	wantError(t, "default rf above brokers", errs[0], kerr.InvalidReplicationFactor,
		"Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 2 broker(s) are registered and unfenced.")
}

// TestCreateTopicsExplicit: a manual assignment is taken as given, fenced
// brokers included (a live replica leads), and checked as KRaft checks it.
func TestCreateTopicsExplicit(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, testBroker{id: 1}, testBroker{id: 2}, testBroker{id: 3},
		testBroker{id: 4, fenced: true}, testBroker{id: 5, shuttingDown: true})
	ctx := context.Background()
	want := [][]int32{{3, 1}, {3, 2}, {4, 1}}
	out, errs := c.CreateTopics(ctx, []TopicSpec{{Name: "manual", NumPartitions: -1, ReplicationFactor: -1, Assignments: want}}, false)
	if errs[0] != nil || out[0].NumPartitions != 3 || out[0].ReplicationFactor != 2 {
		t.Fatalf("%+v, %v", out[0], errs[0])
	}
	if got := replicasOf(t, c, "manual"); !reflect.DeepEqual(got, want) {
		t.Errorf("replicas %v, want %v", got, want)
	}
	if l := c.Image().Topics["manual"].Partitions[2].Leader; l != 1 {
		t.Errorf("partition 2 on fenced 4 and 1: leader %d, want 1", l)
	}

	for _, tc := range []struct {
		name   string
		n      int32
		rf     int16
		assign [][]int32
		code   *kerr.Error
		msg    string
	}{
		{"with a replication factor", -1, 2, [][]int32{{1, 2}}, kerr.InvalidRequest,
			"A manual partition assignment was specified, but replication factor was not set to -1."},
		{"with a partition count", 1, -1, [][]int32{{1, 2}}, kerr.InvalidRequest,
			"A manual partition assignment was specified, but numPartitions was not set to -1."},
		{"empty list", -1, -1, [][]int32{{1}, {}}, kerr.InvalidReplicaAssignment,
			"The manual partition assignment includes an empty replica list."},
		{"unknown broker", -1, -1, [][]int32{{1, 9}}, kerr.InvalidReplicaAssignment,
			"The manual partition assignment includes broker 9, but no such broker is registered."},
		{"broker twice", -1, -1, [][]int32{{2, 1, 2}}, kerr.InvalidReplicaAssignment,
			"The manual partition assignment includes the broker 2 more than once."},
		{"uneven lists", -1, -1, [][]int32{{1, 2}, {3}}, kerr.InvalidReplicaAssignment,
			"The manual partition assignment includes a partition with 1 replica(s), but this is not consistent with previous partitions, which have 2 replica(s)."},
		{"no live replica", -1, -1, [][]int32{{1, 2}, {4, 5}}, kerr.InvalidReplicaAssignment,
			"All brokers specified in the manual partition assignment for partition 1 are fenced or in controlled shutdown."},
	} {
		_, errs := c.CreateTopics(ctx, []TopicSpec{{Name: "bad", NumPartitions: tc.n, ReplicationFactor: tc.rf, Assignments: tc.assign}}, false)
		wantError(t, tc.name, errs[0], tc.code, tc.msg)
	}
	if c.Image().Topics["bad"] != nil {
		t.Error("a refused topic exists")
	}
}

// TestCreatePartitions: new partitions are placed by the same placer,
// continuing the topic's rotation and rack-aware, or taken as given, with
// KRaft's checks.
func TestCreatePartitions(t *testing.T) {
	t.Parallel()
	c := openCluster(t, Config{}, racked(6, "a", "b", "c")...)
	ctx := context.Background()
	create(t, c, "other", 1, 1) // led by 1; t starts at 2
	if got, want := create(t, c, "t", 4, 3), [][]int32{{2, 6, 1}, {3, 4, 5}, {4, 2, 3}, {5, 6, 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if err := c.CreatePartitions(ctx, "t", 9, nil, true); err != nil {
		t.Fatal(err)
	}
	if got := replicasOf(t, c, "t"); len(got) != 4 {
		t.Fatalf("validate only added partitions: %v", got)
	}
	if err := c.CreatePartitions(ctx, "t", 9, nil, false); err != nil {
		t.Fatal(err)
	}
	// Partition 4 goes on from partition 0's leader (2): 6, then the
	// rest of the rotation; each partition on the three racks.
	want := [][]int32{{6, 5, 4}, {1, 2, 3}, {2, 6, 1}, {3, 5, 4}, {4, 2, 3}}
	if got := replicasOf(t, c, "t")[4:]; !reflect.DeepEqual(got, want) {
		t.Errorf("added %v, want %v", got, want)
	}

	offset := c.Image().Offset
	for _, tc := range []struct {
		name   string
		total  int32
		assign [][]int32
		code   *kerr.Error
		msg    string
	}{
		{"same count", 9, nil, kerr.InvalidPartitions, "Topic already has 9 partition(s)."},
		{"fewer", 5, nil, kerr.InvalidPartitions, "The topic t currently has 9 partition(s); 5 would not be an increase."},
		{"too few assignments", 11, [][]int32{{1, 2, 3}}, kerr.InvalidReplicaAssignment,
			"Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified."},
		{"another replication factor", 10, [][]int32{{1, 2}}, kerr.InvalidReplicaAssignment,
			"The manual partition assignment includes a partition with 2 replica(s), but this is not consistent with previous partitions, which have 3 replica(s)."},
		{"unknown broker", 10, [][]int32{{1, 2, 7}}, kerr.InvalidReplicaAssignment,
			"The manual partition assignment includes broker 7, but no such broker is registered."},
	} {
		err := c.CreatePartitions(ctx, "t", tc.total, tc.assign, false)
		wantError(t, tc.name, err, tc.code, tc.msg)
	}
	if got := c.Image().Offset; got != offset {
		t.Errorf("refused requests committed: offset %d, want %d", got, offset)
	}
	if err := c.CreatePartitions(ctx, "t", 11, [][]int32{{6, 5, 4}, {1, 3, 2}}, false); err != nil {
		t.Fatal(err)
	}
	if got := replicasOf(t, c, "t")[9:]; !reflect.DeepEqual(got, [][]int32{{6, 5, 4}, {1, 3, 2}}) {
		t.Errorf("explicit partitions %v", got)
	}
}
