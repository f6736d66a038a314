package log

import (
	"testing"
)

// BenchmarkAppend appends 1 KiB batches (10 records of ~100 bytes) with the
// default policy: no fsync per append, 1 GiB segments.
func BenchmarkAppend(b *testing.B) {
	l := openLog(b, b.TempDir(), Config{}, nil, nil)
	defer l.Close()
	batch := buildBatch(spec{records: 10, value: 87})
	if len(batch) < 1000 || len(batch) > 1100 {
		b.Fatalf("batch is %d bytes", len(batch))
	}
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Append(batch, AppendOptions{LogAppendTime: -1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead reads 64 KiB from random offsets of a 64 MiB log, as a
// consumer fetch would: segment lookup, index lookup, header scan, slice.
// The bytes are not copied (sendfile's job).
func BenchmarkRead(b *testing.B) {
	l := openLog(b, b.TempDir(), Config{SegmentBytes: 16 << 20}, nil, nil)
	defer l.Close()
	batch := buildBatch(spec{records: 10, value: 87})
	const n = 64 << 10
	for range n {
		if _, err := l.Append(batch, AppendOptions{LogAppendTime: -1}); err != nil {
			b.Fatal(err)
		}
	}
	end := l.EndPosition()
	b.ReportAllocs()
	off := int64(0)
	for b.Loop() {
		off = (off + 7919*10 + 3) % end.Offset
		r, err := l.Read(off, 64<<10, end, true)
		if err != nil || r.Slice.Len == 0 {
			b.Fatalf("Read(%d): %+v %v", off, r, err)
		}
		r.Slice.Release()
	}
}
