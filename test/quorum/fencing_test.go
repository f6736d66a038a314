package quorum

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPausedBrokerFenced: a broker stopped with SIGSTOP (a long GC pause, a
// frozen VM) keeps its connections but stops heartbeating. After the
// session timeout the other brokers drop it from Metadata, its RF-3
// leaderships move to live replicas and its RF-1 partitions go offline,
// with it listed as an offline replica. After SIGCONT the same process is
// unfenced, without a restart: listed live again, its partitions back.
//
// In the combined layout the paused node is also a Raft follower (never the
// active controller, so the pause tests fencing rather than failover); in
// the dedicated layout it is a broker-only node.
func TestPausedBrokerFenced(t *testing.T) {
	for _, layout := range []string{"combined", "dedicated"} {
		t.Run(layout, func(t *testing.T) {
			testPausedBroker(t, startLayout(t, layout))
		})
	}
}

func testPausedBroker(t *testing.T, l layout) {
	nodes, brokers, brokerIDs := l.nodes, l.brokers, l.brokerIDs
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ds := dialAll(t, brokers)
	agreed(t, ctx, ds, brokerIDs)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers[0].Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, tc := range []struct {
		name string
		rf   int16
	}{{"rf3", 3}, {"rf1", 1}} {
		if _, err := adm.CreateTopic(ctx, 6, tc.rf, nil, tc.name); err != nil {
			t.Fatalf("create %s: %v", tc.name, err)
		}
	}
	before := agreed(t, ctx, ds, brokerIDs)

	// The victim: a broker that is not the active controller.
	var active int32
	poll(t, ctx, func() error {
		active, err = ds[0].activeController(ctx)
		return err
	})
	vi := slices.IndexFunc(brokerIDs, func(id int32) bool { return id != active })
	victim := brokerIDs[vi]
	var others []*direct
	var live []int32
	for i, d := range ds {
		if i != vi {
			others, live = append(others, d), append(live, brokerIDs[i])
		}
	}
	led := 0
	for _, p := range before.Topics["rf3"].Partitions {
		if p.Leader == victim {
			led++
		}
	}
	if led == 0 {
		t.Fatalf("broker %d leads no rf3 partition: %+v", victim, before.Topics["rf3"].Partitions)
	}

	brokers[vi].Pause()
	paused := time.Now()
	// fenced: what every other broker must show while the victim is paused.
	fenced := func() error {
		for _, d := range others {
			v, err := d.metadata(ctx)
			if err != nil {
				return err
			}
			if !slices.Equal(v.Brokers, live) {
				return fmt.Errorf("broker %s lists %v, want %v", d.addr, v.Brokers, live)
			}
			if err := sameTopics(before, v, false); err != nil {
				return fmt.Errorf("broker %s: %w", d.addr, err)
			}
			for name, tv := range v.Topics {
				for i, p := range tv.Partitions {
					want := partView{Leader: p.Leader, Replicas: p.Replicas}
					if slices.Contains(p.Replicas, victim) {
						want.Offline = []int32{victim}
					}
					switch {
					case !slices.Contains(p.Replicas, victim):
						want.Leader = before.Topics[name].Partitions[i].Leader
					case len(p.Replicas) == 1:
						want.Leader = -1
					case !slices.Contains(live, p.Leader):
						return fmt.Errorf("broker %s: %s-%d led by %d, replicas %v", d.addr, name, i, p.Leader, p.Replicas)
					}
					if p.Leader != want.Leader || !slices.Equal(p.Offline, want.Offline) {
						return fmt.Errorf("broker %s: %s-%d has leader %d, offline %v; want %d, %v", d.addr, name, i, p.Leader, p.Offline, want.Leader, want.Offline)
					}
				}
			}
		}
		return nil
	}
	poll(t, ctx, fenced)
	t.Logf("broker %d paused; fenced everywhere %v later (session timeout 3s)", victim, time.Since(paused).Round(time.Millisecond))

	brokers[vi].Resume()
	after := agreed(t, ctx, ds, brokerIDs)
	if err := sameTopics(before, after, false); err != nil {
		t.Fatal(err)
	}
	for i, p := range after.Topics["rf1"].Partitions {
		if want := before.Topics["rf1"].Partitions[i].Leader; p.Leader != want {
			t.Fatalf("rf1-%d led by %d after the resume, %d before", i, p.Leader, want)
		}
	}
	// The same process, and the same registration: fencing by session
	// timeout keeps the broker's epoch, so its next heartbeat unfences it.
	log := brokers[vi].Log()
	if n := strings.Count(log, "samsa broker started"); n != 1 {
		t.Fatalf("broker %d started %d times", victim, n)
	}
	if n := strings.Count(log, "registered with the controller"); n != 1 {
		t.Fatalf("broker %d registered %d times", victim, n)
	}
	for i, p := range nodes {
		for _, id := range fencedIn(p.Log()) {
			if id != victim {
				t.Errorf("node %d's controller fenced live broker %d", i+1, id)
			}
		}
	}
}
