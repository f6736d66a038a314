package log

import (
	"fmt"
	"sort"
)

// Truncate removes every batch at or above offset: later segments go, and
// the segment holding offset is cut at the start of the batch that holds
// it, so the log end becomes that batch's base offset (offset itself when
// offset is a batch boundary, as the ends of leader epochs are). Producer
// state and the leader-epoch cache are rolled back to match. An offset at
// or past the end does nothing; one below the log start empties the log
// and restarts it at offset (Kafka's truncateFullyAndStartAt).
//
// Used by replication when a follower's log diverged. Readers must not
// hold Slices past offset (the high watermark is below it): their bytes
// may be cut.
func (l *Log) Truncate(offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("log: truncate to negative offset %d", offset)
	}
	if end := l.end.Load().Offset; offset >= end {
		// Nothing to cut, but an epoch entry at the log end (a leadership
		// that appended nothing before it ended) goes, as in Kafka's
		// UnifiedLog.truncateTo: the follower's next LastFetchedEpoch is
		// then the epoch of its last batch, which the leader knows.
		return l.epochs.truncateFromEnd(end)
	}
	if offset < l.start.Load() {
		return l.truncateFullyAndStartAt(offset)
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset }) - 1
	s := l.segs[i]
	pos, h, found, err := s.find(offset, s.size.Load())
	if err != nil {
		return err
	}
	newEnd, cut := offset, pos
	if found {
		newEnd = min(offset, h.BaseOffset)
	}
	if newEnd < l.start.Load() {
		// The batch holding offset straddles the log start.
		return l.truncateFullyAndStartAt(offset)
	}

	// Later segments go first and durably: a crash between the two steps
	// then leaves a longer prefix of the log, never a gap.
	if later := l.segs[i+1:]; len(later) > 0 {
		l.segMu.Lock()
		l.segs = l.segs[: i+1 : i+1]
		l.segMu.Unlock()
		if err := l.retire(later); err != nil {
			return l.setFatal(err)
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			return l.setFatal(fmt.Errorf("log: truncate: sync %s: %w", l.dir, err))
		}
	}
	wasActive := s.offIdx.resident()
	if err := l.cutSegment(s, cut, newEnd, wasActive); err != nil {
		return l.setFatal(err)
	}
	l.end.Store(&Position{Offset: newEnd, SegmentBase: s.base, FilePos: cut})
	if l.flushed.Load() > newEnd {
		l.flushed.Store(newEnd)
	}
	if l.needFlush.Load() > newEnd {
		l.needFlush.Store(newEnd)
	}
	if err := l.epochs.truncateFromEnd(newEnd); err != nil {
		return err
	}
	if err := l.lowerCleanerCheckpoint(newEnd); err != nil {
		return err
	}
	return l.rebuildProducers(newEnd, newEnd, false)
}

