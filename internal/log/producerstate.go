package log

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"path/filepath"
	"slices"

	"github.com/samsa-kafka/samsa/internal/record"
)

// Idempotent producer state, with the semantics of Kafka's
// ProducerStateManager: per producer id the current epoch and the last
// five batches appended, so a retried batch is recognised as a duplicate
// and answered with its original offsets (a producer has at most five
// requests in flight), and a batch whose sequence does not follow the last
// one is refused.

// maxCachedBatches is how many batches per producer are remembered.
const maxCachedBatches = 5

type batchMeta struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
	timestamp               int64 // the batch's max timestamp
}

type producerEntry struct {
	epoch   int16
	batches []batchMeta // oldest first, at most maxCachedBatches
	// lastTimestamp is the max timestamp of the producer's last batch
	// (Kafka's ProducerStateEntry.lastTimestamp), by which the entry
	// expires; -1 when unknown.
	lastTimestamp int64
	// For transactions (Kafka's coordinatorEpoch and
	// currentTxnFirstOffset): the epoch of the transaction coordinator
	// that wrote the producer's last marker, and the first offset of its
	// open transaction; -1 when none. Kept in snapshots.
	coordinatorEpoch int32
	txnFirstOffset   int64
}

func newProducerEntry(epoch int16) *producerEntry {
	return &producerEntry{epoch: epoch, lastTimestamp: -1, coordinatorEpoch: -1, txnFirstOffset: -1}
}

// producerState is guarded by Log.mu.
type producerState struct {
	producers map[int64]*producerEntry
	// ongoing holds the open transactions (Kafka's ongoingTxns), by
	// ascending first offset (last is -1); completed those a marker ended
	// that the high watermark may not have passed yet (Kafka's
	// unreplicatedTxns), in marker order. Until the high watermark passes
	// its marker a transaction still holds the last stable offset back: a
	// new leader may not have the marker, truncate it away and reopen the
	// transaction. Log.publishTxns shows them to readers.
	ongoing   []txnRange
	completed []txnRange
	// txnsChanged: ongoing or completed changed since the last publish.
	txnsChanged bool
}

// txnRange is one transaction of a producer in this partition: the offset
// of its first batch and of the marker that ended it (-1 while open).
type txnRange struct{ pid, first, last int64 }

func newProducerState() *producerState {
	return &producerState{producers: map[int64]*producerEntry{}}
}

// addSequence is seq+delta on the sequence circle: sequences wrap from
// math.MaxInt32 to 0.
func addSequence(seq, delta int32) int32 {
	if seq > math.MaxInt32-delta {
		return delta - (math.MaxInt32 - seq) - 1
	}
	return seq + delta
}

// check decides whether the batch h (ProducerID >= 0) may be appended by
// a leader, with the rules of Kafka's ProducerAppendInfo for a client's
// batch (a coordinator's, for coordinator). It returns the original batch
// when h repeats one of the last five. m is the marker of a control batch
// (nil when it is not a transaction marker).
//
// A data batch has its sequence checked (a coordinator's batch without a
// sequence, a transactional offset commit, only its epoch), and is refused
// with ErrInvalidTxnState when it is not transactional while the producer
// has a transaction open here. A marker carries no sequence: it is refused
// for an epoch below the producer's (ErrInvalidProducerEpoch) or a
// coordinator epoch below the one of the producer's last marker
// (ErrCoordinatorFenced: a transaction coordinator that lost its
// partition still sending markers).
func (ps *producerState) check(h *record.Header, m *record.Marker, coordinator bool) (*batchMeta, error) {
	e := ps.producers[h.ProducerID]
	if h.IsControl() {
		if e == nil {
			return nil, nil
		}
		if h.ProducerEpoch < e.epoch {
			return nil, fmt.Errorf("log: producer %d: marker epoch %d below current %d: %w",
				h.ProducerID, h.ProducerEpoch, e.epoch, ErrInvalidProducerEpoch)
		}
		if m != nil && m.CoordinatorEpoch < e.coordinatorEpoch {
			return nil, fmt.Errorf("log: producer %d: marker from coordinator epoch %d, below %d: %w",
				h.ProducerID, m.CoordinatorEpoch, e.coordinatorEpoch, ErrCoordinatorFenced)
		}
		return nil, nil
	}
	if coordinator && h.BaseSequence == record.NoSequence {
		if e != nil && h.ProducerEpoch < e.epoch {
			return nil, fmt.Errorf("log: producer %d: epoch %d below current %d: %w",
				h.ProducerID, h.ProducerEpoch, e.epoch, ErrInvalidProducerEpoch)
		}
	} else if dup, err := checkSequence(e, h); dup != nil || err != nil {
		return dup, err
	}
	if e != nil && e.txnFirstOffset >= 0 && !h.IsTransactional() {
		return nil, fmt.Errorf("log: producer %d: non-transactional batch while its transaction from offset %d is open: %w",
			h.ProducerID, e.txnFirstOffset, ErrInvalidTxnState)
	}
	return nil, nil
}

