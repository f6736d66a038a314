package log

import (
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/samsa-kafka/samsa/internal/record"
)

// Recovery.
//
// Close fsyncs everything, then writes cleanShutdownFile; Open removes it
// (durably) before it returns, so its presence means the files are exactly
// what the last Close left. With it, Open trusts the files and checks only
// what is cheap: each index's shape and last entry, and the batches after
// the active segment's last index entry (which it reads anyway to find the
// log end).
//
// Without it, the process or machine died. Segments before the last were
// fsynced, indexes included, before the next segment was created (see
// roll), so the recovery point is always the base of the last segment and
// the last segment alone is validated batch by batch: header, length,
// magic, offsets increasing, CRC32C. The file is cut at the first batch
// that fails, which keeps every whole valid batch and drops a torn or
// corrupt tail; its indexes are rebuilt from the scan. No recovery-point
// checkpoint file is needed. Sealed segments whose indexes look wrong are
// revalidated and reindexed the same way, in either case.
//
// Then: the leader-epoch cache drops entries at or past the recovered end
// and learns epochs from the scanned batches; the producer state is the
// newest snapshot at or below the end, plus a replay of the batch headers
// after it (at most about one segment, since a snapshot is written on
// every roll and on Close); snapshots past the end are deleted.
//
// What survives which crash: every batch that was fsynced (by the flush
// policy, Flush, a roll or Close) survives a power loss; a batch that was
// only written survives a process crash (the page cache has it) and may or
// may not survive a power loss, whole or not at all.
const cleanShutdownFile = ".samsa-clean-shutdown"

