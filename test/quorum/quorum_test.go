// Package quorum holds black-box tests of multi-node samsa clusters: real
// processes on loopback forming a Raft controller quorum.
//
// Each broker's view is read with a client pinned to that broker (direct):
// kadm's Metadata goes to any broker and is cached by the client for
// seconds, so it can neither show one broker's view nor a fresh one.
package quorum

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// admin is a kadm client seeded with addr.
func admin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// TestThreeCombinedNodes: three combined nodes form a quorum, every broker
// registers, a topic with replication factor 3 created through one broker
// appears with the same id and assignment in every broker's Metadata.
func TestThreeCombinedNodes(t *testing.T) {
	procs := startCombined(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ds := dialAll(t, procs)
	agreed(t, ctx, ds, ids(1, 3))
	resp, err := admin(t, procs[1].Addr).CreateTopic(ctx, 6, 3, nil, "rf3")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	v := agreed(t, ctx, ds, ids(1, 3))
	td := v.Topics["rf3"]
	if td.ID != resp.ID || len(td.Partitions) != 6 {
		t.Fatalf("topic id %x with %d partitions, created %x with 6", td.ID, len(td.Partitions), resp.ID)
	}
	leaders := map[int32]int{}
	for i, p := range td.Partitions {
		if len(p.Replicas) != 3 {
			t.Fatalf("partition %d replicas %v", i, p.Replicas)
		}
		leaders[p.Leader]++
	}
	if len(leaders) != 3 {
		t.Fatalf("leaders %v, want spread over 3 brokers", leaders)
	}
}

// TestFencedBrokerLosesLeadership: a SIGKILLed broker is fenced after the
// session timeout, its leaderships move to other replicas, and after a
// restart it is registered again with every partition led.
func TestFencedBrokerLosesLeadership(t *testing.T) {
	procs := startCombined(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ds := dialAll(t, procs)
	agreed(t, ctx, ds, ids(1, 3))
	if _, err := admin(t, procs[0].Addr).CreateTopic(ctx, 6, 3, nil, "moves"); err != nil {
		t.Fatalf("create: %v", err)
	}
	before := agreed(t, ctx, ds, ids(1, 3))
	procs[2].Kill()
	poll(t, ctx, func() error {
		for _, d := range ds[:2] {
			v, err := d.metadata(ctx)
			if err != nil {
				return err
			}
			if !slices.Equal(v.Brokers, []int32{1, 2}) {
				return fmt.Errorf("broker %s lists %v", d.addr, v.Brokers)
			}
			if err := sameTopics(before, v, false); err != nil {
				return err
			}
			for i, p := range v.Topics["moves"].Partitions {
				if p.Leader != 1 && p.Leader != 2 {
					return fmt.Errorf("partition %d led by %d", i, p.Leader)
				}
				if !slices.Equal(p.Offline, []int32{3}) {
					return fmt.Errorf("partition %d offline replicas %v", i, p.Offline)
				}
			}
		}
		return nil
	})
	procs[2].Restart()
	ds[2] = dial(t, procs[2].Addr)
	after := agreed(t, ctx, ds, ids(1, 3))
	if err := sameTopics(before, after, false); err != nil {
		t.Fatal(err)
	}
}
