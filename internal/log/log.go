// Package log is samsa's storage engine: one partition's log as a
// directory of segments laid out as Kafka lays them out, with sparse
// indexes, idempotent-producer state, leader-epoch checkpoints and crash
// recovery. It knows nothing of the network, groups or the cluster.
//
// # Locks
//
// In the order they are taken:
//
//	Log.mu         the appender lock: Append, AppendReplicated, roll,
//	               Truncate, TruncateFullyAndStartAt, SetStartOffset,
//	               AssignEpoch, SetConfig, Close, Delete. Guards cfg and
//	               producers.
//	Log.segMu      the segment list. The appender changes the list under it
//	               exclusively (and may read it without segMu, being the only
//	               writer); readers hold it shared only to find and pin a
//	               segment.
//	index.mu       one per index file; lookups shared, the appender
//	               exclusively for the moment it adds or cuts entries.
//	txnIndex.mu    one per segment's aborted transactions, the same way.
//	epochCache.mu  leaf.
//	Log.delMu      leaf: the retired segments waiting out
//	               file.delete.delay.ms (see retention.go).
//	Log.flushMu    held across Flush's fsync (so only flushes and the
//	               truncations wait on it, never appends or reads); after
//	               mu, before segMu. Truncation holds it so that a flush
//	               that read the old end cannot mark the new one flushed.
//
// No lock is held while a reader copies data or while Flush fsyncs:
// readers pin a segment (a reference count) and read with ReadAt below
// the size the appender published, which it publishes only after the
// bytes are written. The log end is an atomic *Position, published after
// the segment's size and indexes, so a reader that sees an end offset
// finds every batch below it. The open and ended transactions are an
// atomic *txnView, published after the log end (txn.go).
//
// # Durability
//
// An append reaches the page cache; it is fsynced when the flush policy
// says so, when Flush is called, when its segment rolls (a roll fsyncs the
// old segment and its indexes before the new segment exists) and on Close.
// So every segment but the last is durable and whole, and recovery after a
// crash scans only the last one. See recovery.go.
package log

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Kafka's defaults for a zero Config field.
const (
	defaultSegmentBytes      = 1 << 30
	defaultSegmentMs         = int64(7 * 24 * time.Hour / time.Millisecond)
	defaultIndexInterval     = 4096
	defaultSegmentIndexBytes = 10 << 20
)

func (c Config) withDefaults() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = defaultSegmentBytes
	}
	// Index positions are uint32 and Kafka's segment.bytes is an int.
	c.SegmentBytes = min(c.SegmentBytes, math.MaxInt32)
	if c.SegmentMs <= 0 {
		c.SegmentMs = defaultSegmentMs
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = defaultIndexInterval
	}
	if c.SegmentIndexBytes <= 0 {
		c.SegmentIndexBytes = defaultSegmentIndexBytes
	}
	c.SegmentIndexBytes = max(c.SegmentIndexBytes, 2*timeEntrySize)
	if c.FlushMessages <= 0 {
		c.FlushMessages = math.MaxInt64
	}
	if c.FlushMs <= 0 {
		c.FlushMs = math.MaxInt64
	}
	c.FileDeleteDelayMs = max(c.FileDeleteDelayMs, 0)
	return c
}

