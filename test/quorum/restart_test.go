package quorum

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestWholeClusterRestart: every node of a cluster stops, first cleanly
// (SIGTERM, all at once), then by SIGKILL, and starts again on its data.
// Each time the cluster comes back with the same cluster id (in
// DescribeCluster and every node's meta.properties), the same topics with
// the same ids, replica assignments and configs, every broker live and every
// partition led. A topic created between the two restarts survives the
// second.
//
// The combined layout recovers the metadata by replaying the Raft log; the
// dedicated one snapshots after every entry, so it recovers from a
// snapshot (and brokers that follow the log restart from the image).
func TestWholeClusterRestart(t *testing.T) {
	for _, tc := range []struct {
		layout    string
		snapshots bool
	}{
		{"combined", false},
		{"dedicated", true},
	} {
		t.Run(tc.layout, func(t *testing.T) {
			var extra []string
			if tc.snapshots {
				extra = []string{"--set", "metadata.log.max.record.bytes.between.snapshots=1"}
			}
			testWholeClusterRestart(t, startLayout(t, tc.layout, extra...), tc.snapshots)
		})
	}
}

// clusterState is what a whole-cluster restart must keep.
type clusterState struct {
	clusterID string
	view      view
}

func testWholeClusterRestart(t *testing.T, l layout, snapshots bool) {
	nodes, brokers, brokerIDs := l.nodes, l.brokers, l.brokerIDs
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	ds := dialAll(t, brokers)
	agreed(t, ctx, ds, brokerIDs)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers[0].Addr))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	for _, tc := range []struct {
		name    string
		n       int32
		rf      int16
		configs map[string]*string
	}{
		{"r3", 6, 3, nil},
		{"r1", 3, 1, nil},
		{"conf", 2, 3, map[string]*string{"retention.ms": kadm.StringPtr("3600000"), "cleanup.policy": kadm.StringPtr("compact")}},
	} {
		if _, err := adm.CreateTopic(ctx, tc.n, tc.rf, tc.configs, tc.name); err != nil {
			t.Fatalf("create %s: %v", tc.name, err)
		}
	}
	// A config changed after creation is a record of its own.
	alter := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("65536")}}
	if rs, err := adm.AlterTopicConfigs(ctx, alter, "r1"); err != nil || rs[0].Err != nil {
		t.Fatalf("alter r1: %v %v", err, rs)
	}
	cl.Close()
	want := map[string]map[string]string{
		"r3":   {},
		"r1":   {"max.message.bytes": "65536"},
		"conf": {"retention.ms": "3600000", "cleanup.policy": "compact"},
	}
	before := stateOf(t, ctx, ds, nodes, brokerIDs, want)
	if before.clusterID == "" {
		t.Fatal("no cluster id")
	}

	if snapshots {
		// Each voter has a snapshot to recover from.
		poll(t, ctx, func() error {
			for i, p := range nodes[:3] {
				snaps, err := os.ReadDir(filepath.Join(p.Dir, "__cluster_metadata-0", "snapshots"))
				if err != nil || len(snaps) == 0 {
					return fmt.Errorf("node %d: %d metadata snapshots (%v)", i+1, len(snaps), err)
				}
			}
			return nil
		})
	}

	for _, how := range []string{"SIGTERM", "SIGKILL"} {
		var wg sync.WaitGroup
		for i, p := range nodes {
			wg.Go(func() {
				if how == "SIGKILL" {
					p.Kill()
				} else if err := p.Stop(); err != nil {
					t.Errorf("node %d: %s: %v", i+1, how, err)
				} else if !strings.Contains(p.Log(), "samsa node stopped cleanly") {
					t.Errorf("node %d: %s: no clean stop; log:\n%s", i+1, how, p.Log())
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		for _, p := range nodes {
			p.Restart()
		}
		ds = dialAll(t, brokers)
		after := stateOf(t, ctx, ds, nodes, brokerIDs, want)
		if after.clusterID != before.clusterID {
			t.Fatalf("after %s: cluster id %s, was %s", how, after.clusterID, before.clusterID)
		}
		if err := sameTopics(before.view, after.view, false); err != nil {
			t.Fatalf("after %s: %v", how, err)
		}
		if how == "SIGTERM" {
			// The restarted quorum commits, and that survives the next restart.
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers[1].Addr))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 3, nil, "between"); err != nil {
				t.Fatalf("create after restart: %v", err)
			}
			cl.Close()
			want["between"] = map[string]string{}
			before = stateOf(t, ctx, ds, nodes, brokerIDs, want)
		}
	}
}

// stateOf waits until every broker agrees on the metadata, every broker
// live and every partition led, answers that cluster id in DescribeCluster
// and the topic configs want (applied a moment after the change committed),
// and returns the cluster's state. Every node's meta.properties must name
// that cluster.
func stateOf(t *testing.T, ctx context.Context, ds []*direct, nodes []*cluster.Process, brokerIDs []int32, want map[string]map[string]string) clusterState {
	t.Helper()
	// A topic just created through a broker that forwarded the request is
	// known to the brokers a moment later: wait until they all agree on a
	// view that has it.
	var st clusterState
	poll(t, ctx, func() error {
		v, err := sameView(ctx, ds, brokerIDs)
		if err != nil {
			return err
		}
		for name := range want {
			if _, ok := v.Topics[name]; !ok || len(v.Topics) != len(want) {
				return fmt.Errorf("topics %v, want %v", slices.Sorted(maps.Keys(v.Topics)), slices.Sorted(maps.Keys(want)))
			}
		}
		st.view = v
		return nil
	})
	st.clusterID = st.view.ClusterID
	poll(t, ctx, func() error {
		for _, d := range ds {
			dc, err := d.describeCluster(ctx)
			if err != nil {
				return err
			}
			if dc.ClusterID != st.clusterID {
				return fmt.Errorf("broker %s: DescribeCluster says cluster %q, Metadata %q", d.addr, dc.ClusterID, st.clusterID)
			}
			for name, w := range want {
				got, err := d.topicConfigs(ctx, name)
				if err != nil {
					return err
				}
				if !maps.Equal(got, w) {
					return fmt.Errorf("broker %s: topic %s configs %v, want %v", d.addr, name, got, w)
				}
			}
		}
		return nil
	})
	for i, p := range nodes {
		if got := metaClusterID(t, p.Dir); got != st.clusterID {
			t.Fatalf("node %d: meta.properties cluster.id %q, cluster is %q", i+1, got, st.clusterID)
		}
	}
	return st
}
