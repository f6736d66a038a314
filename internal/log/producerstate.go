package log

import (
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
	// open transaction; -1 when none. Kept in snapshots; nothing sets
	// them before the transaction coordinator exists.
	coordinatorEpoch int32
	txnFirstOffset   int64
}

func newProducerEntry(epoch int16) *producerEntry {
	return &producerEntry{epoch: epoch, lastTimestamp: -1, coordinatorEpoch: -1, txnFirstOffset: -1}
}

// producerState is guarded by Log.mu.
type producerState struct {
	producers map[int64]*producerEntry
}

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

// check decides whether the batch h (ProducerID >= 0) may be appended. It
// returns the original batch when h repeats one of the last five. A
// coordinator's batch without a sequence (coordinator) is checked for its
// epoch only.
func (ps *producerState) check(h *record.Header, coordinator bool) (*batchMeta, error) {
	e := ps.producers[h.ProducerID]
	if h.IsControl() || coordinator && h.BaseSequence == record.NoSequence {
		// Transaction markers come from the coordinator and carry no
		// sequence; only a stale epoch is refused.
		if e != nil && h.ProducerEpoch < e.epoch {
			return nil, fmt.Errorf("log: producer %d: marker epoch %d below current %d: %w",
				h.ProducerID, h.ProducerEpoch, e.epoch, ErrInvalidProducerEpoch)
		}
		return nil, nil
	}
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

// apply records an appended batch (offsets assigned). Recovery replays the
// log through it without check: the log is the truth.
func (ps *producerState) apply(h *record.Header) {
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
	if h.IsControl() || h.BaseSequence < 0 {
		return
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
//	version   uint16 (2; 1 is read too)
//	offset    int64
//	count     uint32
//	count × { producerID int64, epoch int16,
//	          v2: lastTimestamp int64, coordinatorEpoch int32, txnFirstOffset int64,
//	          n uint8,
//	          n × { firstSeq int32, lastSeq int32, firstOffset int64,
//	                lastOffset int64, timestamp int64 } }
//	crc32c    uint32 over all the bytes before it
//
// Version 1 lacks the three fields of version 2: an entry read from it
// takes its last batch's timestamp (or -1) and no transaction.
const (
	snapshotSuffix  = ".snapshot"
	snapshotVersion = 2
	snapBatchSize   = 4 + 4 + 8 + 8 + 8
	snapEntrySizeV1 = 8 + 2 + 1
	snapEntrySize   = 8 + 2 + 8 + 4 + 8 + 1
)

func (ps *producerState) encode(offset int64) []byte {
	ids := make([]int64, 0, len(ps.producers))
	for id := range ps.producers {
		ids = append(ids, id)
	}
	slices.Sort(ids) // deterministic bytes
	b := make([]byte, 0, 14+len(ids)*(snapEntrySize+2*snapBatchSize)+4)
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
	case snapshotVersion:
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
	if len(body) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadSnapshot, len(body))
	}
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
