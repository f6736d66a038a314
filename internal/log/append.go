package log

import (
	"errors"
	"fmt"
	"math"

	"github.com/samsa-kafka/samsa/internal/record"
)

// Two kinds of append reach a log: a leader's (Append: one batch from a
// producer, offsets assigned here) and a follower's (AppendReplicated:
// the batches of a fetch response, offsets and leader epochs as the
// leader wrote them). Both write through writeBatches, the one path by
// which bytes reach a segment: roll decisions, epoch-cache updates, the
// write, index entries, producer state and the published log end are the
// same code for both, so a follower's log is laid out, indexed and
// recovered exactly like a leader's.

// ErrCorruptBatch: bytes offered as record batches are not valid ones (a
// CRC mismatch, a bad length or magic, offsets out of order).
var ErrCorruptBatch = errors.New("log: corrupt record batch")

// ErrUnexpectedAppendOffset is matched by *UnexpectedAppendOffsetError.
var ErrUnexpectedAppendOffset = errors.New("log: unexpected append offset")

// UnexpectedAppendOffsetError: a follower's batches start below the log
// end (Kafka's UnexpectedAppendOffsetException). The follower's fetch
// position and its log disagree; the caller truncates or resyncs.
type UnexpectedAppendOffsetError struct {
	First, Last int64 // the first batch's base offset, the last batch's last offset
	LogEnd      int64
}

func (e *UnexpectedAppendOffsetError) Error() string {
	return fmt.Sprintf("log: replicated batches at offsets [%d, %d] start below the log end %d", e.First, e.Last, e.LogEnd)
}

func (e *UnexpectedAppendOffsetError) Is(target error) bool {
	return target == ErrUnexpectedAppendOffset
}

// Append validates the producer state of one whole, already validated
// batch (record.Validate), assigns it offsets from the log end, writes it,
// and flushes per the flush policy.
//
// The batch is rewritten in place (base offset, leader epoch, and for
// LogAppendTime the timestamp and CRC). On a write error nothing is
// appended, the segment is cut back, and the next append gets the same
// offsets. An error from the policy's fsync comes with a valid result: the
// batch is in the log but its durability is unknown, and the log refuses
// later writes (ErrFailed).
func (l *Log) Append(batch []byte, opts AppendOptions) (AppendResult, error) {
	h, err := record.ParseHeader(batch)
	if err != nil {
		return AppendResult{}, fmt.Errorf("log: append: %w", err)
	}
	switch {
	case h.Size() != int64(len(batch)):
		return AppendResult{}, fmt.Errorf("log: append: batch is %d bytes, its header says %d", len(batch), h.Size())
	case h.Magic != 2:
		return AppendResult{}, fmt.Errorf("log: append: magic %d", h.Magic)
	case h.LastOffsetDelta < 0:
		return AppendResult{}, fmt.Errorf("log: append: last offset delta %d", h.LastOffsetDelta)
	}
	l.mu.Lock()
	res, flush, err := l.appendLocked(batch, &h, opts)
	l.mu.Unlock()
	return l.flushAfter(res, flush, opts.DeferFlush, err)
}

// flushAfter runs the flush an append's policy asked for, outside the
// appender lock (appends continue during the fsync), or leaves it to the
// caller when deferred.
func (l *Log) flushAfter(res AppendResult, flush, deferred bool, err error) (AppendResult, error) {
	if err != nil || !flush {
		return res, err
	}
	if deferred {
		res.FlushDue = true
		return res, nil
	}
	return res, l.FlushTo(res.LastOffset + 1)
}

