package txn

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/record"
)

// writeWait bounds how long a request waits for its transition to be
// committed; the write itself stays pending (and is applied if it commits
// later), as with Kafka's append timeout. Kafka waits up to the
// transaction timeout; clients give up on a request well before the
// default minute, so samsa answers sooner and lets them retry.
const writeWait = 30 * time.Second

// transition writes t as id m's next state and sets it pending; done runs,
// with s.mu held, once the write has completed: applied reports whether
// the record is in the committed log (m now holds t), err is the write's
// error (nil, or NOT_ENOUGH_REPLICAS_AFTER_APPEND for an applied write
// committed below min.insync.replicas). done runs before transition
// returns when the append committed the record (a single replica). An
// error means nothing was appended: m is not pending, done is not called.
// Callers hold s.mu and have checked that m has no pending transition.
func (c *Coordinator) transition(s *shard, m *txnMeta, t transit, done func(applied bool, err error)) (*coordinator.Write, error) {
	batch, err := c.buildBatch([]record.Record{{Key: txnKey(m.id), Value: txnValue(t)}})
	if err != nil {
		return nil, err
	}
	m.pending = &t
	finish := func(err error) {
		applied := coordinator.Applied(err) && !s.unloaded && s.txns[m.id] == m && m.pending == &t
		if m.pending == &t {
			m.pending = nil
		}
		if applied {
			m.apply(t)
		}
		if done != nil {
			done(applied, err)
		}
	}
	wr, err := s.rt.Writer.Append(batch, func(err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		finish(err)
	})
	if err != nil {
		m.pending = nil
		return nil, fmt.Errorf("txn: append to %s-%d: %w", TopicName, s.rt.Index, err)
	}
	if wr.Inline() {
		finish(wr.Err())
	}
	return wr, nil
}

// buildBatch encodes recs as one uncompressed, non-idempotent batch
// (Kafka writes the transaction log uncompressed).
func (c *Coordinator) buildBatch(recs []record.Record) ([]byte, error) {
	for i := range recs {
		recs[i].OffsetDelta = int32(i)
	}
	batch, err := record.BuildBatch(record.CodecNone, 0, recs, record.BuildOptions{
		ProducerID:    record.NoProducerID,
		ProducerEpoch: -1,
		BaseSequence:  record.NoSequence,
		BaseTimestamp: c.nowMs(),
	})
	if err != nil {
		return nil, fmt.Errorf("txn: encode records: %w: %w", err, kerr.MessageTooLarge)
	}
	return batch, nil
}

// wait waits, at most writeWait, for a write to complete and returns its
// error as a client's code: nil once committed, else what Kafka's
// coordinator answers (COORDINATOR_NOT_AVAILABLE for a write that could
// not be replicated in time or below min.insync.replicas, which clients
// retry; NOT_COORDINATOR when the leadership ended).
func (c *Coordinator) wait(ctx context.Context, wr *coordinator.Write) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	return writeError(coordinator.Wait(ctx, wr))
}

// writeError maps a failed write to the error a client gets.
func writeError(err error) error {
	if err == nil {
		return nil
	}
	return kerr.ErrorForCode(coordinator.ErrorCode(err, kerr.UnknownServerError))
}
