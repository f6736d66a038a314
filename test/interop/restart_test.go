package interop

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// topicID asks for topic's id with a Metadata v12 request.
func topicID(ctx context.Context, t testing.TB, addr, topic string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = &topic
	req.Topics = append(req.Topics, rt)
	resp := dialRaw(t, addr).do(ctx, t, req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata v12 for %s: %+v", topic, resp.Topics)
	}
	id := resp.Topics[0].TopicID
	if id == [16]byte{} {
		t.Fatalf("metadata v12: topic %s has the zero topic id", topic)
	}
	return id
}

// TestRestart: 1,000 records on two partitions survive a clean restart byte
// for byte, the topic keeps its id, offsets continue densely after it, and
// a by-time lookup still finds the right record.
func TestRestart(t *testing.T) {
	t.Parallel()
	const (
		topic   = "durable"
		perPart = 500
	)
	ctx := testCtx(t, 90*time.Second)
	dir := t.TempDir()

	var recs []Record
	for p := range int32(2) {
		for i := range perPart {
			r := Record{Partition: p, Key: fmt.Appendf(nil, "k%d", i%7), Value: randBytes(uint64(p)<<32|uint64(i), 200+i), Timestamp: 1_700_000_000_000 + int64(i)*10}
			if i%3 == 0 {
				r.Headers = []Header{{"i", fmt.Appendf(nil, "%d", i)}, {"i", nil}}
			}
			recs = append(recs, r)
		}
	}
	// The first life of the broker is a subtest, whose end shuts the broker
	// down cleanly (the path cluster.Broker.Restart takes). Restart itself
	// is not used: the old broker's cleanup calls Shutdown a second time,
	// and a second Shutdown blocks forever (reported to the lead).
	var before [16]byte
	t.Run("first life", func(t *testing.T) {
		b := cluster.StartIn(t, dir)
		checkStats(t, b)
		createTopic(ctx, t, b.Addr(), topic, 2, nil)
		franzClient{b.Addr()}.Produce(ctx, t, topic, "lz4", recs)
		before = topicID(ctx, t, b.Addr(), topic)
	})
	if t.Failed() {
		return
	}
	b := cluster.StartIn(t, dir)
	checkStats(t, b)

	if after := topicID(ctx, t, b.Addr(), topic); after != before {
		t.Fatalf("topic id changed across restart: %x, then %x", before, after)
	}
	for p := range int32(2) {
		want := withOffsets(recs[int(p)*perPart:int(p+1)*perPart], 0)
		for _, c := range allClients(b.Addr()) {
			got := c.Consume(ctx, t, topic, p, 0, perPart)
			checkRecords(t, fmt.Sprintf("%s reads partition %d after restart", c.Name(), p), got, want, c.NullKeys())
		}
	}

	// The next offset is recovered: a record produced now lands at 500.
	more := []Record{{Partition: 1, Key: []byte("after"), Value: []byte("restart"), Timestamp: 1_700_000_009_000}}
	franzClient{b.Addr()}.Produce(ctx, t, topic, "none", more)
	got := franzClient{b.Addr()}.Consume(ctx, t, topic, 1, perPart, 1)
	checkRecords(t, "record produced after restart", got, withOffsets(more, perPart), true)

	// The time index came back too: timestamp of offset 123 finds 123.
	lo, err := newAdmin(t, b.Addr()).ListOffsetsAfterMilli(ctx, 1_700_000_000_000+123*10, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if o, _ := lo.Lookup(topic, p); o.Err != nil || o.Offset != 123 || o.Timestamp != 1_700_000_001_230 {
			t.Errorf("partition %d: by-time lookup after restart: offset %d timestamp %d (%v), want 123 1700000001230", p, o.Offset, o.Timestamp, o.Err)
		}
	}
}

// TestRestartHelper is the same check through cluster.Broker.Restart, the
// harness's own restart.
func TestRestartHelper(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := testCtx(t, 30*time.Second)
	createTopic(ctx, t, b.Addr(), "restarted", 1, nil)
	recs := make([]Record, 100)
	for i := range recs {
		recs[i] = Record{Key: fmt.Appendf(nil, "k%d", i), Value: randBytes(uint64(i), 100), Timestamp: 1_700_000_000_000 + int64(i)}
	}
	franzClient{b.Addr()}.Produce(ctx, t, "restarted", "gzip", recs)
	before := topicID(ctx, t, b.Addr(), "restarted")
	b = b.Restart()
	if after := topicID(ctx, t, b.Addr(), "restarted"); after != before {
		t.Fatalf("topic id changed across restart: %x, then %x", before, after)
	}
	got := franzClient{b.Addr()}.Consume(ctx, t, "restarted", 0, 0, len(recs))
	checkRecords(t, "after Restart", got, withOffsets(recs, 0), true)
}
