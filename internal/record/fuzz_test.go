package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

const fuzzLimit = 1 << 20

// FuzzValidate feeds arbitrary bytes to every reader of a batch. Each
// input is tried as given and again with its length and CRC made right,
// so that the fuzzer reaches the record parser instead of stopping at the
// CRC. A batch that Validate accepts must read back consistently.
func FuzzValidate(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input it finds, which
	// costs time quadratic in its size.
	recs := sampleRecords()
	recs[3].Value = recs[3].Value[:40]
	for _, codec := range codecs {
		b := mustBuild(f, codec, recs, plain)
		f.Add(b)
		f.Add(b[:len(b)-3])
		flipped := bytes.Clone(b)
		flipped[len(b)-len(b)/3] ^= 0x55
		f.Add(flipped)
		c, err := BuildBatch(codec, 0, []Record{{Key: []byte("k"), Headers: []RecordHeader{{Key: "h"}}}}, plain)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c)
	}
	f.Add(mustBuild(f, CodecNone, []Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 3}}},
		BuildOptions{ProducerID: 9, BaseSequence: -1, Attributes: AttrControl | AttrTransactional}))
	f.Add(mustBuild(f, CodecLZ4, recs, BuildOptions{ProducerID: -1, BaseSequence: -1, Attributes: AttrTimestampType}))
	f.Add(mustBuild(f, CodecNone, nil, BuildOptions{ProducerID: -1, BaseSequence: -1, LastOffsetDelta: 3}))
	f.Add(rawBatch(f, CodecNone, 1, []byte{0x16, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 1, 0}))
	f.Add(rawBatch(f, CodecSnappy, 2, kmsgSection(recs[:2])))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, b []byte) {
		checkReaders(t, b)
		if len(b) >= HeaderSize {
			fixed := bytes.Clone(b)
			binary.BigEndian.PutUint32(fixed[LengthOffset:], uint32(len(fixed)-LogOverhead))
			SetBaseOffset(fixed, 0)
			UpdateCRC(fixed)
			checkReaders(t, fixed)
		}
	})
}

func checkReaders(t *testing.T, b []byte) {
	opts := ValidateOptions{MaxDecompressedBytes: fuzzLimit, RequireKeys: len(b)%2 == 0}
	info, err := Validate(b, opts)
	if err != nil {
		wantOneOf(t, err, kerr.CorruptMessage, kerr.InvalidRecord, kerr.MessageTooLarge,
			kerr.UnsupportedCompressionType, kerr.InvalidTimestamp)
	} else {
		h, recs, err := ReadRecords(b, fuzzLimit)
		if err != nil {
			t.Fatalf("Validate accepted what ReadRecords refuses: %v", err)
		}
		if h != info.Header || int32(len(recs)) != info.NumRecords || info.UncompressedBytes > fuzzLimit {
			t.Fatalf("ReadRecords header %+v with %d records; Validate %+v", h, len(recs), info)
		}
		maxTS, at := int64(NoTimestamp), int32(0)
		for i, r := range recs {
			if r.OffsetDelta != int32(i) || opts.RequireKeys && r.Key == nil {
				t.Fatalf("record %d accepted: %+v", i, r)
			}
			if ts := h.BaseTimestamp + r.TimestampDelta; ts > maxTS {
				maxTS, at = ts, int32(i)
			}
		}
		if maxTS != info.MaxTimestamp || at != info.OffsetOfMaxTimestampDelta {
			t.Fatalf("max timestamp %d at %d; Validate says %d at %d", maxTS, at, info.MaxTimestamp, info.OffsetOfMaxTimestampDelta)
		}
		// Re-encoding what was read reads back the same. (Not the same
		// bytes: a varint may arrive longer than it needs to be.)
		re, err := BuildBatch(CodecNone, 0, recs, BuildOptions{ProducerID: h.ProducerID, BaseSequence: h.BaseSequence,
			BaseTimestamp: h.BaseTimestamp})
		if err != nil {
			t.Fatal(err)
		}
		if _, again, err := ReadRecords(re, fuzzLimit); err != nil || !reflect.DeepEqual(again, recs) {
			t.Fatalf("re-encoded batch reads back differently: %v", err)
		}
		// EachKey yields exactly the keys ReadRecords decodes.
		var keys [][]byte
		if err := EachKey(b, fuzzLimit, func(k []byte) { keys = append(keys, bytes.Clone(k)) }); err != nil {
			t.Fatalf("EachKey refuses what ReadRecords reads: %v", err)
		}
		if len(keys) != len(recs) {
			t.Fatalf("EachKey: %d keys, want %d", len(keys), len(recs))
		}
		for i := range recs {
			if (keys[i] == nil) != (recs[i].Key == nil) || !bytes.Equal(keys[i], recs[i].Key) {
				t.Fatalf("EachKey: key %d %q, want %q", i, keys[i], recs[i].Key)
			}
		}
	}
	// The other readers only must not panic, nor fail without a code.
	if _, _, err := ReadRecords(b, fuzzLimit); err != nil {
		wantOneOf(t, err, kerr.CorruptMessage, kerr.InvalidRecord, kerr.MessageTooLarge, kerr.UnsupportedCompressionType)
	}
	FindTimestamp(b, 0, fuzzLimit)
	MaxTimestampRecord(b, fuzzLimit)
	_ = EachKey(b, fuzzLimit, func([]byte) {})
	batches, err := SplitBatches(b)
	if err == nil {
		n := 0
		for _, batch := range batches {
			n += len(batch)
		}
		if n != len(b) {
			t.Fatalf("SplitBatches covered %d of %d bytes", n, len(b))
		}
	}
}