// checkSequence checks a data batch's epoch and sequence against the
// producer's entry e (nil: unknown producer).
func checkSequence(e *producerEntry, h *record.Header) (*batchMeta, error) {
	first := h.BaseSequence
	if e == nil {
		if first != 0 {
			return nil, fmt.Errorf("log: producer %d unknown: first sequence %d, want 0: %w",
				h.ProducerID, first, ErrOutOfOrderSequence)
		}
		return nil, nil
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return nil, fmt.Errorf("log: producer %d: epoch %d below current %d: %w",
			h.ProducerID, h.ProducerEpoch, e.epoch, ErrInvalidProducerEpoch)
	case h.ProducerEpoch > e.epoch:
		if first != 0 {
			return nil, fmt.Errorf("log: producer %d: new epoch %d starts at sequence %d, want 0: %w",
				h.ProducerID, h.ProducerEpoch, first, ErrOutOfOrderSequence)
		}
		return nil, nil
	}
	last := addSequence(first, h.LastOffsetDelta)
	for i := range e.batches {
		if b := &e.batches[i]; b.firstSeq == first && b.lastSeq == last {
			dup := *b
			return &dup, nil
		}
	}
	if len(e.batches) == 0 {
		// The epoch is known (from a marker) but has no batches yet.
		if first != 0 {
			return nil, fmt.Errorf("log: producer %d epoch %d: first sequence %d, want 0: %w",
				h.ProducerID, h.ProducerEpoch, first, ErrOutOfOrderSequence)
		}
		return nil, nil
	}
	if prev := e.batches[len(e.batches)-1].lastSeq; first != addSequence(prev, 1) {
		return nil, fmt.Errorf("log: producer %d epoch %d: sequence %d does not follow %d: %w",
			h.ProducerID, h.ProducerEpoch, first, prev, ErrOutOfOrderSequence)
	}
	return nil, nil
}

