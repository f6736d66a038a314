package record

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
)

func TestCompressRoundTrip(t *testing.T) {
	t.Parallel()
	inputs := map[string][]byte{
		"empty":  {},
		"byte":   {42},
		"text":   words(1, 100_000),
		"zeros":  make([]byte, 1<<20),
		"blocks": words(2, 3*xerialBlockSize+17), // several xerial blocks, the last partial
	}
	for _, codec := range codecs {
		for name, in := range inputs {
			t.Run(codecName(codec)+"/"+name, func(t *testing.T) {
				t.Parallel()
				c, err := Compress(codec, in)
				if err != nil {
					t.Fatal(err)
				}
				// Twice, so that a pooled coder is reused.
				for range 2 {
					out, err := Decompress(codec, c, len(in))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(out, in) {
						t.Fatalf("round trip changed %d bytes into %d", len(in), len(out))
					}
				}
				// (A limit of 0 means the default.)
				if len(in) > 1 {
					_, err = Decompress(codec, c, len(in)-1)
					wantCode(t, err, kerr.MessageTooLarge)
				}
			})
		}
	}
}

// TestDecompressAppends: decompressing after existing bytes keeps them and
// counts the limit from the new output only.
func TestDecompressAppends(t *testing.T) {
	t.Parallel()
	in := words(5, 5000)
	for _, codec := range codecs {
		c, err := Compress(codec, in)
		if err != nil {
			t.Fatal(err)
		}
		prefix := []byte("prefix")
		out, err := appendDecompressed(append(make([]byte, 0, 8), prefix...), codec, c, len(in))
		if err != nil {
			t.Fatalf("%s: %v", codecName(codec), err)
		}
		if !bytes.Equal(out, append(prefix, in...)) {
			t.Fatalf("%s: prefix or output damaged", codecName(codec))
		}
	}
}

func TestDecompressUnknownCodec(t *testing.T) {
	t.Parallel()
	_, err := Decompress(5, []byte{1, 2, 3}, 100)
	wantCode(t, err, kerr.UnsupportedCompressionType)
	_, err = Compress(-1, []byte{1})
	wantCode(t, err, kerr.UnsupportedCompressionType)
}

// TestLZ4BlockSize pins 64 KiB blocks (the frame descriptor's BD byte),
// also for a pooled writer after Reset.
func TestLZ4BlockSize(t *testing.T) {
	t.Parallel()
	for range 3 {
		c, err := Compress(CodecLZ4, words(1, 1000))
		if err != nil {
			t.Fatal(err)
		}
		if c[5] != 0x40 {
			t.Fatalf("BD byte 0x%02x, want 0x40 (64 KiB blocks)", c[5])
		}
	}
}

func lz4Frame(t *testing.T, in []byte, opts ...lz4.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	if err := w.Apply(opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLZ4Frames: exactly one frame in the standard format, whatever its
// optional fields, because that is all the Java consumer reads.
func TestLZ4Frames(t *testing.T) {
	t.Parallel()
	in := words(7, 200_000)
	noise := make([]byte, 100_000) // stored as uncompressed blocks
	rand.NewChaCha8([32]byte{}).Read(noise)
	one := lz4Frame(t, in)
	for _, tc := range []struct {
		name string
		src  []byte
		want []byte
		err  *kerr.Error
	}{
		{name: "default frame", src: one, want: in},
		{name: "every optional field", src: lz4Frame(t, in, lz4.BlockChecksumOption(true), lz4.ChecksumOption(true),
			lz4.SizeOption(uint64(len(in))), lz4.BlockSizeOption(lz4.Block256Kb)), want: in},
		{name: "no checksums", src: lz4Frame(t, in, lz4.ChecksumOption(false)), want: in},
		{name: "incompressible blocks", src: lz4Frame(t, noise, lz4.BlockChecksumOption(true)), want: noise},
		{name: "two frames", src: append(bytes.Clone(one), one...), err: kerr.CorruptMessage},
		{name: "trailing byte", src: append(bytes.Clone(one), 0), err: kerr.CorruptMessage},
		{name: "truncated", src: one[:len(one)-1], err: kerr.CorruptMessage},
		{name: "no end mark", src: one[:len(one)-8], err: kerr.CorruptMessage},
		{name: "legacy frame", src: lz4Frame(t, in, lz4.LegacyOption(true)), err: kerr.CorruptMessage},
		{name: "skippable frame", src: append(binary.LittleEndian.AppendUint32(nil, 0x184D2A50), 0, 0, 0, 0), err: kerr.CorruptMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := Decompress(CodecLZ4, tc.src, len(in))
			if tc.err != nil {
				wantCode(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.want) {
				t.Fatalf("decoded %d bytes, not the input", len(out))
			}
		})
	}
}

func xerialFrame(parts ...[]byte) []byte {
	b := append([]byte{}, xerialMagic...)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, 1)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func xerialBlock(s string) []byte {
	block := snappy.Encode(nil, []byte(s))
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(block))), block...)
}

