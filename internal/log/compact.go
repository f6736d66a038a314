package log

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/samsa-kafka/samsa/internal/record"
)

// Log compaction (cleanup.policy=compact), Kafka's log cleaner.
//
// The log is split at the cleaner checkpoint (cleanerCheckpointFile, the
// first dirty offset): below it every key has been deduplicated once;
// from it to the first uncleanable offset (the active segment, the high
// watermark, or the first segment younger than min.compaction.lag.ms) it
// is dirty. A pass builds a key → latest offset map over the dirty part
// (bounded memory: the dirty range ends early when the map is full), then
// rewrites every closed segment from the log start to the end of that
// range, keeping a record when no later offset of its key is in the map,
// and dropping a tombstone (null value) once its source segment's newest
// timestamp is more than delete.retention.ms old (samsa measures from the
// segment's max timestamp, falling back to its mtime, not from when the
// segment was first cleaned as Kafka does).
//
// Nothing at or above the last stable offset is cleaned. The records of
// aborted transactions (the abort index names them) are dropped and never
// enter the key map; a transaction marker goes once no batch of its
// transaction is left before it and its segment is older than
// delete.retention.ms (filter.batch). An abort marker that stays for its
// transaction's batches keeps its abort index entry in the new segment.
//
// Offsets never change: a rewritten batch keeps its base offset, last
// offset delta, producer id, epoch and base sequence, leader epoch,
// attributes and codec, and gets a fresh CRC. A batch left with no record
// is dropped, unless it is the last batch of its producer, which producer
// state rebuilt from the log needs: it stays as an empty batch (a marker
// that is its producer's last batch in its epoch stays as it is). A batch
// whose records all stay is copied byte for byte.
//
// Sources are grouped (consecutive segments whose sizes sum to at most
// segment.bytes) and each group becomes one segment named by the group's
// first base offset. The crash protocol, per group:
//
//  1. write <base>.log/.index/.timeindex(/.txnindex).cleaned and
//     <base>.cleanrange.cleaned (the group's end offset), fsync them;
//  2. under the appender lock, check the sources are unchanged, then rename
//     the range and indexes to .swap, fsync the directory, rename the log
//     to .swap (the commit point) and fsync the directory again;
//  3. swap the segment list (readers holding a Slice of a source keep
//     reading its open files), retire the sources (*.deleted, removed after
//     file.delete.delay.ms as retention does), rename the .swap files into
//     place, remove the range file and fsync the directory.
//
// Open removes *.cleaned files (an uncommitted pass) and .swap files of a
// base without <base>.log.swap; for a committed one it removes the
// segments whose base lies in [base, range end) and renames the .swap
// files into place (completeSwaps). So a restart sees either every source
// of a group or its cleaned segment, never a mix. An index lost on the
// way is rebuilt by Open like any missing index.

// CompactOptions are one partition's compaction settings.
type CompactOptions struct {
	DeleteRetentionMs  int64   // delete.retention.ms; negative keeps tombstones forever
	MinCompactionLagMs int64   // min.compaction.lag.ms
	MaxCompactionLagMs int64   // max.compaction.lag.ms; <= 0 is no bound
	MinCleanableRatio  float64 // min.cleanable.dirty.ratio; 0 compacts any dirty data
	// HW is the high watermark: nothing at or above it is compacted.
	HW int64
	// MaxMemory bounds the key → offset map (24 bytes a key); <= 0 is
	// DefaultCleanerMemory.
	MaxMemory int
}

// DefaultCleanerMemory is the offset map's default bound: 16 MiB, about
// 500,000 keys per pass.
const DefaultCleanerMemory = 16 << 20

// CompactStats says what a Compact call did.
type CompactStats struct {
	Cleaned           bool    // false when no compaction was due
	DirtyRatio        float64 // dirty bytes / cleanable bytes, before the pass
	FirstDirty        int64   // the cleaner checkpoint before the pass
	CleanedTo         int64   // ... and after it
	Segments          int     // source segments rewritten
	Groups            int     // segments written
	BytesRead         int64
	BytesWritten      int64
	RecordsRemoved    int64
	TombstonesRemoved int64
	MapBytes          int // the offset map's memory at its peak
}

