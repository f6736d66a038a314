package quorum

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIdempotentProducerLeaderKill: an idempotent producer keeps up to
// five batches in flight to the leader of a partition with three replicas
// while the leader is killed (SIGKILL). The producer retries its batches
// on the new leader with their original sequences; the new leader, which
// built the producer state from the batches it replicated, appends each
// batch once. In the final log every acknowledged record is present, no
// record appears twice, and the records are in the order produced.
func TestIdempotentProducerLeaderKill(t *testing.T) {
	const (
		topic = "idem"
		n     = 4000
	)
	nodes := startCombined(t, 3, "--set", "replica.lag.time.max.ms=3000", "--set", "replica.fetch.wait.max.ms=100")
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	seeds := clientAddrs(nodes)
	adm := newAdmin(t, seeds)
	createTopic(t, ctx, adm, topic, 1, 3, "2")
	// Every broker must know the topic before the leader dies: a broker
	// learns a committed creation asynchronously (as in Kafka), and one
	// that had not when the controller died answers UNKNOWN_TOPIC_OR_PARTITION
	// until the new controller commits, which franz-go gives up on after
	// four tries.
	var leader int32 = -1
	ds := dialAll(t, nodes)
	poll(t, ctx, func() error {
		for _, d := range ds {
			v, err := d.metadata(ctx)
			if err != nil {
				return err
			}
			tv, ok := v.Topics[topic]
			if !ok || len(tv.Partitions) != 1 {
				return fmt.Errorf("broker %s does not list %s yet", d.addr, topic)
			}
			p := tv.Partitions[0]
			if len(p.ISR) != 3 {
				return fmt.Errorf("broker %s: ISR %v", d.addr, p.ISR)
			}
			leader = p.Leader
		}
		return nil
	})

	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(2*time.Millisecond), kgo.ProducerBatchMaxBytes(4096),
		kgo.RecordDeliveryTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var mu sync.Mutex
	acked := map[string]bool{}
	var done atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := range n {
		v := fmt.Sprintf("v%05d", i)
		wg.Add(1)
		prod.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			done.Add(1)
			if err == nil {
				mu.Lock()
				acked[v] = true
				mu.Unlock()
			} else {
				firstErr.CompareAndSwap(nil, err.Error())
			}
		})
		if i == n/3 {
			// Kill the leader with the producer's batches in flight.
			nodes[leader-1].Kill()
		}
	}
	wg.Wait()
	if len(acked) == 0 {
		t.Fatalf("no record acknowledged; first error: %v", firstErr.Load())
	}
	t.Logf("killed leader %d; %d of %d records acknowledged", leader, len(acked), n)

	var survivors []string
	for i, nd := range nodes {
		if int32(i+1) != leader {
			survivors = append(survivors, nd.Addr)
		}
	}
	var end int64
	poll(t, ctx, func() error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(survivors...))
		if err != nil {
			return err
		}
		defer cl.Close()
		ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		o, ok := ends.Lookup(topic, 0)
		if !ok || o.Err != nil {
			return fmt.Errorf("end offset: %v", o.Err)
		}
		end = o.Offset
		return nil
	})
	cons, err := kgo.NewClient(kgo.SeedBrokers(survivors...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []string
	for int64(len(got)) < end && ctx.Err() == nil {
		cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if int64(len(got)) != end {
		t.Fatalf("read %d records, the log ends at %d", len(got), end)
	}
	seen := map[string]bool{}
	for i, v := range got {
		if seen[v] {
			t.Fatalf("record %s appears twice (second at offset %d)", v, i)
		}
		seen[v] = true
	}
	if !slices.IsSorted(got) {
		t.Fatalf("records out of produce order")
	}
	var lost []string
	for v := range acked {
		if !seen[v] {
			lost = append(lost, v)
		}
	}
	if len(lost) > 0 {
		slices.Sort(lost)
		t.Fatalf("%d acknowledged records lost, first %v", len(lost), lost[:min(5, len(lost))])
	}
}