func (l *Log) appendLocked(batch []byte, h *record.Header, opts AppendOptions) (res AppendResult, flush bool, err error) {
	if err := l.writable(); err != nil {
		return res, false, err
	}
	if h.ProducerID >= 0 {
		m, _ := markerOf(h, batch, nil, 0)
		if h.IsControl() && m == nil {
			// The only control batches a leader appends are the
			// transaction coordinator's markers.
			return res, false, fmt.Errorf("log: append: producer %d's control batch is not a transaction marker: %w", h.ProducerID, ErrCorruptBatch)
		}
		dup, err := l.producers.check(h, m, opts.Coordinator)
		if err != nil {
			return res, false, err
		}
		if dup != nil {
			res = AppendResult{
				BaseOffset:     dup.firstOffset,
				LastOffset:     dup.lastOffset,
				LogAppendTime:  -1,
				Duplicate:      true,
				LogStartOffset: l.start.Load(),
				End:            *l.end.Load(),
				LeaderEpoch:    opts.LeaderEpoch,
			}
			if opts.LogAppendTime >= 0 {
				res.LogAppendTime = dup.timestamp
			}
			// The original may still wait for its fsync (another
			// request's group commit): the retry's answer must not
			// come before it.
			return res, l.flushDue(dup.lastOffset+1, l.now().UnixMilli()), nil
		}
	}

	now := l.now().UnixMilli()
	base := l.end.Load().Offset
	record.SetBaseOffset(batch, base)
	record.SetPartitionLeaderEpoch(batch, opts.LeaderEpoch)
	h.BaseOffset, h.PartitionLeaderEpoch = base, opts.LeaderEpoch
	appendTime := int64(-1)
	if opts.LogAppendTime >= 0 {
		record.SetLogAppendTime(batch, opts.LogAppendTime)
		appendTime = opts.LogAppendTime
		h.MaxTimestamp = appendTime
		h.Attributes |= record.AttrTimestampType
	}
	hs := [1]record.Header{*h}
	// A batch the policy wants fsynced raises needFlush before the log
	// end shows it, so FlushBound never counts it before its fsync.
	due := l.flushDue(h.LastOffset()+1, now)
	need := l.needFlush.Load()
	if due {
		l.needFlush.Store(max(need, h.LastOffset()+1))
	}
	end, err := l.writeBatches(batch, hs[:], now, false)
	if err != nil {
		l.needFlush.Store(need)
		return res, false, err
	}
	return AppendResult{
		BaseOffset:     base,
		LastOffset:     h.LastOffset(),
		LogAppendTime:  appendTime,
		LogStartOffset: l.start.Load(),
		End:            end,
		LeaderEpoch:    opts.LeaderEpoch,
	}, due, nil
}

// AppendReplicated appends a follower's fetched record batches as the
// leader wrote them: offsets, partition leader epochs and producer fields
// are kept. records may hold many batches, as a fetch response carries
// them; a partial batch at the end (the leader's byte limit cut it) is
// ignored, as Kafka's follower ignores it. Every whole batch must be a
// valid one (framing, magic 2, CRC32C) with offsets strictly increasing
// from batch to batch, else nothing is appended (ErrCorruptBatch).
//
// The first batch must start at or above the log end: below it the
// follower's fetch position and its log disagree (an
// *UnexpectedAppendOffsetError). Above it is a gap, which Kafka accepts:
// a compacted leader log has gaps between batches. The leader-epoch cache
// learns each batch's epoch where it grows, and the producer state learns
// the batches without checking sequences (the leader checked them).
// Segments roll and the flush policy applies as for Append.
//
// The result names the first and last offsets appended (-1 when records
// held no whole batch) and the last batch's leader epoch. On an I/O error
// the batches written before it stay: the log end tells how far it got.
func (l *Log) AppendReplicated(records []byte) (AppendResult, error) {
	return l.appendReplicated(records, false)
}

// AppendReplicatedDeferFlush is AppendReplicated leaving the flush policy's
// fsync to the caller, as AppendOptions.DeferFlush does.
func (l *Log) AppendReplicatedDeferFlush(records []byte) (AppendResult, error) {
	return l.appendReplicated(records, true)
}

func (l *Log) appendReplicated(records []byte, deferred bool) (AppendResult, error) {
	batches, hs, err := splitReplicated(records)
	if err != nil {
		return AppendResult{}, err
	}
	l.mu.Lock()
	res, flush, err := l.appendReplicatedLocked(records[:batches], hs)
	l.mu.Unlock()
	return l.flushAfter(res, flush, deferred, err)
}