// Log is one partition's log: an ordered set of segments in one directory.
type Log struct {
	dir       string
	fs        FS
	logger    *slog.Logger
	onFailure func(dir string, err error)
	onFlush   func(d time.Duration) // nil: flushes are not timed
	now       func() time.Time
	after     func(time.Duration, func()) func() bool

	mu        sync.Mutex
	cfg       Config         // guarded by mu
	producers *producerState // guarded by mu

	segMu sync.RWMutex
	segs  []*segment // ascending base offsets; the last is the active one

	end     atomic.Pointer[Position]
	start   atomic.Int64
	closed  atomic.Bool // set under mu and segMu
	fatal   atomic.Pointer[fatalError]
	flushed atomic.Int64 // offsets below are fsynced
	flushMu sync.Mutex   // one fsync at a time (FlushTo's group commit)
	// needFlush is the end of the last leader append the flush policy
	// wanted fsynced before it counts (FlushBound). Set under mu.
	needFlush   atomic.Int64
	lastFlushMs atomic.Int64

	epochs *epochCache

	// hw is the partition's high watermark as last reported
	// (UpdateHighWatermark), -1 before; txns the transactions as the
	// appender last published them (txn.go).
	hw   atomic.Int64
	txns atomic.Pointer[txnView]

	cleanMu     sync.Mutex              // serialises Compact passes; taken before mu
	compactHook func(step string) error // tests: stop a pass at a step (compact.go)
	// ckptMu guards the cleaner checkpoint file; taken after mu. truncGen
	// counts truncations, so a pass that raced one does not write back a
	// checkpoint above the new log end.
	ckptMu   sync.Mutex
	truncGen atomic.Uint64

	delMu   sync.Mutex
	delayed map[*segment]func() bool // retired segments held for the delay, and their timers' stops

	stats loadStats
}

// loadStats records what Open had to do; tests read it.
type loadStats struct {
	fresh             bool  // the directory held no segment: a new log
	clean             bool  // the clean-shutdown marker was honoured
	scannedBytes      int64 // bytes validated batch by batch
	recoveredSegments int   // segments validated batch by batch
	rebuiltIndexes    int   // sealed segments whose indexes were rebuilt
	truncatedBytes    int64 // bytes cut off by recovery
	replayedBatches   int   // batches replayed into the producer state
}

// Recovery is what Open found and had to do, for the broker's one-line
// start-up summary.
type Recovery struct {
	// Fresh: the directory held no segment, so the log was created.
	Fresh bool
	// Clean: the clean-shutdown marker was honoured and no segment was
	// validated batch by batch; false after a crash (or for a fresh log).
	Clean bool
	// ScannedBytes were validated batch by batch: the active segment after
	// a crash, and any sealed segment whose indexes looked wrong.
	ScannedBytes int64
	// TruncatedBytes were cut off as a torn or corrupt tail.
	TruncatedBytes int64
}

// Recovery says what Open did to this log.
func (l *Log) Recovery() Recovery {
	return Recovery{Fresh: l.stats.fresh, Clean: l.stats.clean, ScannedBytes: l.stats.scannedBytes, TruncatedBytes: l.stats.truncatedBytes}
}

// active is the last segment. Appender only (or under segMu).
func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// writable reports why the log cannot take a write, if it cannot.
func (l *Log) writable() error {
	if l.closed.Load() {
		return ErrClosed
	}
	if f := l.fatal.Load(); f != nil {
		return f
	}
	return nil
}

// setFatal records err as the log's failure and returns it as a fatalError.
func (l *Log) setFatal(err error) error {
	fe, ok := err.(*fatalError)
	if !ok {
		fe = &fatalError{err}
	}
	if l.fatal.CompareAndSwap(nil, fe) {
		l.logger.Error("log failed; refusing writes until reopened", "dir", l.dir, "err", err)
		if l.onFailure != nil {
			l.onFailure(l.dir, fe)
		}
	}
	return fe
}

