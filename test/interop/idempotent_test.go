package interop

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

const idempotentRecords = 10_000

// TestIdempotentProducers: franz-go (idempotent by default) and sarama
// (Producer.Idempotent) each write 10,000 records to a partition; the log
// must hold exactly those records at offsets 0..9999, in order, in batches
// stamped with one producer id.
func TestIdempotentProducers(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := testCtx(t, 100*time.Second)
	value := func(i int) []byte { return fmt.Appendf(nil, "%05d", i) }

	produce := map[string]func(t *testing.T, topic string){
		"franz": func(t *testing.T, topic string) {
			cl := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
			recs := make([]*kgo.Record, idempotentRecords)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: topic, Partition: 0, Value: value(i)}
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			for i, r := range recs {
				if r.Offset != int64(i) {
					t.Fatalf("record %d acknowledged at offset %d", i, r.Offset)
				}
			}
		},
		"sarama": func(t *testing.T, topic string) {
			cfg := saramaConfig()
			cfg.Producer.Idempotent = true
			cfg.Net.MaxOpenRequests = 1
			cfg.Producer.Retry.Max = 5
			p, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
			if err != nil {
				t.Fatalf("new producer: %v", err)
			}
			defer p.Close()
			msgs := make([]*sarama.ProducerMessage, idempotentRecords)
			for i := range msgs {
				msgs[i] = &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.ByteEncoder(value(i))}
			}
			if err := p.SendMessages(msgs); err != nil {
				t.Fatalf("produce: %v", err)
			}
			for i, m := range msgs {
				if m.Offset != int64(i) {
					t.Fatalf("record %d acknowledged at offset %d", i, m.Offset)
				}
			}
		},
	}
	for name, fn := range produce {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			topic := "idempotent-" + name
			createTopic(ctx, t, b.Addr(), topic, 1, nil)
			fn(t, topic)
			ends, err := newAdmin(t, b.Addr()).ListEndOffsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			if o, _ := ends.Lookup(topic, 0); o.Err != nil || o.Offset != idempotentRecords {
				t.Fatalf("end offset %d (%v), want %d", o.Offset, o.Err, idempotentRecords)
			}
			got := consumeKgo(ctx, t, b.Addr(), map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}, idempotentRecords)
			pid := got[0].ProducerID
			if pid < 0 || got[0].ProducerEpoch < 0 {
				t.Fatalf("record 0: producer id %d epoch %d: the batch is not idempotent", pid, got[0].ProducerEpoch)
			}
			for i, r := range got {
				if r.Offset != int64(i) || string(r.Value) != string(value(i)) || r.ProducerID != pid {
					t.Fatalf("record %d: offset %d value %q producer id %d, want %d %q %d", i, r.Offset, r.Value, r.ProducerID, i, value(i), pid)
				}
			}
		})
	}
}
