package interop

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestThousandPartitions: a 1,000-partition topic is listed in full with a
// leader per partition, takes one record on each partition, gives exactly
// those records back to franz-go and sarama, and lists end offset 1 and
// start offset 0 on every partition.
func TestThousandPartitions(t *testing.T) {
	t.Parallel()
	const (
		topic = "wide"
		n     = 1000
	)
	b := startBroker(t)
	ctx := testCtx(t, 110*time.Second)
	// The broker answers CreateTopics once its replicas are open, within
	// the request's timeout: 1,000 of them may take longer than kadm's
	// default 15 s on a loaded machine (under -race, beside other tests).
	adm := newAdmin(t, b.Addr())
	adm.SetTimeoutMillis(100_000)
	if resp, err := adm.CreateTopic(ctx, n, 1, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v, %v", topic, err, resp.Err)
	}

	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 1 {
		t.Fatalf("metadata lists brokers %v, want one", md.Brokers)
	}
	node := md.Brokers[0].NodeID
	td := md.Topics[topic]
	if td.Err != nil || len(td.Partitions) != n {
		t.Fatalf("metadata: %d partitions (%v), want %d", len(td.Partitions), td.Err, n)
	}
	for p := range int32(n) {
		pd, ok := td.Partitions[p]
		if !ok || pd.Err != nil || pd.Leader != node || len(pd.Replicas) != 1 || pd.Replicas[0] != node || len(pd.ISR) != 1 || pd.ISR[0] != node {
			t.Fatalf("metadata partition %d: %+v (present %v), want leader, replicas and ISR [%d]", p, pd, ok, node)
		}
	}

	value := func(p int32) string { return fmt.Sprintf("partition-%04d", p) }
	recs := make([]*kgo.Record, n)
	for p := range int32(n) {
		recs[p] = &kgo.Record{Topic: topic, Partition: p, Value: []byte(value(p))}
	}
	producer := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	for _, r := range recs {
		if r.Offset != 0 {
			t.Fatalf("partition %d: acknowledged at offset %d, want 0", r.Partition, r.Offset)
		}
	}

	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(n) {
		e, eok := ends.Lookup(topic, p)
		s, sok := starts.Lookup(topic, p)
		if !eok || !sok || e.Err != nil || s.Err != nil || e.Offset != 1 || s.Offset != 0 {
			t.Fatalf("partition %d: start %d (%v) end %d (%v), want 0 and 1", p, s.Offset, s.Err, e.Offset, e.Err)
		}
	}

	// check asserts that got holds exactly one record per partition, at
	// offset 0, with that partition's value.
	check := func(t *testing.T, client string, got map[int32][]string) {
		if len(got) != n {
			t.Errorf("%s: records from %d partitions, want %d", client, len(got), n)
		}
		for p := range int32(n) {
			if vs := got[p]; len(vs) != 1 || vs[0] != value(p) {
				t.Errorf("%s: partition %d: %q, want [%q]", client, p, vs, value(p))
			}
		}
	}

	t.Run("franz", func(t *testing.T) {
		t.Parallel()
		offsets := map[int32]kgo.Offset{}
		for p := range int32(n) {
			offsets[p] = kgo.NewOffset().At(0)
		}
		got := map[int32][]string{}
		for _, r := range consumeKgo(ctx, t, b.Addr(), map[string]map[int32]kgo.Offset{topic: offsets}, n) {
			if r.Offset != 0 {
				t.Errorf("partition %d: record at offset %d", r.Partition, r.Offset)
			}
			got[r.Partition] = append(got[r.Partition], string(r.Value))
		}
		check(t, "franz", got)
	})

	t.Run("sarama", func(t *testing.T) {
		t.Parallel()
		cons, err := sarama.NewConsumer([]string{b.Addr()}, saramaConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer cons.Close()
		pcs := make([]sarama.PartitionConsumer, 0, n)
		defer func() {
			// Closing one by one costs a fetch round each; start every
			// close first, then drain.
			for _, pc := range pcs {
				pc.AsyncClose()
			}
			for _, pc := range pcs {
				for range pc.Messages() {
				}
				for range pc.Errors() {
				}
			}
		}()
		for p := range int32(n) {
			pc, err := cons.ConsumePartition(topic, p, 0)
			if err != nil {
				t.Fatalf("partition %d: %v", p, err)
			}
			pcs = append(pcs, pc)
		}
		got := map[int32][]string{}
		// Every partition consumer fetches on its own; taking their first
		// messages in partition order only orders the reading.
		for p, pc := range pcs {
			select {
			case m := <-pc.Messages():
				if m.Offset != 0 {
					t.Errorf("partition %d: record at offset %d", m.Partition, m.Offset)
				}
				got[m.Partition] = append(got[m.Partition], string(m.Value))
			case err := <-pc.Errors():
				t.Fatalf("partition %d: %v", p, err)
			case <-ctx.Done():
				t.Fatalf("partition %d: no record before %v", p, ctx.Err())
			}
		}
		check(t, "sarama", got)
	})
}
