package txn

import (
	"cmp"
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a transaction's state, numbered as Kafka's TransactionState is
// in the TransactionLogValue record, named as DescribeTransactions and
// ListTransactions name them.
type State = kmsg.TransactionState

// The states (Kafka's TransactionState):
//
//	Empty             no transaction; InitProducerId and completions lead here
//	Ongoing           partitions were added (AddPartitionsToTxn, AddOffsetsToTxn)
//	PrepareCommit     EndTxn(commit) is written: the decision; markers follow
//	PrepareAbort      EndTxn(abort), a fence or a timeout is written
//	CompleteCommit    every marker of the commit is written
//	CompleteAbort     every marker of the abort is written
//	Dead              the id expired (its tombstone is being written)
//	PrepareEpochFence Kafka's transient state of a fence; samsa writes the
//	                  fence straight as PrepareAbort with the bumped epoch,
//	                  so it never holds it, but reads it from Kafka's logs
const (
	Empty             = kmsg.TransactionStateEmpty
	Ongoing           = kmsg.TransactionStateOngoing
	PrepareCommit     = kmsg.TransactionStatePrepareCommit
	PrepareAbort      = kmsg.TransactionStatePrepareAbort
	CompleteCommit    = kmsg.TransactionStateCompleteCommit
	CompleteAbort     = kmsg.TransactionStateCompleteAbort
	Dead              = kmsg.TransactionStateDead
	PrepareEpochFence = kmsg.TransactionStatePrepareEpochFence
)

// noProducerID and noEpoch are Kafka's RecordBatch.NO_PRODUCER_ID and
// NO_PRODUCER_EPOCH.
const (
	noProducerID int64 = -1
	noEpoch      int16 = -1
)

// epochExhausted reports whether no epoch may be handed out after e: Kafka
// keeps MaxInt16 out of producers' hands so that the coordinator can always
// fence the last one (a fence bumps the epoch by one).
func epochExhausted(e int16) bool { return e >= math.MaxInt16-1 }

// TopicPartition names one partition of a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func compareTP(a, b TopicPartition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// txnMeta is one transactional id's state (Kafka's TransactionMetadata).
// Its fields are the replay of the committed log: a transition is
// prepared as a transit, written, and applied only once the write is
// committed. Guarded by its shard's mutex.
type txnMeta struct {
	id             string
	producerID     int64
	prevProducerID int64 // the producer id before the last InitProducerId (or epoch overflow)
	nextProducerID int64 // TV2: the id an exhausted epoch moves to at completion
	epoch          int16
	lastEpoch      int16 // the epoch before the last bump, for retried InitProducerId (KIP-360); not in the log
	timeoutMs      int32
	state          State
	partitions     map[TopicPartition]struct{}
	startMs        int64 // when the first partition of the transaction was added, -1 when none
	updateMs       int64 // the last transition, for transactional.id.expiration.ms
	clientTV       int16 // the transaction version the client ran the last transition with

	// pending is the transition being written (Kafka's pendingState):
	// while it is set, every request that would start another answers
	// CONCURRENT_TRANSACTIONS.
	pending *transit
}

// transit is a transition's target (Kafka's TxnTransitMetadata): what the
// state becomes once its record is committed.
type transit struct {
	state          State
	producerID     int64
	prevProducerID int64
	nextProducerID int64
	epoch          int16
	lastEpoch      int16
	timeoutMs      int32
	partitions     []TopicPartition // sorted
	startMs        int64
	updateMs       int64
	clientTV       int16
}

func newTxnMeta(id string, producerID int64, timeoutMs int32, now int64) *txnMeta {
	return &txnMeta{
		id: id, producerID: producerID, prevProducerID: noProducerID, nextProducerID: noProducerID,
		epoch: noEpoch, lastEpoch: noEpoch, timeoutMs: timeoutMs, state: Empty,
		partitions: map[TopicPartition]struct{}{}, startMs: -1, updateMs: now,
	}
}

// sortedPartitions is the transaction's partitions in order.
func (m *txnMeta) sortedPartitions() []TopicPartition {
	out := make([]TopicPartition, 0, len(m.partitions))
	for tp := range m.partitions {
		out = append(out, tp)
	}
	slices.SortFunc(out, compareTP)
	return out
}

// base is a transit that changes nothing but the state and the update
// time.
func (m *txnMeta) base(to State, now int64) transit {
	return transit{
		state: to, producerID: m.producerID, prevProducerID: m.prevProducerID, nextProducerID: m.nextProducerID,
		epoch: m.epoch, lastEpoch: m.lastEpoch, timeoutMs: m.timeoutMs, partitions: m.sortedPartitions(),
		startMs: m.startMs, updateMs: now, clientTV: m.clientTV,
	}
}

// initTransit is InitProducerId's transition to Empty with epoch (and
// producerID): no partitions, no start, the new timeout, and the previous
// producer id recorded.
func (m *txnMeta) initTransit(producerID int64, epoch, lastEpoch int16, timeoutMs int32, now int64) transit {
	return transit{
		state: Empty, producerID: producerID, prevProducerID: m.producerID, nextProducerID: noProducerID,
		epoch: epoch, lastEpoch: lastEpoch, timeoutMs: timeoutMs, startMs: -1, updateMs: now, clientTV: m.clientTV,
	}
}

// bumpEpoch is Kafka's prepareIncrementProducerEpoch: the transit of an
// InitProducerId on the same producer id. expected is the epoch the
// producer says it has (KIP-360), nil when it gave none. A producer whose
// epoch is neither the current nor (a retry of a bump it did not hear
// about) the previous one is fenced: ok is false.
func (m *txnMeta) bumpEpoch(timeoutMs int32, expected *int16, now int64) (t transit, ok bool) {
	bumped := m.epoch + 1
	switch {
	case expected == nil:
		return m.initTransit(m.producerID, bumped, noEpoch, timeoutMs, now), true
	case m.epoch == noEpoch || *expected == m.epoch:
		return m.initTransit(m.producerID, bumped, m.epoch, timeoutMs, now), true
	case *expected == m.lastEpoch:
		// A retry of a bump whose answer was lost: the same epoch
		// again. A producer that called InitProducerId without an
		// epoch in between would have reset lastEpoch to -1.
		return m.initTransit(m.producerID, m.epoch, m.lastEpoch, timeoutMs, now), true
	}
	return transit{}, false
}

// rotate is Kafka's prepareProducerIdRotation: an exhausted epoch moves the
// id to a new producer id at epoch 0; the old epoch is kept as the last
// one when the producer named it, so that its retry is recognised.
func (m *txnMeta) rotate(producerID int64, timeoutMs int32, now int64, recordLastEpoch bool) transit {
	last := noEpoch
	if recordLastEpoch {
		last = m.epoch
	}
	return m.initTransit(producerID, 0, last, timeoutMs, now)
}

// addPartitions is the transition to Ongoing with parts added, by a
// client of transaction version clientTV (2 for KIP-890's implicit
// additions); a new transaction starts its clock now.
func (m *txnMeta) addPartitions(parts []TopicPartition, clientTV int16, now int64) transit {
	t := m.base(Ongoing, now)
	t.clientTV = clientTV
	set := make(map[TopicPartition]struct{}, len(m.partitions)+len(parts))
	for tp := range m.partitions {
		set[tp] = struct{}{}
	}
	for _, tp := range parts {
		set[tp] = struct{}{}
	}
	t.partitions = t.partitions[:0]
	for tp := range set {
		t.partitions = append(t.partitions, tp)
	}
	slices.SortFunc(t.partitions, compareTP)
	switch m.state {
	case Empty, CompleteCommit, CompleteAbort:
		t.startMs = now
	}
	return t
}

// prepareEnd is the decision: PrepareCommit or PrepareAbort at epoch (the
// current one, or the bumped one of a fence, after which no previous epoch
// is valid). Under transaction version 2 (KIP-890 part 2) every end bumps
// the epoch, and nextProducerID is the id an exhausted epoch moves to.
func (m *txnMeta) prepareEnd(commit bool, epoch, lastEpoch int16, clientTV int16, nextProducerID int64, now int64) transit {
	to := PrepareAbort
	if commit {
		to = PrepareCommit
	}
	t := m.base(to, now)
	t.epoch, t.lastEpoch, t.clientTV, t.nextProducerID = epoch, lastEpoch, clientTV, nextProducerID
	return t
}

// prepareComplete is the transition once every marker is written. Under
// transaction version 2 an exhausted epoch moves the id to the next
// producer id at epoch 0 now that the markers carry the old one; the last
// epoch stays the one the client last saw (the epoch before the bump), so
// that its retries are recognised, and the previous producer id is the
// one it used.
func (m *txnMeta) prepareComplete(now int64) transit {
	to := CompleteAbort
	if m.state == PrepareCommit {
		to = CompleteCommit
	}
	t := m.base(to, now)
	t.partitions = nil
	t.prevProducerID = m.producerID
	t.nextProducerID = noProducerID
	if m.clientTV >= 2 && m.nextProducerID != noProducerID {
		t.producerID, t.epoch = m.nextProducerID, 0
	}
	return t
}

// apply makes the state the transit's, once its record is committed.
func (m *txnMeta) apply(t transit) {
	m.state = t.state
	m.producerID, m.prevProducerID, m.nextProducerID = t.producerID, t.prevProducerID, t.nextProducerID
	m.epoch, m.lastEpoch = t.epoch, t.lastEpoch
	m.timeoutMs = t.timeoutMs
	m.partitions = make(map[TopicPartition]struct{}, len(t.partitions))
	for _, tp := range t.partitions {
		m.partitions[tp] = struct{}{}
	}
	m.startMs, m.updateMs = t.startMs, t.updateMs
	m.clientTV = t.clientTV
}

// inTransaction reports whether a transaction is open or being ended.
func inTransaction(s State) bool { return s == Ongoing || s == PrepareCommit || s == PrepareAbort }
