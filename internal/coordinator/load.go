package coordinator

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/record"
)

// loadChunk is how much of the partition one read returns (Kafka's
// offsets.load.buffer.size); a larger batch is still read whole.
const loadChunk = 5 << 20

// Load brings a shard of leader epoch epoch up: it waits until p leads in
// epoch, hands every batch from the log start to the log end (as of then)
// to replay, in order, and waits until the high watermark reaches that
// end, so that everything replayed is committed. It returns ctx's error
// when ctx ends first, NOT_LEADER_OR_FOLLOWER (or FENCED_LEADER_EPOCH) when
// p no longer leads in epoch (the shard is obsolete: a newer image
// unloads it), or a read error.
func Load(ctx context.Context, p Partition, epoch int32, replay func(batch []byte, h record.Header)) error {
	wake := make(chan struct{}, 1)
	defer p.AddWaiter(wake)()
	for {
		err := p.CheckLeader(epoch)
		if err == nil {
			break
		}
		if errors.Is(err, kerr.FencedLeaderEpoch) {
			return err // the replica is past epoch already
		}
		// Not yet the leader in epoch: the replica manager has not
		// applied the image that made this shard yet.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
	end := p.LogEndOffset()
	if err := ReadLog(ctx, p, p.LogStartOffset(), end, replay); err != nil {
		return err
	}
	for {
		done, err := p.Committed(epoch, end-1)
		if done {
			if Applied(err) {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// ReadLog hands every batch of p in [from, end) to fn, in order (the
// first may start below from, inside its batch; batches wholly below from
// are skipped). A start that retention or compaction moved above from is
// followed.
func ReadLog(ctx context.Context, p Partition, from, end int64, fn func(batch []byte, h record.Header)) error {
	off := from
	buf := make([]byte, 0, 64<<10)
	for off < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := p.ReadForFollower(off, loadChunk, true)
		if errors.Is(err, kerr.OffsetOutOfRange) && res.LogStartOffset > off {
			off = res.LogStartOffset
			continue
		}
		if err != nil {
			return err
		}
		n := res.Slice.Len
		if n == 0 {
			break
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		_, err = res.Slice.File.ReadAt(buf, res.Slice.Pos)
		res.Slice.Release()
		if err != nil {
			return fmt.Errorf("coordinator: read at offset %d: %w", off, err)
		}
		batches, _ := record.SplitBatches(buf) // a partial batch at the end is read next time
		if len(batches) == 0 {
			return fmt.Errorf("coordinator: no whole batch in %d bytes at offset %d", n, off)
		}
		for _, b := range batches {
			h, err := record.ParseHeader(b)
			if err != nil {
				return fmt.Errorf("coordinator: batch at offset %d: %w", off, err)
			}
			if h.LastOffset() < off {
				continue // the read may start inside an older batch's range
			}
			if h.BaseOffset >= end {
				return nil
			}
			off = h.LastOffset() + 1
			fn(b, h)
		}
	}
	return nil
}