const (
	cleanerCheckpointFile = "cleaner-offset-checkpoint"
	cleanedSuffix         = ".cleaned"
	swapSuffix            = ".swap"
	cleanRangeSuffix      = ".cleanrange"
)

// ErrCompactionAborted: the log changed under the cleaner (truncation,
// retention, close); nothing was swapped, and the next pass starts over.
var ErrCompactionAborted = errors.New("log: compaction aborted: the log changed")

// Compact runs one cleaner pass if one is due (dirty ratio at least
// MinCleanableRatio, or the oldest dirty record older than
// MaxCompactionLagMs). Appends and reads go on meanwhile; the appender
// lock is held only to swap each rewritten group in. Calls on one log are
// serialised.
func (l *Log) Compact(now time.Time, opts CompactOptions) (CompactStats, error) {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	nowMs := now.UnixMilli()

	l.mu.Lock()
	if err := l.writable(); err != nil {
		l.mu.Unlock()
		return CompactStats{}, err
	}
	closed := slices.Clone(l.segs[:len(l.segs)-1])
	sizes := make([]int64, len(closed))
	for i, s := range closed {
		s.pin()
		sizes[i] = s.size.Load()
	}
	activeBase := l.active().base
	gen := l.truncGen.Load()
	lastOfProducer := make(map[int64]producerLast, len(l.producers.producers))
	for pid, e := range l.producers.producers {
		pl := producerLast{dataOffset: -1, epoch: e.epoch}
		if n := len(e.batches); n > 0 {
			pl.dataOffset = e.batches[n-1].lastOffset
		}
		lastOfProducer[pid] = pl
	}
	// Nothing at or above the last stable offset is cleaned (Kafka's
	// firstUncleanableDirtyOffset): an undecided transaction's records
	// cannot be told kept or dropped yet.
	stable := opts.HW
	if fuo, ok := l.FirstUnstableOffset(); ok && fuo < stable {
		stable = fuo
	}
	segBytes, interval := l.cfg.SegmentBytes, l.cfg.IndexIntervalBytes
	start, end := l.start.Load(), l.end.Load().Offset
	l.mu.Unlock()
	defer func() {
		for _, s := range closed {
			s.unpin()
		}
	}()
	nextBase := func(i int) int64 {
		if i+1 < len(closed) {
			return closed[i+1].base
		}
		return activeBase
	}

	firstDirty, err := readOffsetFile(l.fs, l.dir, cleanerCheckpointFile)
	if err != nil {
		l.logger.Warn("ignoring unreadable cleaner checkpoint", "dir", l.dir, "err", err)
	}
	if firstDirty < start || firstDirty > end {
		firstDirty = start
	}
	stats := CompactStats{FirstDirty: firstDirty, CleanedTo: firstDirty}

	// The cleanable segments: closed, wholly below the last stable
	// offset, and (from the first that is not) older than
	// min.compaction.lag.ms.
	cleanable := 0
	for i, s := range closed {
		if nextBase(i) > stable || (opts.MinCompactionLagMs > 0 && nowMs-s.newestTimestamp() < opts.MinCompactionLagMs) {
			break
		}
		cleanable = i + 1
	}
	var cleanBytes, dirtyBytes int64
	firstDirtySeg := -1
	for i := range cleanable {
		if nextBase(i) <= firstDirty {
			cleanBytes += sizes[i]
			continue
		}
		if firstDirtySeg < 0 {
			firstDirtySeg = i
		}
		dirtyBytes += sizes[i]
	}
	if dirtyBytes == 0 {
		return stats, nil
	}
	stats.DirtyRatio = float64(dirtyBytes) / float64(cleanBytes+dirtyBytes)
	overdue := opts.MaxCompactionLagMs > 0 &&
		nowMs-closed[firstDirtySeg].firstTimestampMs(nowMs) > opts.MaxCompactionLagMs
	if stats.DirtyRatio < opts.MinCleanableRatio && !overdue {
		return stats, nil
	}

	maxMem := opts.MaxMemory
	if maxMem <= 0 {
		maxMem = DefaultCleanerMemory
	}
	m := newOffsetMap(maxMem)
	mapEnd, err := l.buildOffsetMap(m, closed[firstDirtySeg:cleanable], firstDirty, nextBase(cleanable-1))
	stats.MapBytes = m.bytes()
	if err != nil {
		return stats, err
	}
	if mapEnd <= firstDirty {
		return stats, nil
	}

	// Sources: every closed segment holding offsets below mapEnd.
	nsrc := 0
	for nsrc < cleanable && closed[nsrc].base < mapEnd {
		nsrc++
	}
	aborted, err := l.AbortedTxns(closed[0].base, nextBase(nsrc-1))
	if err != nil {
		return stats, err
	}
	f := filter{m: m, mapEnd: mapEnd, lastOfProducer: lastOfProducer, txns: newTxnTracker(aborted)}
	for i := 0; i < nsrc; {
		j, sum := i, int64(0)
		for j < nsrc && (j == i || sum+sizes[j] <= segBytes) && nextBase(j)-closed[i].base <= 1<<31-1 {
			sum += sizes[j]
			j++
		}
		if err := l.cleanGroup(closed[i:j], sizes[i:j], nextBase(j-1), interval, nowMs, opts.DeleteRetentionMs, &f, &stats); err != nil {
			return stats, err
		}
		i = j
	}
	if err := l.advanceCleanerCheckpoint(gen, mapEnd); err != nil {
		return stats, err
	}
	stats.Cleaned, stats.CleanedTo = true, mapEnd
	l.logger.Info("compacted log", "dir", l.dir, "segments", stats.Segments, "into", stats.Groups,
		"bytes_read", stats.BytesRead, "bytes_written", stats.BytesWritten, "cleaned_to", mapEnd)
	return stats, nil
}