// apply records an appended batch (offsets assigned) and returns the
// transaction a marker ended, if any. m is the marker of a control batch,
// nil for a control batch that is not one (it changes nothing). Every
// append path and recovery's replay go through it without check: the log
// is the truth.
//
// A transactional data batch of a producer with no open transaction opens
// one at its base offset. A marker closes the producer's open transaction
// (one with none open here, as a transaction that wrote nothing to this
// partition, closes nothing), records its coordinator epoch, and moves the
// producer to its epoch if that is newer: with KIP-890's transaction
// version 2 a marker carries the epoch bumped for the next transaction,
// whose first batch then starts at sequence 0.
func (ps *producerState) apply(h *record.Header, m *record.Marker) (ended txnRange, aborted, ok bool) {
	if h.IsControl() && m == nil {
		return ended, false, false
	}
	e := ps.producers[h.ProducerID]
	if e == nil {
		e = newProducerEntry(h.ProducerEpoch)
		ps.producers[h.ProducerID] = e
	}
	e.lastTimestamp = h.MaxTimestamp
	if h.ProducerEpoch != e.epoch {
		e.epoch = h.ProducerEpoch
		e.batches = e.batches[:0]
	}
	if m != nil {
		e.coordinatorEpoch = m.CoordinatorEpoch
		if e.txnFirstOffset < 0 {
			return ended, false, false
		}
		ended = txnRange{pid: h.ProducerID, first: e.txnFirstOffset, last: h.BaseOffset}
		e.txnFirstOffset = -1
		if i := ps.ongoingIndex(h.ProducerID, ended.first); i >= 0 {
			ps.ongoing = slices.Delete(ps.ongoing, i, i+1)
		}
		ps.completed = append(ps.completed, ended)
		ps.txnsChanged = true
		return ended, !m.Commit, true
	}
	if h.IsTransactional() && e.txnFirstOffset < 0 {
		e.txnFirstOffset = h.BaseOffset
		// A new transaction begins above every open one.
		ps.ongoing = append(ps.ongoing, txnRange{pid: h.ProducerID, first: h.BaseOffset, last: -1})
		ps.txnsChanged = true
	}
	if h.BaseSequence < 0 {
		return ended, false, false
	}
	if len(e.batches) == maxCachedBatches {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:maxCachedBatches-1]
	}
	e.batches = append(e.batches, batchMeta{
		firstSeq:    h.BaseSequence,
		lastSeq:     addSequence(h.BaseSequence, h.LastOffsetDelta),
		firstOffset: h.BaseOffset,
		lastOffset:  h.LastOffset(),
		timestamp:   h.MaxTimestamp,
	})
	return ended, false, false
}

// ongoingIndex is the position in ongoing of producer pid's open
// transaction, which begins at first, or -1.
func (ps *producerState) ongoingIndex(pid, first int64) int {
	i, _ := slices.BinarySearchFunc(ps.ongoing, first, func(t txnRange, first int64) int { return cmp.Compare(t.first, first) })
	for ; i < len(ps.ongoing) && ps.ongoing[i].first == first; i++ {
		if ps.ongoing[i].pid == pid {
			return i
		}
	}
	return -1
}

// lastStableAfter is the last stable offset once the marker at offset has
// ended a transaction (Kafka's ProducerStateManager.lastStableOffset): the
// first offset of the earliest transaction still open, or offset + 1. It
// is what the abort index records with the transaction.
func (ps *producerState) lastStableAfter(offset int64) int64 {
	if len(ps.ongoing) > 0 {
		return ps.ongoing[0].first
	}
	return offset + 1
}

// rebuildOngoing derives ongoing from the entries, after a snapshot is
// decoded.
func (ps *producerState) rebuildOngoing() {
	ps.ongoing = ps.ongoing[:0]
	for id, e := range ps.producers {
		if e.txnFirstOffset >= 0 {
			ps.ongoing = append(ps.ongoing, txnRange{pid: id, first: e.txnFirstOffset, last: -1})
		}
	}
	slices.SortFunc(ps.ongoing, func(a, b txnRange) int { return cmp.Compare(a.first, b.first) })
	ps.txnsChanged = true
}

// pruneCompleted forgets the ended transactions whose marker is below hw:
// committed, they no longer hold the last stable offset back.
func (ps *producerState) pruneCompleted(hw int64) {
	n := len(ps.completed)
	ps.completed = slices.DeleteFunc(ps.completed, func(t txnRange) bool { return t.last < hw })
	if len(ps.completed) != n {
		ps.txnsChanged = true
	}
}

