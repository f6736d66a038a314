package log

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/record"
)

// spec describes a test batch. The zero value is one record with a 16-byte
// value, timestamp baseTS, non-idempotent.
type spec struct {
	records int   // 0 means 1
	value   int   // value bytes per record; 0 means 16
	ts      int64 // base timestamp; record i has ts+i; 0 means baseTS
	pid     int64 // producer id; 0 means -1 (use idem for producers)
	epoch   int16
	seq     int32
	idem    bool // pid is meaningful (pid 0 allowed)
	control bool
	txn     bool // transactional
}

const baseTS = 1_700_000_000_000

// buildBatch assembles a minimal valid magic-2 batch: header, records with
// null keys and no headers, CRC32C over attributes..end.
func buildBatch(s spec) []byte {
	n := max(s.records, 1)
	vlen := s.value
	if vlen == 0 {
		vlen = 16
	}
	ts := s.ts
	if ts == 0 {
		ts = baseTS
	}
	pid := s.pid
	if !s.idem {
		pid, s.epoch, s.seq = -1, -1, -1
	}
	var recs []byte
	for i := range n {
		var body []byte
		body = append(body, 0)                        // attributes
		body = binary.AppendVarint(body, int64(i))    // timestamp delta
		body = binary.AppendVarint(body, int64(i))    // offset delta
		body = binary.AppendVarint(body, -1)          // null key
		body = binary.AppendVarint(body, int64(vlen)) // value length
		for j := range vlen {
			body = append(body, byte(i+j))
		}
		body = binary.AppendVarint(body, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	b := make([]byte, record.HeaderSize, record.HeaderSize+len(recs))
	binary.BigEndian.PutUint64(b[record.BaseOffsetOffset:], 0)
	binary.BigEndian.PutUint32(b[record.LengthOffset:], uint32(record.HeaderSize-record.LogOverhead+len(recs)))
	binary.BigEndian.PutUint32(b[record.LeaderEpochOffset:], 0xffffffff)
	b[record.MagicOffset] = 2
	var attrs uint16
	if s.control {
		attrs |= record.AttrControl | record.AttrTransactional
	}
	if s.txn {
		attrs |= record.AttrTransactional
	}
	binary.BigEndian.PutUint16(b[record.AttributesOffset:], attrs)
	binary.BigEndian.PutUint32(b[record.LastOffsetDeltaOffset:], uint32(n-1))
	binary.BigEndian.PutUint64(b[record.BaseTimestampOffset:], uint64(ts))
	binary.BigEndian.PutUint64(b[record.MaxTimestampOffset:], uint64(ts+int64(n-1)))
	binary.BigEndian.PutUint64(b[record.ProducerIDOffset:], uint64(pid))
	binary.BigEndian.PutUint16(b[record.ProducerEpochOffset:], uint16(s.epoch))
	binary.BigEndian.PutUint32(b[record.BaseSequenceOffset:], uint32(s.seq))
	binary.BigEndian.PutUint32(b[record.RecordCountOffset:], uint32(n))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[record.CRCOffset:], crc32.Checksum(b[record.AttributesOffset:], castagnoli))
	return b
}

// clock is an injectable Now.
type clock struct{ ms atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ms.Store(baseTS)
	return c
}

func (c *clock) now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *clock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// openLog opens dir with cfg on fsys (nil: OS) and a fixed clock.
func openLog(t testing.TB, dir string, cfg Config, fsys FS, clk *clock) *Log {
	t.Helper()
	if clk == nil {
		clk = newClock()
	}
	l, err := Open(dir, Options{FS: fsys, Config: cfg, Logger: quietLogger, Now: clk.now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte) AppendResult {
	t.Helper()
	res, err := l.Append(b, AppendOptions{LogAppendTime: -1})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

func mustClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// sliceBytes copies a Slice's bytes and releases it.
func sliceBytes(t testing.TB, r ReadResult) []byte {
	t.Helper()
	defer r.Slice.Release()
	b := make([]byte, r.Slice.Len)
	if r.Slice.Len == 0 {
		return nil
	}
	if n, err := r.Slice.File.ReadAt(b, r.Slice.Pos); int64(n) != r.Slice.Len {
		t.Fatalf("ReadAt slice: %d of %d bytes: %v", n, r.Slice.Len, err)
	}
	return b
}

// splitBatches splits whole batches off b, checking each CRC; a partial
// trailing batch is dropped, as clients do.
func splitBatches(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) >= record.HeaderSize {
		h, err := record.ParseHeader(b)
		if err != nil {
			t.Fatalf("ParseHeader: %v", err)
		}
		if int64(len(b)) < h.Size() {
			break
		}
		batch := b[:h.Size()]
		if crc := crc32.Checksum(batch[record.AttributesOffset:], castagnoli); crc != h.CRC {
			t.Fatalf("batch at offset %d: crc %08x, header %08x", h.BaseOffset, crc, h.CRC)
		}
		out = append(out, batch)
		b = b[h.Size():]
	}
	return out
}

// readAll reads every batch from the log start to the end.
func readAll(t testing.TB, l *Log) [][]byte {
	t.Helper()
	var out [][]byte
	off := l.StartOffset()
	for off < l.EndOffset() {
		r, err := l.Read(off, 1<<30, l.EndPosition(), true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		bs := splitBatches(t, sliceBytes(t, r))
		if len(bs) == 0 {
			t.Fatalf("Read(%d) below end %d returned no batch", off, l.EndOffset())
		}
		out = append(out, bs...)
		h, _ := record.ParseHeader(bs[len(bs)-1])
		off = h.LastOffset() + 1
	}
	return out
}

func header(t testing.TB, b []byte) record.Header {
	t.Helper()
	h, err := record.ParseHeader(b)
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	return h
}