// buildOffsetMap puts the keys of the batches from firstDirty on into m,
// segment by segment, and returns the offset below which every key is in
// m: the end of the segments (end), or the base of the first batch that
// did not fit. The records of aborted transactions stay out of the map,
// as Kafka's cleaner leaves them out: they are never read, so they must
// not make an older committed record of their key look superseded.
func (l *Log) buildOffsetMap(m *offsetMap, segs []*segment, firstDirty, end int64) (int64, error) {
	aborted, err := l.AbortedTxns(firstDirty, end)
	if err != nil {
		return firstDirty, err
	}
	txns := newTxnTracker(aborted)
	mapEnd := firstDirty
	for _, s := range segs {
		pos, err := s.lookupPos(firstDirty)
		if err != nil {
			return mapEnd, err
		}
		sc := newScanner(s.log, s.base, pos, s.size.Load(), readChunk)
		for sc.next() {
			h := sc.h
			if h.LastOffset() < firstDirty {
				continue
			}
			if h.IsControl() {
				mk, err := markerOf(&h, nil, s, sc.batchPos)
				if err != nil {
					sc.release()
					return mapEnd, err
				}
				txns.control(&h, mk)
				mapEnd = h.LastOffset() + 1
				continue
			}
			if txns.data(&h) {
				mapEnd = h.LastOffset() + 1
				continue
			}
			if m.n+int(h.NumRecords) > m.maxSlots*3/4 {
				sc.release()
				if mapEnd == firstDirty {
					return mapEnd, fmt.Errorf("log: compact %s: one batch of %d records exceeds the cleaner's memory", l.dir, h.NumRecords)
				}
				return mapEnd, nil
			}
			b, err := s.readBatch(sc.batchPos, h.Size())
			if err != nil {
				sc.release()
				return mapEnd, err
			}
			_, recs, err := record.ReadRecords(b, 0)
			if err != nil {
				sc.release()
				return mapEnd, fmt.Errorf("log: compact %v: batch at %d: %w", s, h.BaseOffset, err)
			}
			for i := range recs {
				if recs[i].Key != nil {
					m.put(recs[i].Key, h.BaseOffset+int64(recs[i].OffsetDelta))
				}
			}
			mapEnd = h.LastOffset() + 1
		}
		err = sc.failure()
		sc.release()
		if err != nil {
			return mapEnd, fmt.Errorf("log: compact %v: %w", s, err)
		}
	}
	return mapEnd, nil
}

