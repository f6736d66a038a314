package log

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
)

// Index files (Kafka's layout, big endian, no header):
//
//	.index      8-byte entries: relative base offset uint32, file position uint32
//	.timeindex 12-byte entries: max timestamp int64, relative offset uint32
//
// Both are append-only files of fixed-size entries, strictly increasing in
// their key. Differences from Kafka: an .index entry names the batch's base
// offset (Kafka stores its last offset), so a lookup lands on the batch
// that holds the target instead of the one before; a .timeindex entry names
// the base offset of the first batch that reached the timestamp (Kafka
// names the record), which finds the same batch. Neither is preallocated.
//
// Residency: the active segment keeps its entries in memory (mem), the only
// copy until the segment is sealed (roll, Close), when they are written and
// fsynced and mem is dropped. A sealed index keeps only a summary in
// memory, the key of every summaryStride-th entry (1/64 of the file, built
// from mem at seal or on the first lookup after Open, so startup reads no
// sealed index in full); a lookup searches the summary, then reads one
// block of entries with a single ReadAt. An unclean shutdown loses the
// active segment's index, which recovery rebuilds anyway while it scans
// that segment.
const (
	offsetEntrySize = 8
	timeEntrySize   = 12
	summaryStride   = 64
)

// index is one index file. The appender (under Log.mu) is the only writer;
// readers take mu shared for lookups.
//
// The file is open only while it is needed: a resident index (the active
// segment's) works from memory and opens its file to write it at seal or
// to cut it, so a partition with one segment holds one descriptor, its
// .log's, not three. A sealed index keeps its file open for lookups.
type index struct {
	fs        FS
	path      string // the name the file was opened under
	fmu       sync.Mutex
	f         File // nil while closed; see file
	entrySize int64
	keyOf     func(e []byte) int64

	mu      sync.RWMutex
	n       int64  // entries
	mem     []byte // all n entries while resident; nil when sealed
	lastKey int64  // key of entry n-1 (valid when n > 0)

	written int64 // entries [0, written) are in f; appender only

	// summary holds the key of entries 0, summaryStride, 2*summaryStride...
	// of a sealed index; nil while resident or not yet built.
	summary []int64
}

func newOffsetIndex(fsys FS, path string, f File) *index {
	return &index{fs: fsys, path: path, f: f, entrySize: offsetEntrySize, keyOf: func(e []byte) int64 { return int64(binary.BigEndian.Uint32(e)) }}
}

func newTimeIndex(fsys FS, path string, f File) *index {
	return &index{fs: fsys, path: path, f: f, entrySize: timeEntrySize, keyOf: func(e []byte) int64 { return int64(binary.BigEndian.Uint64(e)) }}
}

// file returns the index file, opening it if it is closed.
func (x *index) file() (File, error) {
	x.fmu.Lock()
	defer x.fmu.Unlock()
	if x.f == nil {
		f, err := x.fs.OpenFile(x.path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("log: open %s: %w", x.path, err)
		}
		x.f = f
	}
	return x.f, nil
}

// release closes the file until it is next needed. Only for a resident
// index, whose readers never touch the file.
func (x *index) release() error {
	x.fmu.Lock()
	defer x.fmu.Unlock()
	if x.f == nil {
		return nil
	}
	err := x.f.Close()
	x.f = nil
	return err
}

func offsetEntry(rel, pos int64) []byte {
	var e [offsetEntrySize]byte
	binary.BigEndian.PutUint32(e[0:], uint32(rel))
	binary.BigEndian.PutUint32(e[4:], uint32(pos))
	return e[:]
}

func decodeOffsetEntry(e []byte) (rel, pos int64) {
	return int64(binary.BigEndian.Uint32(e)), int64(binary.BigEndian.Uint32(e[4:]))
}

func timeEntry(ts, rel int64) []byte {
	var e [timeEntrySize]byte
	binary.BigEndian.PutUint64(e[0:], uint64(ts))
	binary.BigEndian.PutUint32(e[8:], uint32(rel))
	return e[:]
}

func decodeTimeEntry(e []byte) (ts, rel int64) {
	return int64(binary.BigEndian.Uint64(e)), int64(binary.BigEndian.Uint32(e[8:]))
}

// count returns the number of entries.
func (x *index) count() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.n
}

// resident reports whether the entries are in memory (the active segment).
func (x *index) resident() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.mem != nil
}

