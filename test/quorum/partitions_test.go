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

// TestCreatePartitionsReplicated: on three combined nodes, a topic of
// replication factor 3 grows from one partition to three; each new
// partition gets three replicas, a full ISR on every node's metadata, and
// takes acks=all records (min.insync.replicas 3, so every replica must
// have them) that read back at their offsets.
func TestCreatePartitionsReplicated(t *testing.T) {
	const topic = "growing"
	nodes := startCombined(t, 3, "--set", "replica.fetch.wait.max.ms=200")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	addrs := clientAddrs(nodes)
	adm := newAdmin(t, addrs)
	createTopic(t, ctx, adm, topic, 1, 3, "3")
	poll(t, ctx, func() error {
		res, err := adm.UpdatePartitions(ctx, 3, topic)
		if err == nil {
			var r kadm.CreatePartitionsResponse
			if r, err = res.On(topic, nil); err == nil {
				err = r.Err
			}
		}
		if err != nil && !retriable(err) {
			t.Fatalf("create partitions: %v", err)
		}
		return err
	})
	all := []int32{1, 2, 3}
	for _, d := range dialAll(t, nodes) {
		poll(t, ctx, func() error {
			v, err := d.metadata(ctx)
			if err != nil {
				return err
			}
			tv := v.Topics[topic]
			if len(tv.Partitions) != 3 {
				return fmt.Errorf("%d partitions", len(tv.Partitions))
			}
			for i, p := range tv.Partitions {
				if !slices.Equal(slices.Sorted(slices.Values(p.Replicas)), all) || !slices.Equal(slices.Sorted(slices.Values(p.ISR)), all) || p.Leader < 1 {
					return fmt.Errorf("partition %d: %+v", i, p)
				}
			}
			return nil
		})
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 50
	var rs []*kgo.Record
	for p := int32(0); p < 3; p++ {
		for i := range n {
			rs = append(rs, &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("p%d-%03d", p, i))})
		}
	}
	if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {
		0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[int32]int64{}
	for total := 0; total < 3*n && ctx.Err() == nil; {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("p%d-%03d", r.Partition, r.Offset); string(r.Value) != want || r.Offset != got[r.Partition] {
				t.Fatalf("partition %d offset %d holds %q, want %q at offset %d", r.Partition, r.Offset, r.Value, want, got[r.Partition])
			}
			got[r.Partition]++
			total++
		})
	}
	for p := int32(0); p < 3; p++ {
		if got[p] != n {
			t.Errorf("partition %d: %d records read, want %d", p, got[p], n)
		}
	}
}
