package interop

import (
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// offsetTimestamps are the CreateTimes of offsets 0..10: 1000, 2000, ...,
// 10000, then 5500. The largest timestamp (10000, offset 9) is not the last
// record's, and the last record's timestamp is below earlier ones.
var offsetTimestamps = []int64{1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 5500}

// offsetCases: what ListOffsets must answer for each query, on a partition
// holding offsetTimestamps. A by-time query answers the first offset (in
// offset order) whose timestamp is >= the query, with that record's
// timestamp; none is offset -1, timestamp -1 (v1+). The minimum version is
// the first ListOffsets version that carries the query.
var offsetCases = []struct {
	name       string
	query      int64
	offset, ts int64
	minVersion int16
}{
	{"before first", 500, 0, 1000, 1},
	{"equal to first", 1000, 0, 1000, 1},
	{"equal to a middle one", 5000, 4, 5000, 1},
	{"between two", 5001, 5, 6000, 1},
	{"equal to a later, smaller one", 5500, 5, 6000, 1},
	{"just below the max", 9999, 9, 10000, 1},
	{"equal to the max", 10000, 9, 10000, 1},
	{"after the max", 10001, -1, -1, 1},
	{"latest (-1)", -1, 11, -1, 1},
	{"earliest (-2)", -2, 0, -1, 1},
	{"max timestamp (-3)", -3, 9, 10000, 7},
}

// TestListOffsetsByTimestamp checks ListOffsets at every version samsa
// serves, on three layouts of the same records (one batch per record; one
// uncompressed batch; one zstd batch), then checks that kadm, sarama and
// kafka-go read the same answers.
func TestListOffsetsByTimestamp(t *testing.T) {
	t.Parallel()
	const topic = "by-time"
	b := startBroker(t)
	ctx := testCtx(t, 60*time.Second)
	createTopic(ctx, t, b.Addr(), topic, 3, nil)

	recs := make([]Record, len(offsetTimestamps))
	for i, ts := range offsetTimestamps {
		recs[i] = Record{Key: []byte{byte(i)}, Value: []byte("v"), Timestamp: ts}
	}
	// Partition 0: one batch per record.
	fc := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, r := range recs {
		kr := &kgo.Record{Topic: topic, Partition: 0, Key: r.Key, Value: r.Value, Timestamp: time.UnixMilli(r.Timestamp)}
		if err := fc.ProduceSync(ctx, kr).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Partitions 1 and 2: kafka-go writes each call's records as one batch.
	kg := kafkaGoClient{b.Addr()}
	for i := range recs {
		recs[i].Partition = 1
	}
	kg.Produce(ctx, t, topic, "none", recs)
	for i := range recs {
		recs[i].Partition = 2
	}
	kg.Produce(ctx, t, topic, "zstd", recs)
	parts := []int32{0, 1, 2}

	raw := dialRaw(t, b.Addr())
	for v := int16(1); v <= 8; v++ {
		for _, c := range offsetCases {
			if v < c.minVersion {
				continue
			}
			for iso := int8(0); iso <= 1 && (iso == 0 || v >= 2); iso++ {
				req := kmsg.NewPtrListOffsetsRequest()
				req.Version = v
				req.ReplicaID = -1
				req.IsolationLevel = iso
				rt := kmsg.NewListOffsetsRequestTopic()
				rt.Topic = topic
				for _, p := range parts {
					rp := kmsg.NewListOffsetsRequestTopicPartition()
					rp.Partition = p
					rp.CurrentLeaderEpoch = -1
					rp.Timestamp = c.query
					rt.Partitions = append(rt.Partitions, rp)
				}
				req.Topics = append(req.Topics, rt)
				resp := raw.do(ctx, t, req).(*kmsg.ListOffsetsResponse)
				if len(resp.Topics) != 1 || resp.Topics[0].Topic != topic || len(resp.Topics[0].Partitions) != len(parts) {
					t.Fatalf("v%d %s: response topics %+v", v, c.name, resp.Topics)
				}
				for _, rp := range resp.Topics[0].Partitions {
					wantEpoch := int32(0)
					if c.offset == -1 {
						wantEpoch = -1
					}
					if v < 4 {
						wantEpoch = -1 // not in the response before v4
					}
					if rp.ErrorCode != 0 || rp.Offset != c.offset || rp.Timestamp != c.ts || rp.LeaderEpoch != wantEpoch {
						t.Errorf("v%d isolation %d %s (%d) partition %d: error %d offset %d timestamp %d epoch %d, want 0 %d %d %d",
							v, iso, c.name, c.query, rp.Partition, rp.ErrorCode, rp.Offset, rp.Timestamp, rp.LeaderEpoch, c.offset, c.ts, wantEpoch)
					}
				}
			}
		}
	}

	t.Run("kadm", func(t *testing.T) {
		adm := newAdmin(t, b.Addr())
		for _, c := range offsetCases {
			if c.query < 0 {
				continue
			}
			got, err := adm.ListOffsetsAfterMilli(ctx, c.query, topic)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range parts {
				o, _ := got.Lookup(topic, p)
				// kadm answers "none after" with the end offset.
				wantOff, wantTS := c.offset, c.ts
				if wantOff == -1 {
					wantOff = int64(len(offsetTimestamps))
				}
				if o.Err != nil || o.Offset != wantOff || (c.offset != -1 && o.Timestamp != wantTS) {
					t.Errorf("%s (%d) partition %d: offset %d timestamp %d (%v), want %d %d", c.name, c.query, p, o.Offset, o.Timestamp, o.Err, wantOff, wantTS)
				}
			}
		}
		maxTS, err := adm.ListMaxTimestampOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if o, _ := maxTS.Lookup(topic, p); o.Err != nil || o.Offset != 9 || o.Timestamp != 10000 {
				t.Errorf("max timestamp partition %d: offset %d timestamp %d (%v), want 9 10000", p, o.Offset, o.Timestamp, o.Err)
			}
		}
	})

	t.Run("sarama", func(t *testing.T) {
		cl, err := sarama.NewClient([]string{b.Addr()}, saramaConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for _, c := range offsetCases {
			if c.query == -3 {
				continue // sarama has no max-timestamp query
			}
			for _, p := range parts {
				got, err := cl.GetOffset(topic, p, c.query)
				if err != nil || got != c.offset {
					t.Errorf("GetOffset(%s (%d)) partition %d: %d (%v), want %d", c.name, c.query, p, got, err, c.offset)
				}
			}
		}
	})

	t.Run("kafkago", func(t *testing.T) {
		for _, p := range parts {
			conn := dialKafkaGo(ctx, t, b.Addr(), topic, p)
			for _, c := range offsetCases {
				var got int64
				var err error
				switch c.query {
				case -3:
					continue // kafka-go's Conn has no max-timestamp query
				case -2:
					got, err = conn.ReadFirstOffset()
				case -1:
					got, err = conn.ReadLastOffset()
				default:
					got, err = conn.ReadOffset(time.UnixMilli(c.query))
				}
				if err != nil || got != c.offset {
					t.Errorf("%s (%d) partition %d: %d (%v), want %d", c.name, c.query, p, got, err, c.offset)
				}
			}
		}
	})
}

// TestListOffsetsEmptyPartition: on a partition with no records, a by-time
// query and max-timestamp both answer -1/-1, and earliest and latest are 0.
func TestListOffsetsEmptyPartition(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := testCtx(t, 30*time.Second)
	createTopic(ctx, t, b.Addr(), "empty", 1, nil)
	raw := dialRaw(t, b.Addr())
	for _, c := range []struct{ query, offset, ts int64 }{{0, -1, -1}, {1000, -1, -1}, {-1, 0, -1}, {-2, 0, -1}, {-3, -1, -1}} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = 8
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "empty"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.CurrentLeaderEpoch = -1
		rp.Timestamp = c.query
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := raw.do(ctx, t, req).(*kmsg.ListOffsetsResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("query %d: response topics %+v", c.query, resp.Topics)
		}
		rp2 := resp.Topics[0].Partitions[0]
		if rp2.ErrorCode != 0 || rp2.Offset != c.offset || rp2.Timestamp != c.ts {
			t.Errorf("query %d: error %d offset %d timestamp %d, want 0 %d %d", c.query, rp2.ErrorCode, rp2.Offset, rp2.Timestamp, c.offset, c.ts)
		}
	}
}
