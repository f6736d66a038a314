// Package compaction is the black-box test of log compaction: a real
// broker with a fast log cleaner, driven by franz-go, sarama and kafka-go.
package compaction

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

const (
	nKeys       = 100
	nUpdates    = 100
	nTombstones = 20
)

type rec struct {
	offset     int64
	key, value string
	tombstone  bool
}

func filler() []byte {
	b := make([]byte, 8<<10) // incompressible: fills a 4 KiB segment whatever the codec
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return b
}

// want is the compacted content: the last update of each live key at its
// original offset, the tombstones if still kept, and the filler records
// not yet superseded (those from offset lastFiller on).
func want(tomb int64, tombstones bool) []rec {
	var out []rec
	for k := nTombstones; k < nKeys; k++ {
		out = append(out, rec{int64((nUpdates-1)*nKeys + k), fmt.Sprintf("key-%03d", k), fmt.Sprintf("v-%03d-%03d", k, nUpdates-1), false})
	}
	if tombstones {
		for k := range nTombstones {
			out = append(out, rec{tomb + int64(k), fmt.Sprintf("key-%03d", k), "", true})
		}
	}
	return out
}

// TestCompaction: 100 keys x 100 updates plus 20 tombstones compact to
// exactly the latest value of each live key at its original offset and,
// after delete.retention.ms, no record for the deleted keys; batches
// produced with gzip and zstd are recompressed so that franz-go, sarama and
// kafka-go all read them.
func TestCompaction(t *testing.T) {
	t.Parallel()
	b := cluster.Start(t, "log.cleaner.backoff.ms=50")
	for _, codec := range []string{"none", "gzip", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
			defer cancel()
			comp := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "zstd": kgo.ZstdCompression()}[codec]
			cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(comp),
				kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			topic := "compact-" + codec
			cfg := map[string]*string{}
			for k, v := range map[string]string{"cleanup.policy": "compact", "segment.bytes": "4096",
				"min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "1000", "file.delete.delay.ms": "0"} {
				cfg[k] = &v
			}
			if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, cfg, topic); err != nil || resp.Err != nil {
				t.Fatalf("create topic: %v %v", err, resp.Err)
			}
			produce := func(rs ...*kgo.Record) int64 {
				t.Helper()
				res := cl.ProduceSync(ctx, rs...)
				if err := res.FirstErr(); err != nil {
					t.Fatal(err)
				}
				return res[0].Record.Offset
			}
			for u := range nUpdates {
				for g := 0; g < nKeys; g += 10 {
					var rs []*kgo.Record
					for k := g; k < g+10; k++ {
						rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%03d", k), Value: fmt.Appendf(nil, "v-%03d-%03d", k, u)})
					}
					produce(rs...)
				}
			}
			var rs []*kgo.Record
			for k := range nTombstones {
				rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%03d", k)})
			}
			tomb := produce(rs...)
			fill := func() int64 { return produce(&kgo.Record{Topic: topic, Key: []byte("filler"), Value: filler()}) }
			fill()
			lastFiller := fill() // closes the segment of the first filler

			// The cleaner runs every 50ms; wait until it has compacted
			// everything below the active segment.
			wantNow := want(tomb, true)
			poll(ctx, t, "compaction", func() (bool, string) {
				got := readFranz(ctx, t, b.Addr(), topic, lastFiller)
				return slices.Equal(got, wantNow), fmt.Sprintf("%d records, want %d", len(got), len(wantNow))
			})
			for _, read := range []func(context.Context, testing.TB, string, string, int64) []rec{readFranz, readSarama, readKafkaGo} {
				if got := read(ctx, t, b.Addr(), topic, lastFiller); !slices.Equal(got, wantNow) {
					t.Fatalf("compacted log read: %d records, want %d: %v", len(got), len(wantNow), got)
				}
			}

			// After delete.retention.ms, and with new data to clean, the
			// tombstones go.
			wantLater := want(tomb, false)
			poll(ctx, t, "tombstone removal", func() (bool, string) {
				lastFiller = fill()
				got := readFranz(ctx, t, b.Addr(), topic, lastFiller)
				return slices.Equal(got, wantLater), fmt.Sprintf("%d records, want %d", len(got), len(wantLater))
			})
			for _, read := range []func(context.Context, testing.TB, string, string, int64) []rec{readFranz, readSarama, readKafkaGo} {
				if got := read(ctx, t, b.Addr(), topic, lastFiller); !slices.Equal(got, wantLater) {
					t.Fatalf("log read after delete.retention.ms: %d records, want %d", len(got), len(wantLater))
				}
			}
		})
	}
}

// poll checks cond every 100ms until it holds or ctx ends: the cleaner is
// a background loop the test cannot step.
func poll(ctx context.Context, t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %s", what, why)
		case <-tick.C:
		}
	}
}

// keep drops the filler records (key "filler"), which the tests do not
// predict, and stops at offset end (exclusive).
func keep(out []rec, r rec, end int64) []rec {
	if r.key == "filler" || r.offset >= end {
		return out
	}
	return append(out, r)
}

func readFranz(ctx context.Context, t testing.TB, addr, topic string, end int64) []rec {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []rec
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("franz-go fetch: %v", err)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end {
				done = true
			}
			out = keep(out, rec{r.Offset, string(r.Key), string(r.Value), r.Value == nil}, end)
		})
		if done {
			return out
		}
	}
}

func readSarama(ctx context.Context, t testing.TB, addr, topic string, end int64) []rec {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.MaxVersion
	cons, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var out []rec
	for {
		select {
		case m := <-pc.Messages():
			if m.Offset >= end {
				return out
			}
			out = keep(out, rec{m.Offset, string(m.Key), string(m.Value), m.Value == nil}, end)
		case err := <-pc.Errors():
			t.Fatalf("sarama: %v", err)
		case <-ctx.Done():
			t.Fatalf("sarama: %d records before %v", len(out), ctx.Err())
		}
	}
}

func readKafkaGo(ctx context.Context, t testing.TB, addr, topic string, end int64) []rec {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		t.Fatal(err)
	}
	var out []rec
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go: %d records: %v", len(out), err)
		}
		if m.Offset >= end {
			return out
		}
		out = keep(out, rec{m.Offset, string(m.Key), string(m.Value), m.Value == nil}, end)
	}
}