func wantOneOf(t *testing.T, err error, codes ...*kerr.Error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	for _, c := range codes {
		if e.Code == c.Code {
			return
		}
	}
	t.Fatalf("unexpected code in %v", err)
}

func FuzzDecompressGzip(f *testing.F)   { fuzzDecompress(f, CodecGzip) }
func FuzzDecompressSnappy(f *testing.F) { fuzzDecompress(f, CodecSnappy) }
func FuzzDecompressLZ4(f *testing.F)    { fuzzDecompress(f, CodecLZ4) }
func FuzzDecompressZstd(f *testing.F)   { fuzzDecompress(f, CodecZstd) }

// fuzzDecompress decodes arbitrary bytes with one codec (no panic, output
// within the limit, errors with a code) and round-trips them as plain
// text.
func fuzzDecompress(f *testing.F, codec int) {
	for _, in := range [][]byte{{}, []byte("a"), words(1, 300), make([]byte, 5000), words(2, 2000)} {
		c, err := Compress(codec, in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c)
	}
	if codec == CodecSnappy {
		f.Add(xerialFrame(xerialBlock("hello "), xerialBlock("world")))
		f.Add(append(xerialFrame(xerialBlock("a")), xerialFrame(xerialBlock("b"))...))
		f.Add([]byte{6, 0x04, 'a', 'b', 0x01, 0x00})
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, err := Decompress(codec, src, fuzzLimit)
		if err != nil {
			wantOneOf(t, err, kerr.CorruptMessage, kerr.MessageTooLarge)
		} else if len(out) > fuzzLimit {
			t.Fatalf("%d bytes out, limit %d", len(out), fuzzLimit)
		}
		c, err := Compress(codec, src)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decompress(codec, c, max(len(src), 1))
		if err != nil || !bytes.Equal(back, src) {
			t.Fatalf("round trip of %d bytes: %v", len(src), err)
		}
	})
}

// FuzzFastScanAgrees: Validate's one-pass fast path must accept exactly
// what the record iterator accepts, with the same max timestamp and offset
// of the max; it may only decline (and let the iterator decide).
func FuzzFastScanAgrees(f *testing.F) {
	for _, n := range []int{1, 3, 40} {
		var recs []Record
		for i := range n {
			recs = append(recs, Record{OffsetDelta: int32(i), TimestampDelta: int64(i % 7), Key: []byte("k"), Value: make([]byte, i*5)})
		}
		b, err := BuildBatch(CodecNone, 0, recs, BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: 1000})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[HeaderSize:], int32(n), int64(1000))
	}
	f.Fuzz(func(t *testing.T, records []byte, n int32, base int64) {
		if n <= 0 || n > 1<<16 {
			return
		}
		minTS, maxTS, maxIdx, nullKey, ok := fastScan(records, n, base)
		h := Header{NumRecords: n, LastOffsetDelta: n - 1, BaseTimestamp: base}
		it := newRecordIter(&h, records)
		var r rawRecord
		slowOK, slowMax, slowMin, slowIdx, slowNull := true, int64(NoTimestamp), int64(1<<63-1), int32(0), false
		for {
			more, err := it.next(&r)
			if err != nil {
				slowOK = false
				break
			}
			if !more {
				break
			}
			ts := base + r.timestampDelta
			if ts > slowMax {
				slowMax, slowIdx = ts, it.index-1
			}
			slowMin = min(slowMin, ts)
			if r.key == nil {
				slowNull = true
			}
		}
		if ok && !slowOK {
			t.Fatalf("fast path accepted records the iterator refuses: %x", records)
		}
		if ok && (minTS != slowMin || maxTS != slowMax || maxIdx != slowIdx || nullKey != slowNull) {
			t.Fatalf("fast path: min %d max %d idx %d null %v; iterator: min %d max %d idx %d null %v",
				minTS, maxTS, maxIdx, nullKey, slowMin, slowMax, slowIdx, slowNull)
		}

		// The scan run a chunk at a time beside the CRC (small chunks, so
		// records straddle them) says the same, and the CRC is the CRC.
		batch := append(make([]byte, HeaderSize, HeaderSize+len(records)), records...)
		for i := range HeaderSize {
			batch[i] = byte(base >> (i % 8 * 8))
		}
		chunk := 1 + int(uint64(base)%97)
		sc := newScan(n, base)
		crc := crcAndScanBy(batch, &sc, chunk)
		if want := ComputeCRC(batch); crc != want {
			t.Fatalf("chunked CRC %08x, want %08x (chunk %d)", crc, want, chunk)
		}
		cMin, cMax, cIdx, cNull, cOK := sc.result(records)
		if cOK != ok || ok && (cMin != minTS || cMax != maxTS || cIdx != maxIdx || cNull != nullKey) {
			t.Fatalf("chunked scan (chunk %d): %d %d %d %v %v; whole: %d %d %d %v %v",
				chunk, cMin, cMax, cIdx, cNull, cOK, minTS, maxTS, maxIdx, nullKey, ok)
		}
	})
}
