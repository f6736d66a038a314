package interop

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPerKeyOrdering: 10 keys × 500 records, interleaved, produced with
// franz-go's default (key-hash) partitioner to 6 partitions. Every consumer
// must find each key's records on one partition, at the offsets the produce
// acknowledgements named, in produce order.
func TestPerKeyOrdering(t *testing.T) {
	t.Parallel()
	const (
		topic  = "ordered"
		keys   = 10
		perKey = 500
		parts  = 6
	)
	b := startBroker(t)
	ctx := testCtx(t, 90*time.Second)
	createTopic(ctx, t, b.Addr(), topic, parts, nil)

	var recs []*kgo.Record
	for i := range perKey {
		for k := range keys {
			recs = append(recs, &kgo.Record{
				Topic: topic,
				Key:   fmt.Appendf(nil, "key-%d", k),
				Value: fmt.Appendf(nil, "key-%d/%05d", k, i),
			})
		}
	}
	if err := newKgo(t, b.Addr()).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	// What the acknowledgements said: partition and offset of every value.
	type place struct {
		partition int32
		offset    int64
	}
	acked := map[string]place{}
	count := make([]int, parts)
	keyPart := map[string]int32{}
	for _, r := range recs {
		acked[string(r.Value)] = place{r.Partition, r.Offset}
		count[r.Partition]++
		if p, ok := keyPart[string(r.Key)]; ok && p != r.Partition {
			t.Fatalf("producer put %s on partitions %d and %d", r.Key, p, r.Partition)
		}
		keyPart[string(r.Key)] = r.Partition
	}
	used := 0
	for _, n := range count {
		if n > 0 {
			used++
		}
	}
	if used < 2 {
		t.Fatalf("all keys hashed to one partition (%v); the test needs several", count)
	}
	ends, err := newAdmin(t, b.Addr()).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(parts) {
		if o, _ := ends.Lookup(topic, p); o.Err != nil || o.Offset != int64(count[p]) {
			t.Fatalf("partition %d: end offset %d (%v), want %d", p, o.Offset, o.Err, count[p])
		}
	}

	for _, c := range allClients(b.Addr()) {
		t.Run(c.Name(), func(t *testing.T) {
			t.Parallel()
			next := map[string]int{} // key → next sequence number expected
			for p := range int32(parts) {
				got := c.Consume(ctx, t, topic, p, 0, count[p])
				for i, r := range got {
					var k, seq int
					if _, err := fmt.Sscanf(string(r.Value), "key-%d/%d", &k, &seq); err != nil {
						t.Fatalf("partition %d offset %d: value %q: %v", p, r.Offset, r.Value, err)
					}
					key := fmt.Sprintf("key-%d", k)
					switch {
					case r.Offset != int64(i):
						t.Fatalf("partition %d: record %d has offset %d", p, i, r.Offset)
					case string(r.Key) != key:
						t.Fatalf("partition %d offset %d: key %q, value %q", p, r.Offset, r.Key, r.Value)
					case acked[string(r.Value)] != place{p, r.Offset}:
						t.Fatalf("%q read at %d/%d, acknowledged at %v", r.Value, p, r.Offset, acked[string(r.Value)])
					case seq != next[key]:
						t.Fatalf("partition %d offset %d: %s record %d, want %d (out of order)", p, r.Offset, key, seq, next[key])
					}
					next[key]++
				}
			}
			for k := range keys {
				if n := next[fmt.Sprintf("key-%d", k)]; n != perKey {
					t.Errorf("key-%d: read %d records, want %d", k, n, perKey)
				}
			}
		})
	}
}
