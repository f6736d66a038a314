package crash

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/internal/log"
)

// TestPowerLossFlushEveryAppend: with log.flush.interval.messages=1 an
// acknowledgement promises the batch is on disk. Four producers (three
// idempotent with acks=all, one plain with acks=1) write to four
// partitions of an in-process broker whose logs sit on FaultFS, so their
// batches share fsyncs (group commit); mid-stream the power goes (every
// file is cut back to what was fsynced, or to a random part of its
// unsynced tail, torn). The broker restarted on the same directory holds
// every record any producer was ever told was written, at the offset it
// was told, with offsets dense from 0.
func TestPowerLossFlushEveryAppend(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{0, 1, 2} { // 0: a clean cut at the synced size
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			t.Parallel()
			powerLoss(t, seed)
		})
	}
}

func powerLoss(t *testing.T, seed uint64) {
	const (
		topic      = "power"
		partitions = 4
		crashAt    = 3000 // acknowledged records
	)
	dir := t.TempDir()
	fs := log.NewFaultFS(nil)
	flush := "log.flush.interval.messages=1"
	b := startOn(t, dir, fs, flush)
	createTopic(t, b.Addr(), topic, partitions)

	var (
		mu      sync.Mutex
		acked   = map[string]at{}
		nAcked  atomic.Int64
		crashed = make(chan struct{})
		once    sync.Once
		wg      sync.WaitGroup
	)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	producers := []struct {
		name string
		opts []kgo.Opt
	}{
		{"a", nil}, {"b", nil}, {"c", nil},
		{"plain", []kgo.Opt{kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.LeaderAck())}},
	}
	for _, p := range producers {
		cl := client(t, b.Addr(), append([]kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(time.Millisecond),
			kgo.ProducerBatchMaxBytes(16 << 10), kgo.RecordDeliveryTimeout(5 * time.Second)}, p.opts...)...)
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				v := fmt.Sprintf("%s-%06d", p.name, i)
				cl.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
					if err != nil {
						return
					}
					mu.Lock()
					acked[v] = at{r.Partition, r.Offset}
					mu.Unlock()
					if nAcked.Add(1) >= crashAt {
						once.Do(func() { close(crashed) })
					}
				})
			}
		})
		defer cl.Close()
	}
	select {
	case <-crashed:
	case <-time.After(waitFor):
		t.Fatalf("%d of %d records acknowledged after %v", nAcked.Load(), crashAt, waitFor)
	}
	var err error
	if seed == 0 {
		err = fs.Crash()
	} else {
		err = fs.CrashTorn(seed)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Acknowledgements can still arrive after the cut (an fsync that
	// finished just before it): they are promises too, and are kept in
	// acked. Nothing written after the cut can be acknowledged.
	stop()
	wg.Wait()
	_ = b.stop() // its logs failed with the power; errors are expected

	b = startOn(t, dir, nil, flush)
	ends := endOffsets(t, b.Addr(), topic)
	logs := consume(t, b.Addr(), topic, map[int32]int64{}, ends) // checks density
	where := map[string]at{}
	for part, recs := range logs {
		for _, r := range recs {
			where[string(r.Value)] = at{part, r.Offset}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	checkAcked(t, acked, where)
	t.Logf("acknowledged %d; after the power loss and restart the log holds %d (ends %v)", len(acked), len(where), ends)
}
