package quorum

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReplicationKillLeader: on three combined nodes, a topic of
// replication factor 3 and min.insync.replicas 2 takes acks=all records
// from an idempotent producer; every replica's log ends up byte for byte
// the same size; the leader is killed (SIGKILL) and a new leader from the
// ISR serves every acknowledged record; the killed node restarts on its
// data, catches up, and the leader adds it back to the ISR, after which
// the three logs again hold the same bytes.
func TestReplicationKillLeader(t *testing.T) {
	const topic = "replicated"
	nodes := startCombined(t, 3, "--set", "replica.lag.time.max.ms=3000", "--set", "replica.fetch.wait.max.ms=200")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	addrs := func() []string {
		var out []string
		for _, n := range nodes {
			out = append(out, n.Addr)
		}
		return out
	}
	adm := newAdmin(t, addrs())
	createTopic(t, ctx, adm, topic, 1, 3, "2")
	all := []int32{1, 2, 3}
	ds := dialAll(t, nodes)
	state := func(d *direct) (partView, error) {
		v, err := d.metadata(ctx)
		if err != nil {
			return partView{}, err
		}
		tv, ok := v.Topics[topic]
		if !ok || len(tv.Partitions) != 1 {
			return partView{}, fmt.Errorf("no topic %s", topic)
		}
		p := tv.Partitions[0]
		p.ISR = slices.Sorted(slices.Values(p.ISR))
		return p, nil
	}
	fullISR := func(d *direct) func() error {
		return func() error {
			p, err := state(d)
			if err == nil && !slices.Equal(p.ISR, all) {
				err = fmt.Errorf("ISR %v", p.ISR)
			}
			return err
		}
	}
	// sameSize waits until every replica's log has the leader's size.
	sameSize := func(ds []*direct) func() error {
		return func() error {
			var sizes []int64
			for _, d := range ds {
				req := kmsg.NewPtrDescribeLogDirsRequest()
				resp, err := d.request(ctx, req)
				if err != nil {
					return err
				}
				size := int64(-1)
				for _, dir := range resp.(*kmsg.DescribeLogDirsResponse).Dirs {
					for _, t := range dir.Topics {
						if t.Topic == topic {
							for _, p := range t.Partitions {
								size = p.Size
							}
						}
					}
				}
				sizes = append(sizes, size)
			}
			if slices.Min(sizes) <= 0 || slices.Min(sizes) != slices.Max(sizes) {
				return fmt.Errorf("replica sizes %v", sizes)
			}
			return nil
		}
	}
	poll(t, ctx, fullISR(ds[0]))

	prod, err := kgo.NewClient(kgo.SeedBrokers(addrs()...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(from, n int) {
		t.Helper()
		rs := make([]*kgo.Record, 0, n)
		for i := from; i < from+n; i++ {
			rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))})
		}
		if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce %d..%d: %v", from, from+n-1, err)
		}
	}
	consume := func(seeds []string, n int) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var got []string
		for len(got) < n && ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		if len(got) != n {
			t.Fatalf("consumed %d records, want %d", len(got), n)
		}
		for i, v := range got {
			if want := fmt.Sprintf("v%05d", i); v != want {
				t.Fatalf("record %d = %q, want %q", i, v, want)
			}
		}
	}

	const n = 500
	produce(0, n)
	poll(t, ctx, sameSize(ds))
	before, err := state(ds[0])
	if err != nil {
		t.Fatal(err)
	}
	victim := before.Leader
	nodes[victim-1].Kill()
	var survivors []*direct
	var seeds []string
	for i, d := range ds {
		if int32(i+1) != victim {
			survivors = append(survivors, d)
			seeds = append(seeds, nodes[i].Addr)
		}
	}
	poll(t, ctx, func() error {
		p, err := state(survivors[0])
		switch {
		case err != nil:
			return err
		case p.Leader == victim || p.Leader < 0:
			return fmt.Errorf("leader %d", p.Leader)
		case !slices.Contains(before.ISR, p.Leader):
			t.Fatalf("new leader %d was not in the ISR %v", p.Leader, before.ISR)
		}
		return nil
	})
	consume(seeds, n)
	produce(n, n)

	nodes[victim-1].Restart()
	ds[victim-1] = dial(t, nodes[victim-1].Addr)
	poll(t, ctx, fullISR(survivors[0]))
	poll(t, ctx, sameSize(ds))
	consume(addrs(), 2*n)
}