// Open opens (creating if needed) the log in dir, recovering it if the last
// shutdown was not clean.
func Open(dir string, opts Options) (*Log, error) {
	l := &Log{dir: dir, fs: opts.FS, logger: opts.Logger, now: opts.Now, cfg: opts.Config.withDefaults(), onFailure: opts.OnFailure, onFlush: opts.OnFlush}
	l.hw.Store(-1)
	l.txns.Store(emptyTxnView)
	if l.fs == nil {
		l.fs = OSFS()
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.after = opts.AfterFunc
	if l.after == nil {
		l.after = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	if err := l.load(); err != nil {
		for _, s := range l.segs {
			s.closeFiles()
		}
		l.dropDelays()
		return nil, err
	}
	return l, nil
}

func (l *Log) load() error {
	if err := l.fs.MkdirAll(l.dir, 0o755); err != nil {
		return fmt.Errorf("log: create %s: %w", l.dir, err)
	}
	// A directory just created must survive a crash along with its files.
	if err := l.fs.SyncDir(filepath.Dir(l.dir)); err != nil {
		return fmt.Errorf("log: sync parent of %s: %w", l.dir, err)
	}
	if err := l.completeSwaps(); err != nil {
		return err
	}
	bases, err := l.scanDir()
	if err != nil {
		return err
	}
	start, err := readLogStartOffset(l.fs, l.dir)
	if err != nil {
		l.logger.Warn("ignoring unreadable log start offset", "dir", l.dir, "err", err)
		start = -1
	}
	// Finish a SetStartOffset that crashed before it removed every segment
	// wholly below the new start.
	for len(bases) > 1 && bases[1] <= start {
		for _, suffix := range segmentSuffixes {
			if err := removeIfExists(l.fs, filepath.Join(l.dir, segmentFileName(bases[0], suffix))); err != nil {
				return err
			}
		}
		bases = bases[1:]
	}
	if len(bases) == 0 {
		l.stats.fresh = true
		s, err := openSegment(l.fs, l.dir, max(start, 0), true)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
		if err := l.fs.SyncDir(l.dir); err != nil {
			return fmt.Errorf("log: sync %s: %w", l.dir, err)
		}
	}
	for _, b := range bases {
		s, err := openSegment(l.fs, l.dir, b, false)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
	}

	// txnFrom is the lowest base of a segment whose abort index cannot be
	// trusted and is rebuilt from the log (see rebuildProducers).
	txnFrom := int64(math.MaxInt64)
	for i, s := range l.segs[:len(l.segs)-1] {
		if err := s.checkSealed(l.segs[i+1].base); err != nil {
			l.logger.Warn("revalidating sealed segment", "dir", l.dir, "segment", s.base, "err", err)
			txnFrom = min(txnFrom, s.base)
			if err := l.recoverSegment(s, nil); err != nil {
				return err
			}
			if err := s.seal(); err != nil {
				return err
			}
			l.stats.rebuiltIndexes++
		}
	}

	act := l.active()
	now := l.now().UnixMilli()
	clean := l.stats.clean
	if clean {
		if err := act.loadActive(); err != nil {
			l.logger.Warn("clean-shutdown marker present but active segment inconsistent; recovering", "dir", l.dir, "err", err)
			clean = false
		}
	}
	var epochMarks []EpochEntry
	if !clean {
		err := l.recoverSegment(act, func(h *record.Header) {
			if n := len(epochMarks); h.PartitionLeaderEpoch >= 0 && (n == 0 || h.PartitionLeaderEpoch > epochMarks[n-1].Epoch) {
				epochMarks = append(epochMarks, EpochEntry{Epoch: h.PartitionLeaderEpoch, StartOffset: h.BaseOffset})
			}
		})
		if err != nil {
			return err
		}
		l.stats.recoveredSegments++
	}
	act.rollStartMs = act.firstTimestampMs(now)
	leo := act.lastOffset + 1
	l.end.Store(&Position{Offset: leo, SegmentBase: act.base, FilePos: act.size.Load()})
	start = max(start, l.segs[0].base)
	l.start.Store(start)

	if err := l.loadEpochs(leo, epochMarks); err != nil {
		return err
	}
	l.flushed.Store(leo)
	l.lastFlushMs.Store(now)
	if start > leo {
		// The start was persisted past what survived: nothing below it may
		// be read, so the log begins afresh there.
		l.logger.Warn("log start offset beyond recovered end; starting empty", "dir", l.dir, "start", start, "end", leo)
		if err := l.truncateFullyAndStartAt(start); err != nil {
			return err
		}
	} else {
		for i, s := range l.segs {
			limit := leo
			if i+1 < len(l.segs) {
				limit = l.segs[i+1].base
			}
			if err := s.txn.load(s.base, limit); err != nil {
				l.logger.Warn("rebuilding unreadable transaction index from the log", "dir", l.dir, "segment", s.base, "err", err)
				txnFrom = min(txnFrom, s.base)
			}
		}
		// After a crash the active segment's aborted transactions were
		// only in memory: every marker replayed is indexed anew.
		if err := l.rebuildProducers(leo, txnFrom, !clean || txnFrom != math.MaxInt64); err != nil {
			return err
		}
	}
	if l.stats.clean {
		if err := removeIfExists(l.fs, filepath.Join(l.dir, cleanShutdownFile)); err != nil {
			return err
		}
		// The marker must be gone for good before anything is appended.
		if err := l.fs.SyncDir(l.dir); err != nil {
			return fmt.Errorf("log: sync %s: %w", l.dir, err)
		}
	}
	l.stats.clean = clean
	return nil
}

// scanDir lists the segment base offsets in the directory, notes the
// clean-shutdown marker, and removes leftovers: *.deleted (a retired
// segment), *.tmp (a checkpoint write cut short) and index files (the
// transaction index's too) with no .log.
func (l *Log) scanDir() ([]int64, error) {
	ents, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("log: read dir %s: %w", l.dir, err)
	}
	type indexFile struct {
		name string
		base int64
	}
	var bases []int64
	var indexes []indexFile
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		switch {
		case name == cleanShutdownFile:
			l.stats.clean = true
		case strings.HasSuffix(name, deletedSuffix), strings.HasSuffix(name, tmpSuffix):
			if err := removeIfExists(l.fs, filepath.Join(l.dir, name)); err != nil {
				return nil, err
			}
		default:
			if b, ok := parseBaseName(name, logSuffix); ok {
				bases = append(bases, b)
			} else if b, ok := parseBaseName(name, indexSuffix); ok {
				indexes = append(indexes, indexFile{name, b})
			} else if b, ok := parseBaseName(name, timeIndexSuffix); ok {
				indexes = append(indexes, indexFile{name, b})
			} else if b, ok := parseBaseName(name, txnIndexSuffix); ok {
				indexes = append(indexes, indexFile{name, b})
			}
		}
	}
	slices.Sort(bases)
	for _, x := range indexes {
		if _, found := slices.BinarySearch(bases, x.base); !found {
			if err := removeIfExists(l.fs, filepath.Join(l.dir, x.name)); err != nil {
				return nil, err
			}
		}
	}
	return bases, nil
}