// roll seals the active segment and starts a new one at the log end, or
// at the offset at when that is above the end: a follower's next batch
// may start past the end (a gap in a compacted log), and its segment must
// be able to index its offsets. The gap then belongs to the log end, as
// it would after a restart (the empty new segment's base is the end).
//
// Order, for crash safety: the old segment's log and indexes are fsynced
// first, so once the new segment exists every segment before it is
// durable and recovery need only scan the last; then the producer state
// is snapshotted at the new base, so recovery replays at most the last
// segment; then the new files are created and the directory fsynced.
func (l *Log) roll(why string, at int64) error {
	old := l.active()
	end := l.end.Load().Offset
	base := max(end, at)
	if err := old.seal(); err != nil {
		return l.setFatal(err)
	}
	l.advanceFlushed(end)
	if err := writeSnapshot(l.fs, l.dir, base, l.producers); err != nil {
		l.logger.Warn("producer snapshot failed; recovery will replay more of the log", "dir", l.dir, "offset", base, "err", err)
	}
	seg, err := openSegment(l.fs, l.dir, base, true)
	if err == nil {
		if err = l.fs.SyncDir(l.dir); err != nil {
			seg.closeFiles()
			for _, p := range seg.paths {
				removeIfExists(l.fs, p)
			}
		}
	}
	if err != nil {
		// Stay on the old segment: make its indexes resident again.
		if rerr := old.reload(); rerr != nil {
			return l.setFatal(errors.Join(err, rerr))
		}
		return fmt.Errorf("log: roll at offset %d (%s): %w", base, why, err)
	}
	l.segMu.Lock()
	l.segs = append(l.segs, seg)
	l.segMu.Unlock()
	l.end.Store(&Position{Offset: base, SegmentBase: base})
	l.pruneSnapshots()
	l.logger.Debug("rolled segment", "dir", l.dir, "base", base, "reason", why)
	return nil
}

// pruneSnapshots keeps the producer snapshots from the base of the segment
// before the active one on: enough for a restart and for a Truncate into
// either of the last two segments to replay little. An older truncation
// point replays from the log start.
func (l *Log) pruneSnapshots() {
	if len(l.segs) < 2 {
		return
	}
	keep := l.segs[len(l.segs)-2].base
	offs, err := listSnapshots(l.fs, l.dir)
	if err != nil {
		return
	}
	for _, off := range offs {
		if off < keep {
			removeIfExists(l.fs, snapshotPath(l.dir, off))
		}
	}
}

func (l *Log) advanceFlushed(off int64) {
	for {
		cur := l.flushed.Load()
		if cur >= off || l.flushed.CompareAndSwap(cur, off) {
			return
		}
	}
}

// FlushTo returns once every offset below off is fsynced. Callers that
// arrive while an fsync runs wait for it and then share the next one: one
// fsync covers every batch appended before it started (group commit), so a
// partition written by many producers with flush.messages=1 pays an fsync
// per round of waiters, not per batch.
func (l *Log) FlushTo(off int64) error {
	if l.flushed.Load() >= off {
		return nil
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if l.flushed.Load() >= off {
		return nil
	}
	return l.flushLocked()
}

// FlushBound is how far a leader may count its own log toward the high
// watermark under the flush policy: the log end, unless a batch the policy
// wanted fsynced (flush.messages=1: every batch) is not yet, and then the
// offset below which the log is fsynced. So a single replica's high
// watermark, and so what consumers see, never passes what its producers
// were promised was on disk, as in Kafka, whose append fsyncs before the
// high watermark moves.
func (l *Log) FlushBound() int64 {
	// In this order: a batch whose append raised needFlush is below any
	// end read after it, and is fsynced if flushed, read last, passes it.
	end := l.end.Load().Offset
	need := l.needFlush.Load()
	if flushed := l.flushed.Load(); flushed < need {
		return min(flushed, end)
	}
	return end
}

// Flush fsyncs everything appended so far.
//
// It holds only flushMu across the fsync (appends go on). Syncing the
// active segment is enough: a segment stops being active only after a roll
// fsynced it, so if a roll happens meanwhile, everything below the end
// read here is durable anyway.
func (l *Log) Flush() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	return l.flushLocked()
}

func (l *Log) flushLocked() error {
	if err := l.writable(); err != nil {
		return err
	}
	end := l.end.Load().Offset
	l.segMu.RLock()
	if l.closed.Load() {
		l.segMu.RUnlock()
		return ErrClosed
	}
	s := l.segs[len(l.segs)-1]
	s.pin()
	l.segMu.RUnlock()
	defer s.unpin()
	var began time.Time
	if l.onFlush != nil {
		began = time.Now()
	}
	if err := s.log.Sync(); err != nil {
		// After a failed fsync the kernel may have dropped the dirty
		// pages; retrying would report success for lost data.
		return l.setFatal(fmt.Errorf("log: %v: fsync: %w", s, err))
	}
	if l.onFlush != nil {
		l.onFlush(time.Since(began))
	}
	l.advanceFlushed(end)
	l.lastFlushMs.Store(l.now().UnixMilli())
	return nil
}

