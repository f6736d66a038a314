package crash

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKillUnderAcksAll SIGKILLs a broker while an idempotent franz-go
// producer writes 100,000 records with acks=all to four partitions, then
// restarts it on the same data dir: every acknowledged record is there
// exactly once at its acknowledged offset, offsets are dense from 0, no
// value appears twice, and producing goes on at the log end.
//
// With an fsync after every append the window between a batch reaching
// the log and its acknowledgement is wide enough that the kill usually
// lands in it, so the restarted log also holds records that were never
// acknowledged (allowed, but never twice).
func TestKillUnderAcksAll(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"page cache only", nil},
		{"fsync every append", []string{"--set", "log.flush.interval.messages=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			killUnderAcksAll(t, tc.args...)
		})
	}
}

func killUnderAcksAll(t *testing.T, brokerArgs ...string) {
	const (
		topic      = "under-fire"
		partitions = 4
		total      = 100_000
		killAt     = total * 35 / 100 // acknowledged records
	)
	dir := t.TempDir()
	p := startProcess(t, dir, brokerArgs...)
	createTopic(t, p.Addr, topic, partitions)

	var (
		mu       sync.Mutex
		acked    = map[string]at{} // value -> where the broker put it
		failed   atomic.Int64
		nAcked   atomic.Int64
		killNow  = make(chan struct{})
		loopDone = make(chan struct{})
		sent     atomic.Int64
		promised sync.WaitGroup // one per Produce, done in its promise
	)
	cl := client(t, p.Addr,
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence is franz-go's default
		kgo.ProducerLinger(2*time.Millisecond),
		kgo.ProducerBatchMaxBytes(16<<10),
	)
	produceCtx, stopProducing := context.WithCancel(context.Background())
	defer stopProducing()
	go func() {
		defer close(loopDone)
		for i := range total {
			if produceCtx.Err() != nil {
				return
			}
			v := fmt.Sprintf("v%06d", i)
			sent.Add(1)
			promised.Add(1)
			cl.Produce(produceCtx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
				defer promised.Done()
				if err != nil {
					failed.Add(1)
					return
				}
				mu.Lock()
				acked[v] = at{r.Partition, r.Offset}
				mu.Unlock()
				if nAcked.Add(1) == killAt {
					close(killNow)
				}
			})
		}
	}()
	select {
	case <-killNow:
	case <-loopDone:
		t.Fatalf("the producer finished before %d acks: %d acked, %d failed", killAt, nAcked.Load(), failed.Load())
	case <-time.After(waitFor):
		t.Fatalf("%d of %d records acknowledged after %v", nAcked.Load(), killAt, waitFor)
	}
	p.Kill()
	stopProducing()
	<-loopDone
	// Fail whatever is still buffered or in flight: the broker is gone.
	cl.UnsafeAbortBufferedRecords()
	cl.Close()
	allCalled := make(chan struct{})
	go func() { promised.Wait(); close(allCalled) }()
	select {
	case <-allCalled:
	case <-time.After(waitFor):
		t.Fatalf("promises outstanding %v after the client closed", waitFor)
	}

	mu.Lock()
	defer mu.Unlock()
	t.Logf("sent %d, acknowledged %d, failed %d", sent.Load(), len(acked), failed.Load())
	if len(acked) >= total || int64(len(acked))+failed.Load() != sent.Load() {
		t.Fatalf("sent %d, acknowledged %d, failed %d: the kill was not mid-stream, or promises went missing", sent.Load(), len(acked), failed.Load())
	}

	restart(t, p)
	ends := endOffsets(t, p.Addr, topic)
	if len(ends) != partitions {
		t.Fatalf("%d partitions after the restart, want %d", len(ends), partitions)
	}
	// consume checks that offsets run densely from 0 to each end.
	logs := consume(t, p.Addr, topic, map[int32]int64{}, ends)
	where := map[string]at{}
	for part, recs := range logs {
		for _, r := range recs {
			v := string(r.Value)
			if prev, dup := where[v]; dup {
				t.Fatalf("value %s at %d/%d and again at %d/%d", v, prev.partition, prev.offset, part, r.Offset)
			}
			n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
			if !strings.HasPrefix(v, "v") || err != nil || n < 0 || n >= int(sent.Load()) {
				t.Fatalf("%d/%d holds %q, which was never sent", part, r.Offset, v)
			}
			where[v] = at{part, r.Offset}
		}
	}
	checkAcked(t, acked, where)
	t.Logf("after the restart: %d records in the log (%d acknowledged, %d more that were in flight)", len(where), len(acked), len(where)-len(acked))

	// Producing goes on densely from each partition's end.
	const more = 2000
	cl2 := client(t, p.Addr, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(2*time.Millisecond))
	newOffsets := map[int32][]int64{}
	var rs []*kgo.Record
	for i := range more {
		rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("w%05d", i))})
	}
	ctx := testContext(t)
	for _, res := range cl2.ProduceSync(ctx, rs...) {
		if res.Err != nil {
			t.Fatalf("produce after the restart: %v", res.Err)
		}
		newOffsets[res.Record.Partition] = append(newOffsets[res.Record.Partition], res.Record.Offset)
	}
	newEnds := endOffsets(t, p.Addr, topic)
	for part := range int32(partitions) {
		offs := newOffsets[part]
		slices.Sort(offs)
		for i, o := range offs {
			if o != ends[part]+int64(i) {
				t.Fatalf("partition %d: new records at offsets %v..., want dense from the old end %d", part, offs[:min(len(offs), 5)], ends[part])
			}
		}
		if newEnds[part] != ends[part]+int64(len(offs)) {
			t.Fatalf("partition %d: end %d, want %d + %d", part, newEnds[part], ends[part], len(offs))
		}
	}
	tail := consume(t, p.Addr, topic, ends, newEnds)
	n := 0
	for _, recs := range tail {
		for _, r := range recs {
			if !strings.HasPrefix(string(r.Value), "w") {
				t.Fatalf("%d/%d holds %q after the old end", r.Partition, r.Offset, r.Value)
			}
			n++
		}
	}
	if n != more {
		t.Fatalf("%d new records consumed, want %d", n, more)
	}
}
