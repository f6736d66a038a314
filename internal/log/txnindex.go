package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"
)

// The aborted-transaction index (Kafka's TransactionIndex), one per segment:
// `<base>.txnindex` lists the transactions aborted by a marker in that
// segment, in marker order. Kafka's layout, big endian, no header:
//
//	version int16 (0), producerId int64, firstOffset int64,
//	lastOffset int64 (the abort marker's offset), lastStableOffset int64
//
// lastStableOffset is the last stable offset right after the marker: the
// first offset of the earliest transaction still open in the partition, or
// the marker's offset + 1 when none is. A reader collecting the aborted
// transactions of a range stops at the first entry whose lastStableOffset
// reaches the range's end: no transaction ended by a later marker can have
// begun below it.
//
// As in Kafka the file is created only when a segment gets its first entry,
// so most segments have none. samsa keeps each segment's entries in memory
// (they are few: one per aborted transaction and partition); the active
// segment's reach its file when the segment is sealed (a roll, Close), like
// its offset index, and recovery after a crash rebuilds them from the log.
// A file that does not decode, or whose entries do not fit its segment, is
// rebuilt from the log too, never trusted (recovery.go).

const (
	txnIndexSuffix  = ".txnindex"
	txnEntrySize    = 34
	txnIndexVersion = 0
)

// AbortedTxn is one aborted transaction of a partition: the producer, the
// offset of its first batch in the partition, the offset of its abort
// marker, and the last stable offset after the marker.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// errBadTxnIndex marks a .txnindex file that is not whole, valid entries.
var errBadTxnIndex = errors.New("log: bad transaction index")

// encodeTxnEntries appends the entries to b in the file layout.
func encodeTxnEntries(b []byte, entries []AbortedTxn) []byte {
	for _, e := range entries {
		b = binary.BigEndian.AppendUint16(b, txnIndexVersion)
		b = binary.BigEndian.AppendUint64(b, uint64(e.ProducerID))
		b = binary.BigEndian.AppendUint64(b, uint64(e.FirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(e.LastOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(e.LastStableOffset))
	}
	return b
}

// decodeTxnIndex decodes a .txnindex file of the segment at base whose
// offsets end below limit. Every entry must have version 0, a first
// offset at or below its last offset, a last offset in [base, limit)
// (its marker lies in the segment) and above the previous entry's (one
// marker, one entry, in log order), and a last stable offset no higher
// than the marker's offset + 1 (it may lie below the first offset: another
// producer's transaction began earlier and is still open). The bytes come
// from disk and may be anything.
func decodeTxnIndex(b []byte, base, limit int64) ([]AbortedTxn, error) {
	if len(b)%txnEntrySize != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte entries", errBadTxnIndex, len(b), txnEntrySize)
	}
	out := make([]AbortedTxn, 0, len(b)/txnEntrySize)
	prev := base - 1
	for i := 0; len(b) > 0; i++ {
		if v := int16(binary.BigEndian.Uint16(b)); v != txnIndexVersion {
			return nil, fmt.Errorf("%w: entry %d: version %d", errBadTxnIndex, i, v)
		}
		e := AbortedTxn{
			ProducerID:       int64(binary.BigEndian.Uint64(b[2:])),
			FirstOffset:      int64(binary.BigEndian.Uint64(b[10:])),
			LastOffset:       int64(binary.BigEndian.Uint64(b[18:])),
			LastStableOffset: int64(binary.BigEndian.Uint64(b[26:])),
		}
		switch {
		case e.ProducerID < 0 || e.FirstOffset < 0:
			return nil, fmt.Errorf("%w: entry %d: producer %d, first offset %d", errBadTxnIndex, i, e.ProducerID, e.FirstOffset)
		case e.LastOffset <= prev || e.LastOffset >= limit:
			return nil, fmt.Errorf("%w: entry %d: marker offset %d outside (%d, %d)", errBadTxnIndex, i, e.LastOffset, prev, limit)
		case e.FirstOffset > e.LastOffset || e.LastStableOffset < 0 || e.LastStableOffset > e.LastOffset+1:
			return nil, fmt.Errorf("%w: entry %d: offsets first %d, last %d, last stable %d", errBadTxnIndex, i, e.FirstOffset, e.LastOffset, e.LastStableOffset)
		}
		out = append(out, e)
		prev = e.LastOffset
		b = b[txnEntrySize:]
	}
	return out, nil
}

// txnIndex is one segment's aborted-transaction index. The appender (under
// Log.mu) is the only writer; readers take mu shared.
type txnIndex struct {
	fs   FS
	path string

	mu      sync.RWMutex
	entries []AbortedTxn // ascending LastOffset

	// onDisk is how many of the entries the file holds, and nothing else;
	// -1 when its content is unknown (a file that did not decode) and it
	// must be rewritten whole. Appender only.
	onDisk int
}

func newTxnIndex(fsys FS, path string) *txnIndex {
	return &txnIndex{fs: fsys, path: path}
}

// load reads the file of the segment at base whose offsets end below
// limit. An absent file is an empty index. On an error the index is empty
// and its file marked for rewriting: the caller rebuilds it from the log.
func (x *txnIndex) load(base, limit int64) error {
	b, err := ReadFile(x.fs, x.path)
	if errors.Is(err, fs.ErrNotExist) {
		x.set(nil, 0)
		return nil
	}
	var entries []AbortedTxn
	if err == nil {
		entries, err = decodeTxnIndex(b, base, limit)
	}
	if err != nil {
		x.set(nil, -1)
		return fmt.Errorf("log: %s: %w", x.path, err)
	}
	x.set(entries, len(entries))
	return nil
}

func (x *txnIndex) set(entries []AbortedTxn, onDisk int) {
	x.mu.Lock()
	x.entries = entries
	x.mu.Unlock()
	x.onDisk = onDisk
}

// add appends an entry; its marker follows every earlier entry's.
func (x *txnIndex) add(e AbortedTxn) {
	x.mu.Lock()
	x.entries = append(x.entries, e)
	x.mu.Unlock()
}

// count is the number of entries.
func (x *txnIndex) count() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.entries)
}

