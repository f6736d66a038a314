package interop

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is what a test produces and what every client's consumer returns,
// so that records from different clients compare field by field.
type Record struct {
	Partition int32
	Offset    int64 // set on consume only
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp int64 // Unix milliseconds, CreateTime
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// codecs are the five Kafka compression codecs by their compression.type
// names, indexed by their batch attribute code; every client below can
// produce each of them.
var codecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// maxBatchBytes is the producers' batch limit: above a 1 MiB value plus its
// overhead, and below the max.message.bytes=2097152 the large-value topics
// are created with, so that no client builds a batch the broker must refuse.
const maxBatchBytes = 2_000_000

// client is one Kafka client library, seen through the two operations the
// tests need. produce sends recs (each to its own Partition) with acks=all
// and returns once every record is acknowledged; consume reads n records of
// one partition starting at from. Both fail the test on error or when ctx
// ends first.
type client interface {
	Name() string
	// NullKeys reports whether the library's consumer keeps a null key or
	// value apart from an empty one. Every producer here does (franz-go and
	// sarama read kafka-go's empty keys back as empty); kafka-go's reader
	// returns nil for both.
	NullKeys() bool
	Produce(ctx context.Context, t testing.TB, topic, codec string, recs []Record)
	Consume(ctx context.Context, t testing.TB, topic string, partition int32, from int64, n int) []Record
}

func allClients(addr string) []client {
	return []client{franzClient{addr}, saramaClient{addr}, kafkaGoClient{addr}}
}

// ---- franz-go ----

type franzClient struct{ addr string }

func (franzClient) Name() string   { return "franz" }
func (franzClient) NullKeys() bool { return true }

func newKgo(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatalf("franz: new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func franzCodec(t testing.TB, codec string) kgo.CompressionCodec {
	switch codec {
	case "none":
		return kgo.NoCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	t.Fatalf("unknown codec %q", codec)
	return kgo.CompressionCodec{}
}

func (c franzClient) Produce(ctx context.Context, t testing.TB, topic, codec string, recs []Record) {
	t.Helper()
	cl := newKgo(t, c.addr,
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(franzCodec(t, codec)),
		kgo.ProducerBatchMaxBytes(maxBatchBytes),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	defer cl.Close()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		kr := &kgo.Record{Topic: topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Timestamp: time.UnixMilli(r.Timestamp)}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		krs[i] = kr
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatalf("franz: produce to %s (%s): %v", topic, codec, err)
	}
}

func fromKgo(r *kgo.Record) Record {
	out := Record{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli()}
	for _, h := range r.Headers {
		out.Headers = append(out.Headers, Header{Key: h.Key, Value: h.Value})
	}
	return out
}

func (c franzClient) Consume(ctx context.Context, t testing.TB, topic string, partition int32, from int64, n int) []Record {
	t.Helper()
	krs := consumeKgo(ctx, t, c.addr, map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}}, n)
	out := make([]Record, len(krs))
	for i, r := range krs {
		out[i] = fromKgo(r)
	}
	return out
}

// consumeKgo reads n records from the given partitions with franz-go, and
// checks that each is stamped CreateTime.
func consumeKgo(ctx context.Context, t testing.TB, addr string, offsets map[string]map[int32]kgo.Offset, n int) []*kgo.Record {
	t.Helper()
	cl := newKgo(t, addr,
		kgo.ConsumePartitions(offsets),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	defer cl.Close()
	var out []*kgo.Record
	var lastErr error
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("franz: consume: %d of %d records before %v (last fetch error: %v)", len(out), n, ctx.Err(), lastErr)
		}
		fs.EachError(func(_ string, _ int32, err error) { lastErr = err })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Attrs.TimestampType() != 0 {
				t.Errorf("franz: %s/%d@%d: timestamp type %d, want 0 (CreateTime)", r.Topic, r.Partition, r.Offset, r.Attrs.TimestampType())
			}
			out = append(out, r)
		})
	}
	return out[:n]
}

// ---- sarama ----

type saramaClient struct{ addr string }

func (saramaClient) Name() string   { return "sarama" }
func (saramaClient) NullKeys() bool { return true }

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.MaxVersion
	cfg.ClientID = "interop-sarama"
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.MaxMessageBytes = maxBatchBytes
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	return cfg
}

func saramaCodec(t testing.TB, codec string) sarama.CompressionCodec {
	switch codec {
	case "none":
		return sarama.CompressionNone
	case "gzip":
		return sarama.CompressionGZIP
	case "snappy":
		return sarama.CompressionSnappy
	case "lz4":
		return sarama.CompressionLZ4
	case "zstd":
		return sarama.CompressionZSTD
	}
	t.Fatalf("unknown codec %q", codec)
	return 0
}

// saramaBytes keeps a nil slice a null key (a nil Encoder) and an empty one
// an empty key.
func saramaBytes(b []byte) sarama.Encoder {
	if b == nil {
		return nil
	}
	return sarama.ByteEncoder(b)
}

