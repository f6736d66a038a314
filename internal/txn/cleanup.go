package txn

import (
	"math"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/record"
)

// maxTombstonesPerBatch bounds one expiry write: a transactional id is at
// most a few hundred bytes, so a batch stays far below any
// max.message.bytes.
const maxTombstonesPerBatch = 1000

// abortTimedOut is the transaction.abort.timed.out.transaction.cleanup.interval.ms
// sweep (Kafka's abortTimedOutTransactions): a transaction open longer
// than its timeout is aborted with its epoch bumped, as a new
// InitProducerId would, so that its producer, if still alive, is fenced
// rather than left writing into an aborted transaction.
func (c *Coordinator) abortTimedOut() {
	shards, _, err := c.loadedShards()
	if err != nil {
		return
	}
	now := c.nowMs()
	for _, s := range shards {
		s.mu.Lock()
		for _, m := range s.txns {
			if m.pending != nil || m.state != Ongoing || m.startMs+int64(m.timeoutMs) >= now {
				continue
			}
			if m.epoch == math.MaxInt16 {
				// No epoch is left to fence with (a producer never
				// holds this one: exhausted epochs rotate the id).
				c.log.Error("cannot abort a timed-out transaction: its epoch cannot be bumped", "transactional_id", m.id, "producer_id", m.producerID)
				continue
			}
			c.log.Info("aborting a transaction past its timeout", "transactional_id", m.id, "producer_id", m.producerID,
				"producer_epoch", m.epoch, "timeout_ms", m.timeoutMs)
			t, err := c.fenceTransit(m, now)
			if err == nil {
				_, err = c.transition(s, m, t, func(applied bool, _ error) {
					if applied {
						c.startMarkers(s, m)
					}
				})
			}
			if err != nil {
				c.log.Warn("cannot abort a timed-out transaction; the next sweep retries", "transactional_id", m.id, "err", err)
			}
		}
		s.mu.Unlock()
	}
}

// expireIDs is the transaction.remove.expired.transaction.cleanup.interval.ms
// sweep (Kafka's removeExpiredTransactionalIds): an id without a
// transaction (Empty, CompleteCommit, CompleteAbort) and unused for
// transactional.id.expiration.ms is tombstoned, and forgotten once the
// tombstone is committed. Meanwhile it is Dead-pending, and requests for
// it answer CONCURRENT_TRANSACTIONS.
func (c *Coordinator) expireIDs() {
	shards, _, err := c.loadedShards()
	if err != nil {
		return
	}
	now := c.nowMs()
	cutoff := now - c.cfg.idExpiration.Milliseconds()
	for _, s := range shards {
		s.mu.Lock()
		var expired []*txnMeta
		for _, m := range s.txns {
			if m.pending == nil && (m.state == Empty || m.state == CompleteCommit || m.state == CompleteAbort) && m.updateMs <= cutoff {
				expired = append(expired, m)
			}
		}
		for len(expired) > 0 {
			n := min(len(expired), maxTombstonesPerBatch)
			c.tombstone(s, expired[:n], now)
			expired = expired[n:]
		}
		s.mu.Unlock()
	}
}

// tombstone writes the tombstones of ms as one batch. Callers hold s.mu.
func (c *Coordinator) tombstone(s *shard, ms []*txnMeta, now int64) {
	recs := make([]record.Record, len(ms))
	dead := make([]*transit, len(ms))
	for i, m := range ms {
		recs[i] = record.Record{Key: txnKey(m.id)}
		t := m.base(Dead, now)
		dead[i] = &t
	}
	batch, err := c.buildBatch(recs)
	if err != nil {
		c.log.Warn("cannot encode expired transactional ids; the next sweep retries", "err", err)
		return
	}
	for i, m := range ms {
		m.pending = dead[i]
	}
	finish := func(err error) {
		for i, m := range ms {
			if m.pending != dead[i] {
				continue
			}
			m.pending = nil
			if coordinator.Applied(err) && !s.unloaded && s.txns[m.id] == m {
				delete(s.txns, m.id)
			}
		}
	}
	wr, err := s.rt.Writer.Append(batch, func(err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		finish(err)
	})
	if err != nil {
		for _, m := range ms {
			m.pending = nil
		}
		c.log.Warn("cannot write the tombstones of expired transactional ids; the next sweep retries", "err", err)
		return
	}
	if wr.Inline() {
		finish(wr.Err())
	}
	c.log.Info("expiring transactional ids", "partition", s.rt.Index, "ids", len(ms))
}