// FlushIfDue fsyncs when unflushed data is older than flush.ms. Append
// checks the policy only when it appends, so an idle partition needs this
// called periodically (the broker's flusher does) for flush.ms to hold.
func (l *Log) FlushIfDue() error {
	l.mu.Lock()
	flushMs := l.cfg.FlushMs
	l.mu.Unlock()
	if flushMs == math.MaxInt64 || l.flushed.Load() >= l.end.Load().Offset {
		return nil
	}
	if l.now().UnixMilli()-l.lastFlushMs.Load() < flushMs {
		return nil
	}
	return l.Flush()
}

// StartOffset is the log start offset.
func (l *Log) StartOffset() int64 { return l.start.Load() }

// EndOffset is the log end offset (the next offset to be assigned).
func (l *Log) EndOffset() int64 { return l.end.Load().Offset }

// EndPosition is the log end as a Position.
func (l *Log) EndPosition() Position { return *l.end.Load() }

// EpochEntries returns the leader-epoch checkpoint: each epoch and the
// offset of its first batch, ascending.
func (l *Log) EpochEntries() []EpochEntry { return l.epochs.list() }

// AssignEpoch records in the leader-epoch checkpoint that epoch starts at
// the log end, if epoch is newer than every epoch known, and returns the
// log end. A new leader calls it before its first append, so followers
// asking OffsetForLeaderEpoch about any older epoch get an end offset at
// or below this one (Kafka: the leader-epoch entry at become-leader).
func (l *Log) AssignEpoch(epoch int32) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	end := l.end.Load().Offset
	_, err := l.epochs.assign(epoch, end)
	return end, err
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch from the leader-epoch
// checkpoint, as Kafka's LeaderEpochFileCache.endOffsetFor: see
// epochCache.endOffsetFor. (-1, -1) means undefined.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	return l.epochs.endOffsetFor(epoch, l.end.Load().Offset)
}

// PositionOf returns offset, at or above the log start and at or below the
// end, as a Position: the end itself, or the position of the batch that
// holds offset (its start, so a read bounded by it stops before that
// batch when offset falls inside it), or where the gap that holds offset
// begins.
func (l *Log) PositionOf(offset int64) (Position, error) {
	end := l.end.Load()
	if offset == end.Offset {
		return *end, nil
	}
	if start := l.start.Load(); offset < start || offset > end.Offset {
		return Position{}, fmt.Errorf("log: position of offset %d outside [%d, %d]: %w", offset, start, end.Offset, ErrOffsetOutOfRange)
	}
	s, err := l.pinFloor(offset)
	if err != nil {
		return Position{}, err
	}
	if s == nil {
		return Position{}, fmt.Errorf("log: position of offset %d below the first segment: %w", offset, ErrOffsetOutOfRange)
	}
	defer s.unpin()
	pos, _, _, err := s.find(offset, s.size.Load())
	if err != nil {
		return Position{}, err
	}
	return Position{Offset: offset, SegmentBase: s.base, FilePos: pos}, nil
}

// SegmentCount is the number of segments, the active one included.
func (l *Log) SegmentCount() int {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	return len(l.segs)
}

// Size is the total bytes of all segments.
func (l *Log) Size() int64 {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size.Load()
	}
	return n
}

// SetConfig applies new configuration to a live log. It takes effect from
// the next append.
func (l *Log) SetConfig(c Config) {
	l.mu.Lock()
	l.cfg = c.withDefaults()
	l.mu.Unlock()
}

// ExpireProducers forgets the idempotent producers whose last batch's
// timestamp is expiration or more before now (producer.id.expiration.ms),
// and returns how many. A retry of such a producer's old batch is then no
// longer recognised as a duplicate, as in Kafka.
func (l *Log) ExpireProducers(now time.Time, expiration time.Duration) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.producers.expire(now.UnixMilli(), expiration.Milliseconds())
}

