package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
)

// DefaultMaxDecompressedBytes bounds decompression when a caller passes a
// limit <= 0. Producers batch by compressed size (the Java client's
// batch.size), so a 1 MiB batch of compressible data can legitimately
// inflate tens of times over.
const DefaultMaxDecompressedBytes = 64 << 20

// errTooLarge is what the decoders below return when the output passes the
// limit; appendDecompressed turns it into MESSAGE_TOO_LARGE.
var errTooLarge = errors.New("decompressed size exceeds the limit")

func codecName(codec int) string {
	switch codec {
	case CodecNone:
		return "uncompressed"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return "unknown"
}

// unsupportedCodec answers attribute codec ids 5-7. Kafka's
// CompressionType.forId throws IllegalArgumentException for them, which the
// broker lets escape as UNKNOWN_SERVER_ERROR; UNSUPPORTED_COMPRESSION_TYPE
// says what is wrong and, unlike CORRUPT_MESSAGE, is not retried.
func unsupportedCodec(codec int) *Error {
	return newError(kerr.UnsupportedCompressionType, "unknown compression codec %d", codec)
}

func normLimit(limit int) int {
	if limit <= 0 {
		return DefaultMaxDecompressedBytes
	}
	// A batch's length is an int32, so nothing larger can be legitimate.
	return min(limit, math.MaxInt32)
}

// Decompress returns src decompressed with codec (a Codec* constant). It
// produces at most limit bytes (limit <= 0 means
// DefaultMaxDecompressedBytes; past it the error is MESSAGE_TOO_LARGE) and
// allocates in proportion to limit, never to what src claims. Snappy input
// may be a raw block or xerial framed. Errors are *Error.
func Decompress(codec int, src []byte, limit int) ([]byte, error) {
	return appendDecompressed(nil, codec, src, limit)
}

// appendDecompressed appends the decompressed src to dst, using dst's spare
// capacity first. On error it returns dst as it was, possibly grown.
func appendDecompressed(dst []byte, codec int, src []byte, limit int) ([]byte, error) {
	limit = normLimit(limit)
	start := len(dst)
	var err error
	switch codec {
	case CodecNone:
		if len(src) > limit {
			err = errTooLarge
		} else {
			dst = append(dst, src...)
		}
	case CodecGzip:
		dst, err = decodeGzip(dst, src, limit)
	case CodecSnappy:
		dst, err = decodeSnappy(dst, src, limit)
	case CodecLZ4:
		dst, err = decodeLZ4(dst, src, limit)
	case CodecZstd:
		dst, err = decodeZstd(dst, src, limit)
	default:
		return dst, unsupportedCodec(codec)
	}
	switch {
	case err == nil:
		return dst, nil
	case errors.Is(err, errTooLarge):
		// Kafka streams records out of the decompressor and has no such
		// bound. MESSAGE_TOO_LARGE is what a batch too big to handle gets,
		// and the Java producer answers it by splitting the batch and
		// retrying, which is the one reply that can succeed.
		return dst[:start], newError(kerr.MessageTooLarge, "%s batch decompresses to more than %d bytes", codecName(codec), limit)
	default:
		// The CRC held, so the producer compressed garbage. Kafka lets the
		// codec's IOException escape as UNKNOWN_SERVER_ERROR; a corrupt
		// payload is what CORRUPT_MESSAGE describes.
		return dst[:start], corrupt("%s: %v", codecName(codec), err)
	}
}

// readBounded appends what r yields to dst, growing dst by doubling from
// hint but never past limit bytes of output, so a stream claiming
// gigabytes costs at most about twice the limit in allocations. Once the
// limit is reached, one more byte read tells a stream that ends there from
// one that goes on.
func readBounded(dst []byte, r io.Reader, limit, hint int) ([]byte, error) {
	start := len(dst)
	end := start + limit
	for empty := 0; ; {
		if len(dst) == end {
			return dst, probeEOF(r)
		}
		if len(dst) == cap(dst) {
			grow := max(len(dst)-start, hint, 4<<10)
			dst = slices.Grow(dst, min(grow, end-len(dst)))
		}
		n, err := r.Read(dst[len(dst):min(cap(dst), end)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
		if empty = noProgress(n, empty); empty < 0 {
			return dst, io.ErrNoProgress
		}
	}
}

func probeEOF(r io.Reader) error {
	var b [1]byte
	for empty := 0; ; {
		n, err := r.Read(b[:])
		switch {
		case n > 0:
			return errTooLarge
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
		if empty = noProgress(n, empty); empty < 0 {
			return io.ErrNoProgress
		}
	}
}

// noProgress counts consecutive empty reads, which io.Reader permits, and
// returns -1 after 100 of them (as bufio does) so that a decoder that
// stops making progress cannot spin forever.
func noProgress(n, empty int) int {
	if n > 0 {
		return 0
	}
	if empty++; empty >= 100 {
		return -1
	}
	return empty
}

// Scratch buffers for decompressing batches whose records are not kept
// (validation, timestamp lookups). Buffers above maxPooledScratch are
// dropped rather than pinned.
const maxPooledScratch = 4 << 20

var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

func getScratch() *[]byte { return scratchPool.Get().(*[]byte) }

func putScratch(p *[]byte) {
	if cap(*p) > maxPooledScratch {
		*p = nil
	}
	*p = (*p)[:0]
	scratchPool.Put(p)
}

// --- gzip ---

// gzip and lz4 state carries no goroutines, so sync.Pool may drop it.
type gzipDecoder struct {
	zr  gzip.Reader
	src bytes.Reader
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

func decodeGzip(dst, src []byte, limit int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer func() {
		d.src.Reset(nil)
		gzipDecoders.Put(d)
	}()
	d.src.Reset(src)
	// Like Java's GZIPInputStream, the reader continues into concatenated
	// members.
	if err := d.zr.Reset(&d.src); err != nil {
		return dst, err
	}
	return readBounded(dst, &d.zr, limit, 4*len(src))
}

// --- lz4 ---

// Kafka's magic v2 uses the standard LZ4 frame format (KIP-57 fixed the
// header checksum that magic v0 got wrong).
type lz4Decoder struct {
	zr  *lz4.Reader
	src bytes.Reader
}

var lz4Decoders = sync.Pool{New: func() any { return &lz4Decoder{zr: lz4.NewReader(nil)} }}

// decodeLZ4 is bounded like the others, except that the reader holds one
// block buffer of the frame's declared block size (at most 4 MiB) whatever
// the limit.
func decodeLZ4(dst, src []byte, limit int) ([]byte, error) {
	n, err := lz4FrameLen(src)
	if err != nil {
		return dst, err
	}
	if n != len(src) {
		return dst, fmt.Errorf("%d bytes after the lz4 frame", len(src)-n)
	}
	d := lz4Decoders.Get().(*lz4Decoder)
	defer func() {
		d.zr.Reset(nil)
		d.src.Reset(nil)
		lz4Decoders.Put(d)
	}()
	d.src.Reset(src)
	d.zr.Reset(&d.src)
	return readBounded(dst, d.zr, limit, 4*len(src))
}

// lz4FrameLen walks the block sizes of the LZ4 frame at the start of src
// and returns its length; the decoder checks the rest. Kafka's Java reader
// (KafkaLZ4BlockInputStream) reads exactly one frame in the standard
// format, while lz4 readers in general also take legacy frames (with 8 MiB
// blocks), skippable frames and concatenated frames. A batch we accept
// must be one Java consumers can read, so src must be one standard frame.
func lz4FrameLen(src []byte) (int, error) {
	const (
		frameMagic        = 0x184D2204
		flagContentSize   = 0x08
		flagDictID        = 0x01
		flagBlockChecksum = 0x10
		flagFrameChecksum = 0x04
		blockUncompressed = 1 << 31
	)
	if len(src) < 7 || binary.LittleEndian.Uint32(src) != frameMagic {
		return 0, errors.New("not a standard lz4 frame")
	}
	flags := src[4]
	pos := 7 // magic, flags, block size byte, header checksum
	if flags&flagContentSize != 0 {
		pos += 8
	}
	if flags&flagDictID != 0 {
		pos += 4
	}
	for {
		if len(src)-pos < 4 {
			return 0, errors.New("truncated lz4 frame")
		}
		size := binary.LittleEndian.Uint32(src[pos:])
		pos += 4
		if size == 0 {
			break
		}
		n := int(size &^ blockUncompressed)
		if flags&flagBlockChecksum != 0 {
			n += 4
		}
		if n > len(src)-pos {
			return 0, errors.New("truncated lz4 frame")
		}
		pos += n
	}
	if flags&flagFrameChecksum != 0 {
		pos += 4
	}
	if pos > len(src) {
		return 0, errors.New("truncated lz4 frame")
	}
	return pos, nil
}

// --- gzip and lz4 encoders ---

type streamEncoder interface {
	io.WriteCloser
	Reset(io.Writer)
}

type pooledEncoder struct {
	zw  streamEncoder
	out sliceWriter
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

var (
	gzipEncoders = sync.Pool{New: func() any {
		return &pooledEncoder{zw: gzip.NewWriter(nil)}
	}}
	lz4Encoders = sync.Pool{New: func() any {
		zw := lz4.NewWriter(nil)
		// 64 KiB blocks as the Java producer writes them: consumers then
		// need 64 KiB block buffers rather than lz4's default 4 MiB.
		if err := zw.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
			panic(err) // a constant, valid option
		}
		return &pooledEncoder{zw: zw}
	}}
)

// encodeStream appends src compressed by an encoder from pool to dst.
func encodeStream(pool *sync.Pool, dst, src []byte) ([]byte, error) {
	e := pool.Get().(*pooledEncoder)
	defer pool.Put(e)
	e.out.b = dst
	e.zw.Reset(&e.out)
	_, err := e.zw.Write(src)
	if cerr := e.zw.Close(); err == nil {
		err = cerr
	}
	dst, e.out.b = e.out.b, nil
	return dst, err
}

// --- snappy ---

// The Java client writes snappy through xerial's SnappyOutputStream: a
// 16-byte header (this magic, then version and minimum compatible version
// as int32s) followed by blocks of [int32 length][raw snappy block]. Other
// clients (librdkafka, franz-go, sarama) send one raw snappy block. A raw
// block cannot start with the magic: it opens with a varint and a literal,
// and the magic's third byte would be a copy.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderSize = 16
	// xerialBlockSize is SnappyOutputStream's default block size.
	xerialBlockSize = 32 << 10
)

func decodeSnappy(dst, src []byte, limit int) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return appendSnappyBlock(dst, src, limit)
	}
	// A first pass checks the framing and sums the decoded lengths the
	// blocks declare, so that an oversized stream is refused before any
	// allocation and dst grows once.
	total := 0
	for rest := src; len(rest) > 0; {
		block, next, err := nextXerialBlock(rest)
		if err != nil {
			return dst, err
		}
		if block != nil {
			n, err := snappy.DecodedLen(block)
			if err != nil {
				return dst, err
			}
			if total += n; total > limit {
				return dst, errTooLarge
			}
		}
		rest = next
	}
	dst = slices.Grow(dst, total)
	start := len(dst)
	for len(src) > 0 {
		block, next, _ := nextXerialBlock(src)
		if block != nil {
			var err error
			if dst, err = appendSnappyBlock(dst, block, limit-(len(dst)-start)); err != nil {
				return dst, err
			}
		}
		src = next
	}
	return dst, nil
}

// nextXerialBlock returns the snappy block at the start of a xerial
// stream's body, or a nil block where a stream header sits: xerial's reader
// accepts a header again mid-stream, where two streams were concatenated.
func nextXerialBlock(src []byte) (block, rest []byte, err error) {
	if bytes.HasPrefix(src, xerialMagic) {
		if len(src) < xerialHeaderSize {
			return nil, nil, errors.New("truncated xerial header")
		}
		return nil, src[xerialHeaderSize:], nil
	}
	if len(src) < 4 {
		return nil, nil, errors.New("truncated xerial block length")
	}
	size := int32(binary.BigEndian.Uint32(src))
	src = src[4:]
	if size < 0 || int(size) > len(src) {
		return nil, nil, errors.New("xerial block length exceeds the input")
	}
	return src[:size:size], src[size:], nil
}

// appendSnappyBlock decodes one raw snappy block after checking the
// decoded length it declares, so that nothing is allocated for a claim
// over the limit. It uses the strict snappy decoder: the faster s2 decoder
// also accepts s2's extensions, and a batch we accept must decode in every
// consumer's snappy library.
func appendSnappyBlock(dst, block []byte, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return dst, err
	}
	if n > limit {
		return dst, errTooLarge
	}
	dst = slices.Grow(dst, n)
	at := len(dst)
	if _, err := snappy.DecodeStrict(dst[at:at+n], block); err != nil {
		return dst, err
	}
	return dst[:at+n], nil
}

// encodeXerial frames snappy as the Java client does, which every client
// library reads (the Java consumer would also take a raw block, but other
// Kafka-compatible readers are less forgiving of the reverse).
func encodeXerial(dst, src []byte) []byte {
	dst = append(dst, xerialMagic...)
	dst = binary.BigEndian.AppendUint32(dst, 1) // version
	dst = binary.BigEndian.AppendUint32(dst, 1) // minimum compatible version
	for len(src) > 0 {
		chunk := src[:min(len(src), xerialBlockSize)]
		src = src[len(chunk):]
		at := len(dst)
		dst = slices.Grow(dst, 4+s2.MaxEncodedLen(len(chunk)))
		block := s2.EncodeSnappy(dst[at+4:cap(dst)], chunk)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(block)))
		dst = dst[:at+4+len(block)]
	}
	return dst
}

