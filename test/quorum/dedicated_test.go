package quorum

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDedicatedRoles: three controller-only nodes form the quorum and
// three broker-only nodes follow it through the metadata fetch. Topics
// created through one broker appear with the same id, assignment and
// leaders on every broker; DescribeCluster agrees, and every node, the
// controllers too, records the cluster id in meta.properties.
func TestDedicatedRoles(t *testing.T) {
	ctls, brokers := startDedicated(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, c := range ctls {
		if c.Addr != "" {
			t.Fatalf("controller-only node has a client listener %s", c.Addr)
		}
	}
	ds := dialAll(t, brokers)
	wantBrokers := ids(4, 3)
	agreed(t, ctx, ds, wantBrokers)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers[0].Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	created := map[string]kadm.CreateTopicResponse{}
	for _, tc := range []struct {
		name string
		n    int32
		rf   int16
	}{{"d3", 6, 3}, {"d1", 3, 1}} {
		resp, err := adm.CreateTopic(ctx, tc.n, tc.rf, nil, tc.name)
		if err != nil {
			t.Fatalf("create %s: %v", tc.name, err)
		}
		if resp.NumPartitions != tc.n || resp.ReplicationFactor != tc.rf {
			t.Fatalf("create %s: %d partitions, rf %d", tc.name, resp.NumPartitions, resp.ReplicationFactor)
		}
		created[tc.name] = resp
	}

	v := agreed(t, ctx, ds, wantBrokers)
	if len(v.Topics) != len(created) {
		t.Fatalf("topics %v, created %d", v.Topics, len(created))
	}
	for name, resp := range created {
		tv := v.Topics[name]
		if tv.ID != resp.ID {
			t.Fatalf("%s: id %x, created %x", name, tv.ID, resp.ID)
		}
		if len(tv.Partitions) != int(resp.NumPartitions) {
			t.Fatalf("%s: %d partitions", name, len(tv.Partitions))
		}
		leaders := map[int32]int{}
		for i, p := range tv.Partitions {
			if len(p.Replicas) != int(resp.ReplicationFactor) {
				t.Fatalf("%s-%d: replicas %v", name, i, p.Replicas)
			}
			for _, r := range p.Replicas {
				if !slices.Contains(wantBrokers, r) {
					t.Fatalf("%s-%d: replica %d is not a broker (replicas %v)", name, i, r, p.Replicas)
				}
			}
			if !slices.Equal(p.ISR, p.Replicas) {
				t.Fatalf("%s-%d: isr %v, replicas %v", name, i, p.ISR, p.Replicas)
			}
			leaders[p.Leader]++
		}
		if len(leaders) != 3 {
			t.Fatalf("%s: leaders %v, want every broker to lead some", name, leaders)
		}
	}

	// The active controller is a voter, and every broker names the same
	// one. Clients cannot reach a controller-only node, so Metadata and
	// DescribeCluster name the answering broker itself as the controller:
	// it forwards admin requests (a KRaft broker names a live broker too).
	active := int32(-1)
	for i, d := range ds {
		var got int32
		poll(t, ctx, func() error {
			var err error
			got, err = d.activeController(ctx)
			return err
		})
		if got < 1 || got > 3 || active >= 0 && got != active {
			t.Fatalf("broker %d: active controller %d (others: %d)", wantBrokers[i], got, active)
		}
		active = got
		m, err := d.metadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dc, err := d.describeCluster(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Controller != wantBrokers[i] || dc.ControllerID != wantBrokers[i] {
			t.Fatalf("broker %d: controller id %d in Metadata, %d in DescribeCluster", wantBrokers[i], m.Controller, dc.ControllerID)
		}
		if m.ClusterID == "" || dc.ClusterID != m.ClusterID || dc.ClusterID != v.ClusterID {
			t.Fatalf("broker %d: cluster id %q in DescribeCluster, %q in Metadata, %q elsewhere", wantBrokers[i], dc.ClusterID, m.ClusterID, v.ClusterID)
		}
		var listed []string
		for _, b := range dc.Brokers {
			listed = append(listed, fmt.Sprintf("%d@%s", b.NodeID, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))))
		}
		var want []string
		for j, p := range brokers {
			want = append(want, fmt.Sprintf("%d@%s", wantBrokers[j], p.Addr))
		}
		if !slices.Equal(listed, want) {
			t.Fatalf("broker %d: DescribeCluster lists %v, want %v", wantBrokers[i], listed, want)
		}
	}
	for i, p := range append(ctls, brokers...) {
		if got := metaClusterID(t, p.Dir); got != v.ClusterID {
			t.Fatalf("node %d: meta.properties cluster.id %q, cluster is %q", i+1, got, v.ClusterID)
		}
	}

	// The coordinators of a broker-only node create their internal topics
	// through the controller listener (FindCoordinator does), marked
	// internal; a client may not create them.
	for keyType, topic := range map[int8]string{0: "__consumer_offsets", 1: "__transaction_state"} {
		poll(t, ctx, func() error {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorType = keyType
			req.CoordinatorKeys = []string{"dedicated"}
			resp, err := ds[1].request(ctx, req)
			if err != nil {
				return err
			}
			if c := resp.(*kmsg.FindCoordinatorResponse).Coordinators[0]; c.ErrorCode != 0 {
				return fmt.Errorf("FindCoordinator type %d: %v", keyType, kerr.ErrorForCode(c.ErrorCode))
			}
			return nil
		})
		poll(t, ctx, func() error { // every broker learns it a moment later
			md, err := adm.Metadata(ctx, topic)
			if err != nil || md.Topics[topic].Err != nil || !md.Topics[topic].IsInternal {
				return fmt.Errorf("%s after FindCoordinator: %+v, %v; want an internal topic", topic, md.Topics[topic], err)
			}
			return nil
		})
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); !errors.Is(err, kerr.InvalidRequest) {
			t.Fatalf("a client's CreateTopics of %s: %v; want INVALID_REQUEST", topic, err)
		}
	}
}