// ProducerInfo is one producer's state in a log, as DescribeProducers
// reports it.
type ProducerInfo struct {
	ProducerID    int64
	ProducerEpoch int16
	// LastSequence is the last sequence of the producer's last batch;
	// LastTimestamp that batch's max timestamp (-1: unknown).
	LastSequence  int32
	LastTimestamp int64
	// CoordinatorEpoch and TxnStartOffset describe an open transaction
	// (-1: none).
	CoordinatorEpoch int32
	TxnStartOffset   int64
}

// Producers lists the producers this log keeps state for, by producer id.
func (l *Log) Producers() []ProducerInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ProducerInfo, 0, len(l.producers.producers))
	for id, e := range l.producers.producers {
		pi := ProducerInfo{ProducerID: id, ProducerEpoch: e.epoch, LastSequence: -1, LastTimestamp: e.lastTimestamp,
			CoordinatorEpoch: e.coordinatorEpoch, TxnStartOffset: e.txnFirstOffset}
		if n := len(e.batches); n > 0 {
			pi.LastSequence = e.batches[n-1].lastSeq
		}
		out = append(out, pi)
	}
	slices.SortFunc(out, func(a, b ProducerInfo) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
	return out
}

// Close flushes, writes producer-state snapshots and the clean-shutdown
// marker, and closes all files. Slices still held keep their segment's
// files open until released. Deleted segments still waiting out
// file.delete.delay.ms go as soon as no Slice holds them: no timer outlives
// the log, and the next Open would remove them anyway. A log that failed
// (ErrFailed) closes without the marker, so the next Open recovers it.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return nil
	}
	var err error
	if l.fatal.Load() == nil {
		err = l.writeCleanState()
	}
	for _, s := range l.detachAll() {
		s.unpin()
	}
	l.dropDelays()
	return err
}

// writeCleanState makes everything durable and then, only then, writes the
// marker that lets the next Open trust the files without a scan.
func (l *Log) writeCleanState() error {
	if err := l.active().seal(); err != nil {
		return err
	}
	end := l.end.Load().Offset
	if err := writeSnapshot(l.fs, l.dir, end, l.producers); err != nil {
		return err
	}
	return WriteFileAtomic(l.fs, filepath.Join(l.dir, cleanShutdownFile), nil)
}

// detachAll marks the log closed and takes its segments out of the list;
// the caller drops the log's references. Nil if already closed.
func (l *Log) detachAll() []*segment {
	l.segMu.Lock()
	defer l.segMu.Unlock()
	if l.closed.Load() {
		return nil
	}
	l.closed.Store(true)
	segs := l.segs
	l.segs = nil
	return segs
}

// CloseForDelete closes the log of a partition being deleted. Like Close
// it refuses every later call and lets go of the files, but it writes
// nothing (no flush, no snapshot, no clean-shutdown marker: the files will
// not be read again) and ends the file.delete.delay.ms waits at once, so
// no timer outlives the log. The files stay where they are: the caller
// moves the directory away and removes it (RemoveDir), off the request
// path. Slices still held keep their segments' files open, and readable,
// until released (POSIX unlink semantics).
func (l *Log) CloseForDelete() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.detachAll() {
		s.unpin()
	}
	l.dropDelays()
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	l.CloseForDelete()
	return RemoveDir(l.fs, l.dir)
}

// RemoveDir removes the directory of a closed log: everything in it, then
// the directory itself, then fsyncs the parent so that the removal is
// durable. A directory that does not exist is no error.
func RemoveDir(fsys FS, dir string) error {
	ents, err := fsys.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("log: remove %s: %w", dir, err)
	}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			errs = append(errs, RemoveDir(fsys, p))
			continue
		}
		errs = append(errs, removeIfExists(fsys, p))
	}
	errs = append(errs, removeIfExists(fsys, dir))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := fsys.SyncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("log: remove %s: sync parent: %w", dir, err)
	}
	return nil
}
