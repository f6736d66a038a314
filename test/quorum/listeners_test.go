package quorum

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestClientListeners: brokers with two client listeners (Docker's usual
// INTERNAL/EXTERNAL pair) serve both, register both, replicate over the
// inter-broker one, and answer each client with the addresses of the
// listener it connected to: Metadata, FindCoordinator and DescribeCluster
// alike. Node 3 has no EXTERNAL listener: EXTERNAL clients are not told of
// it, and a partition it leads has no leader for them (LISTENER_NOT_FOUND),
// as Kafka answers.
func TestClientListeners(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nodes := cluster.StartQuorumListeners(t, 3, func(i int) string {
		if i == 2 {
			return "INTERNAL://127.0.0.1:0"
		}
		return "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.2:0"
	}, "listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL", "offsets.topic.num.partitions=1", "offsets.topic.replication.factor=2")
	addrs := map[string]map[int32]string{"INTERNAL": {}, "EXTERNAL": {}}
	for _, n := range nodes {
		id := n.Config().NodeID
		for name := range addrs {
			if a := n.ListenerAddr(name); a != "" {
				addrs[name][id] = a
			}
		}
	}
	if len(addrs["EXTERNAL"]) != 2 || !strings.HasPrefix(addrs["EXTERNAL"][1], "127.0.0.2:") {
		t.Fatalf("EXTERNAL listeners %v", addrs["EXTERNAL"])
	}
	// Every node's image has every broker's listeners, the inter-broker
	// one first, and the inter-broker address as the broker's own.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var bad []string
		for _, n := range nodes {
			for _, id := range []int32{1, 2, 3} {
				b := n.Image().Brokers[id]
				want := []metadata.Endpoint{endpoint("INTERNAL", addrs["INTERNAL"][id])}
				if a, ok := addrs["EXTERNAL"][id]; ok {
					want = append(want, endpoint("EXTERNAL", a))
				}
				if !slices.Equal(b.Listeners, want) || net.JoinHostPort(b.Host, fmt.Sprint(b.Port)) != addrs["INTERNAL"][id] {
					bad = append(bad, fmt.Sprintf("node %d sees broker %d at %s:%d with %v, want %v", n.Config().NodeID, id, b.Host, b.Port, b.Listeners, want))
				}
			}
		}
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(strings.Join(bad, "\n"))
		}
	}

	external, err := kgo.NewClient(kgo.SeedBrokers(addrs["EXTERNAL"][1]))
	if err != nil {
		t.Fatal(err)
	}
	defer external.Close()
	internal, err := kgo.NewClient(kgo.SeedBrokers(addrs["INTERNAL"][1]))
	if err != nil {
		t.Fatal(err)
	}
	defer internal.Close()

	// "split": partition 0 led by node 3, partition 1 by node 1; both
	// replicated on all three over INTERNAL.
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "split", -1, -1
	for _, replicas := range [][]int32{{3, 1, 2}, {1, 2, 3}} {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(len(ct.ReplicaAssignment)), replicas
		ct.ReplicaAssignment = append(ct.ReplicaAssignment, a)
	}
	create.Topics = append(create.Topics, ct)
	cresp, err := create.RequestWith(ctx, internal)
	if err != nil || cresp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create: %v %+v", err, cresp)
	}

	describe := func(cl *kgo.Client, listener string) string {
		t.Helper()
		req := kmsg.NewPtrMetadataRequest()
		topic := "split"
		req.Topics = []kmsg.MetadataRequestTopic{{Topic: &topic}}
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			var brokers []string
			for _, b := range resp.Brokers {
				brokers = append(brokers, fmt.Sprintf("%d@%s", b.NodeID, net.JoinHostPort(b.Host, fmt.Sprint(b.Port))))
			}
			slices.Sort(brokers)
			var parts []string
			for _, p := range resp.Topics[0].Partitions {
				code := "OK"
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					code = err.(*kerr.Error).Message
				}
				parts = append(parts, fmt.Sprintf("%d:leader %d %s", p.Partition, p.Leader, code))
			}
			slices.Sort(parts)
			got := strings.Join(brokers, " ") + " | " + strings.Join(parts, " ")
			if len(resp.Topics[0].Partitions) == 2 && len(resp.Brokers) == len(addrs[listener]) || time.Now().After(deadline) {
				return got
			}
		}
	}
	want := fmt.Sprintf("1@%s 2@%s | 0:leader -1 LISTENER_NOT_FOUND 1:leader 1 OK", addrs["EXTERNAL"][1], addrs["EXTERNAL"][2])
	if got := describe(external, "EXTERNAL"); got != want {
		t.Errorf("metadata through EXTERNAL:\n got %s\nwant %s", got, want)
	}
	want = fmt.Sprintf("1@%s 2@%s 3@%s | 0:leader 3 OK 1:leader 1 OK", addrs["INTERNAL"][1], addrs["INTERNAL"][2], addrs["INTERNAL"][3])
	if got := describe(internal, "INTERNAL"); got != want {
		t.Errorf("metadata through INTERNAL:\n got %s\nwant %s", got, want)
	}

	// DescribeCluster and FindCoordinator answer with the listener's
	// addresses too.
	for _, c := range []struct {
		cl       *kgo.Client
		listener string
	}{{external, "EXTERNAL"}, {internal, "INTERNAL"}} {
		dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, c.cl)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range dc.Brokers {
			if got := net.JoinHostPort(b.Host, fmt.Sprint(b.Port)); got != addrs[c.listener][b.NodeID] {
				t.Errorf("DescribeCluster through %s: broker %d at %s, want %s", c.listener, b.NodeID, got, addrs[c.listener][b.NodeID])
			}
		}
		if len(dc.Brokers) != len(addrs[c.listener]) {
			t.Errorf("DescribeCluster through %s: %d brokers, want %d", c.listener, len(dc.Brokers), len(addrs[c.listener]))
		}
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKeys = []string{"g"}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			resp, err := fc.RequestWith(ctx, c.cl)
			if err != nil {
				t.Fatal(err)
			}
			co := resp.Coordinators[0]
			if co.ErrorCode == 0 {
				if got := net.JoinHostPort(co.Host, fmt.Sprint(co.Port)); got != addrs[c.listener][co.NodeID] {
					t.Errorf("FindCoordinator through %s: node %d at %s, want %s", c.listener, co.NodeID, got, addrs[c.listener][co.NodeID])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("FindCoordinator through %s: %v", c.listener, kerr.ErrorForCode(co.ErrorCode))
			}
		}
	}

	// Records produced through EXTERNAL to the partition it can reach are
	// replicated over INTERNAL (acks=all) and read back through both.
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, &kgo.Record{Topic: "split", Partition: 1, Value: []byte(fmt.Sprint(i))})
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(addrs["EXTERNAL"][2]), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, seed := range []string{addrs["EXTERNAL"][1], addrs["INTERNAL"][3]} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"split": {1: kgo.NewOffset().AtStart()}}))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for len(got) < len(recs) && ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		cl.Close()
		if len(got) != len(recs) || got[0] != "0" || got[19] != "19" {
			t.Fatalf("read through %s: %v", seed, got)
		}
	}
}

func endpoint(name, addr string) metadata.Endpoint {
	host, port, _ := net.SplitHostPort(addr)
	var p int32
	fmt.Sscan(port, &p)
	return metadata.Endpoint{Name: name, Host: host, Port: p}
}
