package log

import (
	"fmt"
	"sort"
	"sync"
)

// pinFloor pins the segment with the largest base offset <= offset, or
// returns nil when offset is below every segment.
func (l *Log) pinFloor(offset int64) (*segment, error) {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	if l.closed.Load() {
		return nil, ErrClosed
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset }) - 1
	if i < 0 {
		return nil, nil
	}
	l.segs[i].pin()
	return l.segs[i], nil
}

// pinFirstAfter pins the first segment above base that satisfies ok, or
// returns nil. base -1 starts at the first segment.
func (l *Log) pinFirstAfter(base int64, ok func(*segment) bool) (*segment, error) {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	if l.closed.Load() {
		return nil, ErrClosed
	}
	for _, s := range l.segs {
		if s.base > base && (ok == nil || ok(s)) {
			s.pin()
			return s, nil
		}
	}
	return nil, nil
}

// Read returns the bytes from the batch containing offset up to maxBytes,
// never past upTo (a Position at or below the log end, usually the high
// watermark; pass EndPosition() to read to the end). The slice may end
// inside a batch (clients drop a partial trailing batch), except that when
// minOne is set and the first batch is larger than maxBytes the whole
// first batch is returned (KIP-74).
//
// A read serves one segment; an offset at or past upTo gives an empty
// result (FirstBatchOffset -1), as does offset == EndOffset. An offset
// below the log start or above the end is ErrOffsetOutOfRange. The caller
// must Release the slice.
func (l *Log) Read(offset int64, maxBytes int64, upTo Position, minOne bool) (ReadResult, error) {
	empty := ReadResult{FirstBatchOffset: -1}
	if l.closed.Load() {
		return empty, ErrClosed
	}
	start, end := l.start.Load(), l.end.Load()
	if offset < start || offset > end.Offset {
		return empty, fmt.Errorf("log: read at offset %d outside [%d, %d]: %w", offset, start, end.Offset, ErrOffsetOutOfRange)
	}
	if upTo.Offset > end.Offset {
		upTo = *end
	}
	if offset >= upTo.Offset {
		return empty, nil
	}
	s, err := l.pinFloor(offset)
	if err != nil {
		return empty, err
	}
	if s == nil {
		// The start moved past offset since it was read above.
		return empty, fmt.Errorf("log: read at offset %d below the first segment: %w", offset, ErrOffsetOutOfRange)
	}
	for s != nil {
		limit := s.size.Load()
		switch {
		case upTo.SegmentBase < s.base:
			s.unpin()
			return empty, nil
		case upTo.SegmentBase == s.base:
			limit = min(limit, upTo.FilePos)
		}
		pos, h, found, err := s.find(offset, limit)
		if err != nil {
			s.unpin()
			return empty, err
		}
		if found {
			n := limit - pos
			if n > maxBytes {
				n = max(maxBytes, 0)
				if minOne && h.Size() > n {
					n = min(h.Size(), limit-pos)
				}
			}
			if n <= 0 {
				s.unpin()
				return empty, nil
			}
			return ReadResult{
				Slice:            Slice{File: s.log, Pos: pos, Len: n, release: sync.OnceFunc(s.unpin)},
				FirstBatchOffset: h.BaseOffset,
				seg:              s,
			}, nil
		}
		if upTo.SegmentBase == s.base {
			s.unpin()
			return empty, nil
		}
		// No batch here ends at or after offset: it falls in a gap after
		// this segment's last batch (recovery truncated a sealed segment),
		// so the next segment's first batch is the answer.
		next, err := l.pinFirstAfter(s.base, nil)
		s.unpin()
		if err != nil {
			return empty, err
		}
		s = next
	}
	return empty, nil
}

// FindByTimestamp returns a copy of the first batch whose max timestamp is
// >= ts, or nil when no batch qualifies. Batches wholly below the log
// start do not qualify. It searches to the log end; a
// caller bounded by the high watermark checks the batch's offset (if the
// first qualifying batch is above the bound, none below it qualifies).
func (l *Log) FindByTimestamp(ts int64) ([]byte, error) {
	reaches := func(s *segment) bool {
		m := s.maxTs.Load()
		return m != nil && m.ts >= ts
	}
	from := l.start.Load()
	s, err := l.pinFirstAfter(-1, reaches)
	for s != nil && err == nil {
		pos, h, found, ferr := s.findTimestamp(ts, from, s.size.Load())
		if ferr != nil {
			s.unpin()
			return nil, ferr
		}
		if found {
			b, err := s.readBatch(pos, h.Size())
			s.unpin()
			return b, err
		}
		next, nerr := l.pinFirstAfter(s.base, reaches)
		s.unpin()
		s, err = next, nerr
	}
	return nil, err
}

// MaxTimestampBatch returns a copy of the batch holding the largest
// timestamp in the log (the first such batch), or nil for an empty log.
func (l *Log) MaxTimestampBatch() ([]byte, error) {
	l.segMu.RLock()
	if l.closed.Load() {
		l.segMu.RUnlock()
		return nil, ErrClosed
	}
	var (
		best *segment
		mark *tsMark
	)
	for _, s := range l.segs {
		if m := s.maxTs.Load(); m != nil && (mark == nil || m.ts > mark.ts) {
			best, mark = s, m
		}
	}
	if best == nil {
		l.segMu.RUnlock()
		return nil, nil
	}
	best.pin()
	l.segMu.RUnlock()
	defer best.unpin()
	pos, h, found, err := best.find(mark.offset, best.size.Load())
	if err != nil {
		return nil, err
	}
	if !found || h.BaseOffset != mark.offset {
		return nil, fmt.Errorf("log: %v: no batch at offset %d, which holds the max timestamp %d", best, mark.offset, mark.ts)
	}
	return best.readBatch(pos, h.Size())
}

// AbortedTxnsRead returns the aborted transactions a read_committed
// consumer needs with r, a Read from fetchOffset bounded by upTo: those
// that overlap [fetchOffset, upper), upper being an offset at or above the
// last one r's bytes can hold (Kafka's fetchUpperBoundOffset): the first
// batch the offset index of r's segment places at or after the slice's
// end, else the next segment's base, never above upTo. Call it before
// releasing r's Slice.
func (l *Log) AbortedTxnsRead(fetchOffset int64, r ReadResult, upTo Position) ([]AbortedTxn, error) {
	if r.Slice.Len == 0 || r.seg == nil {
		return nil, nil
	}
	upper := upTo.Offset
	rel, ok, err := r.seg.offIdx.firstAtOrAfter(r.Slice.Pos + r.Slice.Len)
	if err != nil {
		return nil, err
	}
	if ok {
		upper = min(upper, r.seg.base+rel)
	} else {
		next, err := l.pinFirstAfter(r.seg.base, nil)
		if err != nil {
			return nil, err
		}
		if next != nil {
			upper = min(upper, next.base)
			next.unpin()
		}
	}
	return l.AbortedTxns(fetchOffset, upper)
}