// --- zstd ---

// zstd decoders and encoders are kept on free lists rather than in a
// sync.Pool: a pooled one that the GC drops is never closed, and one that
// ever starts goroutines leaks them. With concurrency 1 and only DecodeAll
// and EncodeAll in use they start none, and the lists keep it that way
// should that change.
var (
	zstdDecoders = make(chan *zstdDecoder, max(4, 2*runtime.GOMAXPROCS(0)))
	zstdEncoders = make(chan *zstd.Encoder, max(4, 2*runtime.GOMAXPROCS(0)))
)

type zstdDecoder struct {
	d     *zstd.Decoder
	limit int // the WithDecoderMaxMemory it was last given
}

func decodeZstd(dst, src []byte, limit int) ([]byte, error) {
	// WithDecoderMaxMemory bounds DecodeAll's total output, checked
	// against a frame's declared content size before allocating and again
	// after every block. The decoder also holds every window, at least
	// 1 KiB, to it, hence the floor; the exact limit is applied to the
	// output below.
	mem := max(limit, zstd.MinWindowSize)
	// DecodeAll decodes into dst, so its memory is the output and the
	// window costs nothing. But the decoder refuses a frame whose declared
	// window exceeds its max memory, and that is not corruption: name it a
	// limit.
	var fh zstd.Header
	hdrOK := fh.Decode(src) == nil
	if hdrOK && !fh.Skippable && !fh.SingleSegment && fh.WindowSize > uint64(mem) {
		return dst, errTooLarge
	}
	var d *zstdDecoder
	select {
	case d = <-zstdDecoders:
	default:
		zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(uint64(mem)))
		if err != nil {
			return dst, err
		}
		d = &zstdDecoder{d: zd, limit: mem}
	}
	defer func() {
		select {
		case zstdDecoders <- d:
		default:
			d.d.Close()
		}
	}()
	if d.limit != mem {
		if err := d.d.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(uint64(mem))); err != nil {
			return dst, err
		}
		d.limit = mem
	}
	// A frame that declares its size is decoded in one go into an
	// allocation of exactly that size (refused up front when it exceeds
	// the limit). One that does not declare it would make DecodeAll grow
	// its output by append, costing several times the limit for a bomb,
	// so it is streamed through readBounded instead (at most ~2x).
	if hdrOK && fh.HasFCS && !fh.Skippable {
		if fh.FrameContentSize > uint64(limit) {
			return dst, errTooLarge
		}
		start := len(dst)
		dst = slices.Grow(dst, int(fh.FrameContentSize))
		// DecodeAll measures the limit from the start of dst, so decode
		// into dst's spare capacity as an empty slice.
		out, err := d.d.DecodeAll(src, dst[start:start])
		switch {
		case errors.Is(err, zstd.ErrDecoderSizeExceeded) || err == nil && len(out) > limit:
			return dst[:start], errTooLarge
		case err != nil:
			return dst[:start], err
		case start == 0:
			return out, nil
		}
		return append(dst[:start], out...), nil
	}
	if err := d.d.Reset(bytes.NewReader(src)); err != nil {
		return dst, err
	}
	// Drop the reference to src when done; the decoder goes back to the pool.
	defer d.d.Reset(nil)
	start := len(dst)
	out, err := readBounded(dst, d.d, limit, 4*len(src))
	switch {
	case errors.Is(err, errTooLarge) || errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return dst[:start], errTooLarge
	case err != nil:
		return dst[:start], err
	}
	return out, nil
}

func encodeZstd(dst, src []byte) ([]byte, error) {
	var e *zstd.Encoder
	select {
	case e = <-zstdEncoders:
	default:
		// SpeedDefault is zstd level 3, Kafka's default
		// compression.zstd.level. Zero frames keep an empty input a valid
		// frame rather than no bytes.
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true),
			zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return dst, err
		}
	}
	dst = e.EncodeAll(src, dst)
	select {
	case zstdEncoders <- e:
	default:
		e.Close()
	}
	return dst, nil
}

// Compress returns src compressed with codec: gzip, snappy in xerial
// framing, the LZ4 frame format with 64 KiB blocks, or zstd at level 3.
func Compress(codec int, src []byte) ([]byte, error) {
	return appendCompressed(nil, codec, src)
}

func appendCompressed(dst []byte, codec int, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return append(dst, src...), nil
	case CodecGzip:
		return encodeStream(&gzipEncoders, dst, src)
	case CodecSnappy:
		return encodeXerial(dst, src), nil
	case CodecLZ4:
		return encodeStream(&lz4Encoders, dst, src)
	case CodecZstd:
		return encodeZstd(dst, src)
	}
	return dst, unsupportedCodec(codec)
}
