package log

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sync"

	"github.com/samsa-kafka/samsa/internal/record"
)

// castagnoli is CRC32C: the batch CRC, and the producer snapshot trailer.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	// readChunk is what a reader fetches per pread while it walks batch
	// headers from an index entry to its target: one index interval
	// (4 KiB by default) plus a header.
	readChunk = 8 << 10
	// recoverChunk is the read size of a recovery scan.
	recoverChunk = 256 << 10
)

// errCorrupt marks a scan that stopped at bytes that are not a whole, valid
// batch. Recovery truncates there; a reader reports it.
var errCorrupt = errors.New("log: corrupt or torn batch")

// batchScanner walks the batches of one segment file, reading a chunk at a
// time rather than one pread per header.
//
// In verify mode every batch must have magic 2, fit in the scanned range,
// carry offsets above the previous batch's (and within a uint32 of the
// segment base, so the index can name them) and a matching CRC32C; the
// scan stops at the first one that does not, with invalid set and pos at
// its start, which is where recovery truncates. Outside verify mode only
// the header's length is trusted, as for bytes the log wrote itself.
type batchScanner struct {
	f        File
	segBase  int64
	pos      int64 // file position of the next batch
	end      int64 // the scan stops here
	verify   bool
	nextBase int64 // verify: the lowest acceptable next base offset

	chunk  int64
	pooled *[readChunk]byte // buf's array when it came from readBufs
	buf    []byte
	bufPos int64 // file position of buf[0]
	crcBuf []byte

	// After next returns true: the batch and its position.
	h        record.Header
	batchPos int64

	// After next returns false: err holds an I/O error, invalid the reason
	// the remaining bytes are not a batch (nil at a clean end).
	err     error
	invalid error
}

// readBufs recycles the read path's chunk buffers: a fetch would otherwise
// allocate one per call.
var readBufs = sync.Pool{New: func() any { return new([readChunk]byte) }}

func newScanner(f File, segBase, pos, end int64, chunk int64) *batchScanner {
	s := &batchScanner{f: f, segBase: segBase, pos: pos, end: end, chunk: chunk, nextBase: segBase, bufPos: -1}
	if chunk == readChunk {
		s.pooled = readBufs.Get().(*[readChunk]byte)
		s.buf = s.pooled[:0]
	}
	return s
}

// release returns a pooled buffer; the scanner must not be used after.
func (s *batchScanner) release() {
	if s.pooled != nil {
		readBufs.Put(s.pooled)
		s.pooled, s.buf = nil, nil
	}
}

// window returns the n bytes at s.pos, from the buffer when they are in it.
// n must not exceed end - pos.
func (s *batchScanner) window(n int64) ([]byte, error) {
	if s.bufPos >= 0 && s.pos >= s.bufPos && s.pos+n <= s.bufPos+int64(len(s.buf)) {
		off := s.pos - s.bufPos
		return s.buf[off : off+n], nil
	}
	want := min(max(n, s.chunk), s.end-s.pos)
	if int64(cap(s.buf)) < want {
		s.buf = make([]byte, want)
	}
	s.buf = s.buf[:want]
	m, err := s.f.ReadAt(s.buf, s.pos)
	s.buf = s.buf[:m]
	s.bufPos = s.pos
	if int64(m) < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return s.buf[:n], nil
}

// next advances to the next batch. It returns false at the end of the
// range, at bytes that are not a batch (invalid), or on an I/O error (err).
func (s *batchScanner) next() bool {
	if s.err != nil || s.invalid != nil || s.pos >= s.end {
		return false
	}
	left := s.end - s.pos
	if left < record.HeaderSize {
		s.invalid = fmt.Errorf("%d trailing bytes, short of a batch header", left)
		return false
	}
	b, err := s.window(record.HeaderSize)
	if err != nil {
		s.err = err
		return false
	}
	h, err := record.ParseHeader(b)
	if err != nil {
		s.invalid = err
		return false
	}
	size := h.Size()
	if size > left {
		s.invalid = fmt.Errorf("batch of %d bytes with %d left", size, left)
		return false
	}
	if s.verify {
		if why := s.check(&h); why != nil {
			s.invalid = why
			return false
		}
	}
	s.h, s.batchPos = h, s.pos
	s.pos += size
	return true
}

// check is verify mode's test of the batch whose header h sits at s.pos.
func (s *batchScanner) check(h *record.Header) error {
	switch {
	case h.Magic != 2:
		return fmt.Errorf("magic %d", h.Magic)
	case h.LastOffsetDelta < 0:
		return fmt.Errorf("last offset delta %d", h.LastOffsetDelta)
	case h.BaseOffset < s.nextBase:
		return fmt.Errorf("base offset %d below %d", h.BaseOffset, s.nextBase)
	case h.LastOffset()-s.segBase > math.MaxInt32:
		return fmt.Errorf("last offset %d too far above segment base", h.LastOffset())
	}
	crc, err := s.crc(h.Size())
	if err != nil {
		return err
	}
	if crc != h.CRC {
		return fmt.Errorf("crc32c %08x, header says %08x", crc, h.CRC)
	}
	s.nextBase = h.LastOffset() + 1
	return nil
}

// crc computes the CRC32C of the batch of size bytes at s.pos. A batch up
// to a chunk is read through the window; a larger one is streamed, so a
// corrupt length never makes recovery allocate more than a chunk.
func (s *batchScanner) crc(size int64) (uint32, error) {
	if size <= s.chunk {
		b, err := s.window(size)
		if err != nil {
			s.err = err
			return 0, err
		}
		return crc32.Checksum(b[record.AttributesOffset:], castagnoli), nil
	}
	if s.crcBuf == nil {
		s.crcBuf = make([]byte, s.chunk)
	}
	var crc uint32
	for off := int64(record.AttributesOffset); off < size; {
		n := min(int64(len(s.crcBuf)), size-off)
		m, err := s.f.ReadAt(s.crcBuf[:n], s.pos+off)
		if int64(m) < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			s.err = err
			return 0, err
		}
		crc = crc32.Update(crc, castagnoli, s.crcBuf[:n])
		off += n
	}
	return crc, nil
}

// failure is the error a non-verifying scan ended with, or nil at a clean
// end: bytes the log itself wrote that do not parse are an error.
func (s *batchScanner) failure() error {
	if s.err != nil {
		return s.err
	}
	if s.invalid != nil {
		return fmt.Errorf("%w at position %d: %w", errCorrupt, s.pos, s.invalid)
	}
	return nil
}
