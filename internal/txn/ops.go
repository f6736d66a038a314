package txn

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Pending is an answer whose transition is being committed: calling it
// waits (at most until ctx ends) and returns the answer. Requests decide
// and append when they are made, in arrival order, and only the waiting is
// deferred, as the API layer's wire.Pending is.
type Pending[T any] func(ctx context.Context) T

func ready[T any](v T) Pending[T] { return func(context.Context) T { return v } }

// producerIDWait bounds how long InitProducerId waits for a new block of
// producer ids from the controller.
const producerIDWait = 5 * time.Second

// ProducerIDAndEpoch is an InitProducerId or EndTxn answer: the producer
// id and epoch the producer continues with, or Err (the ids then -1).
type ProducerIDAndEpoch struct {
	ProducerID int64
	Epoch      int16
	Err        error
}

func failed(err error) ProducerIDAndEpoch {
	return ProducerIDAndEpoch{ProducerID: noProducerID, Epoch: noEpoch, Err: err}
}

// InitProducerID is InitProducerId with a transactional id (Kafka's
// handleInitProducerId): a new id gets a fresh producer id at epoch 0; an
// existing one its epoch bumped (a new producer id once the epoch is
// exhausted), which fences the previous producer; during a transaction
// the transaction is aborted with a bumped epoch first, and the answer is
// CONCURRENT_TRANSACTIONS, so the producer retries once the abort is done.
// producerID and epoch are what a KIP-360 producer (v3+) says it has, -1
// and -1 when it says nothing.
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeoutMs int32, producerID int64, epoch int16) Pending[ProducerIDAndEpoch] {
	switch {
	case id == "":
		return ready(failed(kerr.InvalidRequest))
	case (producerID == noProducerID) != (epoch == noEpoch):
		return ready(failed(kerr.InvalidRequest))
	case timeoutMs <= 0 || ms(timeoutMs) > c.cfg.maxTimeout:
		return ready(failed(kerr.InvalidTransactionTimeout))
	}
	var expected *int16
	if producerID != noProducerID {
		expected = &epoch
	}
	// A producer id is drawn outside the shard's lock (a new block waits
	// for the controller); the decision is then taken again with it.
	fresh := noProducerID
	for {
		s, err := c.acquire(id)
		if err != nil {
			return ready(failed(err))
		}
		m := s.txns[id]
		needID := m == nil || (m.pending == nil && !inTransaction(m.state) && epochExhausted(m.epoch) && (expected == nil || *expected == m.epoch))
		if needID && fresh == noProducerID {
			s.mu.Unlock()
			if fresh, err = c.nextProducerID(ctx); err != nil {
				return ready(failed(err))
			}
			continue
		}
		now := c.nowMs()
		if m == nil {
			m = newTxnMeta(id, fresh, timeoutMs, now)
			fresh = noProducerID
			s.txns[id] = m
		}
		p := c.initLocked(s, m, timeoutMs, producerID, expected, &fresh, now)
		s.mu.Unlock()
		return p
	}
}

// nextProducerID draws a producer id. A block that cannot be had from the
// controller in time is COORDINATOR_LOAD_IN_PROGRESS, as Kafka's broker
// answers while its next block is not there, so the client retries.
func (c *Coordinator) nextProducerID(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, producerIDWait)
	defer cancel()
	id, err := c.pids.Next(ctx)
	if err != nil {
		c.log.Warn("no producer id block from the controller", "err", err)
		return noProducerID, kerr.CoordinatorLoadInProgress
	}
	return id, nil
}

