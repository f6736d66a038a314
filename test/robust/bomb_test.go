package robust

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/record"
)

// claimed is what each bomb decompresses to.
const claimed = 1 << 30

// gzipBomb is a gzip stream of claimed zero bytes: one member of 8 MiB of
// zeros, repeated (gzip readers, like Java's, read concatenated members),
// so the test never holds more than 8 MiB of input.
func gzipBomb(t testing.TB) []byte {
	t.Helper()
	const member = 8 << 20
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 64<<10)
	for n := 0; n < member; n += len(zeros) {
		if _, err := zw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(buf.Bytes(), claimed/member)
}

// zstdBomb is a hand-made zstd frame of RLE blocks: 4 bytes each for 128
// KiB of zeros, with a 128 KiB window and no declared content size.
func zstdBomb(testing.TB) []byte {
	const block = 128 << 10
	b := []byte{0x28, 0xb5, 0x2f, 0xfd} // magic
	b = append(b, 0x00)                 // no content size, no checksum, not single-segment
	b = append(b, 7<<3)                 // window 2^(10+7) = 128 KiB
	for i := range claimed / block {
		h := uint32(block)<<3 | 1<<1 // RLE block of block bytes
		if i == claimed/block-1 {
			h |= 1 // last block
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16), 0x00)
	}
	return b
}

// snappyBomb is a raw snappy block whose preamble claims 1 GiB.
func snappyBomb(testing.TB) []byte {
	b := binary.AppendUvarint(nil, claimed)
	return append(b, 0x00, 'x') // a one-byte literal
}

// TestDecompressionBomb produces batches of a few KB to 1 MB that
// decompress to 1 GiB. The broker refuses each with MESSAGE_TOO_LARGE
// (internal/record bounds decompression and asks the producer to split),
// appends nothing, and never allocates anything near what the batch claims.
// Not parallel: it measures the process's allocations, broker included.
func TestDecompressionBomb(t *testing.T) {
	b := startBroker(t)
	c := dial(t, b.Addr())
	// Room for the 1 MB gzip bomb itself; decompression stays bounded at
	// 32 * max.message.bytes (64 MiB here).
	createTopic(t, c, "bombs", 1, "max.message.bytes=2097152")
	produceOK(t, c, "bombs", 0, plainBatch(t, "before"), 0)

	cases := []struct {
		name  string
		codec int
		data  func(testing.TB) []byte
	}{
		{name: "gzip", codec: record.CodecGzip, data: gzipBomb},
		{name: "zstd", codec: record.CodecZstd, data: zstdBomb},
		{name: "snappy", codec: record.CodecSnappy, data: snappyBomb},
	}
	// Decompressing into a buffer that doubles up to the 64 MiB bound
	// allocates about twice the bound; 1 GiB would be the bomb going off.
	const allocBound = 300 << 20
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			batch := rawBatch(t, tc.codec, tc.data(t), 1000)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			p := produce(t, c, "bombs", 0, -1, batch)
			runtime.ReadMemStats(&after)
			if p.ErrorCode != kerr.MessageTooLarge.Code {
				t.Errorf("%d-byte batch claiming %d bytes: error %s, want %s", len(batch), claimed, codeName(p.ErrorCode), codeName(kerr.MessageTooLarge.Code))
			}
			checkLog(t, c, "bombs", 0, []string{"before"})
			serving(t, b)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > allocBound {
				t.Errorf("refusing a %d-byte batch allocated %d MiB, more than %d MiB", len(batch), alloc>>20, allocBound>>20)
			}
		})
	}
}