// cutSegment cuts s (now the last segment) to cut bytes, newEnd being the
// log end after it, and brings its indexes and bookkeeping in line.
func (l *Log) cutSegment(s *segment, cut, newEnd int64, wasActive bool) error {
	// Entries go before the bytes they name; size drops before the file
	// shrinks, so a new reader never looks past the cut.
	if err := s.offIdx.cut(func(e []byte) bool { _, pos := decodeOffsetEntry(e); return pos >= cut }); err != nil {
		return err
	}
	if err := s.timeIdx.cut(func(e []byte) bool { _, rel := decodeTimeEntry(e); return s.base+rel >= newEnd }); err != nil {
		return err
	}
	// The transactions aborted by markers that go reopen: the replay
	// of the producer state after the cut finds their batches open.
	if err := s.txn.cut(newEnd); err != nil {
		return err
	}
	s.size.Store(cut)
	s.reserved = 0 // the cut gives the reservation back
	if err := s.log.Truncate(cut); err != nil {
		return fmt.Errorf("log: truncate %v at %d: %w", s, cut, err)
	}
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("log: truncate %v: sync: %w", s, err)
	}
	s.lastOffset = newEnd - 1

	// The time index's last remaining entry (t, o) bounds the max of the
	// batches up to o; the batches from o on are scanned for the rest.
	var m *tsMark
	from := int64(0)
	if e, err := s.timeIdx.last(); err != nil {
		return err
	} else if e != nil {
		ts, rel := decodeTimeEntry(e)
		m = &tsMark{ts: ts, offset: s.base + rel}
		if from, err = s.lookupPos(m.offset); err != nil {
			return err
		}
	}
	sc := newScanner(s.log, s.base, from, cut, recoverChunk)
	for sc.next() {
		if m == nil || sc.h.MaxTimestamp > m.ts {
			m = &tsMark{ts: sc.h.MaxTimestamp, offset: sc.h.BaseOffset}
		}
	}
	if err := sc.failure(); err != nil {
		return fmt.Errorf("log: truncate %v: %w", s, err)
	}
	s.maxTs.Store(m)

	lastEntryPos := int64(0)
	if e, err := s.offIdx.last(); err != nil {
		return err
	} else if e != nil {
		_, lastEntryPos = decodeOffsetEntry(e)
	}
	s.bytesSinceIndex = cut - lastEntryPos
	if !wasActive || cut == 0 {
		s.rollStartMs = s.firstTimestampMs(l.now().UnixMilli())
	}
	return nil
}

// TruncateFullyAndStartAt empties the log and restarts it at offset, which
// becomes its start and its end: a follower whose log end is below the
// leader's log start cannot fetch what lies between and starts afresh
// there (Kafka's truncateFullyAndStartAt).
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("log: restart at negative offset %d", offset)
	}
	return l.truncateFullyAndStartAt(offset)
}

// truncateFullyAndStartAt empties the log and restarts it at offset.
//
// Order, for crash safety: the new start is persisted first (a crash then
// leaves the old segments, readable from the larger of the two starts);
// then the old segments are retired and the directory synced (a crash then
// leaves no segments, and Open starts one at the persisted start); then
// the new segment is created.
func (l *Log) truncateFullyAndStartAt(offset int64) error {
	if err := writeLogStartOffset(l.fs, l.dir, offset); err != nil {
		return err
	}
	l.segMu.Lock()
	defer l.segMu.Unlock()
	old := l.segs
	l.segs = nil
	if err := l.retire(old); err != nil {
		return l.setFatal(err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return l.setFatal(fmt.Errorf("log: sync %s: %w", l.dir, err))
	}
	s, err := openSegment(l.fs, l.dir, offset, true)
	if err == nil {
		err = l.fs.SyncDir(l.dir)
	}
	if err != nil {
		return l.setFatal(err)
	}
	l.segs = []*segment{s}
	l.start.Store(offset)
	l.end.Store(&Position{Offset: offset, SegmentBase: offset})
	l.flushed.Store(offset)
	l.needFlush.Store(offset)
	l.setProducers(newProducerState())
	if offs, err := listSnapshots(l.fs, l.dir); err == nil {
		for _, off := range offs {
			removeIfExists(l.fs, snapshotPath(l.dir, off))
		}
	}
	if err := l.lowerCleanerCheckpoint(offset); err != nil {
		return err
	}
	return l.epochs.clear()
}

// SetStartOffset moves the log start up to off (DeleteRecords): offsets
// below it can no longer be read, and segments wholly below it are deleted
// (see retire). The start is persisted before any segment goes. off above
// the end is ErrOffsetOutOfRange; at or below the current start it does
// nothing. Bounding off by the high watermark is the caller's business.
func (l *Log) SetStartOffset(off int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if off <= l.start.Load() {
		return nil
	}
	if end := l.end.Load().Offset; off > end {
		return fmt.Errorf("log: log start offset %d above end %d: %w", off, end, ErrOffsetOutOfRange)
	}
	return l.moveStart(off)
}
