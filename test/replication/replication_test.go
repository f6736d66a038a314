// Package replication tests RF>1 topics on multi-node clusters: acks=all
// producing, leadership moving to an ISR member that holds every
// acknowledged record, and a restarted replica catching up and rejoining
// the ISR.
package replication

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/samsa-kafka/samsa/test/cluster"
)

const topic = "replicated"

// partitionState is partition 0's leader and ISR as a node's Metadata has
// them.
func partitionState(ctx context.Context, adm *kadm.Client) (leader int32, isr []int32, err error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return -1, nil, err
	}
	t, ok := md.Topics[topic]
	if !ok || t.Err != nil || len(t.Partitions) == 0 {
		return -1, nil, fmt.Errorf("topic %s not in metadata: %v", topic, t.Err)
	}
	p := t.Partitions[0]
	isr = slices.Clone(p.ISR)
	slices.Sort(isr)
	return p.Leader, isr, p.Err
}

func poll(t *testing.T, ctx context.Context, what string, cond func() error) {
	t.Helper()
	var last error
	for ctx.Err() == nil {
		if last = cond(); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, last)
}

func produce(t *testing.T, ctx context.Context, cl *kgo.Client, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		r := &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%04d", i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
}

// consumeAll reads partition 0 from offset 0 until it has n records and
// checks they are v0000..v(n-1) in order.
func consumeAll(t *testing.T, ctx context.Context, seeds string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(seeds, ",")...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), n, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for i, v := range got[:n] {
		if want := fmt.Sprintf("v%04d", i); v != want {
			t.Fatalf("record %d = %q, want %q", i, v, want)
		}
	}
	if len(got) != n {
		t.Fatalf("consumed %d records, want %d", len(got), n)
	}
}

// TestReplicatedFailover: a topic of replication factor 3 and
// min.insync.replicas 2 on three nodes takes acks=all records; its leader
// restarts (controlled shutdown: it leaves the ISR and leadership moves);
// the new leader serves every acknowledged record; the restarted replica
// catches up and the leader adds it back to the ISR (AlterPartition); and
// records produced meanwhile are all there.
func TestReplicatedFailover(t *testing.T) {
	nodes := cluster.StartQuorum(t, 3, "replica.lag.time.max.ms=3000", "replica.fetch.wait.max.ms=200")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	seeds := cluster.Bootstrap(nodes)
	admCl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(seeds, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	minISR := "2"
	res, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	all := []int32{1, 2, 3}
	poll(t, ctx, "initial ISR", func() error {
		_, isr, err := partitionState(ctx, adm)
		if err == nil && !slices.Equal(isr, all) {
			err = fmt.Errorf("ISR %v", isr)
		}
		return err
	})

	prod, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(seeds, ",")...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 200
	produce(t, ctx, prod, 0, n)
	consumeAll(t, ctx, seeds, n)

	leader, _, err := partitionState(ctx, adm)
	if err != nil {
		t.Fatal(err)
	}
	checkDivergence(t, ctx, adm, nodes[leader-1].Addr(), n)
	old := nodes[leader-1]
	nodes[leader-1] = old.Restart()
	seeds = cluster.Bootstrap(nodes)

	var newLeader int32
	poll(t, ctx, "leadership moved and ISR back to three", func() error {
		l, isr, err := partitionState(ctx, adm)
		switch {
		case err != nil:
			return err
		case l == leader || l < 0:
			return fmt.Errorf("leader still %d", l)
		case !slices.Equal(isr, all):
			return fmt.Errorf("ISR %v", isr)
		}
		newLeader = l
		return nil
	})
	t.Logf("leader %d → %d", leader, newLeader)
	produce(t, ctx, prod, n, n)
	consumeAll(t, ctx, seeds, 2*n)
}

// checkDivergence sends the leader a follower fetch (Fetch v12, a replica
// id) whose offset is past the end of its LastFetchedEpoch on the leader:
// it is answered at once with the DivergingEpoch the follower must
// truncate to (the leader's epoch and its end, here the log end), and no
// records. (An epoch newer than any the leader knows is (-1, -1) in Kafka,
// which the protocol cannot tell from no divergence; a follower never has
// one, every leader epoch being newer than its predecessors'.)
func checkDivergence(t *testing.T, ctx context.Context, adm *kadm.Client, addr string, leo int64) {
	t.Helper()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	epoch := md.Topics[topic].Partitions[0].LeaderEpoch
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(1, 12) // topics by name, as samsa's fetchers send
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(vs))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, tc := range []struct {
		name      string
		lastEpoch int32
		offset    int64
	}{
		{"offset past the epoch's end", epoch, leo + 10},
	} {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 12
		req.ReplicaID = 3
		req.SessionEpoch = -1
		req.MaxWaitMillis = 5000 // a divergence is answered at once
		req.MaxBytes = 1 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.FetchOffset, rp.LastFetchedEpoch = 0, epoch, tc.offset, tc.lastEpoch
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("%s: response %+v", tc.name, resp)
		}
		got := resp.Topics[0].Partitions[0]
		if got.ErrorCode != 0 || got.DivergingEpoch.Epoch != epoch || got.DivergingEpoch.EndOffset != leo || len(got.RecordBatches) != 0 {
			t.Fatalf("%s: error %d, diverging epoch %d end %d, %d record bytes; want epoch %d end %d, none",
				tc.name, got.ErrorCode, got.DivergingEpoch.Epoch, got.DivergingEpoch.EndOffset, len(got.RecordBatches), epoch, leo)
		}
	}
}
