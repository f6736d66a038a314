// Package quorum holds black-box tests of multi-node samsa clusters: real
// processes on loopback forming a Raft controller quorum.
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

func client(t *testing.T, addr string) *kadm.Client {
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
	adms := make([]*kadm.Client, len(procs))
	for i, p := range procs {
		adms[i] = client(t, p.Addr)
	}
	// Every broker sees all three brokers live.
	poll(t, ctx, func() error {
		for i, a := range adms {
			m, err := a.Metadata(ctx)
			if err != nil {
				return err
			}
			if got := m.Brokers.NodeIDs(); !slices.Equal(got, []int32{1, 2, 3}) {
				return fmt.Errorf("broker %d lists brokers %v", i+1, got)
			}
		}
		return nil
	})
	resp, err := adms[1].CreateTopic(ctx, 6, 3, nil, "rf3")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	poll(t, ctx, func() error {
		var first kadm.TopicDetail
		for i, a := range adms {
			m, err := a.Metadata(ctx, "rf3")
			if err != nil {
				return err
			}
			td := m.Topics["rf3"]
			if td.Err != nil || len(td.Partitions) != 6 {
				return fmt.Errorf("broker %d: %v, %d partitions", i+1, td.Err, len(td.Partitions))
			}
			if td.ID != resp.ID {
				return fmt.Errorf("broker %d: topic id %s, created %s", i+1, td.ID, resp.ID)
			}
			leaders := map[int32]int{}
			for _, p := range td.Partitions {
				if len(p.Replicas) != 3 || p.Leader < 1 {
					return fmt.Errorf("broker %d: partition %d replicas %v leader %d", i+1, p.Partition, p.Replicas, p.Leader)
				}
				leaders[p.Leader]++
			}
			if len(leaders) != 3 {
				return fmt.Errorf("broker %d: leaders %v, want spread over 3 brokers", i+1, leaders)
			}
			if i == 0 {
				first = td
				continue
			}
			for _, p := range td.Partitions {
				fp := first.Partitions[p.Partition]
				if p.Leader != fp.Leader || !slices.Equal(p.Replicas, fp.Replicas) {
					return fmt.Errorf("broker %d disagrees on partition %d: %v/%d vs %v/%d", i+1, p.Partition, p.Replicas, p.Leader, fp.Replicas, fp.Leader)
				}
			}
		}
		return nil
	})
}

// TestFencedBrokerLosesLeadership: a SIGKILLed broker is fenced after the
// session timeout, its leaderships move to other replicas, and after a
// restart it is registered again with every partition led.
func TestFencedBrokerLosesLeadership(t *testing.T) {
	procs := startCombined(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	adm := client(t, procs[0].Addr)
	poll(t, ctx, func() error {
		m, err := adm.Metadata(ctx)
		if err == nil && len(m.Brokers) != 3 {
			err = fmt.Errorf("%d brokers", len(m.Brokers))
		}
		return err
	})
	if resp, err := adm.CreateTopic(ctx, 6, 3, nil, "moves"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	procs[2].Kill()
	poll(t, ctx, func() error {
		m, err := adm.Metadata(ctx, "moves")
		if err != nil {
			return err
		}
		if slices.Contains(m.Brokers.NodeIDs(), 3) {
			return fmt.Errorf("broker 3 still listed")
		}
		for _, p := range m.Topics["moves"].Partitions {
			if p.Leader == 3 || p.Leader < 0 {
				return fmt.Errorf("partition %d led by %d", p.Partition, p.Leader)
			}
			if !slices.Contains(p.OfflineReplicas, 3) {
				return fmt.Errorf("partition %d offline replicas %v", p.Partition, p.OfflineReplicas)
			}
		}
		return nil
	})
	procs[2].Restart()
	poll(t, ctx, func() error {
		m, err := adm.Metadata(ctx, "moves")
		if err == nil && !slices.Equal(m.Brokers.NodeIDs(), []int32{1, 2, 3}) {
			err = fmt.Errorf("brokers %v", m.Brokers.NodeIDs())
		}
		return err
	})
}