// entry returns entry i; the caller holds mu.
func (x *index) entry(i int64) ([]byte, error) {
	if x.mem != nil {
		return x.mem[i*x.entrySize : (i+1)*x.entrySize], nil
	}
	f, err := x.file()
	if err != nil {
		return nil, err
	}
	e := make([]byte, x.entrySize)
	if _, err := f.ReadAt(e, i*x.entrySize); err != nil {
		return nil, fmt.Errorf("log: %s entry %d: %w", x.path, i, err)
	}
	return e, nil
}

// floor returns (a copy of) the last entry whose key is <= key, or nil if
// none is. A copy, because a later cut and append may reuse the bytes.
func (x *index) floor(key int64) ([]byte, error) {
	for {
		x.mu.RLock()
		if x.mem != nil || x.n == 0 || x.summary != nil {
			break
		}
		x.mu.RUnlock()
		if err := x.buildSummary(); err != nil {
			return nil, err
		}
	}
	defer x.mu.RUnlock()
	if x.n == 0 {
		return nil, nil
	}
	if x.lastKey <= key {
		return x.copyEntry(x.n - 1)
	}
	if x.mem != nil {
		i := x.search(x.mem, x.n, key)
		if i < 0 {
			return nil, nil
		}
		return x.copyEntry(i)
	}
	// Sealed: the summary names the block, one read fetches it.
	b := int64(-1)
	for lo, hi := int64(0), int64(len(x.summary)); lo < hi; {
		mid := lo + (hi-lo)/2
		if x.summary[mid] <= key {
			b, lo = mid, mid+1
		} else {
			hi = mid
		}
	}
	if b < 0 {
		return nil, nil
	}
	first := b * summaryStride
	block := make([]byte, min(summaryStride, x.n-first)*x.entrySize)
	f, err := x.file()
	if err != nil {
		return nil, err
	}
	if _, err := f.ReadAt(block, first*x.entrySize); err != nil {
		return nil, fmt.Errorf("log: %s: read entries from %d: %w", x.path, first, err)
	}
	i := x.search(block, int64(len(block))/x.entrySize, key)
	return block[i*x.entrySize : (i+1)*x.entrySize], nil
}

// search returns the index of the last of the n entries in b whose key is
// <= key, or -1.
func (x *index) search(b []byte, n, key int64) int64 {
	lo, hi := int64(0), n // the answer is lo-1 when lo == hi
	for lo < hi {
		mid := lo + (hi-lo)/2
		if x.keyOf(b[mid*x.entrySize:]) <= key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo - 1
}

// buildSummary reads a sealed index once to build its summary.
func (x *index) buildSummary() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.mem != nil || x.summary != nil {
		return nil
	}
	f, err := x.file()
	if err != nil {
		return err
	}
	buf := make([]byte, min(x.n, 1024*summaryStride)*x.entrySize)
	summary := make([]int64, 0, (x.n+summaryStride-1)/summaryStride)
	for i := int64(0); i < x.n; {
		chunk := buf[:min(int64(len(buf)), (x.n-i)*x.entrySize)]
		if _, err := f.ReadAt(chunk, i*x.entrySize); err != nil {
			return fmt.Errorf("log: read %s: %w", x.path, err)
		}
		for j := int64(0); j < int64(len(chunk)); j += summaryStride * x.entrySize {
			summary = append(summary, x.keyOf(chunk[j:]))
		}
		i += int64(len(chunk)) / x.entrySize
	}
	x.summary = summary
	return nil
}

// last returns (a copy of) the last entry, or nil.
func (x *index) last() ([]byte, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.n == 0 {
		return nil, nil
	}
	return x.copyEntry(x.n - 1)
}

// copyEntry returns a copy of entry i; the caller holds mu.
func (x *index) copyEntry(i int64) ([]byte, error) {
	if x.mem == nil {
		return x.entry(i) // already a fresh buffer
	}
	e, _ := x.entry(i)
	return append([]byte(nil), e...), nil
}

// top returns the entry count and the last key (0 when empty).
func (x *index) top() (n, lastKey int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.n == 0 {
		return 0, 0
	}
	return x.n, x.lastKey
}

// add appends an entry to a resident index. The caller keeps keys
// increasing.
func (x *index) add(e []byte) {
	x.mu.Lock()
	x.mem = append(x.mem, e...)
	x.n++
	x.lastKey = x.keyOf(e)
	x.mu.Unlock()
}