// producerLast is what the cleaner keeps of a producer (Kafka's
// lastRecordsOfActiveProducers): the last offset of its last data batch
// (-1: none since its epoch began) and its epoch.
type producerLast struct {
	dataOffset int64
	epoch      int16
}

// filter decides which records of a batch stay.
type filter struct {
	m              *offsetMap
	mapEnd         int64
	lastOfProducer map[int64]producerLast
	txns           *txnTracker
	dropTombstones bool // tombstones and discardable markers go (delete.retention.ms)
}

// lastOfProducer reports whether the batch h holds what a producer state
// rebuilt from the log needs of a live producer, so it stays even when
// empty: its last data batch (the last sequence), or, when it has none in
// its epoch, its marker of that epoch (the epoch, for fencing).
func (f *filter) lastOfItsProducer(h *record.Header) bool {
	pl, ok := f.lastOfProducer[h.ProducerID]
	if h.ProducerID < 0 || !ok {
		return false
	}
	if pl.dataOffset >= 0 {
		return !h.IsControl() && h.LastOffset() == pl.dataOffset
	}
	return h.IsControl() && h.ProducerEpoch == pl.epoch
}

// batch returns the batch to write in place of b (b itself when every
// record stays, nil when the batch goes), how many records and tombstones
// went, and the abort index entry to keep with a marker that stays.
//
// Transactions, as Kafka's cleaner treats them: the batches of an aborted
// transaction lose every record at once; a marker goes once no batch of
// its transaction was met before it in the pass (there is nothing left for
// it to decide) and its segment is older than delete.retention.ms (samsa's
// equivalent of the KIP-534 delete horizon, as for tombstones), so a
// consumer that read the transaction's records recently still meets it.
// An abort marker kept because its transaction still has batches keeps its
// abort index entry. A committed transaction's records are compacted like
// any others.
func (f *filter) batch(b []byte, h *record.Header) (out []byte, removed, tombstones int64, keep *AbortedTxn, err error) {
	if h.IsControl() {
		m, err := markerOf(h, b, nil, 0)
		if err != nil {
			return nil, 0, 0, nil, err
		}
		discardable, keep := f.txns.control(h, m)
		if discardable && f.dropTombstones && !f.lastOfItsProducer(h) {
			return nil, int64(h.NumRecords), 0, nil, nil
		}
		return b, 0, 0, keep, nil
	}
	aborted := f.txns.data(h)
	_, recs, err := record.ReadRecords(b, 0)
	if err != nil {
		return nil, 0, 0, nil, err
	}
	kept := recs[:0:0]
	for _, r := range recs {
		off := h.BaseOffset + int64(r.OffsetDelta)
		switch {
		case aborted:
			removed++
		case r.Key != nil && off < f.mapEnd && f.m.get(r.Key) > off:
			removed++
		case r.Key != nil && r.Value == nil && f.dropTombstones:
			removed++
			tombstones++
		default:
			kept = append(kept, r)
		}
	}
	if removed == 0 {
		return b, 0, 0, nil, nil
	}
	if len(kept) == 0 && !f.lastOfItsProducer(h) {
		return nil, removed, tombstones, nil, nil
	}
	out, err = record.BuildBatch(h.Codec(), h.BaseOffset, kept, record.BuildOptions{
		ProducerID:           h.ProducerID,
		ProducerEpoch:        h.ProducerEpoch,
		BaseSequence:         h.BaseSequence,
		BaseTimestamp:        h.BaseTimestamp,
		MaxTimestamp:         h.MaxTimestamp,
		PartitionLeaderEpoch: h.PartitionLeaderEpoch,
		Attributes:           h.Attributes,
		LastOffsetDelta:      h.LastOffsetDelta,
	})
	return out, removed, tombstones, nil, err
}

// txnTracker follows the transactions through the batches of a cleaner
// pass, in offset order (Kafka's CleanedTransactionMetadata): which
// producers are inside an aborted transaction, whose records go, and
// whether a marker's transaction still had batches before it.
type txnTracker struct {
	pending   []AbortedTxn             // not begun yet, by ascending first offset
	aborted   map[int64]*abortedInPass // producer → its aborted transaction under way
	committed map[int64]bool           // producers with batches of a transaction that is not aborted
}