// initLocked decides an InitProducerId (Kafka's
// prepareInitProducerIdTransit) and writes it. fresh is a producer id
// drawn for an exhausted epoch; it is used (and set to -1) when the
// decision rotates. Callers hold s.mu.
func (c *Coordinator) initLocked(s *shard, m *txnMeta, timeoutMs int32, producerID int64, expected *int16, fresh *int64, now int64) Pending[ProducerIDAndEpoch] {
	if m.pending != nil {
		return ready(failed(kerr.ConcurrentTransactions))
	}
	if expected != nil && !validProducer(m, producerID, *expected) {
		return ready(failed(kerr.ProducerFenced))
	}
	switch m.state {
	case PrepareCommit, PrepareAbort:
		return ready(failed(kerr.ConcurrentTransactions))
	case Ongoing:
		// Abort the transaction with a bumped epoch, which fences its
		// producer; the epoch is never handed out: the producer's retry
		// bumps it again once the abort is complete.
		t, err := c.fenceTransit(m, now)
		if err != nil {
			return ready(failed(err))
		}
		wr, err := c.transition(s, m, t, func(applied bool, _ error) {
			if applied {
				c.startMarkers(s, m)
			}
		})
		if err != nil {
			return ready(failed(writeError(err)))
		}
		return func(ctx context.Context) ProducerIDAndEpoch {
			if err := c.wait(ctx, wr); err != nil {
				return failed(err)
			}
			return failed(kerr.ConcurrentTransactions)
		}
	case Empty, CompleteCommit, CompleteAbort:
	default:
		c.log.Error("transactional id in a state InitProducerId cannot leave", "transactional_id", m.id, "state", m.state)
		return ready(failed(kerr.UnknownServerError))
	}
	var t transit
	if epochExhausted(m.epoch) && (expected == nil || *expected == m.epoch) {
		t = m.rotate(*fresh, timeoutMs, now, expected != nil)
		*fresh = noProducerID
	} else {
		var ok bool
		if t, ok = m.bumpEpoch(timeoutMs, expected, now); !ok {
			return ready(failed(kerr.ProducerFenced))
		}
	}
	wr, err := c.transition(s, m, t, nil)
	if err != nil {
		return ready(failed(writeError(err)))
	}
	return func(ctx context.Context) ProducerIDAndEpoch {
		if err := c.wait(ctx, wr); err != nil {
			return failed(err)
		}
		return ProducerIDAndEpoch{ProducerID: t.producerID, Epoch: t.epoch}
	}
}

// validProducer is Kafka's isValidProducerId for a KIP-360 producer that
// names its producer id and epoch: it is fenced unless the id was just
// created (epoch -1: a producer recovering from UNKNOWN_PRODUCER_ID), its
// producer id is the current one (the epoch is checked by the bump), or
// it is the previous one at an exhausted epoch (a retry of the rotation
// whose answer was lost).
func validProducer(m *txnMeta, producerID int64, epoch int16) bool {
	return m.epoch == noEpoch || producerID == m.producerID || (producerID == m.prevProducerID && epochExhausted(epoch))
}

// fenceTransit is the abort of a transaction on behalf of the coordinator
// (a new InitProducerId during it, or its timeout): PrepareAbort with the
// epoch bumped once, so that its producer is fenced at every partition the
// markers reach. It runs at the cluster's transaction version, as Kafka's
// does: below 2 no previous epoch is left that a retry could name; at 2
// the previous epoch is kept (a timed-out producer's retry of
// InitProducerId is recognised), and an exhausted epoch moves the id to a
// new producer id once the markers are written. Callers hold s.mu.
func (c *Coordinator) fenceTransit(m *txnMeta, now int64) (transit, error) {
	if c.transactionVersion() < 2 {
		return m.prepareEnd(false, m.epoch+1, noEpoch, 0, noProducerID, now), nil
	}
	next := noProducerID
	if epochExhausted(m.epoch) {
		pid, err := c.nextProducerID(c.ctx)
		if err != nil {
			return transit{}, err
		}
		next = pid
	}
	return m.prepareEnd(false, m.epoch+1, m.epoch, 2, next, now), nil
}

// AddPartitions is AddPartitionsToTxn (and AddOffsetsToTxn's offsets
// partition): the partitions join the transaction, which starts if none
// was open. clientTV is 2 for KIP-890 part 2's implicit additions (a
// partition leader's AddPartitionsToTxn v4+ for a Produce v12+, a
// TxnOffsetCommit v5+), which the transaction's end then runs at. The
// error is nil once the addition is committed.
func (c *Coordinator) AddPartitions(id string, producerID int64, epoch int16, parts []TopicPartition, clientTV int16) Pending[error] {
	if id == "" {
		return ready[error](kerr.InvalidRequest)
	}
	s, err := c.acquire(id)
	if err != nil {
		return ready(err)
	}
	defer s.mu.Unlock()
	m := s.txns[id]
	switch {
	case m != nil && clientTV >= 2 && (m.state == PrepareCommit || m.state == PrepareAbort) &&
		m.nextProducerID == producerID && epoch == 0:
		// The next transaction of a producer whose epoch overflowed,
		// before the id moved to its new producer id: it waits.
		return ready[error](kerr.ConcurrentTransactions)
	case m == nil || m.producerID != producerID:
		return ready[error](kerr.InvalidProducerIDMapping)
	case m.epoch != epoch:
		return ready[error](kerr.ProducerFenced)
	case m.pending != nil, m.state == PrepareCommit, m.state == PrepareAbort:
		return ready[error](kerr.ConcurrentTransactions)
	case m.state == Ongoing && m.hasAll(parts):
		return ready[error](nil)
	}
	wr, err := c.transition(s, m, m.addPartitions(parts, clientTV, c.nowMs()), nil)
	if err != nil {
		return ready(writeError(err))
	}
	return func(ctx context.Context) error { return c.wait(ctx, wr) }
}