// expire forgets the producers whose last batch is older than expiration
// at now (ms), as Kafka's removeExpiredProducers (producer.id.expiration.ms,
// KIP-854 made it apply to idempotent producers too): a later batch of such
// a producer is treated as a new producer's. A producer with an open
// transaction never expires. It returns how many went.
func (ps *producerState) expire(now, expiration int64) int {
	n := 0
	for id, e := range ps.producers {
		if e.txnFirstOffset < 0 && now-e.lastTimestamp >= expiration {
			delete(ps.producers, id)
			n++
		}
	}
	return n
}

// Snapshot file `<offset, 20 digits>.snapshot`: the producer state after
// every batch below offset. Big endian:
//
//	version   uint16 (3; 1 and 2 are read too)
//	offset    int64
//	count     uint32
//	count × { producerID int64, epoch int16,
//	          v2+: lastTimestamp int64, coordinatorEpoch int32, txnFirstOffset int64,
//	          n uint8,
//	          n × { firstSeq int32, lastSeq int32, firstOffset int64,
//	                lastOffset int64, timestamp int64 } }
//	v3: ended uint32, ended × { producerID int64, firstOffset int64, markerOffset int64 }
//	crc32c    uint32 over all the bytes before it
//
// Version 1 lacks the three fields of version 2: an entry read from it
// takes its last batch's timestamp (or -1) and no transaction. Version 3
// adds the transactions a marker ended that the high watermark had not
// passed (producerState.completed), so a restart holds the last stable
// offset where it was; older versions have none.
const (
	snapshotSuffix  = ".snapshot"
	snapshotVersion = 3
	snapBatchSize   = 4 + 4 + 8 + 8 + 8
	snapEntrySizeV1 = 8 + 2 + 1
	snapEntrySize   = 8 + 2 + 8 + 4 + 8 + 1
	snapTxnSize     = 8 + 8 + 8
)