type abortedInPass struct {
	txn  AbortedTxn
	seen bool // a batch of it was met
}

func newTxnTracker(aborted []AbortedTxn) *txnTracker {
	slices.SortStableFunc(aborted, func(a, b AbortedTxn) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
	return &txnTracker{pending: aborted, aborted: map[int64]*abortedInPass{}, committed: map[int64]bool{}}
}

// begin starts the aborted transactions whose first offset is at or below
// offset.
func (t *txnTracker) begin(offset int64) {
	for len(t.pending) > 0 && t.pending[0].FirstOffset <= offset {
		a := t.pending[0]
		t.pending = t.pending[1:]
		if t.aborted[a.ProducerID] == nil {
			t.aborted[a.ProducerID] = &abortedInPass{txn: a}
		}
	}
}

// data reports whether the data batch h belongs to an aborted transaction.
func (t *txnTracker) data(h *record.Header) bool {
	t.begin(h.LastOffset())
	if !h.IsTransactional() {
		return false
	}
	if a := t.aborted[h.ProducerID]; a != nil {
		a.seen = true
		return true
	}
	t.committed[h.ProducerID] = true
	return false
}

// control reports whether the control batch h (m its marker, nil when it
// is none) may go, no batch of its transaction having been met, and the
// abort index entry to keep with it when it must stay for its
// transaction's batches. A control batch that is not a marker stays,
// unless it has no record left at all.
func (t *txnTracker) control(h *record.Header, m *record.Marker) (discardable bool, keep *AbortedTxn) {
	t.begin(h.LastOffset())
	if m == nil {
		return h.NumRecords == 0, nil
	}
	if !m.Commit {
		a := t.aborted[h.ProducerID]
		delete(t.aborted, h.ProducerID)
		if a != nil && a.seen {
			return false, &a.txn
		}
		return true, nil
	}
	seen := t.committed[h.ProducerID]
	delete(t.committed, h.ProducerID)
	return !seen, nil
}

// cleanGroup rewrites the segments of group (sizes as pinned) into one
// segment and swaps it in. groupEnd is the base of the segment after the
// group.
func (l *Log) cleanGroup(group []*segment, sizes []int64, groupEnd, interval, nowMs, deleteRetentionMs int64, f *filter, stats *CompactStats) (err error) {
	base := group[0].base
	ns, err := openSegmentAs(l.fs, l.dir, base, true, cleanedSuffix)
	if err != nil {
		return err
	}
	rangeName := segmentFileName(base, cleanRangeSuffix)
	txnPath := filepath.Join(l.dir, segmentFileName(base, txnIndexSuffix)) // ns.txn writes it + cleanedSuffix
	swapped := false
	defer func() {
		if !swapped && !errors.Is(err, errCrashPoint) {
			ns.closeFiles()
			for _, p := range append(ns.paths[:], txnPath) {
				removeIfExists(l.fs, p+cleanedSuffix)
				removeIfExists(l.fs, p+swapSuffix)
			}
			removeIfExists(l.fs, filepath.Join(l.dir, rangeName+cleanedSuffix))
			removeIfExists(l.fs, filepath.Join(l.dir, rangeName+swapSuffix))
		}
	}()

	var pos int64
	for k, s := range group {
		f.dropTombstones = deleteRetentionMs >= 0 && nowMs-s.newestTimestamp() > deleteRetentionMs
		sc := newScanner(s.log, s.base, 0, sizes[k], readChunk)
		for sc.next() {
			h := sc.h
			b, err := s.readBatch(sc.batchPos, h.Size())
			if err != nil {
				sc.release()
				return err
			}
			out, removed, tombstones, keep, err := f.batch(b, &h)
			if err != nil {
				sc.release()
				return fmt.Errorf("log: compact %v: batch at %d: %w", s, h.BaseOffset, err)
			}
			if keep != nil {
				ns.txn.add(*keep)
			}
			stats.RecordsRemoved += removed
			stats.TombstonesRemoved += tombstones
			if out == nil {
				continue
			}
			nh, err := record.ParseHeader(out)
			if err != nil {
				sc.release()
				return err
			}
			if err := ns.write(out, pos); err != nil {
				sc.release()
				return err
			}
			pos += int64(len(out))
			ns.size.Store(pos)
			ns.track(&nh, pos-int64(len(out)), interval)
		}
		err := sc.failure()
		sc.release()
		if err != nil {
			return fmt.Errorf("log: compact %v: %w", s, err)
		}
		stats.BytesRead += sizes[k]
	}
	if err := ns.seal(); err != nil {
		return err
	}
	if err := WriteFileAtomic(l.fs, filepath.Join(l.dir, rangeName+cleanedSuffix), encodeCheckpoint([][]int64{{groupEnd}})); err != nil {
		return err
	}
	if err := l.crashPoint("cleaned"); err != nil {
		return err
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	i := slices.Index(l.segs, group[0])
	if i < 0 || i+len(group) >= len(l.segs) {
		return ErrCompactionAborted
	}
	for k, s := range group {
		if l.segs[i+k] != s || s.size.Load() != sizes[k] {
			return ErrCompactionAborted
		}
	}
	// Commit: everything but the log to .swap, then the log.
	renames := [][2]string{
		{filepath.Join(l.dir, rangeName+cleanedSuffix), filepath.Join(l.dir, rangeName+swapSuffix)},
		{ns.paths[1] + cleanedSuffix, ns.paths[1] + swapSuffix},
		{ns.paths[2] + cleanedSuffix, ns.paths[2] + swapSuffix},
	}
	if ns.txn.count() > 0 {
		renames = append(renames, [2]string{txnPath + cleanedSuffix, txnPath + swapSuffix})
	}
	for _, r := range renames {
		if err := l.fs.Rename(r[0], r[1]); err != nil {
			return fmt.Errorf("log: compact: %w", err)
		}
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fmt.Errorf("log: compact: sync %s: %w", l.dir, err)
	}
	if err := l.crashPoint("swapping"); err != nil {
		return err
	}
	if err := l.fs.Rename(ns.paths[0]+cleanedSuffix, ns.paths[0]+swapSuffix); err != nil {
		return fmt.Errorf("log: compact: %w", err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		// The rename may or may not be durable: Open will settle it
		// either way, and until then the old segments serve.
		return l.setFatal(fmt.Errorf("log: compact: sync %s: %w", l.dir, err))
	}
	swapped = true
	if err := l.crashPoint("committed"); err != nil {
		return err
	}

	l.segMu.Lock()
	l.segs = slices.Concat(l.segs[:i], []*segment{ns}, l.segs[i+len(group):])
	l.segMu.Unlock()
	var errs []error
	errs = append(errs, l.retire(group))
	if err := l.crashPoint("retired"); err != nil {
		return err
	}
	finals := []string{ns.paths[1], ns.paths[2], ns.paths[0]}
	if ns.txn.count() > 0 {
		finals = append(finals[:2], txnPath, ns.paths[0])
	}
	for _, p := range finals {
		errs = append(errs, l.fs.Rename(p+swapSuffix, p))
	}
	ns.txn.path = txnPath
	if err := l.crashPoint("renamed"); err != nil {
		return err
	}
	errs = append(errs, removeIfExists(l.fs, filepath.Join(l.dir, rangeName+swapSuffix)), l.fs.SyncDir(l.dir))
	if err := errors.Join(errs...); err != nil {
		// The segment list is right; the files are settled by the next Open.
		l.logger.Warn("finishing a compaction swap", "dir", l.dir, "segment", base, "err", err)
	}
	stats.Segments += len(group)
	stats.Groups++
	stats.BytesWritten += pos
	return nil
}

// completeSwaps settles the cleaner's files left by a crash (see the crash
// protocol above). Open calls it before it lists the segments.
func (l *Log) completeSwaps() error {
	ents, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("log: read dir %s: %w", l.dir, err)
	}
	var committed []int64
	var swaps []string
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, cleanedSuffix):
			if err := removeIfExists(l.fs, filepath.Join(l.dir, name)); err != nil {
				return err
			}
		case strings.HasSuffix(name, swapSuffix):
			swaps = append(swaps, name)
			if b, ok := parseBaseName(name, logSuffix+swapSuffix); ok {
				committed = append(committed, b)
			}
		}
	}
	if len(swaps) == 0 {
		return nil
	}
	for _, name := range swaps {
		b, ok := parseBaseName(name[:20]+logSuffix, logSuffix)
		if !ok || !slices.Contains(committed, b) {
			if err := removeIfExists(l.fs, filepath.Join(l.dir, name)); err != nil {
				return err
			}
		}
	}
	slices.Sort(committed)
	for _, base := range committed {
		rangeFile := segmentFileName(base, cleanRangeSuffix) + swapSuffix
		end, err := readOffsetFile(l.fs, l.dir, rangeFile)
		if err != nil || end <= base {
			return fmt.Errorf("log: completing the compaction of segment %d: range file: %v", base, err)
		}
		for _, e := range ents {
			for _, suffix := range segmentSuffixes {
				if b, ok := parseBaseName(e.Name(), suffix); ok && b >= base && b < end {
					if err := removeIfExists(l.fs, filepath.Join(l.dir, e.Name())); err != nil {
						return err
					}
				}
			}
		}
		for _, suffix := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix, logSuffix} {
			p := filepath.Join(l.dir, segmentFileName(base, suffix))
			if err := l.fs.Rename(p+swapSuffix, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("log: completing the compaction of segment %d: %w", base, err)
			}
		}
		if err := removeIfExists(l.fs, filepath.Join(l.dir, rangeFile)); err != nil {
			return err
		}
		l.logger.Info("completed an interrupted compaction swap", "dir", l.dir, "segment", base, "replaced_below", end)
	}
	return l.fs.SyncDir(l.dir)
}