// recoverSegment validates s batch by batch, cuts it at the first batch
// that is torn, corrupt or out of order, rebuilds its indexes from the
// scan and fsyncs it. onBatch, if set, sees every valid batch.
func (l *Log) recoverSegment(s *segment, onBatch func(*record.Header)) error {
	if err := s.offIdx.truncate(0); err != nil {
		return err
	}
	if err := s.timeIdx.truncate(0); err != nil {
		return err
	}
	s.maxTs.Store(nil)
	s.bytesSinceIndex, s.lastOffset = 0, s.base-1
	size := s.size.Load()
	l.stats.scannedBytes += size
	sc := newScanner(s.log, s.base, 0, size, recoverChunk)
	sc.verify = true
	for sc.next() {
		s.track(&sc.h, sc.batchPos, l.cfg.IndexIntervalBytes)
		if onBatch != nil {
			onBatch(&sc.h)
		}
	}
	if sc.err != nil {
		return fmt.Errorf("log: recover %v: %w", s, sc.err)
	}
	if sc.invalid != nil {
		l.logger.Warn("truncating log at first invalid batch", "file", s.paths[0],
			"position", sc.pos, "dropped_bytes", size-sc.pos, "reason", sc.invalid)
		s.size.Store(sc.pos)
		if err := s.log.Truncate(sc.pos); err != nil {
			return fmt.Errorf("log: recover %v: truncate at %d: %w", s, sc.pos, err)
		}
		l.stats.truncatedBytes += size - sc.pos
	}
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("log: recover %v: sync: %w", s, err)
	}
	return nil
}

// checkSealed checks a sealed segment's indexes cheaply: both files
// present and of whole entries, the last offset entry pointing at a batch
// with that base offset, and a last time entry (the segment's max
// timestamp, written by seal) naming an offset below the next segment. It
// loads the max timestamp. It cannot tell an offset index emptied by hand
// from one of a segment that never reached the index interval; lookups in
// such a segment still work, scanning from its start.
func (s *segment) checkSealed(nextBase int64) error {
	if s.missingIndex && s.size.Load() > 0 {
		return fmt.Errorf("log: %v: index file missing", s)
	}
	if err := s.offIdx.load(false); err != nil {
		return err
	}
	if err := s.timeIdx.load(false); err != nil {
		return err
	}
	size := s.size.Load()
	if size == 0 {
		if s.offIdx.count() != 0 || s.timeIdx.count() != 0 {
			return fmt.Errorf("log: %v: empty segment with index entries", s)
		}
		return nil
	}
	if e, err := s.offIdx.last(); err != nil {
		return err
	} else if e != nil {
		rel, pos := decodeOffsetEntry(e)
		sc := newScanner(s.log, s.base, pos, size, record.HeaderSize)
		if !sc.next() || sc.h.BaseOffset != s.base+rel {
			return fmt.Errorf("log: %v: last index entry (%d, %d) does not point at its batch", s, rel, pos)
		}
	}
	e, err := s.timeIdx.last()
	if err != nil {
		return err
	}
	if e == nil {
		return fmt.Errorf("log: %v: empty time index", s)
	}
	ts, rel := decodeTimeEntry(e)
	if s.base+rel >= nextBase {
		return fmt.Errorf("log: %v: time index names offset %d, next segment starts at %d", s, s.base+rel, nextBase)
	}
	s.maxTs.Store(&tsMark{ts: ts, offset: s.base + rel})
	return nil
}

// loadActive loads the active segment of a cleanly closed log: indexes
// into memory (checked in full), the batches after the last index entry
// (to find the log end and check the entry), and the max timestamp from
// the time index's last entry, which Close wrote.
func (s *segment) loadActive() error {
	if s.missingIndex && s.size.Load() > 0 {
		return fmt.Errorf("log: %v: index file missing", s)
	}
	if err := s.offIdx.load(true); err != nil {
		return err
	}
	if err := s.timeIdx.load(true); err != nil {
		return err
	}
	size := s.size.Load()
	from, want := int64(0), int64(-1)
	if e, _ := s.offIdx.last(); e != nil {
		rel, pos := decodeOffsetEntry(e)
		from, want = pos, s.base+rel
	}
	sc := newScanner(s.log, s.base, from, size, recoverChunk)
	for sc.next() {
		if want >= 0 && sc.h.BaseOffset != want {
			return fmt.Errorf("log: %v: last index entry names offset %d, batch there has %d", s, want, sc.h.BaseOffset)
		}
		want = -1
		s.lastOffset = sc.h.LastOffset()
	}
	if err := sc.failure(); err != nil {
		return fmt.Errorf("log: %v: %w", s, err)
	}
	if want >= 0 {
		return fmt.Errorf("log: %v: last index entry points past the end", s)
	}
	s.bytesSinceIndex = size - from
	if size == 0 {
		return nil
	}
	e, _ := s.timeIdx.last()
	if e == nil {
		return fmt.Errorf("log: %v: empty time index", s)
	}
	ts, rel := decodeTimeEntry(e)
	if s.base+rel > s.lastOffset {
		return fmt.Errorf("log: %v: time index names offset %d past the end", s, s.base+rel)
	}
	s.maxTs.Store(&tsMark{ts: ts, offset: s.base + rel})
	return nil
}

