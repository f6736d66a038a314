package log

import (
	"errors"
	"math"
	"slices"
	"time"
)

// Segments leave a log in three ways: retention (DeleteOldSegments), a
// moved log start (SetStartOffset, for DeleteRecords) and truncation. Each
// takes the segment out of the list, then retires it: its files are
// renamed *.deleted at once, so a crash from then on leaves names that
// Open removes, and they are removed for good when two things have
// happened: file.delete.delay.ms has passed, and the last reader has
// released its Slice.
//
// The reference count alone keeps reads safe: a Slice pins open file
// handles, which outlive the names. The delay is Kafka's
// file.delete.delay.ms, kept because operators count on it: for that
// long a segment deleted by a mistaken DeleteRecords or retention change
// can still be copied back from its *.deleted files. The delay holds a
// reference of its own, dropped by a timer.

// DeleteOldSegments applies retention to the segments, oldest first. A
// segment goes when its newest timestamp is more than retentionMs before
// now, or while the log without it would still hold at least
// retentionBytes (Kafka's rule: size - segment >= retention.bytes); a
// negative limit is no limit. It stops at the first segment that must
// stay, and never takes one whose successor (for the active segment, the
// log end) is above hw, so the log start, which moves to the first
// remaining segment, never passes the high watermark. It returns how many
// segments went.
//
// The active segment is no exception, as in Kafka: when it must go too
// (every record is past retention.ms, or retention.bytes is 0), the log
// rolls first and the old active segment goes with the rest, so an idle
// partition does not keep expired records forever; the log start moves to
// the log end. An empty active segment holds nothing to delete and stays.
func (l *Log) DeleteOldSegments(now time.Time, retentionMs, retentionBytes, hw int64) (int, error) {
	if retentionMs < 0 && retentionBytes < 0 {
		return 0, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	nowMs := now.UnixMilli()
	var size int64
	for _, s := range l.segs {
		size += s.size.Load()
	}
	end := l.end.Load().Offset
	n := 0
	for ; n < len(l.segs); n++ {
		s, upper := l.segs[n], end
		if n+1 < len(l.segs) {
			upper = l.segs[n+1].base
		} else if s.size.Load() == 0 {
			break
		}
		if upper > hw {
			break
		}
		expired := retentionMs >= 0 && nowMs-s.newestTimestamp() > retentionMs
		oversize := retentionBytes >= 0 && size-s.size.Load() >= retentionBytes
		if !expired && !oversize {
			break
		}
		size -= s.size.Load()
	}
	if n == 0 {
		return 0, nil
	}
	if n == len(l.segs) {
		// The active segment goes too: roll, so that it is closed and a
		// new, empty one starts at the log end.
		if err := l.roll("retention", 0); err != nil {
			return 0, err
		}
	}
	// The first segment holds the log start (moveStart retires every
	// segment wholly below it), so the new start is above the old one.
	if err := l.moveStart(l.segs[n].base); err != nil {
		return 0, err
	}
	l.logger.Info("deleted segments past retention", "dir", l.dir, "segments", n, "log_start_offset", l.segs[0].base)
	return n, nil
}

// newestTimestamp is the largest timestamp in the segment, from which
// retention.ms counts. Batches without timestamps (-1) leave the file's
// modification time, as Kafka uses; a segment whose age cannot be told is
// kept.
func (s *segment) newestTimestamp() int64 {
	if m := s.maxTs.Load(); m != nil && m.ts >= 0 {
		return m.ts
	}
	fi, err := s.fs.Stat(s.paths[0])
	if err != nil {
		return math.MaxInt64
	}
	return fi.ModTime().UnixMilli()
}

// moveStart makes off, above the current start and at most the end, the
// log start. It persists it first, so a crash never brings back offsets a
// client saw deleted (Open finishes the job: it drops segments wholly
// below the persisted start), then retires the segments wholly below it.
// Appender only.
func (l *Log) moveStart(off int64) error {
	if err := writeLogStartOffset(l.fs, l.dir, off); err != nil {
		return err
	}
	l.start.Store(off)
	n := 0
	for n+1 < len(l.segs) && l.segs[n+1].base <= off {
		n++
	}
	if n > 0 {
		l.segMu.Lock()
		gone := l.segs[:n]
		l.segs = slices.Clone(l.segs[n:])
		l.segMu.Unlock()
		// The start is durable and the segments are out of the list: a
		// failed rename or sync leaves files that the next Open removes.
		if err := l.retire(gone); err != nil {
			l.logger.Warn("retiring segments below the log start", "dir", l.dir, "err", err)
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			l.logger.Warn("sync after retiring segments", "dir", l.dir, "err", err)
		}
	}
	return l.epochs.truncateFromStart(off)
}

// retire takes segments the log has detached from its list: renames their
// files to *.deleted, holds them for file.delete.delay.ms, and drops the
// log's reference. Appender only (it reads cfg).
func (l *Log) retire(segs []*segment) error {
	delay := time.Duration(l.cfg.FileDeleteDelayMs) * time.Millisecond
	var errs []error
	for _, s := range segs {
		errs = append(errs, s.retire(nil))
		if delay > 0 {
			l.holdDeleted(s, delay)
		}
		s.unpin()
	}
	return errors.Join(errs...)
}

// holdDeleted pins a retired segment until d has passed.
//
// The entry goes into l.delayed before the timer is armed, and whoever
// takes it out (the timer, or dropDelays) drops the pin, so the pin is
// dropped exactly once even if the timer fires before its stop function
// is stored.
func (l *Log) holdDeleted(s *segment, d time.Duration) {
	s.pin()
	l.delMu.Lock()
	if l.delayed == nil {
		l.delayed = map[*segment]func() bool{}
	}
	l.delayed[s] = nil
	l.delMu.Unlock()
	stop := l.after(d, func() { l.releaseDeleted(s) })
	l.delMu.Lock()
	if _, ok := l.delayed[s]; ok {
		l.delayed[s] = stop
	}
	l.delMu.Unlock()
}

// releaseDeleted ends the delay of one retired segment.
func (l *Log) releaseDeleted(s *segment) {
	l.delMu.Lock()
	_, ok := l.delayed[s]
	delete(l.delayed, s)
	l.delMu.Unlock()
	if ok {
		s.unpin()
	}
}

// dropDelays ends every pending delay at once (Close, Delete, a failed
// Open): no timer outlives the log. The files then go as soon as no Slice
// holds them.
func (l *Log) dropDelays() {
	l.delMu.Lock()
	held := l.delayed
	l.delayed = nil
	l.delMu.Unlock()
	for s, stop := range held {
		if stop != nil {
			stop()
		}
		s.unpin()
	}
}