// list returns a copy of the entries.
func (x *txnIndex) list() []AbortedTxn {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]AbortedTxn(nil), x.entries...)
}

// cut drops the entries whose marker is at or above offset, in memory and
// in the file (durably: a dropped entry must not come back after a crash
// to name a marker that a truncation removed).
func (x *txnIndex) cut(offset int64) error {
	x.mu.Lock()
	k := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].LastOffset >= offset })
	x.entries = x.entries[:k:k]
	x.mu.Unlock()
	if x.onDisk >= 0 && x.onDisk <= k {
		return nil
	}
	return x.shrink(k)
}

// shrink cuts the file to its first k entries (all of it when its content
// is unknown) and fsyncs it.
func (x *txnIndex) shrink(k int) error {
	if x.onDisk < 0 {
		k = 0
	}
	f, err := x.fs.OpenFile(x.path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		x.onDisk = 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("log: open %s: %w", x.path, err)
	}
	defer f.Close()
	if err := f.Truncate(int64(k) * txnEntrySize); err != nil {
		return fmt.Errorf("log: truncate %s: %w", x.path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("log: sync %s: %w", x.path, err)
	}
	x.onDisk = k
	return nil
}

// persist writes the entries the file lacks, creating it for the first
// one, and fsyncs it. A new file's directory entry is made durable by the
// caller's directory sync (a roll syncs the directory; so does Close's
// clean-shutdown marker). Appender only.
func (x *txnIndex) persist() error {
	_, err := x.write()
	return err
}

// write is persist, reporting whether it wrote anything.
func (x *txnIndex) write() (bool, error) {
	x.mu.RLock()
	entries := x.entries
	x.mu.RUnlock()
	if x.onDisk < 0 || x.onDisk > len(entries) {
		if err := x.shrink(min(max(x.onDisk, 0), len(entries))); err != nil {
			return false, err
		}
	}
	if x.onDisk == len(entries) {
		return false, nil
	}
	return true, x.append(entries)
}

// append writes entries[onDisk:] at the file's end and fsyncs it.
func (x *txnIndex) append(entries []AbortedTxn) error {
	f, err := x.fs.OpenFile(x.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("log: open %s: %w", x.path, err)
	}
	defer f.Close()
	b := encodeTxnEntries(nil, entries[x.onDisk:])
	if n, err := f.WriteAt(b, int64(x.onDisk)*txnEntrySize); err != nil {
		return fmt.Errorf("log: write %s: %w", x.path, err)
	} else if n < len(b) {
		return fmt.Errorf("log: write %s: short write of %d of %d bytes", x.path, n, len(b))
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("log: sync %s: %w", x.path, err)
	}
	x.onDisk = len(entries)
	return nil
}

// collect appends to out the entries whose transaction overlaps
// [fetchOffset, upperBound): marker at or above fetchOffset, first offset
// below upperBound. complete reports that an entry's last stable offset
// reached upperBound, so no later segment can hold more (Kafka's
// TransactionIndex.collectAbortedTxns).
func (x *txnIndex) collect(out []AbortedTxn, fetchOffset, upperBound int64) ([]AbortedTxn, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, e := range x.entries {
		if e.LastOffset >= fetchOffset && e.FirstOffset < upperBound {
			out = append(out, e)
		}
		if e.LastStableOffset >= upperBound {
			return out, true
		}
	}
	return out, false
}

// AbortedTxns returns the aborted transactions that overlap the offsets
// [fetchOffset, upperBound): every one whose abort marker is at or above
// fetchOffset and whose first offset is below upperBound, in marker order,
// as Kafka's collectAbortedTransactions finds them: from the segment
// holding fetchOffset onwards, stopping once an entry's last stable offset
// reaches upperBound. A read_committed consumer drops the records of these
// transactions from what it fetched.
func (l *Log) AbortedTxns(fetchOffset, upperBound int64) ([]AbortedTxn, error) {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	if l.closed.Load() {
		return nil, ErrClosed
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > fetchOffset }) - 1
	var out []AbortedTxn
	for i = max(i, 0); i < len(l.segs); i++ {
		var done bool
		if out, done = l.segs[i].txn.collect(out, fetchOffset, upperBound); done {
			break
		}
	}
	return out, nil
}
