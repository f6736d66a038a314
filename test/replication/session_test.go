package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/internal/api"
	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestFollowerFetchSessions: followers of a topic of many partitions fetch
// in sessions (KIP-227). Once every follower is caught up, an acks=all
// record to each of k partitions makes the followers' fetches name exactly
// 2k partitions in all (each of the two followers names each partition
// once, with its new fetch offset), in incremental fetches only, instead
// of every partition on every fetch. Every follower fetch is v15+.
func TestFollowerFetchSessions(t *testing.T) {
	const (
		name       = "many"
		partitions = 200
		k          = 10
	)
	nodes := cluster.StartQuorum(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	seeds := strings.Split(cluster.Bootstrap(nodes), ",")
	admCl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	res, err := adm.CreateTopic(ctx, partitions, 3, nil, name)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	fullISR := func() error {
		md, err := adm.Metadata(ctx, name)
		if err != nil {
			return err
		}
		tp := md.Topics[name]
		if tp.Err != nil || len(tp.Partitions) != partitions {
			return fmt.Errorf("topic %s: %d partitions, %v", name, len(tp.Partitions), tp.Err)
		}
		for _, p := range tp.Partitions {
			if p.Err != nil || p.Leader < 0 || len(p.ISR) != 3 {
				return fmt.Errorf("partition %d: leader %d, ISR %v, %v", p.Partition, p.Leader, p.ISR, p.Err)
			}
		}
		return nil
	}
	poll(t, ctx, "every partition led with a full ISR", fullISR)

	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(name),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produceTo := func(ps int) {
		t.Helper()
		var recs []*kgo.Record
		for p := range ps {
			recs = append(recs, &kgo.Record{Partition: int32(p), Value: []byte("x")})
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	stats := func() api.FollowerFetchStats {
		var sum api.FollowerFetchStats
		for _, n := range nodes {
			s := n.FollowerFetchStats()
			sum.Full += s.Full
			sum.Incremental += s.Incremental
			sum.IncrementalPartitions += s.IncrementalPartitions
			sum.BelowV15 += s.BelowV15
		}
		return sum
	}

	// acks=all with a full ISR: when the answer comes, both followers of
	// every partition have sent their new fetch offsets, so no follower
	// has anything left to tell its leader.
	produceTo(partitions)
	before := stats()
	produceTo(k)
	after := stats()
	if err := fullISR(); err != nil {
		t.Fatalf("the ISR changed during the test, so the counts mean nothing: %v", err)
	}
	if before.Full == 0 || before.Incremental == 0 {
		t.Fatalf("before: %+v; want full fetches that opened sessions, then incremental ones", before)
	}
	if after.BelowV15 != 0 {
		t.Fatalf("%d follower fetches below v15 (no ReplicaState); followers must fetch at v15+", after.BelowV15)
	}
	if after.Full != before.Full {
		t.Fatalf("full follower fetches went from %d to %d: a session was lost", before.Full, after.Full)
	}
	if got := after.IncrementalPartitions - before.IncrementalPartitions; got != 2*k {
		t.Fatalf("follower fetches named %d partitions for %d appends to %d partitions of RF 3; want %d", got, k, k, 2*k)
	}
}
