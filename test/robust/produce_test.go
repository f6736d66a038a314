package robust

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/record"
)

// mutate returns a copy of b changed by f.
func mutate(b []byte, f func(b []byte)) []byte {
	b = slices.Clone(b)
	f(b)
	return b
}

// rawBatch is a batch header (from a valid one-record batch) over payload
// as the records section, with the codec, record count and a last offset
// delta to match, and a correct CRC: bytes that only a check past the CRC
// can refuse.
func rawBatch(t testing.TB, codec int, payload []byte, count int32) []byte {
	t.Helper()
	b := plainBatch(t, "template")
	b = append(b[:record.HeaderSize:record.HeaderSize], payload...)
	be := binary.BigEndian
	be.PutUint32(b[record.LengthOffset:], uint32(len(b)-record.LogOverhead))
	be.PutUint16(b[record.AttributesOffset:], uint16(codec))
	be.PutUint32(b[record.LastOffsetDeltaOffset:], uint32(count-1))
	be.PutUint32(b[record.RecordCountOffset:], uint32(count))
	record.UpdateCRC(b)
	return b
}

// TestProduceRefused sends batches and requests that Kafka refuses, each
// with the exact code it answers, and checks after each that nothing
// reached any log and that the broker still serves.
func TestProduceRefused(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "auto.create.topics.enable=false")
	c := dial(t, b.Addr())
	createTopic(t, c, "plain", 1)
	createTopic(t, c, "compacted", 1, "cleanup.policy=compact")
	createTopic(t, c, "small", 1, "max.message.bytes=2048")
	createTopic(t, c, "old-client", 1)
	// What each topic holds; refused produces must leave it so.
	logs := map[string][]string{
		"plain":     {"p0", "p1"},
		"compacted": {"c0", "c1"},
		"small":     {"s0", "s1"},
	}
	for topic, values := range logs {
		produceOK(t, c, topic, 0, plainBatch(t, values...), 0)
	}
	good := func(t testing.TB) []byte { return plainBatch(t, "x", "y", "z") }

	cases := []struct {
		name      string
		topic     string
		partition int32
		acks      int16
		version   int16 // 0: produceVersion
		records   func(t testing.TB) []byte
		want      *kerr.Error
	}{
		{name: "CRC mismatch (a record byte flipped)", records: func(t testing.TB) []byte {
			return mutate(good(t), func(b []byte) { b[len(b)-1] ^= 0x40 })
		}, want: kerr.CorruptMessage},
		{name: "CRC field wrong", records: func(t testing.TB) []byte {
			return mutate(good(t), func(b []byte) { b[record.CRCOffset] ^= 1 })
		}, want: kerr.CorruptMessage},
		// Produce v3+ takes magic 2 only; Kafka's ProduceRequest
		// validation refuses an older batch with InvalidRecordException.
		{name: "magic 1", records: func(t testing.TB) []byte {
			return mutate(good(t), func(b []byte) { b[record.MagicOffset] = 1 })
		}, want: kerr.InvalidRecord},
		{name: "magic 0", records: func(t testing.TB) []byte {
			return mutate(good(t), func(b []byte) { b[record.MagicOffset] = 0 })
		}, want: kerr.InvalidRecord},
		// A magic Kafka does not know is corrupt to its batch iterator.
		{name: "magic 3", records: func(t testing.TB) []byte {
			return mutate(good(t), func(b []byte) { b[record.MagicOffset] = 3 })
		}, want: kerr.CorruptMessage},
		{name: "last offset delta 5 for 3 records", records: func(t testing.TB) []byte {
			o := plainOpts()
			o.LastOffsetDelta = 5
			return build(t, record.CodecNone, o, recs("x", "y", "z"))
		}, want: kerr.InvalidRecord},
		{name: "record count 5 with 3 records", records: func(t testing.TB) []byte {
			return mutate(good(t), func(b []byte) {
				binary.BigEndian.PutUint32(b[record.RecordCountOffset:], 5)
				binary.BigEndian.PutUint32(b[record.LastOffsetDeltaOffset:], 4)
				record.UpdateCRC(b)
			})
		}, want: kerr.InvalidRecord},
		{name: "record count 2 with 3 records", records: func(t testing.TB) []byte {
			return mutate(good(t), func(b []byte) {
				binary.BigEndian.PutUint32(b[record.RecordCountOffset:], 2)
				binary.BigEndian.PutUint32(b[record.LastOffsetDeltaOffset:], 1)
				record.UpdateCRC(b)
			})
		}, want: kerr.InvalidRecord},
		{name: "record count 0", records: func(t testing.TB) []byte {
			return rawBatch(t, record.CodecNone, nil, 0)
		}, want: kerr.InvalidRecord},
		{name: "two batches in one partition", records: func(t testing.TB) []byte {
			return append(plainBatch(t, "x"), plainBatch(t, "y")...)
		}, want: kerr.InvalidRecord},
		// Kafka trims bytes after the batch that cannot be one, and
		// appends the batch; internal/record refuses them (validate.go,
		// "nothing good follows a batch") with INVALID_RECORD.
		{name: "a batch and stray bytes", records: func(t testing.TB) []byte {
			return append(good(t), 1, 2, 3)
		}, want: kerr.InvalidRecord},
		{name: "no batch at all", records: func(t testing.TB) []byte { return []byte{} }, want: kerr.InvalidRecord},
		// Kafka's iterator yields no batch from bytes that end inside one,
		// and "at least one record batch" is INVALID_RECORD.
		{name: "batch cut short of its length", records: func(t testing.TB) []byte {
			g := good(t)
			return g[:len(g)-5]
		}, want: kerr.InvalidRecord},
		{name: "batch length below any batch", records: func(t testing.TB) []byte {
			return mutate(good(t), func(b []byte) { binary.BigEndian.PutUint32(b[record.LengthOffset:], 10) })
		}, want: kerr.CorruptMessage},
		{name: "base offset 5", records: func(t testing.TB) []byte {
			return mutate(good(t), func(b []byte) { binary.BigEndian.PutUint64(b[record.BaseOffsetOffset:], 5) })
		}, want: kerr.InvalidRecord},
		{name: "control batch from a client", records: func(t testing.TB) []byte {
			o := plainOpts()
			o.Attributes = record.AttrControl
			return build(t, record.CodecNone, o, recs("x"))
		}, want: kerr.InvalidRecord},
		{name: "producer id without a sequence", records: func(t testing.TB) []byte {
			o := plainOpts()
			o.ProducerID, o.ProducerEpoch = 7, 0
			return build(t, record.CodecNone, o, recs("x"))
		}, want: kerr.InvalidRecord},
		{name: "producer set LogAppendTime", records: func(t testing.TB) []byte {
			o := plainOpts()
			o.Attributes = record.AttrTimestampType
			o.MaxTimestamp = o.BaseTimestamp
			return build(t, record.CodecNone, o, recs("x"))
		}, want: kerr.InvalidTimestamp},
		// Kafka lets CompressionType.forId's exception escape as
		// UNKNOWN_SERVER_ERROR; samsa names the fault (internal/record).
		{name: "compression codec 7", records: func(t testing.TB) []byte {
			return mutate(good(t), func(b []byte) {
				binary.BigEndian.PutUint16(b[record.AttributesOffset:], 7)
				record.UpdateCRC(b)
			})
		}, want: kerr.UnsupportedCompressionType},
		{name: "gzip payload that is not gzip", records: func(t testing.TB) []byte {
			return rawBatch(t, record.CodecGzip, []byte("this is not a gzip stream at all"), 1)
		}, want: kerr.CorruptMessage},
		// Clients learn of zstd with Produce v7 (KIP-110); Kafka refuses
		// a zstd batch in an older request.
		{name: "zstd on Produce v6", topic: "old-client", version: 6, records: func(t testing.TB) []byte {
			return build(t, record.CodecZstd, plainOpts(), recs("x"))
		}, want: kerr.UnsupportedCompressionType},
		{name: "batch above the topic's max.message.bytes", topic: "small", records: func(t testing.TB) []byte {
			return plainBatch(t, strings.Repeat("v", 4096))
		}, want: kerr.MessageTooLarge},
		{name: "acks=2", acks: 2, records: good, want: kerr.InvalidRequiredAcks},
		{name: "acks=-2", acks: -2, records: good, want: kerr.InvalidRequiredAcks},
		{name: "unknown topic, auto-create disabled", topic: "no-such-topic", records: good, want: kerr.UnknownTopicOrPartition},
		{name: "partition 1 of a 1-partition topic", partition: 1, records: good, want: kerr.UnknownTopicOrPartition},
		{name: "partition -1", partition: -1, records: good, want: kerr.UnknownTopicOrPartition},
		{name: "record without a key on a compacted topic", topic: "compacted", records: func(t testing.TB) []byte {
			rs := recs("k0", "k1", "k2")
			rs[1].Key = nil
			return build(t, record.CodecNone, plainOpts(), rs)
		}, want: kerr.InvalidRecord},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topic := tc.topic
			if topic == "" {
				topic = "plain"
			}
			acks := tc.acks
			if acks == 0 {
				acks = -1
			}
			req := produceReq(topic, tc.partition, acks, tc.records(t))
			if tc.version != 0 {
				req.Version = tc.version
			}
			resp := rt[*kmsg.ProduceResponse](t, c, req)
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("malformed response %+v", resp.Topics)
			}
			p := resp.Topics[0].Partitions[0]
			if p.ErrorCode != tc.want.Code {
				t.Errorf("error %s, want %s (message %v)", codeName(p.ErrorCode), codeName(tc.want.Code), str(p.ErrorMessage))
			}
			for topic, values := range logs {
				checkLog(t, c, topic, 0, values)
			}
			serving(t, b)
		})
	}

	// Per-record errors (KIP-467): Produce v8+ names the refused record
	// by its index in the batch.
	t.Run("record_errors name the keyless record", func(t *testing.T) {
		rs := recs("k0", "k1", "k2")
		rs[1].Key = nil
		p := produce(t, c, "compacted", 0, -1, build(t, record.CodecNone, plainOpts(), rs))
		if p.ErrorCode != kerr.InvalidRecord.Code {
			t.Fatalf("error %s, want %s", codeName(p.ErrorCode), codeName(kerr.InvalidRecord.Code))
		}
		if len(p.ErrorRecords) != 1 || p.ErrorRecords[0].RelativeOffset != 1 {
			t.Fatalf("record_errors %+v, want [{RelativeOffset:1}]", p.ErrorRecords)
		}
	})

	// Kafka answers a refused partition with base offset -1, log append
	// time -1 and log start offset -1 (PartitionResponse(Errors)).
	t.Run("refused partition carries offsets -1", func(t *testing.T) {
		p := produce(t, c, "plain", 0, 2, good(t))
		if p.ErrorCode != kerr.InvalidRequiredAcks.Code {
			t.Fatalf("error %s, want %s", codeName(p.ErrorCode), codeName(kerr.InvalidRequiredAcks.Code))
		}
		if p.BaseOffset != -1 || p.LogAppendTime != -1 || p.LogStartOffset != -1 {
			t.Fatalf("refused Produce partition answers base_offset %d, log_append_time %d, log_start_offset %d; Kafka answers -1, -1, -1",
				p.BaseOffset, p.LogAppendTime, p.LogStartOffset)
		}
	})

	// acks=0 has no response to carry an error: Kafka closes the
	// connection instead, so the producer notices.
	t.Run("acks=0 with a corrupt batch closes the connection", func(t *testing.T) {
		c0 := dial(t, b.Addr())
		frame, _ := c0.frame(produceReq("plain", 0, 0, mutate(good(t), func(b []byte) { b[len(b)-1] ^= 1 })))
		c0.write(t, frame)
		c0.expectClosed(t)
		checkLog(t, c, "plain", 0, logs["plain"])
		serving(t, b)
	})

	// And good input still lands, densely after the refused attempts.
	produceOK(t, c, "plain", 0, good(t), 2)
	checkLog(t, c, "plain", 0, []string{"p0", "p1", "x", "y", "z"})
	if p := b.Server().Stats().Panics; p != 0 {
		t.Fatalf("%d panics recovered", p)
	}
}

func str(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestProduceUnknownTopic: with auto.create.topics.enable=true (the
// default), a produce to a topic that does not exist is answered
// UNKNOWN_TOPIC_OR_PARTITION and creates nothing; Kafka auto-creates only
// from Metadata.
func TestProduceUnknownTopic(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := dial(t, b.Addr())
	for _, acks := range []int16{-1, 1} {
		p := produce(t, c, "no-such-topic", 0, acks, plainBatch(t, "x"))
		if p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("acks=%d: error %s, want %s", acks, codeName(p.ErrorCode), codeName(kerr.UnknownTopicOrPartition.Code))
		}
		if p.BaseOffset != -1 {
			t.Errorf("acks=%d: base offset %d, want -1", acks, p.BaseOffset)
		}
	}
	if got, want := topicNames(t, c), []string{healthTopic}; !slices.Equal(got, want) {
		t.Fatalf("topics after producing to an unknown one: %q, want %q", got, want)
	}
	serving(t, b)
}