func (m *txnMeta) hasAll(parts []TopicPartition) bool {
	for _, tp := range parts {
		if _, ok := m.partitions[tp]; !ok {
			return false
		}
	}
	return true
}

// EndTxn is EndTxn (Kafka's endTransaction from a client): in an ongoing
// transaction it writes the decision, answers once it is committed, and
// sends the markers in the background; a retry of an end already decided
// or done is CONCURRENT_TRANSACTIONS or NONE, the other end
// INVALID_TXN_STATE. clientTV is the transaction version the request runs:
// 2 from EndTxn v5 (KIP-890 part 2), where every end bumps the epoch and
// the answer carries the producer id and epoch to continue with.
func (c *Coordinator) EndTxn(id string, producerID int64, epoch int16, commit bool, clientTV int16) Pending[ProducerIDAndEpoch] {
	if id == "" {
		return ready(failed(kerr.InvalidRequest))
	}
	s, err := c.acquire(id)
	if err != nil {
		return ready(failed(err))
	}
	defer s.mu.Unlock()
	m := s.txns[id]
	if m == nil {
		return ready(failed(kerr.InvalidProducerIDMapping))
	}
	var decide endDecision
	if clientTV >= 2 {
		decide = c.endV2(m, producerID, epoch, commit)
	} else {
		decide = endV1(m, producerID, epoch, commit, c.nowMs())
	}
	switch {
	case decide.err != nil:
		return ready(failed(decide.err))
	case decide.done:
		return ready(ProducerIDAndEpoch{ProducerID: m.producerID, Epoch: m.epoch})
	}
	t := decide.t
	wr, err := c.transition(s, m, t, func(applied bool, _ error) {
		if applied {
			c.startMarkers(s, m)
		}
	})
	if err != nil {
		return ready(failed(writeError(err)))
	}
	return func(ctx context.Context) ProducerIDAndEpoch {
		if err := c.wait(ctx, wr); err != nil {
			return failed(err)
		}
		if t.nextProducerID != noProducerID {
			// The markers carry the last epoch of this producer id;
			// the producer continues with the next one.
			return ProducerIDAndEpoch{ProducerID: t.nextProducerID, Epoch: 0}
		}
		return ProducerIDAndEpoch{ProducerID: t.producerID, Epoch: t.epoch}
	}
}

// endDecision is what an EndTxn decides: an error, a retry answered as
// done (the current producer id and epoch), or the decision to write.
type endDecision struct {
	err  error
	done bool
	t    transit
}

// endV1 decides an EndTxn of the original protocol (Kafka's
// endTransactionWithTV1): the epoch must be the current one.
func endV1(m *txnMeta, producerID int64, epoch int16, commit bool, now int64) endDecision {
	switch {
	case m.producerID != producerID:
		return endDecision{err: kerr.InvalidProducerIDMapping}
	case epoch != m.epoch:
		return endDecision{err: kerr.ProducerFenced}
	case m.pending != nil:
		return endDecision{err: kerr.ConcurrentTransactions}
	}
	switch {
	case m.state == Ongoing:
		return endDecision{t: m.prepareEnd(commit, m.epoch, m.lastEpoch, 0, noProducerID, now)}
	case m.state == CompleteCommit && commit, m.state == CompleteAbort && !commit:
		return endDecision{done: true}
	case m.state == PrepareCommit && commit, m.state == PrepareAbort && !commit:
		return endDecision{err: kerr.ConcurrentTransactions}
	}
	return endDecision{err: kerr.InvalidTxnState}
}