func (l *Log) appendReplicatedLocked(data []byte, hs []record.Header) (res AppendResult, flush bool, err error) {
	res = AppendResult{BaseOffset: -1, LastOffset: -1, LogAppendTime: -1, LeaderEpoch: -1}
	if err := l.writable(); err != nil {
		return res, false, err
	}
	res.LogStartOffset, res.End = l.start.Load(), *l.end.Load()
	if len(hs) == 0 {
		return res, false, nil
	}
	first, last := hs[0].BaseOffset, hs[len(hs)-1].LastOffset()
	if first < res.End.Offset {
		return res, false, &UnexpectedAppendOffsetError{First: first, Last: last, LogEnd: res.End.Offset}
	}
	now := l.now().UnixMilli()
	end, err := l.writeBatches(data, hs, now, true)
	res.End = end
	if err != nil {
		return res, false, err
	}
	res.BaseOffset, res.LastOffset = first, last
	res.LeaderEpoch = hs[len(hs)-1].PartitionLeaderEpoch
	return res, l.flushDue(end.Offset, now), nil
}

// splitReplicated checks the batches of a fetch response and returns how
// many of its bytes are whole batches, and their headers.
func splitReplicated(records []byte) (int, []record.Header, error) {
	batches, err := record.SplitBatches(records)
	if err != nil && !errors.Is(err, record.ErrShortBatch) {
		return 0, nil, fmt.Errorf("%w: %w", ErrCorruptBatch, err)
	}
	hs := make([]record.Header, len(batches))
	n := 0
	for i, b := range batches {
		h, err := record.ParseHeader(b)
		if err != nil {
			return 0, nil, fmt.Errorf("%w at byte %d: %w", ErrCorruptBatch, n, err)
		}
		switch {
		case h.Magic != 2:
			err = fmt.Errorf("magic %d", h.Magic)
		case h.LastOffsetDelta < 0:
			err = fmt.Errorf("last offset delta %d", h.LastOffsetDelta)
		case h.BaseOffset < 0:
			err = fmt.Errorf("base offset %d", h.BaseOffset)
		case i > 0 && h.BaseOffset <= hs[i-1].LastOffset():
			err = fmt.Errorf("base offset %d not above the previous batch's last offset %d", h.BaseOffset, hs[i-1].LastOffset())
		case record.ComputeCRC(b) != h.CRC:
			err = fmt.Errorf("crc32c %08x, header says %08x", record.ComputeCRC(b), h.CRC)
		}
		if err != nil {
			return 0, nil, fmt.Errorf("%w: batch at offset %d: %w", ErrCorruptBatch, h.BaseOffset, err)
		}
		hs[i] = h
		n += len(b)
	}
	return n, hs, nil
}

// writeBatches writes batches, contiguous in buf with headers hs and
// offsets final, at the log end, rolling segments as needed, and publishes
// them. Each run of batches that fits the active segment goes in one write.
// It returns the log end after them. Appender only.
//
// replicated selects how the leader-epoch cache learns the batches'
// epochs: a leader's append only adds a newer epoch (a stale one is
// ignored); a follower's follows the batches as Kafka's follower does
// (epochCache.follow), since they are the truth the cache must describe.
func (l *Log) writeBatches(buf []byte, hs []record.Header, now int64, replicated bool) (Position, error) {
	for len(hs) > 0 {
		seg := l.active()
		n, size, why := l.fit(seg, hs, now)
		if n == 0 {
			if err := l.roll(why, hs[0].BaseOffset); err != nil {
				return *l.end.Load(), err
			}
			continue
		}
		if err := l.writeRun(seg, buf[:size], hs[:n], now, replicated); err != nil {
			return *l.end.Load(), err
		}
		buf, hs = buf[size:], hs[n:]
	}
	return *l.end.Load(), nil
}

