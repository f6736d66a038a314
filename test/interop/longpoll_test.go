package interop

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Long-poll bounds. A consumer asks the broker to hold an empty fetch for up
// to longPollMaxWait; a record produced meanwhile must reach it within
// longPollBound, a third of that. This is a correctness bound, not a speed
// measurement: a broker that answers parked fetches only at max wait (or
// only on the next poll) misses it by 20 seconds, one that wakes them
// misses it only if the machine stalls for 10.
const (
	longPollMaxWait = 30 * time.Second
	longPollBound   = 10 * time.Second
	longPollRounds  = 3
)

// A longPoller starts a consumer of topic/0 from offset 0 that asks for
// fetches held up to longPollMaxWait, and sends every record it reads to
// out until ctx ends. It returns the consumer's closer.
type longPoller func(ctx context.Context, t *testing.T, addr, topic string, out chan<- Record) (closeFn func())

// TestLongPoll: for each consumer, wait until its fetch is parked at the
// broker (seen by the proxy in front of it), produce one record, and
// require the record within longPollBound; three rounds, so the later
// rounds are fetches that were certainly parked on an empty log end.
func TestLongPoll(t *testing.T) {
	t.Parallel()
	pollers := map[string]longPoller{"franz": franzLongPoll, "sarama": saramaLongPoll, "kafkago": kafkaGoLongPoll}
	for name, poll := range pollers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const topic = "long-poll"
			proxy, _ := startBehindProxy(t)
			ctx := testCtx(t, 60*time.Second)
			createTopic(ctx, t, proxy.Addr(), topic, 1, nil)
			producer := newKgo(t, proxy.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))

			consumeCtx, cancel := context.WithCancel(ctx)
			got := make(chan Record, longPollRounds)
			closeConsumer := poll(consumeCtx, t, proxy.Addr(), topic, got)
			t.Cleanup(func() {
				// Cut the connections first: that ends the parked fetch,
				// so the consumer closes without waiting out max wait.
				proxy.close()
				cancel()
				closeConsumer()
			})

			for i := range longPollRounds {
				roundCtx, done := context.WithTimeout(ctx, longPollBound)
				waitFor(roundCtx, t, fmt.Sprintf("round %d: a fetch parked at the broker", i), proxy.Parked)
				value := fmt.Appendf(nil, "round-%d", i)
				if err := producer.ProduceSync(roundCtx, &kgo.Record{Topic: topic, Partition: 0, Value: value}).FirstErr(); err != nil {
					t.Fatalf("round %d: produce: %v", i, err)
				}
				select {
				case r := <-got:
					if r.Offset != int64(i) || string(r.Value) != string(value) {
						t.Fatalf("round %d: got offset %d value %q, want %d %q", i, r.Offset, r.Value, i, value)
					}
				case <-roundCtx.Done():
					t.Fatalf("round %d: the record did not arrive within %v while the fetch could wait %v: the broker did not wake the parked fetch", i, longPollBound, longPollMaxWait)
				}
				done()
			}
		})
	}
}

func franzLongPoll(ctx context.Context, t *testing.T, addr, topic string, out chan<- Record) func() {
	cl := newKgo(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}),
		kgo.FetchMaxWait(longPollMaxWait),
	)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { deliver(ctx, out, fromKgo(r)) })
		}
	})
	return func() { cl.Close(); wg.Wait() }
}

func saramaLongPoll(ctx context.Context, t *testing.T, addr, topic string, out chan<- Record) func() {
	cfg := saramaConfig()
	cfg.Consumer.MaxWaitTime = longPollMaxWait
	cfg.Net.ReadTimeout = 3 * longPollMaxWait
	cons, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama: new consumer: %v", err)
	}
	pc, err := cons.ConsumePartition(topic, 0, 0)
	if err != nil {
		cons.Close()
		t.Fatalf("sarama: consume partition: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case m := <-pc.Messages():
				deliver(ctx, out, Record{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp.UnixMilli()})
			case <-ctx.Done():
				return
			}
		}
	})
	return func() { wg.Wait(); pc.Close(); cons.Close() }
}

func kafkaGoLongPoll(ctx context.Context, t *testing.T, addr, topic string, out chan<- Record) func() {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:          []string{addr},
		Topic:            topic,
		Partition:        0,
		MinBytes:         1,
		MaxBytes:         1 << 20,
		MaxWait:          longPollMaxWait,
		ReadBatchTimeout: 3 * longPollMaxWait,
	})
	if err := r.SetOffset(0); err != nil {
		t.Fatalf("kafkago: set offset: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				return
			}
			deliver(ctx, out, Record{Partition: int32(m.Partition), Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Time.UnixMilli()})
		}
	})
	return func() { r.Close(); wg.Wait() }
}

// deliver hands r to the test unless the test has stopped listening.
func deliver(ctx context.Context, out chan<- Record, r Record) {
	select {
	case out <- r:
	case <-ctx.Done():
	}
}
