package crash

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// value is record i's value: 10 KiB that differ from every other
// record's at every 8-byte word, so a region read from the wrong file
// offset cannot go unnoticed.
func value(i int) []byte {
	b := make([]byte, 10<<10)
	for w := 0; w < len(b); w += 8 {
		binary.BigEndian.PutUint64(b[w:], uint64(i)<<32|uint64(w))
	}
	return b
}

// TestConcurrentSendfile: two franz-go consumers read the same 10 MB
// partition at once from different offsets. Both get exactly the records
// produced, and the bytes went out with sendfile (the shared file position
// trap in DESIGN.md: sendfile with explicit offsets keeps them apart).
func TestConcurrentSendfile(t *testing.T) {
	t.Parallel()
	const (
		topic = "zero-copy"
		n     = 1000 // records of 10 KiB: 10 MB
	)
	b := cluster.Start(t)
	createTopic(t, b.Addr(), topic, 1)
	pr := client(t, b.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.NoCompression())) // 10 MB on disk, as produced
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: value(i)}
	}
	if err := pr.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	pr.Close()
	fi, err := os.Stat(firstSegment(b.Dir, topic, 0))
	if err != nil {
		t.Fatal(err)
	}

	before := b.Server().Stats()
	starts := []int64{0, n / 2}
	got := make([][]*kgo.Record, len(starts))
	errs := make([]error, len(starts))
	var wg sync.WaitGroup
	for i, from := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = consumeFrom(b.Addr(), topic, from, n)
		}()
	}
	wg.Wait()
	after := b.Server().Stats()

	for i, from := range starts {
		recs := got[i]
		if errs[i] != nil || len(recs) != int(n-from) {
			t.Fatalf("consumer from %d: %d records, want %d; %v", from, len(recs), n-from, errs[i])
		}
		for j, r := range recs {
			want := from + int64(j)
			if r.Offset != want || string(r.Key) != fmt.Sprint(want) || !bytes.Equal(r.Value, value(int(want))) {
				t.Fatalf("consumer from %d: record %d is offset %d key %s, want offset and key %d with its value", from, j, r.Offset, r.Key, want)
			}
		}
	}
	sent := after.SendfileBytes - before.SendfileBytes
	copied := after.CopiedRegionBytes - before.CopiedRegionBytes
	t.Logf("segment %d bytes; sendfile %d bytes, copied %d bytes", fi.Size(), sent, copied)
	// The consumer from 0 alone needs every byte of the segment.
	if sent < fi.Size() {
		t.Fatalf("%d bytes went out with sendfile, less than the %d-byte segment", sent, fi.Size())
	}
	if copied != 0 {
		t.Fatalf("%d bytes of file regions were copied on a plaintext listener, want 0 (all sendfile)", copied)
	}
}

// consumeFrom reads partition 0 of topic from offset from up to end. It
// runs off the test goroutine, so it returns its error.
func consumeFrom(addr, topic string, from, end int64) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(from)}}),
		kgo.FetchMaxPartitionBytes(1<<20))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var out []*kgo.Record
	for int64(len(out)) < end-from {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return out, errs[0].Err
		}
		out = append(out, fs.Records()...)
	}
	return out, nil
}