// readOffsetFile reads a one-offset checkpoint file, or 0 when it is absent.
// advanceCleanerCheckpoint records that the log is clean below to, unless
// the log was truncated since the pass began (gen): the checkpoint could
// then lie above offsets that were cut and written anew, and those would
// never be cleaned. The pass's swaps stand; the next pass rereads.
func (l *Log) advanceCleanerCheckpoint(gen uint64, to int64) error {
	l.ckptMu.Lock()
	defer l.ckptMu.Unlock()
	if l.truncGen.Load() != gen {
		return ErrCompactionAborted
	}
	return writeOffsetFile(l.fs, l.dir, cleanerCheckpointFile, to)
}

// lowerCleanerCheckpoint keeps the cleaner checkpoint at or below a new log
// end after a truncation (Kafka does the same), so what is appended again
// from there counts as dirty. Caller holds mu.
func (l *Log) lowerCleanerCheckpoint(end int64) error {
	l.truncGen.Add(1)
	l.ckptMu.Lock()
	defer l.ckptMu.Unlock()
	ckpt, err := readOffsetFile(l.fs, l.dir, cleanerCheckpointFile)
	if err != nil || ckpt <= end {
		return nil // an unreadable checkpoint is ignored by the next pass anyway
	}
	return writeOffsetFile(l.fs, l.dir, cleanerCheckpointFile, end)
}

func readOffsetFile(fsys FS, dir, name string) (int64, error) {
	e, err := readCheckpoint(fsys, filepath.Join(dir, name), 1)
	if err != nil || len(e) != 1 {
		return 0, err
	}
	return e[0][0], nil
}

func writeOffsetFile(fsys FS, dir, name string, off int64) error {
	return WriteFileAtomic(fsys, filepath.Join(dir, name), encodeCheckpoint([][]int64{{off}}))
}

// errCrashPoint is what a test's compactHook returns to stop a pass dead
// at a step, as a crash would: nothing is cleaned up.
var errCrashPoint = errors.New("log: simulated crash")

// crashPoint calls the test hook at a step of the swap protocol.
func (l *Log) crashPoint(step string) error {
	if l.compactHook != nil {
		return l.compactHook(step)
	}
	return nil
}