// fit says how many of the batches hs (and how many of their bytes) the
// segment s takes before one of them must go to a new segment, and why.
// It follows the index entries the run would add, so a run never
// overfills an index.
func (l *Log) fit(s *segment, hs []record.Header, now int64) (n int, size int64, why string) {
	entries, since := int64(0), s.bytesSinceIndex
	for i := range hs {
		h := &hs[i]
		if why = l.rollReason(s, size, entries, h.Size(), h.LastOffset(), now); why != "" {
			return i, size, why
		}
		if since >= l.cfg.IndexIntervalBytes {
			entries++
			since = 0
		}
		since += h.Size()
		size += h.Size()
	}
	return len(hs), size, ""
}

// rollReason says why a batch of size bytes ending at lastOffset must go
// to a new segment, or "", when the segment s has pending bytes and
// pendingEntries index entries more than it has published. A segment
// always takes its first batch (an oversized one gets a segment of its
// own rather than failing), unless its offsets cannot be indexed there.
func (l *Log) rollReason(s *segment, pending, pendingEntries, size, lastOffset, now int64) string {
	if lastOffset-s.base > math.MaxInt32 {
		return "relative offset overflow"
	}
	cur := s.size.Load() + pending
	if cur == 0 {
		return ""
	}
	maxEntries := l.cfg.SegmentIndexBytes
	switch {
	case cur+size > l.cfg.SegmentBytes:
		return "segment.bytes"
	case s.rollStartMs >= 0 && now-s.rollStartMs >= l.cfg.SegmentMs:
		return "segment.ms"
	case s.offIdx.count()+pendingEntries >= maxEntries/offsetEntrySize,
		s.timeIdx.count()+pendingEntries >= maxEntries/timeEntrySize-1: // room for seal's final entry
		return "segment.index.bytes"
	}
	return ""
}

// writeRun writes the batches hs, whose bytes are buf, at the end of the
// active segment seg and publishes them. On a write error nothing is
// published, the segment is cut back, and epochs the run added to the
// epoch cache are dropped again.
func (l *Log) writeRun(seg *segment, buf []byte, hs []record.Header, now int64, replicated bool) error {
	// The epoch cache names a batch's epoch before the batch exists, so
	// a crash never leaves a batch whose epoch the checkpoint lacks
	// (recovery drops entries past the recovered end).
	assign := l.epochs.assign
	if replicated {
		assign = l.epochs.follow
	}
	added := false
	for i := range hs {
		ok, err := assign(hs[i].PartitionLeaderEpoch, hs[i].BaseOffset)
		if err != nil {
			return err
		}
		added = added || ok
	}
	pos := seg.size.Load()
	full := int64(0)
	if l.cfg.Preallocate {
		full = l.cfg.SegmentBytes
	}
	seg.reserve(pos+int64(len(buf)), full)
	if err := seg.write(buf, pos); err != nil {
		if added {
			if terr := l.epochs.truncateFromEnd(l.end.Load().Offset); terr != nil {
				err = errors.Join(err, terr)
			}
		}
		if fe, ok := err.(*fatalError); ok {
			return l.setFatal(fe)
		}
		return err
	}
	// Publish in this order: size, then the index entries and max
	// timestamp that may name the batches, then the end.
	seg.size.Store(pos + int64(len(buf)))
	at := pos
	for i := range hs {
		h := &hs[i]
		seg.track(h, at, l.cfg.IndexIntervalBytes)
		if h.ProducerID >= 0 {
			m, _ := markerOf(h, buf[at-pos:at-pos+h.Size()], nil, 0)
			trackBatch(l.producers, seg, h, m, 0)
		}
		at += h.Size()
	}
	if seg.rollStartMs < 0 {
		seg.rollStartMs = now
	}
	l.end.Store(&Position{Offset: hs[len(hs)-1].LastOffset() + 1, SegmentBase: seg.base, FilePos: at})
	l.publishTxns()
	return nil
}

// flushDue applies the flush policy to a log that now ends at end.
func (l *Log) flushDue(end, now int64) bool {
	return end-l.flushed.Load() >= l.cfg.FlushMessages || now-l.lastFlushMs.Load() >= l.cfg.FlushMs
}
