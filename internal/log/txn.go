package log

import (
	"fmt"
	"slices"

	"github.com/samsa-kafka/samsa/internal/record"
)

// Transactions in the log (KIP-98), as Kafka's ProducerStateManager and
// UnifiedLog keep them. Every batch appended, by a leader, a follower or
// recovery's replay, goes through trackBatch: a producer's first
// transactional batch opens its transaction, a marker (a control batch,
// record.ParseMarker) ends it, and an abort marker adds the transaction to
// the abort index of the segment it lands in (txnindex.go).
//
// The last stable offset (LSO) bounds read_committed consumers: below it
// every transaction is decided. It is min(high watermark, first unstable
// offset), the first unstable offset being the first offset of the
// earliest transaction that is open, or that a marker ended above the high
// watermark: until the marker is committed a new leader may lack it,
// truncate it away and reopen the transaction, so readers must not pass
// it. The log does not own the high watermark; its owner reports every
// change with UpdateHighWatermark.
//
// Readers take no lock: the appender publishes the open and ended
// transactions as an immutable txnView after each change.

// markerReadLimit bounds the decompression of a control batch read back
// from the log: a marker is one tiny record.
const markerReadLimit = 64 << 10

// txnView is what readers see of the transactions: the open ones, by
// first offset, and the ended ones the high watermark had not passed when
// it was published.
type txnView struct {
	open  []txnRange
	ended []txnRange
}

var emptyTxnView = &txnView{}

// UpdateHighWatermark tells the log its partition's high watermark: the
// transactions ended by a marker below it stop holding the last stable
// offset back. Call it on every change, before readers are woken.
func (l *Log) UpdateHighWatermark(hw int64) { l.hw.Store(hw) }

// FirstUnstableOffset is the first offset of the earliest transaction that
// is open or was ended by a marker at or above the high watermark, never
// below the log start (as Kafka clamps it); ok is false when there is
// none. The last stable offset is the smaller of it and the high
// watermark.
func (l *Log) FirstUnstableOffset() (offset int64, ok bool) {
	v, hw := l.txns.Load(), l.hw.Load()
	offset = -1
	if len(v.open) > 0 {
		offset = v.open[0].first
	}
	for _, t := range v.ended {
		if t.last >= hw && (offset < 0 || t.first < offset) {
			offset = t.first
		}
	}
	if offset < 0 {
		return -1, false
	}
	return max(offset, l.start.Load()), true
}

// LastStableOffset is min(hw, FirstUnstableOffset()).
func (l *Log) LastStableOffset(hw int64) int64 {
	if fuo, ok := l.FirstUnstableOffset(); ok && fuo < hw {
		return fuo
	}
	return hw
}

// OngoingTxn reports whether producer pid has a transaction open in this
// log: a transactional batch appended and no marker after it. It takes no
// lock: an append's effect is visible once the append returns.
func (l *Log) OngoingTxn(pid int64) bool {
	for _, t := range l.txns.Load().open {
		if t.pid == pid {
			return true
		}
	}
	return false
}

// setProducers installs a rebuilt producer state. Appender only.
func (l *Log) setProducers(ps *producerState) {
	l.producers = ps
	ps.txnsChanged = true
	l.publishTxns()
}

// publishTxns shows readers the transactions as they are now, forgetting
// the ended ones the high watermark has passed. Appender only.
func (l *Log) publishTxns() {
	ps := l.producers
	ps.pruneCompleted(l.hw.Load())
	if !ps.txnsChanged {
		return
	}
	ps.txnsChanged = false
	if len(ps.ongoing) == 0 && len(ps.completed) == 0 {
		l.txns.Store(emptyTxnView)
		return
	}
	l.txns.Store(&txnView{open: slices.Clone(ps.ongoing), ended: slices.Clone(ps.completed)})
}

// markerOf parses the marker of a control batch (nil for a data batch, or
// a control batch that is not a transaction marker). batch holds the
// batch's bytes, or is nil to read them from seg at pos.
func markerOf(h *record.Header, batch []byte, seg *segment, pos int64) (*record.Marker, error) {
	if !h.IsControl() || h.ProducerID < 0 {
		return nil, nil
	}
	if batch == nil {
		var err error
		if batch, err = seg.readBatch(pos, h.Size()); err != nil {
			return nil, err
		}
	}
	m, err := record.ParseMarker(batch, markerReadLimit)
	if err != nil {
		// Another control record (or one the cleaner emptied): it
		// changes no transaction.
		return nil, nil
	}
	return &m, nil
}

// trackBatch applies the batch h, stored in seg, to the producer state ps:
// m is its marker (markerOf). An abort marker at or above indexFrom adds
// its transaction to seg's abort index, with the last stable offset after
// it; below indexFrom (a replay over batches whose entries are already
// indexed) it adds nothing.
func trackBatch(ps *producerState, seg *segment, h *record.Header, m *record.Marker, indexFrom int64) {
	if h.ProducerID < 0 {
		return
	}
	ended, aborted, ok := ps.apply(h, m)
	if ok && aborted && h.BaseOffset >= indexFrom {
		seg.txn.add(AbortedTxn{
			ProducerID:       ended.pid,
			FirstOffset:      ended.first,
			LastOffset:       ended.last,
			LastStableOffset: ps.lastStableAfter(ended.last),
		})
	}
}

// replayProducers applies the batches whose base offset is in [from, end)
// to ps, in order, indexing the aborted transactions whose marker is at or
// above indexFrom (see trackBatch); it returns how many batches it saw.
func (l *Log) replayProducers(ps *producerState, from, end, indexFrom int64) (int, error) {
	var err error
	n, rerr := l.replayIn(from, end, func(s *segment, h *record.Header, pos int64) {
		if err != nil || h.ProducerID < 0 {
			return
		}
		var m *record.Marker
		if m, err = markerOf(h, nil, s, pos); err == nil {
			trackBatch(ps, s, h, m, indexFrom)
		}
	})
	if rerr != nil {
		return n, rerr
	}
	if err != nil {
		return n, fmt.Errorf("log: replay producer state: %w", err)
	}
	return n, nil
}
