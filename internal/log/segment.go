package log

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/samsa-kafka/samsa/internal/record"
)

// File name suffixes in a log directory.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	deletedSuffix   = ".deleted"
	tmpSuffix       = ".tmp"
)

// segmentSuffixes are the files a segment may have.
var segmentSuffixes = []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix}

// segmentFileName is the name of a segment file: the base offset, zero
// padded to 20 digits as Kafka does, so names sort by offset.
func segmentFileName(base int64, suffix string) string {
	return fmt.Sprintf("%020d%s", base, suffix)
}

// parseBaseName parses "<20 digits><suffix>".
func parseBaseName(name, suffix string) (int64, bool) {
	if len(name) != 20+len(suffix) || name[20:] != suffix {
		return 0, false
	}
	var v int64
	for _, c := range name[:20] {
		if c < '0' || c > '9' || v > (1<<63-1-9)/10 {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// tsMark is a segment's largest timestamp and the base offset of the first
// batch that carries it.
type tsMark struct{ ts, offset int64 }

// segment is one .log file with its two indexes, and its aborted
// transactions (txnindex.go).
//
// Readers see the bytes [0, size): the appender writes a batch, then
// publishes the new size, so a reader never sees a partial batch. Only
// Truncate and recovery lower size.
//
// A segment is reference counted: the log holds one reference while the
// segment is in its list and every Slice holds one, so files stay open for
// a reader after the segment is deleted or the log closed. Pins are taken
// under Log.segMu (shared), so the count cannot rise again once the log's
// own reference is gone.
type segment struct {
	base    int64
	fs      FS
	paths   [3]string // .log, .index, .timeindex
	log     File
	offIdx  *index
	timeIdx *index
	txn     *txnIndex // its file, <base>.txnindex, exists only once it has an entry

	size  atomic.Int64
	maxTs atomic.Pointer[tsMark] // nil while empty
	refs  atomic.Int64
	// onFree runs when the last reference goes, after the files close. It
	// is set before the log drops its reference and read only by the
	// goroutine that drops the last one.
	onFree func()

	// Appender state, guarded by Log.mu.
	bytesSinceIndex int64 // log bytes since the last index entry
	rollStartMs     int64 // when the segment started, for segment.ms; -1 while empty
	lastOffset      int64 // last offset of the last batch; base-1 while empty
	// reserved is how far the .log file has disk blocks reserved beyond
	// its size (see reserve); noReserve is set once the file refused.
	reserved  int64
	noReserve bool

	missingIndex bool // Open found an index file absent (and created it empty)
}

// openSegment opens (create: creates, emptying any old file) the three
// files of the segment at base. The indexes are not loaded.
func openSegment(fsys FS, dir string, base int64, create bool) (s *segment, err error) {
	return openSegmentAs(fsys, dir, base, create, "")
}

// openSegmentAs is openSegment with the files opened under their names
// plus extra (the cleaner writes "<base>.log.cleaned" and renames it into
// place later); paths holds the final names.
func openSegmentAs(fsys FS, dir string, base int64, create bool, extra string) (s *segment, err error) {
	s = &segment{base: base, fs: fsys, rollStartMs: -1, lastOffset: base - 1}
	for i, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		s.paths[i] = filepath.Join(dir, segmentFileName(base, suffix))
	}
	flag := os.O_RDWR | os.O_CREATE
	if create {
		flag |= os.O_TRUNC
	}
	var files [3]File
	defer func() {
		if err != nil {
			for _, f := range files {
				if f != nil {
					f.Close()
				}
			}
		}
	}()
	for i, p := range s.paths {
		if i > 0 && !create {
			if _, serr := fsys.Stat(p); errors.Is(serr, fs.ErrNotExist) {
				s.missingIndex = true
			}
		}
		if files[i], err = fsys.OpenFile(p+extra, flag, 0o644); err != nil {
			return nil, fmt.Errorf("log: open %s: %w", p+extra, err)
		}
	}
	fi, err := files[0].Stat()
	if err != nil {
		return nil, fmt.Errorf("log: stat %s: %w", s.paths[0], err)
	}
	s.log = files[0]
	s.offIdx = newOffsetIndex(fsys, s.paths[1]+extra, files[1])
	s.timeIdx = newTimeIndex(fsys, s.paths[2]+extra, files[2])
	if create {
		// A new segment's indexes live in memory until it is sealed
		// (see index): their files, created empty, need no descriptor.
		err = errors.Join(s.offIdx.release(), s.timeIdx.release())
		files[1], files[2] = nil, nil
		if err != nil {
			return nil, fmt.Errorf("log: %v: %w", s, err)
		}
	}
	s.txn = newTxnIndex(fsys, filepath.Join(dir, segmentFileName(base, txnIndexSuffix))+extra)
	if create {
		// A new segment has no aborted transaction; a file left at its
		// name (a crash's leftover) is not its.
		if err := removeIfExists(fsys, s.txn.path); err != nil {
			return nil, err
		}
	}
	s.size.Store(fi.Size())
	s.refs.Store(1)
	return s, nil
}

func (s *segment) String() string { return fmt.Sprintf("segment %d", s.base) }

func (s *segment) pin() { s.refs.Add(1) }

func (s *segment) unpin() {
	if n := s.refs.Add(-1); n == 0 {
		s.closeFiles()
		if s.onFree != nil {
			s.onFree()
		}
	} else if n < 0 {
		panic("log: segment unpinned more often than pinned")
	}
}

func (s *segment) closeFiles() error {
	return errors.Join(s.log.Close(), s.offIdx.release(), s.timeIdx.release())
}

// retire renames the files of a segment the log has detached to *.deleted
// (a crash after this point leaves names Open removes) and arranges for
// them to be removed, then for then to run, when the last reference goes.
// The caller drops the log's reference afterwards and syncs the directory.
func (s *segment) retire(then func()) error {
	var errs []error
	gone := make([]string, 0, len(s.paths))
	for _, p := range append(s.paths[:], s.txn.path) {
		if err := s.fs.Rename(p, p+deletedSuffix); err != nil {
			if p == s.txn.path && errors.Is(err, fs.ErrNotExist) {
				continue // most segments have no aborted transaction
			}
			errs = append(errs, fmt.Errorf("log: retire %s: %w", p, err))
			gone = append(gone, p)
			continue
		}
		gone = append(gone, p+deletedSuffix)
	}
	s.onFree = func() {
		for _, p := range gone {
			s.fs.Remove(p) // a leftover is removed by the next Open
		}
		if then != nil {
			then()
		}
	}
	return errors.Join(errs...)
}

// Disk reservation ahead of the appends. A buffered append into blocks the
// filesystem has not allocated yet makes it reserve and track every block
// on the write path (ext4's delayed allocation); appending into blocks
// reserved beforehand with one fallocate call skips most of that work and
// cuts the CPU of an append by about a quarter. The reservation lies
// beyond the file's size (FALLOC_FL_KEEP_SIZE), so readers, sendfile and
// crash recovery see only written bytes, and seal gives it back.
const (
	reserveMin = 64 << 10 // the smallest step, so a quiet partition holds little
	reserveMax = 8 << 20  // the largest step: beyond it the gain is flat
)

// reserve makes sure the blocks up to end are reserved before an append
// ends there. Each step reserves as much again as the segment holds, from
// reserveMin to reserveMax, so a small segment never holds more than twice
// its size on disk; full (preallocate=true) reserves up to full at once.
// It is best effort: a filesystem that cannot reserve gets plain appends.
func (s *segment) reserve(end, full int64) {
	if s.noReserve || end <= s.reserved {
		return
	}
	p, ok := s.log.(Preallocator)
	if !ok {
		s.noReserve = true
		return
	}
	start := max(s.reserved, s.size.Load())
	to := max(end+min(max(end, reserveMin), reserveMax), full)
	if err := p.Preallocate(start, to-start); err != nil {
		s.noReserve = true
		return
	}
	s.reserved = to
}

// trimReserve gives back the blocks reserved beyond the file's size.
func (s *segment) trimReserve() error {
	size := s.size.Load()
	if s.reserved <= size {
		return nil
	}
	s.reserved = 0
	if err := s.log.Truncate(size); err != nil {
		return fmt.Errorf("log: trim %s: %w", s.paths[0], err)
	}
	return nil
}

// write appends b at pos (the current size). On any failure it cuts the
// file back to pos so the next append starts at a batch boundary.
func (s *segment) write(b []byte, pos int64) error {
	n, err := s.log.WriteAt(b, pos)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("log: %v: write of %d bytes at position %d (%d written): %w", s, len(b), pos, n, err)
	s.reserved = 0 // the cut below gives the reservation back
	if terr := s.log.Truncate(pos); terr != nil {
		return &fatalError{errors.Join(err, fmt.Errorf("log: %v: cut back to %d: %w", s, pos, terr))}
	}
	return err
}

// track records a batch now stored at pos in the indexes and the segment's
// bookkeeping: the same path serves appends and index rebuilds, so a
// rebuilt index is the one the appends would have produced. Appender only.
//
// As in Kafka, a batch gets an index entry when the bytes since the last
// entry reach the interval, and the time index then records the largest
// timestamp so far if it grew. The first batch needs no entry: a lookup
// below every entry starts at position 0.
func (s *segment) track(h *record.Header, pos, interval int64) {
	m := s.maxTs.Load()
	if m == nil || h.MaxTimestamp > m.ts {
		m = &tsMark{ts: h.MaxTimestamp, offset: h.BaseOffset}
		s.maxTs.Store(m)
	}
	if s.bytesSinceIndex >= interval {
		s.offIdx.add(offsetEntry(h.BaseOffset-s.base, pos))
		s.addTimeEntry(m)
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += h.Size()
	s.lastOffset = h.LastOffset()
}

// addTimeEntry appends m to the time index if its timestamp is above the
// last entry's, keeping the keys strictly increasing.
func (s *segment) addTimeEntry(m *tsMark) {
	if n, last := s.timeIdx.top(); n == 0 || m.ts > last {
		s.timeIdx.add(timeEntry(m.ts, m.offset-s.base))
	}
}

// seal makes the segment durable and read-only in practice: the time index
// gets a final entry for the segment's largest timestamp (so its last entry
// is the segment's max, which Open reads back instead of scanning), the
// disk reserved beyond the log's end is given back, then the log and the
// indexes are written and fsynced and the offset and time index copies
// leave memory (the aborted transactions stay: they are few).
func (s *segment) seal() error {
	if m := s.maxTs.Load(); m != nil {
		s.addTimeEntry(m)
	}
	if err := s.trimReserve(); err != nil {
		return err
	}
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("log: sync %s: %w", s.paths[0], err)
	}
	if err := s.offIdx.seal(); err != nil {
		return err
	}
	if err := s.timeIdx.seal(); err != nil {
		return err
	}
	return s.txn.persist()
}

// reload makes a sealed segment's indexes resident again so it can take
// appends (a roll that failed half way, a Truncate back into it).
func (s *segment) reload() error {
	if err := s.offIdx.truncate(s.offIdx.count()); err != nil {
		return err
	}
	return s.timeIdx.truncate(s.timeIdx.count())
}

// lookupPos is the position of the last indexed batch whose base offset is
// at or below offset (0 when none is): a scan from there reaches offset.
func (s *segment) lookupPos(offset int64) (int64, error) {
	rel := offset - s.base
	if rel <= 0 {
		return 0, nil
	}
	e, err := s.offIdx.floor(min(rel, 1<<32-1))
	if err != nil || e == nil {
		return 0, err
	}
	_, pos := decodeOffsetEntry(e)
	return pos, nil
}

// find locates the batch that holds offset, or the first batch past it,
// among the bytes [0, limit). found is false when no batch in range ends at
// or after offset; pos is then where the scan stopped.
func (s *segment) find(offset, limit int64) (pos int64, h record.Header, found bool, err error) {
	start, err := s.lookupPos(offset)
	if err != nil {
		return 0, h, false, err
	}
	sc := newScanner(s.log, s.base, start, limit, readChunk)
	defer sc.release()
	for sc.next() {
		if sc.h.LastOffset() >= offset {
			return sc.batchPos, sc.h, true, nil
		}
	}
	if err := sc.failure(); err != nil {
		return 0, h, false, fmt.Errorf("log: %v: %w", s, err)
	}
	return sc.pos, h, false, nil
}

// findTimestamp returns the first batch whose max timestamp is >= ts and
// whose last offset is >= minOffset.
//
// The time index entry (t, o) with the largest t <= ts says that every
// batch before o has a max timestamp below t, so the answer is at o or
// later; with no such entry the scan starts at the segment's beginning.
func (s *segment) findTimestamp(ts, minOffset, limit int64) (pos int64, h record.Header, found bool, err error) {
	from := max(s.base, minOffset)
	e, err := s.timeIdx.floor(ts)
	if err != nil {
		return 0, h, false, err
	}
	if e != nil {
		_, rel := decodeTimeEntry(e)
		from = max(from, s.base+rel)
	}
	start, err := s.lookupPos(from)
	if err != nil {
		return 0, h, false, err
	}
	sc := newScanner(s.log, s.base, start, limit, readChunk)
	defer sc.release()
	for sc.next() {
		if sc.h.MaxTimestamp >= ts && sc.h.LastOffset() >= minOffset {
			return sc.batchPos, sc.h, true, nil
		}
	}
	return 0, h, false, sc.failure()
}

// readBatch returns a copy of the size bytes at pos.
func (s *segment) readBatch(pos, size int64) ([]byte, error) {
	b := make([]byte, size)
	if n, err := s.log.ReadAt(b, pos); int64(n) < size {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("log: %v: read %d bytes at %d: %w", s, size, pos, err)
	}
	return b, nil
}

// firstTimestampMs is segment.ms's clock for a segment reopened with data:
// the first batch's max timestamp as Kafka uses, or now when that is
// missing or in the future.
func (s *segment) firstTimestampMs(now int64) int64 {
	if s.size.Load() == 0 {
		return -1
	}
	sc := newScanner(s.log, s.base, 0, s.size.Load(), record.HeaderSize)
	if !sc.next() || sc.h.MaxTimestamp < 0 || sc.h.MaxTimestamp > now {
		return now
	}
	return sc.h.MaxTimestamp
}

// fatalError marks an I/O failure after which the log's files may not match
// its memory (a failed fsync, whose dirty pages the kernel may have dropped;
// a write that could not be undone): the log refuses further writes until
// it is reopened and recovered. It matches ErrFailed and its cause.
type fatalError struct{ err error }

func (e *fatalError) Error() string   { return e.err.Error() }
func (e *fatalError) Unwrap() []error { return []error{ErrFailed, e.err} }

// removeIfExists removes name, ignoring its absence.
func removeIfExists(fsys FS, name string) error {
	if err := fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("log: remove %s: %w", name, err)
	}
	return nil
}