// loadEpochs loads the leader-epoch checkpoint, drops entries at or past
// the log end and adds the epochs that the recovery scan saw. An
// unreadable checkpoint is rebuilt from the batches' leader epochs.
func (l *Log) loadEpochs(leo int64, marks []EpochEntry) error {
	c, err := loadEpochCache(l.fs, l.dir)
	if err != nil {
		l.logger.Warn("rebuilding unreadable leader-epoch checkpoint from the log", "dir", l.dir, "err", err)
		c = &epochCache{fs: l.fs, dir: l.dir}
		marks = marks[:0]
		_, err := l.replay(l.segs[0].base, leo, func(h *record.Header) {
			if n := len(marks); h.PartitionLeaderEpoch >= 0 && (n == 0 || h.PartitionLeaderEpoch > marks[n-1].Epoch) {
				marks = append(marks, EpochEntry{Epoch: h.PartitionLeaderEpoch, StartOffset: h.BaseOffset})
			}
		})
		if err != nil {
			return err
		}
		if err := c.install(nil); err != nil {
			return err
		}
	}
	l.epochs = c
	if err := c.truncateFromEnd(leo); err != nil {
		return err
	}
	for _, m := range marks {
		if _, err := c.assign(m.Epoch, m.StartOffset); err != nil {
			return err
		}
	}
	return nil
}

// rebuildProducers sets the producer state to that after every batch below
// end: the newest readable snapshot at or below min(end, below) plus a
// replay of the batches after it. Snapshots past end, and unreadable ones,
// are deleted.
//
// With reindex, the abort index entries whose marker is at or above the
// replay's start are dropped, in every segment, and the replay indexes the
// markers it meets anew, each segment's file rewritten and fsynced: so
// after a crash, or with a segment's index unreadable (below: its base),
// the index agrees with the log and with the producer state it was
// computed from. Without it (a clean restart, a truncation, which cut the
// entries above the new end itself), the replay leaves the index alone.
func (l *Log) rebuildProducers(end, below int64, reindex bool) error {
	offs, err := listSnapshots(l.fs, l.dir)
	if err != nil {
		return err
	}
	ps, from := newProducerState(), int64(-1)
	for i := len(offs) - 1; i >= 0; i-- {
		off := offs[i]
		if off > end {
			if err := removeIfExists(l.fs, snapshotPath(l.dir, off)); err != nil {
				return err
			}
			continue
		}
		if from >= 0 || off > below {
			continue
		}
		loaded, err := readSnapshot(l.fs, l.dir, off)
		if err != nil {
			l.logger.Warn("deleting unreadable producer snapshot", "dir", l.dir, "offset", off, "err", err)
			if err := removeIfExists(l.fs, snapshotPath(l.dir, off)); err != nil {
				return err
			}
			continue
		}
		ps, from = loaded, off
	}
	from = max(from, l.segs[0].base)
	indexFrom := int64(math.MaxInt64)
	if reindex {
		indexFrom = from
		for _, s := range l.segs {
			if err := s.txn.cut(indexFrom); err != nil {
				return err
			}
		}
	}
	n, err := l.replayProducers(ps, from, end, indexFrom)
	l.stats.replayedBatches += n
	if err != nil {
		return err
	}
	if reindex {
		wrote := false
		for i, s := range l.segs {
			if i+1 < len(l.segs) && l.segs[i+1].base <= indexFrom {
				continue
			}
			w, err := s.txn.write()
			if err != nil {
				return err
			}
			wrote = wrote || w
		}
		// A file created must survive a crash with its segment.
		if wrote {
			if err := l.fs.SyncDir(l.dir); err != nil {
				return fmt.Errorf("log: sync %s: %w", l.dir, err)
			}
		}
	}
	l.setProducers(ps)
	return nil
}

// replay calls fn for each batch whose base offset is in [from, end), in
// order, reading headers only, and returns how many it saw.
func (l *Log) replay(from, end int64, fn func(*record.Header)) (int, error) {
	return l.replayIn(from, end, func(_ *segment, h *record.Header, _ int64) { fn(h) })
}

// replayIn is replay with each batch's segment and file position.
func (l *Log) replayIn(from, end int64, fn func(s *segment, h *record.Header, pos int64)) (int, error) {
	n := 0
	for i, s := range l.segs {
		if i+1 < len(l.segs) && l.segs[i+1].base <= from {
			continue
		}
		if s.base >= end {
			break
		}
		pos, err := s.lookupPos(from)
		if err != nil {
			return n, err
		}
		sc := newScanner(s.log, s.base, pos, s.size.Load(), recoverChunk)
		for sc.next() {
			if sc.h.BaseOffset >= end {
				return n, nil
			}
			if sc.h.BaseOffset >= from {
				fn(s, &sc.h, sc.batchPos)
				n++
			}
		}
		if err := sc.failure(); err != nil {
			return n, fmt.Errorf("log: replay %v: %w", s, err)
		}
	}
	return n, nil
}