func TestSnappyFormats(t *testing.T) {
	t.Parallel()
	// A copy with offset 0: s2 reads it as "repeat the last offset", real
	// snappy as corruption.
	s2Only := []byte{6, 0x04, 'a', 'b', 0x01, 0x00}
	for _, tc := range []struct {
		name string
		src  []byte
		want string
		err  *kerr.Error
	}{
		{name: "raw block", src: snappy.Encode(nil, []byte("hello world")), want: "hello world"},
		{name: "xerial", src: xerialFrame(xerialBlock("hello "), xerialBlock("world")), want: "hello world"},
		{name: "xerial concatenated", src: append(xerialFrame(xerialBlock("hello ")), xerialFrame(xerialBlock("world"))...), want: "hello world"},
		{name: "xerial header only", src: xerialFrame(), want: ""},
		{name: "xerial header truncated", src: xerialFrame()[:12], err: kerr.CorruptMessage},
		{name: "xerial length truncated", src: xerialFrame(xerialBlock("hello"), []byte{0, 0}), err: kerr.CorruptMessage},
		{name: "xerial negative length", src: xerialFrame([]byte{0xff, 0xff, 0xff, 0xfe, 0, 0}), err: kerr.CorruptMessage},
		{name: "xerial length past end", src: xerialFrame([]byte{0, 0, 0, 9, 1, 0}), err: kerr.CorruptMessage},
		{name: "xerial bad block", src: xerialFrame([]byte{0, 0, 0, 3, 5, 0xff, 0xff}), err: kerr.CorruptMessage},
		{name: "xerial empty block", src: xerialFrame([]byte{0, 0, 0, 0}), err: kerr.CorruptMessage},
		{name: "raw garbage", src: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, err: kerr.CorruptMessage},
		{name: "s2 extension", src: s2Only, err: kerr.CorruptMessage},
		{name: "xerial blocks over the limit", src: xerialFrame(xerialBlock(string(make([]byte, 60))), xerialBlock(string(make([]byte, 60)))), err: kerr.MessageTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := Decompress(CodecSnappy, tc.src, 100)
			if tc.err != nil {
				wantCode(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Fatalf("got %q, want %q", out, tc.want)
			}
		})
	}
}

// TestXerialBatch validates a batch compressed the way the Java producer
// compresses snappy, framed by hand here.
func TestXerialBatch(t *testing.T) {
	t.Parallel()
	recs := sampleRecords()
	section := mustBuild(t, CodecNone, recs, plain)[HeaderSize:]
	var parts [][]byte
	for rest := section; len(rest) > 0; {
		n := min(len(rest), 1000)
		parts = append(parts, xerialBlock(string(rest[:n])))
		rest = rest[n:]
	}
	b := rawBatch(t, CodecNone, int32(len(recs)), nil)
	b = append(b, xerialFrame(parts...)...)
	binary.BigEndian.PutUint32(b[LengthOffset:], uint32(len(b)-LogOverhead))
	binary.BigEndian.PutUint16(b[AttributesOffset:], CodecSnappy)
	UpdateCRC(b)
	info, err := Validate(b, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.UncompressedBytes != len(section) || info.NumRecords != 5 {
		t.Fatalf("info %+v", info)
	}
}

// TestDecompressBounded decompresses streams that inflate far past the
// limit and checks that what was allocated stays near the limit, not
// near what the stream holds.
func TestDecompressBounded(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	const limit = 1 << 20
	zeros := make([]byte, 32<<20)
	streamingZstd := func() []byte {
		// No content size in the header: only the running count stops it.
		var buf bytes.Buffer
		w, err := zstd.NewWriter(&buf, zstd.WithWindowSize(64<<10), zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		for range 32 {
			w.Write(zeros[:1<<20])
			w.Flush()
		}
		w.Close()
		return buf.Bytes()
	}()
	var xerialZeros []byte
	for range 512 {
		xerialZeros = append(xerialZeros, xerialBlock(string(zeros[:64<<10]))...)
	}
	xerialZeros = xerialFrame(xerialZeros)

	// maxAlloc is in units of the limit, counting every allocation, not
	// the peak: readBounded doubles its buffer, so it allocates about twice
	// the limit in all; zstd's DecodeAll grows its output by append, 1.25
	// times at a time, which adds up to more, though its peak is near
	// twice the limit too.
	bombs := []struct {
		name     string
		codec    int
		src      []byte
		maxAlloc uint64
	}{
		{"gzip", CodecGzip, nil, 3},
		{"lz4", CodecLZ4, nil, 3},
		{"zstd with content size", CodecZstd, nil, 1},
		{"zstd streaming", CodecZstd, streamingZstd, 8},
		{"snappy xerial", CodecSnappy, xerialZeros, 1},
		{"snappy raw claim", CodecSnappy, append(binary.AppendUvarint(nil, 1<<32-1), 0, 0, 0), 1},
	}
	for i := range bombs {
		if bombs[i].src == nil {
			c, err := Compress(bombs[i].codec, zeros)
			if err != nil {
				t.Fatal(err)
			}
			bombs[i].src = c
		}
	}
	for _, bomb := range bombs {
		// Warm the pools so that only the output is counted.
		if _, err := Decompress(bomb.codec, bomb.src, limit); err == nil {
			t.Fatalf("%s: no error", bomb.name)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Decompress(bomb.codec, bomb.src, limit)
		runtime.ReadMemStats(&after)
		wantCode(t, err, kerr.MessageTooLarge)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d bytes allocated", bomb.name, alloc)
		if alloc > bomb.maxAlloc*limit {
			t.Errorf("%s: %d bytes allocated for a %d byte limit", bomb.name, alloc, limit)
		}
	}
}