// persist writes the entries not yet in the file. Appender only.
func (x *index) persist() error {
	if x.mem == nil || x.written == x.n {
		return nil
	}
	f, err := x.file()
	if err != nil {
		return err
	}
	b := x.mem[x.written*x.entrySize : x.n*x.entrySize]
	if n, err := f.WriteAt(b, x.written*x.entrySize); err != nil {
		return fmt.Errorf("log: write %s: %w", x.path, err)
	} else if n < len(b) {
		return fmt.Errorf("log: write %s: short write of %d of %d bytes", x.path, n, len(b))
	}
	x.written = x.n
	return nil
}

// seal persists and fsyncs the index and drops the in-memory copy.
func (x *index) seal() error {
	if err := x.persist(); err != nil {
		return err
	}
	f, err := x.file()
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("log: sync %s: %w", x.path, err)
	}
	x.mu.Lock()
	x.summary = make([]int64, 0, (x.n+summaryStride-1)/summaryStride)
	for i := int64(0); i < x.n; i += summaryStride {
		x.summary = append(x.summary, x.keyOf(x.mem[i*x.entrySize:]))
	}
	x.mem = nil
	x.mu.Unlock()
	return nil
}

// load reads the whole file. resident keeps the entries in memory (the
// active segment). It fails on a file that is not whole entries with
// strictly increasing keys, checked in full only when resident (a sealed
// index is checked at its ends by the segment).
func (x *index) load(resident bool) error {
	f, err := x.file()
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("log: stat %s: %w", x.path, err)
	}
	size := fi.Size()
	if size%x.entrySize != 0 {
		return fmt.Errorf("log: %s: size %d is not a multiple of %d", x.path, size, x.entrySize)
	}
	n := size / x.entrySize
	var mem []byte
	if resident {
		mem = make([]byte, size, size+64*x.entrySize)
		if m, err := f.ReadAt(mem, 0); int64(m) < size {
			return fmt.Errorf("log: read %s: %w", x.path, err)
		}
		for i := int64(1); i < n; i++ {
			if x.keyOf(mem[i*x.entrySize:]) <= x.keyOf(mem[(i-1)*x.entrySize:]) {
				return fmt.Errorf("log: %s: entry %d out of order", x.path, i)
			}
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.n, x.written, x.mem, x.summary = n, n, mem, nil
	if n > 0 {
		e, err := x.entry(n - 1)
		if err != nil {
			return err
		}
		x.lastKey = x.keyOf(e)
	}
	if resident {
		return x.release()
	}
	return nil
}

// truncate keeps the first k entries, in memory and in the file, and leaves
// the index resident (an emptied one included).
func (x *index) truncate(k int64) error {
	f, err := x.file()
	if err != nil {
		return err
	}
	if err := f.Truncate(k * x.entrySize); err != nil {
		return fmt.Errorf("log: truncate %s: %w", x.path, err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.mem == nil {
		x.mem = make([]byte, 0, 64*x.entrySize)
		if k > 0 {
			x.mem = x.mem[:k*x.entrySize]
			if m, err := f.ReadAt(x.mem, 0); int64(m) < k*x.entrySize {
				x.mem = nil
				return fmt.Errorf("log: read %s: %w", x.path, err)
			}
		}
	}
	x.summary = nil
	x.mem = x.mem[:min(k, x.n)*x.entrySize]
	x.n = min(k, x.n)
	x.written = min(x.written, x.n)
	if x.n > 0 {
		x.lastKey = x.keyOf(x.mem[(x.n-1)*x.entrySize:])
	}
	return x.release() // resident now
}

// cut keeps the entries before the first one for which drop is true; drop
// must be monotone (false then true) over the entries.
func (x *index) cut(drop func(e []byte) bool) error {
	x.mu.RLock()
	lo, hi := int64(0), x.n // first dropped entry is in [lo, hi]
	var err error
	for lo < hi && err == nil {
		mid := lo + (hi-lo)/2
		var e []byte
		if e, err = x.entry(mid); err == nil {
			if drop(e) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
	}
	x.mu.RUnlock()
	if err != nil {
		return err
	}
	return x.truncate(lo)
}

// firstAtOrAfter returns the key (relative offset) of the first offset
// index entry whose file position is at or after pos: positions grow with
// the keys, so a binary search finds it.
func (x *index) firstAtOrAfter(pos int64) (rel int64, ok bool, err error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	lo, hi := int64(0), x.n
	for lo < hi {
		mid := lo + (hi-lo)/2
		e, err := x.entry(mid)
		if err != nil {
			return 0, false, err
		}
		if _, p := decodeOffsetEntry(e); p >= pos {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == x.n {
		return 0, false, nil
	}
	e, err := x.entry(lo)
	if err != nil {
		return 0, false, err
	}
	rel, _ = decodeOffsetEntry(e)
	return rel, true, nil
}
