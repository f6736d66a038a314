package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestValidateRoundTrip(t *testing.T) {
	t.Parallel()
	recs := sampleRecords()
	plainSize := len(mustBuild(t, CodecNone, recs, plain)) - HeaderSize
	for _, codec := range codecs {
		t.Run(codecName(codec), func(t *testing.T) {
			t.Parallel()
			b := mustBuild(t, codec, recs, plain)
			info, err := Validate(b, ValidateOptions{MaxDecompressedBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			want := BatchInfo{
				NumRecords:                5,
				MaxTimestamp:              plain.BaseTimestamp + 1<<40,
				OffsetOfMaxTimestampDelta: 3,
				Codec:                     codec,
				UncompressedBytes:         plainSize,
			}
			h := info.Header
			info.Header = Header{}
			if info != want {
				t.Fatalf("info %+v, want %+v", info, want)
			}
			wantHeader := Header{
				Length:               int32(len(b) - LogOverhead),
				PartitionLeaderEpoch: -1,
				Magic:                2,
				CRC:                  ComputeCRC(b),
				Attributes:           int16(codec),
				LastOffsetDelta:      4,
				BaseTimestamp:        plain.BaseTimestamp,
				MaxTimestamp:         plain.BaseTimestamp + 1<<40,
				ProducerID:           -1,
				ProducerEpoch:        -1,
				BaseSequence:         -1,
				NumRecords:           5,
			}
			if h != wantHeader {
				t.Fatalf("header %+v, want %+v", h, wantHeader)
			}

			rh, got, err := ReadRecords(b, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if rh != wantHeader {
				t.Fatalf("ReadRecords header %+v, want %+v", rh, wantHeader)
			}
			if !reflect.DeepEqual(got, recs) {
				t.Fatalf("records differ:\n got %+v\nwant %+v", got, recs)
			}
		})
	}
}

// TestBuildBatchGolden pins the encoding of a one-record batch byte for
// byte, so that the encoder and the validator cannot agree on a mistake.
func TestBuildBatchGolden(t *testing.T) {
	t.Parallel()
	b := mustBuild(t, CodecNone, []Record{{Key: []byte("k0"), Value: []byte("v0")}}, BuildOptions{
		ProducerID: 7, ProducerEpoch: 2, BaseSequence: 9, BaseTimestamp: 0x0102, PartitionLeaderEpoch: 3,
	})
	want := []byte{
		0, 0, 0, 0, 0, 0, 0, 0, // base offset
		0, 0, 0, 60, // length: 49 header bytes after it + 11 record bytes
		0, 0, 0, 3, // partition leader epoch
		2,          // magic
		0, 0, 0, 0, // CRC, checked below
		0, 0, // attributes
		0, 0, 0, 0, // last offset delta
		0, 0, 0, 0, 0, 0, 1, 2, // base timestamp
		0, 0, 0, 0, 0, 0, 1, 2, // max timestamp
		0, 0, 0, 0, 0, 0, 0, 7, // producer id
		0, 2, // producer epoch
		0, 0, 0, 9, // base sequence
		0, 0, 0, 1, // records
		0x14,                 // record length 10, zigzag
		0, 0, 0, 4, 'k', '0', // attributes, timestamp delta, offset delta, key
		4, 'v', '0', 0, // value, no headers
	}
	crc := ComputeCRC(want)
	binary.BigEndian.PutUint32(want[CRCOffset:], crc)
	if !bytes.Equal(b, want) {
		t.Fatalf("batch\n% x\nwant\n% x", b, want)
	}
	// The CRC-32C of this exact byte range, from an independent
	// implementation (Python's crc32c over want[21:]).
	if crc != 0xca447ddf {
		t.Fatalf("CRC 0x%08x", crc)
	}
}

func TestValidateMaxTimestamp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		base      int64
		deltas    []int64
		wantMax   int64
		wantDelta int32
	}{
		{"first of equal maxima", 1000, []int64{0, 7, 3, 7}, 1007, 1},
		{"max last", 1000, []int64{0, 1, 2}, 1002, 2},
		// Kafka starts its max at NO_TIMESTAMP, so negative timestamps
		// never raise it.
		{"all negative", -100, []int64{0, 1, 2}, -1, 0},
		{"no timestamps", -1, []int64{0, 0}, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs := make([]Record, len(tc.deltas))
			for i, d := range tc.deltas {
				recs[i] = Record{TimestampDelta: d, OffsetDelta: int32(i), Key: []byte("k")}
			}
			opts := plain
			opts.BaseTimestamp = tc.base
			info, err := Validate(mustBuild(t, CodecNone, recs, opts), ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if info.MaxTimestamp != tc.wantMax || info.OffsetOfMaxTimestampDelta != tc.wantDelta {
				t.Fatalf("max %d at delta %d, want %d at %d", info.MaxTimestamp, info.OffsetOfMaxTimestampDelta, tc.wantMax, tc.wantDelta)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	t.Parallel()
	three := []Record{
		{OffsetDelta: 0, Key: []byte("a"), Value: []byte("1")},
		{OffsetDelta: 1, Key: []byte("b"), Value: []byte("2")},
		{OffsetDelta: 2, Key: []byte("c"), Value: []byte("3")},
	}
	good := func() []byte { return mustBuild(t, CodecNone, three, plain) }
	// edit changes a valid batch and fixes its CRC, so that the check
	// under test is the one that fires.
	edit := func(f func(b []byte)) []byte {
		b := good()
		f(b)
		UpdateCRC(b)
		return b
	}
	put32 := func(off int, v int32) func([]byte) {
		return func(b []byte) { binary.BigEndian.PutUint32(b[off:], uint32(v)) }
	}
	withRecords := func(recs []Record, opts BuildOptions) []byte { return mustBuild(t, CodecNone, recs, opts) }

	zeros := make([]byte, 2<<20)
	gzipBomb := rawBatch(t, CodecGzip, 1, zeros)
	zstdBomb := rawBatch(t, CodecZstd, 1, zeros)
	snappyClaim := func() []byte {
		// A raw snappy block declaring 4 GiB of output in a few bytes.
		b := rawBatch(t, CodecNone, 1, nil)
		b = append(b, binary.AppendUvarint(nil, 1<<32-1)...)
		b = append(b, 0, 0, 0)
		binary.BigEndian.PutUint32(b[LengthOffset:], uint32(len(b)-LogOverhead))
		binary.BigEndian.PutUint16(b[AttributesOffset:], CodecSnappy)
		UpdateCRC(b)
		return b
	}()
	garbageGzip := func() []byte {
		b := rawBatch(t, CodecNone, 1, []byte("this is not gzip data at all"))
		binary.BigEndian.PutUint16(b[AttributesOffset:], CodecGzip)
		UpdateCRC(b)
		return b
	}()

	for _, tc := range []struct {
		name string
		b    []byte
		opts ValidateOptions
		want *kerr.Error
		// wantRecords, when set, are the exact record_errors indexes.
		wantRecords []int32
	}{
		{name: "empty", b: nil, want: kerr.InvalidRecord},
		{name: "shorter than length field", b: good()[:11], want: kerr.InvalidRecord},
		{name: "length below any message", b: edit(put32(LengthOffset, 13)), want: kerr.CorruptMessage},
		{name: "negative length", b: edit(put32(LengthOffset, -1)), want: kerr.CorruptMessage},
		{name: "ends before magic", b: good()[:16], want: kerr.InvalidRecord},
		{name: "magic 0", b: edit(func(b []byte) { b[MagicOffset] = 0 }), want: kerr.InvalidRecord},
		{name: "magic 1", b: edit(func(b []byte) { b[MagicOffset] = 1 }), want: kerr.InvalidRecord},
		{name: "magic 3", b: edit(func(b []byte) { b[MagicOffset] = 3 }), want: kerr.CorruptMessage},
		{name: "magic -1", b: edit(func(b []byte) { b[MagicOffset] = 0xff }), want: kerr.CorruptMessage},
		{name: "truncated", b: good()[:len(good())-1], want: kerr.InvalidRecord},
		{name: "trailing byte", b: append(good(), 0), want: kerr.InvalidRecord},
		{name: "two batches", b: append(good(), good()...), want: kerr.InvalidRecord},
		{name: "length below v2 header", b: func() []byte {
			b := good()[:LogOverhead+40]
			put32(LengthOffset, 40)(b)
			return b
		}(), want: kerr.CorruptMessage},
		{name: "base offset set", b: func() []byte { b := good(); SetBaseOffset(b, 5); return b }(), want: kerr.InvalidRecord},
		{name: "over max.message.bytes", b: good(), opts: ValidateOptions{MaxBatchBytes: len(good()) - 1}, want: kerr.MessageTooLarge},
		{name: "at max.message.bytes", b: good(), opts: ValidateOptions{MaxBatchBytes: len(good())}},
		{name: "bad CRC", b: func() []byte { b := good(); b[len(b)-2] ^= 1; return b }(), want: kerr.CorruptMessage},
		{name: "CRC field damaged", b: func() []byte { b := good(); b[CRCOffset] ^= 0x80; return b }(), want: kerr.CorruptMessage},
		{name: "codec 5", b: edit(func(b []byte) { b[AttributesOffset+1] |= 5 }), want: kerr.UnsupportedCompressionType},
		{name: "codec 7", b: edit(func(b []byte) { b[AttributesOffset+1] |= 7 }), want: kerr.UnsupportedCompressionType},
		{name: "negative last offset delta", b: edit(put32(LastOffsetDeltaOffset, -1)), want: kerr.InvalidRecord},
		{name: "zero records", b: edit(put32(RecordCountOffset, 0)), want: kerr.InvalidRecord},
		{name: "negative record count", b: edit(put32(RecordCountOffset, -3)), want: kerr.InvalidRecord},
		{name: "count disagrees with last offset delta", b: edit(put32(LastOffsetDeltaOffset, 3)), want: kerr.InvalidRecord},
		{name: "more records declared than present", b: edit(func(b []byte) {
			put32(LastOffsetDeltaOffset, 3)(b)
			put32(RecordCountOffset, 4)(b)
		}), want: kerr.InvalidRecord},
		{name: "fewer records declared than present", b: edit(func(b []byte) {
			put32(LastOffsetDeltaOffset, 1)(b)
			put32(RecordCountOffset, 2)(b)
		}), want: kerr.InvalidRecord},
		{name: "huge record count", b: edit(func(b []byte) {
			put32(LastOffsetDeltaOffset, math.MaxInt32-1)(b)
			put32(RecordCountOffset, math.MaxInt32)(b)
		}), want: kerr.InvalidRecord},
		{name: "offset deltas not from 0", b: func() []byte {
			b := withRecords([]Record{{OffsetDelta: 1}, {OffsetDelta: 2}}, plain)
			put32(LastOffsetDeltaOffset, 1)(b)
			UpdateCRC(b)
			return b
		}(), want: kerr.InvalidRecord},
		{name: "offset deltas repeat", b: withRecords([]Record{{OffsetDelta: 0}, {OffsetDelta: 0}, {OffsetDelta: 2}}, plain), want: kerr.InvalidRecord},
		{name: "offset deltas out of order", b: withRecords([]Record{{OffsetDelta: 1}, {OffsetDelta: 0}}, plain), want: kerr.InvalidRecord},
		{name: "control batch", b: withRecords(three, BuildOptions{ProducerID: 1, BaseSequence: 0, Attributes: AttrControl | AttrTransactional}), want: kerr.InvalidRecord},
		{name: "producer id without sequence", b: withRecords(three, BuildOptions{ProducerID: 1, BaseSequence: -1}), want: kerr.InvalidRecord},
		{name: "record length past the batch", b: rawBatch(t, CodecNone, 1, []byte{0x20, 0, 0, 0, 1, 1, 0}), want: kerr.InvalidRecord},
		{name: "negative record length", b: rawBatch(t, CodecNone, 1, []byte{0x09, 0, 0, 0, 1, 1, 0}), want: kerr.InvalidRecord},
		{name: "record length short of its fields", b: rawBatch(t, CodecNone, 1, []byte{0x08, 0, 0, 0, 2, 'k', 1, 0}), want: kerr.InvalidRecord},
		{name: "record length past its fields", b: rawBatch(t, CodecNone, 1, []byte{0x10, 0, 0, 0, 1, 1, 0, 0, 0}), want: kerr.InvalidRecord},
		{name: "empty record", b: rawBatch(t, CodecNone, 1, []byte{0x00}), want: kerr.InvalidRecord},
		{name: "key length below -1", b: rawBatch(t, CodecNone, 1, []byte{0x0c, 0, 0, 0, 0x03, 1, 0}), want: kerr.InvalidRecord},
		{name: "value length past record", b: rawBatch(t, CodecNone, 1, []byte{0x0c, 0, 0, 0, 1, 0x10, 0}), want: kerr.InvalidRecord},
		{name: "negative header count", b: rawBatch(t, CodecNone, 1, []byte{0x0c, 0, 0, 0, 1, 1, 0x01}), want: kerr.InvalidRecord},
		{name: "header count past record", b: rawBatch(t, CodecNone, 1, []byte{0x0c, 0, 0, 0, 1, 1, 0x08}), want: kerr.InvalidRecord},
		{name: "null header key", b: rawBatch(t, CodecNone, 1, []byte{0x10, 0, 0, 0, 1, 1, 0x02, 0x01, 0x01}), want: kerr.InvalidRecord},
		{name: "varint too long", b: rawBatch(t, CodecNone, 1, []byte{0x16, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 1, 0}), want: kerr.InvalidRecord},
		{name: "offset delta varint overflows int32", b: rawBatch(t, CodecNone, 1, []byte{0x14, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 1, 0}), want: kerr.InvalidRecord},
		{name: "varint cut off", b: rawBatch(t, CodecNone, 1, []byte{0x80}), want: kerr.InvalidRecord},
		{name: "gzip bomb", b: gzipBomb, opts: ValidateOptions{MaxDecompressedBytes: 1 << 20}, want: kerr.MessageTooLarge},
		{name: "zstd bomb", b: zstdBomb, opts: ValidateOptions{MaxDecompressedBytes: 1 << 20}, want: kerr.MessageTooLarge},
		{name: "snappy length claim", b: snappyClaim, opts: ValidateOptions{MaxDecompressedBytes: 1 << 20}, want: kerr.MessageTooLarge},
		{name: "garbage gzip", b: garbageGzip, want: kerr.CorruptMessage},
		{name: "compressed records malformed", b: rawBatch(t, CodecZstd, 1, []byte{0x20, 0}), want: kerr.InvalidRecord},
		{name: "keyless record on compacted topic", b: mustBuild(t, CodecLZ4, sampleRecords(), plain),
			opts: ValidateOptions{RequireKeys: true}, want: kerr.InvalidRecord, wantRecords: []int32{1}},
		{name: "empty key is a key", b: withRecords([]Record{{Key: []byte{}}}, plain), opts: ValidateOptions{RequireKeys: true}},
		{name: "producer claims LogAppendTime", b: withRecords(three, BuildOptions{ProducerID: -1, BaseSequence: -1, Attributes: AttrTimestampType}),
			want: kerr.InvalidTimestamp, wantRecords: []int32{0, 1, 2}},
		{name: "timestamps out of bounds", b: withRecords([]Record{
			{OffsetDelta: 0, TimestampDelta: -1001, Key: []byte("a")},
			{OffsetDelta: 1, TimestampDelta: -1000, Key: []byte("b")},
			{OffsetDelta: 2, TimestampDelta: 500, Key: []byte("c")},
			{OffsetDelta: 3, TimestampDelta: 501, Key: []byte("d")},
		}, BuildOptions{ProducerID: -1, BaseSequence: -1, BaseTimestamp: 10_000}),
			opts: ValidateOptions{Now: 10_000, TimestampBeforeMaxMs: 1000, TimestampAfterMaxMs: 500},
			want: kerr.InvalidTimestamp, wantRecords: []int32{0, 3}},
		{name: "no timestamp passes bounds", b: withRecords([]Record{{Key: []byte("a")}}, BuildOptions{ProducerID: -1, BaseSequence: -1, BaseTimestamp: -1}),
			opts: ValidateOptions{Now: 10_000, TimestampBeforeMaxMs: 0, TimestampAfterMaxMs: 0}},
		{name: "unbounded timestamps", b: withRecords([]Record{{Key: []byte("a"), TimestampDelta: -1 << 62}, {OffsetDelta: 1, Key: []byte("b"), TimestampDelta: 1 << 62}}, BuildOptions{ProducerID: -1, BaseSequence: -1}),
			opts: ValidateOptions{Now: 10_000, TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64}},
		{name: "key and timestamp errors together", b: withRecords([]Record{
			{OffsetDelta: 0, TimestampDelta: 0},
			{OffsetDelta: 1, TimestampDelta: 99_999, Key: []byte("b")},
			{OffsetDelta: 2, TimestampDelta: 0, Key: []byte("c")},
		}, BuildOptions{ProducerID: -1, BaseSequence: -1, BaseTimestamp: 10_000}),
			opts: ValidateOptions{RequireKeys: true, Now: 10_000, TimestampBeforeMaxMs: 10, TimestampAfterMaxMs: 10},
			want: kerr.InvalidTimestamp, wantRecords: []int32{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Validate(tc.b, tc.opts)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			e := wantCode(t, err, tc.want)
			var idx []int32
			for _, re := range e.RecordErrors {
				idx = append(idx, re.Index)
			}
			if !reflect.DeepEqual(idx, tc.wantRecords) {
				t.Fatalf("record errors %v, want %v", idx, tc.wantRecords)
			}
		})
	}
}

// TestValidateZstdWindow: a zstd stream that declares a window larger than
// the bound is refused as too large, not as corrupt. The frame is written
// by hand: no content size, a 4 MiB window, one raw block.
func TestValidateZstdWindow(t *testing.T) {
	t.Parallel()
	var section []byte
	for _, r := range sampleRecords() {
		section = append(section, mustAppendRecord(t, &r)...)
	}
	frame := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	frame = append(frame, 0x00, (22-10)<<3) // no content size, window 1<<22
	frame = append(frame, byte(len(section)<<3|1), byte(len(section)>>5), byte(len(section)>>13))
	frame = append(frame, section...)
	b := rawBatch(t, CodecNone, 5, nil)
	b = append(b, frame...)
	binary.BigEndian.PutUint32(b[LengthOffset:], uint32(len(b)-LogOverhead))
	binary.BigEndian.PutUint16(b[AttributesOffset:], CodecZstd)
	UpdateCRC(b)

	info, err := Validate(b, ValidateOptions{MaxDecompressedBytes: 8 << 20})
	if err != nil {
		t.Fatalf("window within the bound: %v", err)
	}
	if info.UncompressedBytes != len(section) {
		t.Fatalf("%d bytes decompressed, want %d", info.UncompressedBytes, len(section))
	}
	_, err = Validate(b, ValidateOptions{MaxDecompressedBytes: 1 << 20})
	wantCode(t, err, kerr.MessageTooLarge)
}

func mustAppendRecord(t testing.TB, r *Record) []byte {
	t.Helper()
	b, err := appendRecord(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateDoesNotAllocate(t *testing.T) {
	b := mustBuild(t, CodecNone, bigRecords(16, 1000), plain)
	opts := ValidateOptions{MaxDecompressedBytes: 1 << 20, RequireKeys: true, Now: plain.BaseTimestamp,
		TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Validate(b, opts); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Validate of an uncompressed batch, want 0", allocs)
	}
}

func TestSetTimestamps(t *testing.T) {
	t.Parallel()
	b := mustBuild(t, CodecGzip, sampleRecords(), plain)
	crc := ComputeCRC(b)

	// The value Validate computed already stored: nothing changes.
	info, err := Validate(b, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	SetMaxTimestamp(b, info.MaxTimestamp)
	if got := binary.BigEndian.Uint32(b[CRCOffset:]); got != crc {
		t.Fatalf("CRC changed to 0x%08x without a change", got)
	}

	SetLogAppendTime(b, 42)
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if !h.IsLogAppendTime() || h.MaxTimestamp != 42 || h.BaseTimestamp != plain.BaseTimestamp || h.Codec() != CodecGzip {
		t.Fatalf("after SetLogAppendTime: %+v", h)
	}
	if h.CRC != ComputeCRC(b) {
		t.Fatalf("stale CRC")
	}
	if got := h.RecordTimestamp(-3); got != 42 {
		t.Fatalf("LogAppendTime record timestamp %d, want 42", got)
	}

	SetMaxTimestamp(b, 77)
	h, _ = ParseHeader(b)
	if h.IsLogAppendTime() || h.MaxTimestamp != 77 || h.CRC != ComputeCRC(b) {
		t.Fatalf("after SetMaxTimestamp: %+v", h)
	}
	if got := h.RecordTimestamp(-3); got != plain.BaseTimestamp-3 {
		t.Fatalf("CreateTime record timestamp %d", got)
	}
}

func TestSplitBatches(t *testing.T) {
	t.Parallel()
	a := mustBuild(t, CodecNone, sampleRecords(), plain)
	c := mustBuild(t, CodecZstd, sampleRecords(), plain)
	all := append(append([]byte{}, a...), c...)

	got, err := SplitBatches(all)
	if err != nil || len(got) != 2 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], c) {
		t.Fatalf("SplitBatches: %d batches, %v", len(got), err)
	}
	if cap(got[0]) != len(a) {
		t.Fatalf("first batch has capacity %d past its end", cap(got[0])-len(a))
	}
	if got, err := SplitBatches(nil); len(got) != 0 || err != nil {
		t.Fatalf("empty input: %d, %v", len(got), err)
	}

	for _, cut := range []int{1, LogOverhead - 1, LogOverhead, len(c) - 1} {
		got, err := SplitBatches(all[:len(a)+cut])
		if !errors.Is(err, ErrShortBatch) {
			t.Fatalf("cut at %d: error %v, want ErrShortBatch", cut, err)
		}
		if len(got) != 1 || !bytes.Equal(got[0], a) {
			t.Fatalf("cut at %d: %d batches before the fault", cut, len(got))
		}
	}

	bad := append(append([]byte{}, a...), c...)
	binary.BigEndian.PutUint32(bad[len(a)+LengthOffset:], 48)
	got, err = SplitBatches(bad)
	wantCode(t, err, kerr.CorruptMessage)
	if len(got) != 1 {
		t.Fatalf("%d batches before the fault, want 1", len(got))
	}
}
