package interop

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// mixedRecords is one partition's worth of awkward records: null, empty and
// binary keys, null (tombstone), empty and compressible values, duplicate
// header keys, empty header values, and CreateTimes that go backwards inside the batch (a
// negative timestamp delta).
func mixedRecords() []Record {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	const base = int64(1_700_000_000_123)
	recs := []Record{
		{Key: nil, Value: []byte("null key")},
		{Key: []byte{}, Value: []byte("empty key")},
		{Key: []byte("k"), Value: []byte{}},
		{Key: all, Value: all},
		{Key: randBytes(1, 1000), Value: randBytes(2, 10_000)},
		{Key: []byte("headers"), Value: []byte("h"), Headers: []Header{
			{"a", []byte("1")}, {"a", []byte("2")}, {"empty", []byte{}}, {"bin", all}, {"", []byte("empty header key")}, {"a", []byte("3")},
		}},
		{Key: []byte("compressible"), Value: bytes.Repeat([]byte("samsa "), 20_000)},
		{Key: nil, Value: randBytes(3, 100)},
		{Key: []byte("tombstone"), Value: nil},
		{Key: []byte("unicode ключ 键"), Value: []byte("ünïcødé"), Headers: []Header{{"ключ", []byte("значение")}}},
	}
	for i := range recs {
		recs[i].Timestamp = base + int64(i)*1001
	}
	recs[3].Timestamp = base - 86_400_000 // a day before the batch's first
	recs[7].Timestamp = base + 1          // between the first two
	return recs
}

// TestRoundTripCodecs: every producer × every codec × every consumer on the
// mixed records. Each (producer, codec) writes its own topic, so offsets
// must be dense from 0 and every consumer must read back the same bytes.
func TestRoundTripCodecs(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := testCtx(t, 90*time.Second)
	want := withOffsets(mixedRecords(), 0)
	for _, prod := range allClients(b.Addr()) {
		for _, codec := range codecs {
			topic := fmt.Sprintf("rt-%s-%s", prod.Name(), codec)
			t.Run(prod.Name()+"/"+codec, func(t *testing.T) {
				t.Parallel()
				createTopic(ctx, t, b.Addr(), topic, 1, nil)
				prod.Produce(ctx, t, topic, codec, want)
				for _, cons := range allClients(b.Addr()) {
					got := cons.Consume(ctx, t, topic, 0, 0, len(want))
					checkRecords(t, cons.Name()+" reads "+topic, got, want, cons.NullKeys())
				}
				// Reading from the middle of a (compressed) batch starts at
				// exactly the offset asked for, and the batches are stored
				// with the producer's codec (compression.type=producer).
				krs := consumeKgo(ctx, t, b.Addr(), map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(4)}}, len(want)-4)
				got := make([]Record, len(krs))
				for i, r := range krs {
					got[i] = fromKgo(r)
					if c := codecs[r.Attrs.CompressionType()]; c != codec {
						t.Errorf("offset %d is stored with codec %s, want %s", r.Offset, c, codec)
					}
				}
				checkRecords(t, "franz reads "+topic+" from 4", got, want[4:], true)
			})
		}
	}
}

// largeRecords has values from empty to exactly 1 MiB.
func largeRecords() []Record {
	sizes := []int{0, 1, 1000, 100_000, 1 << 20, 512 << 10}
	recs := make([]Record, len(sizes))
	for i, n := range sizes {
		recs[i] = Record{Key: fmt.Appendf(nil, "size-%d", n), Value: randBytes(uint64(100+i), n), Timestamp: 1_700_000_100_000 + int64(i)}
	}
	return recs
}

// TestRoundTripLargeValues: values up to 1 MiB on a topic with
// max.message.bytes=2097152, every codec from franz-go and the uncompressed
// path from the other two producers, each read by every consumer.
func TestRoundTripLargeValues(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := testCtx(t, 90*time.Second)
	want := withOffsets(largeRecords(), 0)
	type run struct {
		prod  client
		codec string
	}
	var runs []run
	for _, codec := range codecs {
		runs = append(runs, run{franzClient{b.Addr()}, codec})
	}
	runs = append(runs, run{saramaClient{b.Addr()}, "none"}, run{kafkaGoClient{b.Addr()}, "zstd"})
	for _, r := range runs {
		topic := fmt.Sprintf("large-%s-%s", r.prod.Name(), r.codec)
		t.Run(r.prod.Name()+"/"+r.codec, func(t *testing.T) {
			t.Parallel()
			createTopic(ctx, t, b.Addr(), topic, 1, largeTopic)
			r.prod.Produce(ctx, t, topic, r.codec, want)
			for _, cons := range allClients(b.Addr()) {
				got := cons.Consume(ctx, t, topic, 0, 0, len(want))
				checkRecords(t, cons.Name()+" reads "+topic, got, want, cons.NullKeys())
			}
		})
	}
}

// TestRecordTooLarge: at the default max.message.bytes (1048588) a batch
// holding a 1 MiB value is refused with MESSAGE_TOO_LARGE, and nothing is
// appended.
func TestRecordTooLarge(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := testCtx(t, 30*time.Second)
	createTopic(ctx, t, b.Addr(), "small", 1, nil)
	cl := newKgo(t, b.Addr(), kgo.ProducerBatchMaxBytes(maxBatchBytes), kgo.RecordRetries(0))
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "small", Value: randBytes(7, 1<<20)}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce 1 MiB value at the default limit: %v, want %v", err, kerr.MessageTooLarge)
	}
	ends, err := newAdmin(t, b.Addr()).ListEndOffsets(ctx, "small")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("small", 0); o.Err != nil || o.Offset != 0 {
		t.Fatalf("end offset after the refused batch: %d (%v), want 0", o.Offset, o.Err)
	}
}