func (c saramaClient) Produce(ctx context.Context, t testing.TB, topic, codec string, recs []Record) {
	t.Helper()
	cfg := saramaConfig()
	cfg.Producer.Compression = saramaCodec(t, codec)
	p, err := sarama.NewSyncProducer([]string{c.addr}, cfg)
	if err != nil {
		t.Fatalf("sarama: new producer: %v", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Partition: r.Partition, Key: saramaBytes(r.Key), Value: saramaBytes(r.Value), Timestamp: time.UnixMilli(r.Timestamp)}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		msgs[i] = m
	}
	// SendMessages has no context; its own retries and timeouts bound it.
	if err := p.SendMessages(msgs); err != nil {
		var pe sarama.ProducerErrors
		if errors.As(err, &pe) && len(pe) > 0 {
			err = fmt.Errorf("%w (first: %v)", err, pe[0].Err)
		}
		t.Fatalf("sarama: produce to %s (%s): %v", topic, codec, err)
	}
}

func (c saramaClient) Consume(ctx context.Context, t testing.TB, topic string, partition int32, from int64, n int) []Record {
	t.Helper()
	cons, err := sarama.NewConsumer([]string{c.addr}, saramaConfig())
	if err != nil {
		t.Fatalf("sarama: new consumer: %v", err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, partition, from)
	if err != nil {
		t.Fatalf("sarama: consume %s/%d from %d: %v", topic, partition, from, err)
	}
	defer pc.Close()
	var out []Record
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			r := Record{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp.UnixMilli()}
			for _, h := range m.Headers {
				r.Headers = append(r.Headers, Header{Key: string(h.Key), Value: h.Value})
			}
			out = append(out, r)
		case err := <-pc.Errors():
			t.Fatalf("sarama: consume %s/%d: %v", topic, partition, err)
		case <-ctx.Done():
			t.Fatalf("sarama: consume %s/%d: %d of %d records before %v", topic, partition, len(out), n, ctx.Err())
		}
	}
	return out
}

// ---- segmentio/kafka-go ----

type kafkaGoClient struct{ addr string }

func (kafkaGoClient) Name() string   { return "kafkago" }
func (kafkaGoClient) NullKeys() bool { return false }

func kafkaGoCodec(t testing.TB, codec string) kafka.Compression {
	switch codec {
	case "none":
		return 0
	case "gzip":
		return kafka.Gzip
	case "snappy":
		return kafka.Snappy
	case "lz4":
		return kafka.Lz4
	case "zstd":
		return kafka.Zstd
	}
	t.Fatalf("unknown codec %q", codec)
	return 0
}

func (c kafkaGoClient) Produce(ctx context.Context, t testing.TB, topic, codec string, recs []Record) {
	t.Helper()
	// A Transport of its own: the shared default one caches metadata, and
	// answers UNKNOWN_TOPIC_OR_PARTITION from its cache for a topic created
	// after its last refresh.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:      kafka.TCP(c.addr),
		Topic:     topic,
		Transport: tr,
		// The Writer has no manual partitioner; this one sends each
		// message to the partition the test put in it.
		Balancer:     kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return m.Partition }),
		RequiredAcks: kafka.RequireAll,
		Compression:  kafkaGoCodec(t, codec),
		BatchSize:    len(recs),
		BatchBytes:   maxBatchBytes,
		BatchTimeout: 10 * time.Millisecond,
	}
	defer w.Close()
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		m := kafka.Message{Partition: int(r.Partition), Key: r.Key, Value: r.Value, Time: time.UnixMilli(r.Timestamp)}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		msgs[i] = m
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafkago: produce to %s (%s): %v", topic, codec, err)
	}
}

func (c kafkaGoClient) Consume(ctx context.Context, t testing.TB, topic string, partition int32, from int64, n int) []Record {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   []string{c.addr},
		Topic:     topic,
		Partition: int(partition),
		MinBytes:  1,
		MaxBytes:  8 << 20,
		MaxWait:   100 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		t.Fatalf("kafkago: set offset: %v", err)
	}
	out := make([]Record, 0, n)
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafkago: consume %s/%d: %d of %d records: %v", topic, partition, len(out), n, err)
		}
		rec := Record{Partition: int32(m.Partition), Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Time.UnixMilli()}
		for _, h := range m.Headers {
			rec.Headers = append(rec.Headers, Header{Key: h.Key, Value: h.Value})
		}
		out = append(out, rec)
	}
	return out
}

// dialKafkaGo opens a kafka-go Conn to the partition's leader.
func dialKafkaGo(ctx context.Context, t testing.TB, addr, topic string, partition int32) *kafka.Conn {
	t.Helper()
	conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, int(partition))
	if err != nil {
		t.Fatalf("kafkago: dial leader of %s/%d: %v", topic, partition, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