func (ps *producerState) encode(offset int64) []byte {
	ids := make([]int64, 0, len(ps.producers))
	for id := range ps.producers {
		ids = append(ids, id)
	}
	slices.Sort(ids) // deterministic bytes
	b := make([]byte, 0, 14+len(ids)*(snapEntrySize+2*snapBatchSize)+4+len(ps.completed)*snapTxnSize+4)
	b = binary.BigEndian.AppendUint16(b, snapshotVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := ps.producers[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastTimestamp))
		b = binary.BigEndian.AppendUint32(b, uint32(e.coordinatorEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.txnFirstOffset))
		b = append(b, byte(len(e.batches)))
		for _, m := range e.batches {
			b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.lastOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.timestamp))
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(ps.completed)))
	for _, t := range ps.completed {
		b = binary.BigEndian.AppendUint64(b, uint64(t.pid))
		b = binary.BigEndian.AppendUint64(b, uint64(t.first))
		b = binary.BigEndian.AppendUint64(b, uint64(t.last))
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errBadSnapshot = errors.New("log: bad producer snapshot")

func decodeProducerState(b []byte, offset int64) (*producerState, error) {
	if len(b) < 14+4 {
		return nil, fmt.Errorf("%w: %d bytes", errBadSnapshot, len(b))
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: crc mismatch", errBadSnapshot)
	}
	version := binary.BigEndian.Uint16(body)
	entrySize := snapEntrySize
	switch version {
	case 1:
		entrySize = snapEntrySizeV1
	case 2, snapshotVersion:
	default:
		return nil, fmt.Errorf("%w: version %d", errBadSnapshot, version)
	}
	if off := int64(binary.BigEndian.Uint64(body[2:])); off != offset {
		return nil, fmt.Errorf("%w: holds offset %d, named %d", errBadSnapshot, off, offset)
	}
	count := binary.BigEndian.Uint32(body[10:])
	body = body[14:]
	if uint64(count) > uint64(len(body)/entrySize) {
		return nil, fmt.Errorf("%w: %d producers in %d bytes", errBadSnapshot, count, len(body))
	}
	ps := newProducerState()
	for range count {
		if len(body) < entrySize {
			return nil, fmt.Errorf("%w: truncated", errBadSnapshot)
		}
		id := int64(binary.BigEndian.Uint64(body))
		e := newProducerEntry(int16(binary.BigEndian.Uint16(body[8:])))
		if version >= 2 {
			e.lastTimestamp = int64(binary.BigEndian.Uint64(body[10:]))
			e.coordinatorEpoch = int32(binary.BigEndian.Uint32(body[18:]))
			e.txnFirstOffset = int64(binary.BigEndian.Uint64(body[22:]))
			if e.txnFirstOffset < -1 || e.txnFirstOffset >= offset {
				return nil, fmt.Errorf("%w: producer %d: open transaction at offset %d", errBadSnapshot, id, e.txnFirstOffset)
			}
		}
		n := int(body[entrySize-1])
		body = body[entrySize:]
		if n > maxCachedBatches || len(body) < n*snapBatchSize {
			return nil, fmt.Errorf("%w: producer %d: %d batches", errBadSnapshot, id, n)
		}
		for range n {
			e.batches = append(e.batches, batchMeta{
				firstSeq:    int32(binary.BigEndian.Uint32(body)),
				lastSeq:     int32(binary.BigEndian.Uint32(body[4:])),
				firstOffset: int64(binary.BigEndian.Uint64(body[8:])),
				lastOffset:  int64(binary.BigEndian.Uint64(body[16:])),
				timestamp:   int64(binary.BigEndian.Uint64(body[24:])),
			})
			body = body[snapBatchSize:]
		}
		if version == 1 && n > 0 {
			e.lastTimestamp = e.batches[n-1].timestamp
		}
		if _, dup := ps.producers[id]; dup {
			return nil, fmt.Errorf("%w: producer %d twice", errBadSnapshot, id)
		}
		ps.producers[id] = e
	}
	if version >= 3 {
		if len(body) < 4 {
			return nil, fmt.Errorf("%w: truncated", errBadSnapshot)
		}
		n := binary.BigEndian.Uint32(body)
		body = body[4:]
		if uint64(n)*snapTxnSize != uint64(len(body)) {
			return nil, fmt.Errorf("%w: %d ended transactions in %d bytes", errBadSnapshot, n, len(body))
		}
		for range n {
			t := txnRange{
				pid:   int64(binary.BigEndian.Uint64(body)),
				first: int64(binary.BigEndian.Uint64(body[8:])),
				last:  int64(binary.BigEndian.Uint64(body[16:])),
			}
			if t.first < 0 || t.last < t.first || t.last >= offset {
				return nil, fmt.Errorf("%w: ended transaction [%d, %d] of producer %d", errBadSnapshot, t.first, t.last, t.pid)
			}
			ps.completed = append(ps.completed, t)
			body = body[snapTxnSize:]
		}
	}
	if len(body) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadSnapshot, len(body))
	}
	ps.rebuildOngoing()
	return ps, nil
}

// listSnapshots returns the offsets of the snapshots in dir, ascending.
func listSnapshots(fsys FS, dir string) ([]int64, error) {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("log: read dir %s: %w", dir, err)
	}
	var offs []int64
	for _, e := range ents {
		if off, ok := parseBaseName(e.Name(), snapshotSuffix); ok && !e.IsDir() {
			offs = append(offs, off)
		}
	}
	slices.Sort(offs)
	return offs, nil
}

func snapshotPath(dir string, offset int64) string {
	return filepath.Join(dir, segmentFileName(offset, snapshotSuffix))
}

func writeSnapshot(fsys FS, dir string, offset int64, ps *producerState) error {
	return WriteFileAtomic(fsys, filepath.Join(dir, segmentFileName(offset, snapshotSuffix)), ps.encode(offset))
}

func readSnapshot(fsys FS, dir string, offset int64) (*producerState, error) {
	b, err := ReadFile(fsys, snapshotPath(dir, offset))
	if err != nil {
		return nil, err
	}
	ps, err := decodeProducerState(b, offset)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", snapshotPath(dir, offset), err)
	}
	return ps, nil
}
