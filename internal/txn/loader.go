package txn

import (
	"context"
	"errors"
	"time"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/record"
)

const (
	// loadRetry is the pause before loading a partition again after a
	// read failure; its ids answer COORDINATOR_LOAD_IN_PROGRESS meanwhile.
	loadRetry = 5 * time.Second
	// maxRecordBytes bounds decompression of a batch of the partition.
	maxRecordBytes = 64 << 20
)

// load replays a shard's partition to its log end, waits until the high
// watermark covers it (coordinator.Load), then serves its ids, and sends
// the markers of every transaction found decided (PrepareCommit,
// PrepareAbort) but not completed: the previous coordinator may have
// written the decision and died before the markers or the completion.
// The runtime retries a failure until the shard is unloaded.
func (c *Coordinator) load(ctx context.Context, sh *coordinator.Shard, s *shard) error {
	start := time.Now()
	replay := map[string]*transit{}
	err := coordinator.Load(ctx, sh.Log, sh.Epoch, func(b []byte, h record.Header) { c.replayBatch(replay, b, h) })
	if err != nil {
		return err
	}
	txns := make(map[string]*txnMeta, len(replay))
	for id, t := range replay {
		if t == nil {
			continue // expired
		}
		m := newTxnMeta(id, t.producerID, t.timeoutMs, t.updateMs)
		m.apply(*t)
		if m.state == PrepareEpochFence {
			// Kafka never writes this state (a fence is written as
			// PrepareAbort); a log holding it is read as the abort
			// the fence was about to write, so the zombie stays fenced.
			m.state = PrepareAbort
		}
		txns[id] = m
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unloaded {
		return nil
	}
	s.txns = txns
	s.loaded = true
	resend := 0
	for _, m := range txns {
		if m.state == PrepareCommit || m.state == PrepareAbort {
			c.startMarkers(s, m)
			resend++
		}
	}
	c.log.Debug("loaded transactions", "partition", sh.Index, "leader_epoch", sh.Epoch, "ids", len(txns),
		"markers_resent", resend, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// replayBatch applies one batch of the log to replay: the latest record of
// each id wins, a tombstone (nil) removes it. Undecodable records are
// skipped with a warning, as Kafka's loader skips unknown keys.
func (c *Coordinator) replayBatch(replay map[string]*transit, b []byte, h record.Header) {
	if h.IsControl() {
		return
	}
	_, recs, err := record.ReadRecords(b, maxRecordBytes)
	if err != nil {
		c.log.Warn("skipping undecodable batch of "+TopicName, "offset", h.BaseOffset, "err", err)
		return
	}
	for _, r := range recs {
		id, t, err := decodeRecord(r.Key, r.Value)
		if err != nil {
			if !errors.Is(err, errUnknownKey) {
				c.log.Warn("skipping undecodable record of "+TopicName, "offset", h.BaseOffset+int64(r.OffsetDelta), "err", err)
			}
			continue
		}
		replay[id] = t
	}
}
