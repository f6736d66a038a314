package retention

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestReadsDuringDeletion: while a producer appends and retention.bytes
// deletes the oldest segments (their files removed at once, delay 0),
// readers keep going back to the start of the partition, so they read
// segments as they are deleted. No read may see a corrupt or partial
// batch: every fetch returns whole, CRC-valid batches starting at the
// offset asked for, each record holding the value of its offset, or
// OFFSET_OUT_OF_RANGE below a log start that has moved past that offset.
// A franz-go consumer, reset to the start whenever retention overtakes
// it, sees only records that hold the value of their offset, in order,
// up to the last one.
func TestReadsDuringDeletion(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	// Retention every 10ms, so that deletions land while fetches of the
	// deleted segment are in flight: at 100ms, a broker that closed a
	// segment's files under its readers passed this test most runs.
	b := cluster.Start(t, "log.retention.check.interval.ms=10", "log.segment.delete.delay.ms=0")
	c := newClient(t, b)
	const topic = "churn"
	c.createTopic(ctx, t, topic, 1, map[string]string{"segment.bytes": "1024", "retention.bytes": "4096"})
	f := c.fetcher(ctx, t, topic, 0)
	const total = 1500

	var (
		wg       sync.WaitGroup
		produced = make(chan struct{})
		errc     = make(chan error, 4)
		mu       sync.Mutex
		resets   int // fetches answered OFFSET_OUT_OF_RANGE
	)
	for r := range 3 {
		wg.Go(func() {
			if err := readUntil(ctx, c, f, total, produced, &mu, &resets); err != nil {
				errc <- fmt.Errorf("reader %d: %w", r, err)
			}
		})
	}
	cons := newKgo(t, b.Addr(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxPartitionBytes(700), kgo.FetchMaxWait(50*time.Millisecond))
	wg.Go(func() {
		last := int64(-1)
		for last < total-1 {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				errc <- fmt.Errorf("consumer after offset %d: %w", last, err)
				return
			}
			for it := fs.RecordIter(); !it.Done(); {
				r := it.Next()
				if r.Offset <= last {
					errc <- fmt.Errorf("consumer: offset %d after %d", r.Offset, last)
					return
				}
				if err := checkValue(r.Offset, r.Value); err != nil {
					errc <- fmt.Errorf("consumer: %w", err)
					return
				}
				last = r.Offset
			}
		}
	})

	c.produce(ctx, t, topic, 0, total, time.Now())
	close(produced)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	start := c.startOffset(ctx, t, topic, 0)
	if start == 0 {
		t.Fatal("retention deleted nothing while the readers ran")
	}
	t.Logf("log start %d of %d records; %d fetches met a moved log start", start, total, resets)
}

// readUntil fetches from the start of the partition to its end, over and
// over, until the producer is done and it has read the last record.
func readUntil(ctx context.Context, c *client, f *fetcher, total int64, produced <-chan struct{}, mu *sync.Mutex, resets *int) error {
	off := int64(0)
	for {
		p, err := f.fetch(ctx, off, 700) // less than a segment: most fetches end inside a batch
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(p.ErrorCode); errors.Is(err, kerr.OffsetOutOfRange) {
			// The log start only grows: read after the error, it must
			// already be past off, or the error was wrong.
			start, _, err := c.offsets(ctx, f.topic, f.partition)
			if err != nil {
				return err
			}
			if start <= off {
				return fmt.Errorf("fetch at %d: OFFSET_OUT_OF_RANGE with the log start at %d", off, start)
			}
			mu.Lock()
			*resets++
			mu.Unlock()
			off = start
			continue
		} else if err != nil {
			return fmt.Errorf("fetch at %d: %w", off, err)
		}
		if p.LogStartOffset > off {
			return fmt.Errorf("fetch at %d answered, with the log start at %d", off, p.LogStartOffset)
		}
		next, n, err := checkBatches(p.RecordBatches, off)
		if err != nil {
			return err
		}
		if n > 0 {
			off = next
			continue
		}
		// At the high watermark: done if the producer is, else back to
		// the start, which retention keeps moving.
		select {
		case <-produced:
			if off >= total {
				return nil
			}
		default:
		}
		off = 0
	}
}