// endV2 decides an EndTxn of transaction version 2 (Kafka's
// endTransaction above TV1). The epoch bumps on every end, so the epoch
// the request names tells a retry from the next transaction's end:
//
//	state           abort, retry  abort, current  commit, retry  commit, current
//	Empty           fenced        bump (empty)    fenced         INVALID_TXN_STATE
//	CompleteAbort   NONE          bump (empty)    INVALID        INVALID_TXN_STATE
//	CompleteCommit  INVALID       bump (empty)    NONE           INVALID_TXN_STATE
//	Prepare*        CONCURRENT_TRANSACTIONS, whatever the end
//
// where a retry names the epoch before the bump (or, after an exhausted
// epoch moved the id to a new producer id, the last epoch of the previous
// one), and "bump (empty)" aborts a transaction with no partitions, so
// that a client may abort blindly.
func (c *Coordinator) endV2(m *txnMeta, producerID int64, epoch int16, commit bool) endDecision {
	retryOnOverflow := m.prevProducerID == producerID && epoch == math.MaxInt16-1 && m.epoch == 0
	retryOnBump := m.epoch == epoch+1
	retry := retryOnBump || retryOnOverflow
	var validEpoch bool
	switch m.state {
	case PrepareCommit, PrepareAbort:
		// A retry, or the next transaction's end (the producer runs at
		// the epoch the decision answered) arriving before the markers
		// are written: both wait.
		validEpoch = retryOnBump || epoch == m.epoch
	case CompleteCommit, CompleteAbort:
		validEpoch = retry || epoch == m.epoch
	default:
		validEpoch = epoch == m.epoch
	}
	switch {
	case m.producerID != producerID && !retryOnOverflow:
		return endDecision{err: kerr.InvalidProducerIDMapping}
	case !validEpoch:
		return endDecision{err: kerr.ProducerFenced}
	case m.pending != nil:
		return endDecision{err: kerr.ConcurrentTransactions}
	}
	bump := func(empty bool) endDecision {
		next := noProducerID
		if epochExhausted(m.epoch) {
			// The bumped epoch is the last one of this producer id:
			// the id moves to a new one once the markers are written.
			pid, err := c.nextProducerID(c.ctx)
			if err != nil {
				return endDecision{err: err}
			}
			next = pid
		}
		now := c.nowMs()
		t := m.prepareEnd(commit, m.epoch+1, m.epoch, 2, next, now)
		if empty {
			// A transaction without partitions starts as it ends.
			t.startMs = now
		}
		return endDecision{t: t}
	}
	switch m.state {
	case Ongoing:
		return bump(false)
	case Empty:
		if !commit {
			return bump(true)
		}
	case CompleteCommit, CompleteAbort:
		sameEnd := commit == (m.state == CompleteCommit)
		switch {
		case retry && sameEnd:
			return endDecision{done: true}
		case !retry && !commit:
			return bump(true)
		}
	case PrepareCommit, PrepareAbort:
		// Kafka answers every end of a decided transaction
		// CONCURRENT_TRANSACTIONS under version 2, the other end
		// included: its client cannot tell a retry from the next
		// transaction's end until the markers are written.
		return endDecision{err: kerr.ConcurrentTransactions}
	}
	return endDecision{err: kerr.InvalidTxnState}
}

// VerifyPartitions answers a partition leader's verification (KIP-890
// part 1, AddPartitionsToTxn v4+ with VerifyOnly): for each partition, nil
// when it is in the ongoing transaction of producerID at epoch. Kafka's
// answers: INVALID_PRODUCER_ID_MAPPING for an unknown id or another
// producer id, PRODUCER_FENCED for another epoch, CONCURRENT_TRANSACTIONS
// while the transaction is being ended, TRANSACTION_ABORTABLE for a
// partition not added; NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS
// for all when this node cannot answer. A pending transition is not
// waited for: additions count once committed, which is when
// AddPartitionsToTxn answers the producer.
func (c *Coordinator) VerifyPartitions(id string, producerID int64, epoch int16, parts []TopicPartition) map[TopicPartition]error {
	all := func(err error) map[TopicPartition]error {
		out := make(map[TopicPartition]error, len(parts))
		for _, tp := range parts {
			out[tp] = err
		}
		return out
	}
	if id == "" {
		return all(kerr.InvalidRequest)
	}
	s, err := c.acquire(id)
	if err != nil {
		return all(err)
	}
	defer s.mu.Unlock()
	m := s.txns[id]
	switch {
	case m == nil || m.producerID != producerID:
		return all(kerr.InvalidProducerIDMapping)
	case m.epoch != epoch:
		return all(kerr.ProducerFenced)
	case m.state == PrepareCommit || m.state == PrepareAbort:
		return all(kerr.ConcurrentTransactions)
	}
	out := make(map[TopicPartition]error, len(parts))
	for _, tp := range parts {
		if _, ok := m.partitions[tp]; ok {
			out[tp] = nil
		} else {
			out[tp] = kerr.TransactionAbortable
		}
	}
	return out
}
