package record

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// compacted is a batch as the log cleaner leaves it: base offset 100, an
// offset range of 10, and only the records at deltas 0, 3 and 7 left.
func compacted(t *testing.T, codec int) ([]byte, []Record) {
	recs := []Record{
		{OffsetDelta: 0, TimestampDelta: 0, Key: []byte("a"), Value: []byte("1")},
		{OffsetDelta: 3, TimestampDelta: 20, Key: []byte("b"), Value: nil},
		{OffsetDelta: 7, TimestampDelta: 20, Key: []byte("c"), Value: []byte("3"),
			Headers: []RecordHeader{{Key: "h", Value: []byte("v")}}},
	}
	opts := plain
	opts.BaseTimestamp = 1000
	opts.LastOffsetDelta = 9
	b, err := BuildBatch(codec, 100, recs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b, recs
}

func TestReadRecordsCompacted(t *testing.T) {
	t.Parallel()
	for _, codec := range codecs {
		b, recs := compacted(t, codec)
		h, got, err := ReadRecords(b, 0)
		if err != nil {
			t.Fatalf("%s: %v", codecName(codec), err)
		}
		if h.BaseOffset != 100 || h.LastOffsetDelta != 9 || h.NumRecords != 3 || h.LastOffset() != 109 {
			t.Fatalf("%s: header %+v", codecName(codec), h)
		}
		if !reflect.DeepEqual(got, recs) {
			t.Fatalf("%s: records %+v", codecName(codec), got)
		}
		// A producer may not send such a batch.
		SetBaseOffset(b, 0)
		_, err = Validate(b, ValidateOptions{})
		wantCode(t, err, kerr.InvalidRecord)
	}
}

func TestReadRecordsEmptyBatch(t *testing.T) {
	t.Parallel()
	opts := plain
	opts.LastOffsetDelta = 4
	opts.MaxTimestamp = 5000
	b, err := BuildBatch(CodecNone, 10, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	h, recs, err := ReadRecords(b, 0)
	if err != nil || len(recs) != 0 || h.LastOffset() != 14 || h.MaxTimestamp != 5000 {
		t.Fatalf("ReadRecords: %+v, %d records, %v", h, len(recs), err)
	}
	if off, ts, err := MaxTimestampRecord(b, 0); off != -1 || ts != -1 || err != nil {
		t.Fatalf("MaxTimestampRecord: %d, %d, %v", off, ts, err)
	}
	if off, ts, ok, err := FindTimestamp(b, 0, 0); off != -1 || ts != -1 || ok || err != nil {
		t.Fatalf("FindTimestamp: %d, %d, %v, %v", off, ts, ok, err)
	}
}

func TestReadRecordsControlBatch(t *testing.T) {
	t.Parallel()
	// A COMMIT marker: key version 0, type 1; value version 0, epoch 3.
	rec := Record{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 3}}
	b := mustBuild(t, CodecNone, []Record{rec}, BuildOptions{ProducerID: 9, ProducerEpoch: 1, BaseSequence: -1,
		Attributes: AttrControl | AttrTransactional})
	h, recs, err := ReadRecords(b, 0)
	if err != nil || !h.IsControl() || !h.IsTransactional() || len(recs) != 1 || !reflect.DeepEqual(recs[0], rec) {
		t.Fatalf("ReadRecords: %+v, %+v, %v", h, recs, err)
	}
}

func TestFindTimestamp(t *testing.T) {
	t.Parallel()
	for _, codec := range codecs {
		b, _ := compacted(t, codec) // timestamps 1000, 1020, 1020 at offsets 100, 103, 107
		for _, tc := range []struct {
			ts      int64
			off, at int64
			ok      bool
		}{
			{0, 100, 1000, true},
			{1000, 100, 1000, true},
			{1001, 103, 1020, true},
			{1020, 103, 1020, true},
			{1021, -1, -1, false},
		} {
			off, at, ok, err := FindTimestamp(b, tc.ts, 0)
			if err != nil || off != tc.off || at != tc.at || ok != tc.ok {
				t.Fatalf("%s: FindTimestamp(%d) = %d, %d, %v, %v; want %d, %d, %v",
					codecName(codec), tc.ts, off, at, ok, err, tc.off, tc.at, tc.ok)
			}
		}

		// With LogAppendTime every record carries the append time.
		SetLogAppendTime(b, 5000)
		if off, at, ok, err := FindTimestamp(b, 4000, 0); off != 100 || at != 5000 || !ok || err != nil {
			t.Fatalf("%s: LogAppendTime FindTimestamp(4000) = %d, %d, %v, %v", codecName(codec), off, at, ok, err)
		}
		if _, _, ok, err := FindTimestamp(b, 5001, 0); ok || err != nil {
			t.Fatalf("%s: LogAppendTime FindTimestamp(5001) = %v, %v", codecName(codec), ok, err)
		}
	}
}

func TestMaxTimestampRecord(t *testing.T) {
	t.Parallel()
	for _, codec := range codecs {
		b, _ := compacted(t, codec)
		if off, ts, err := MaxTimestampRecord(b, 0); off != 103 || ts != 1020 || err != nil {
			t.Fatalf("%s: %d, %d, %v; want the first of the two records at 1020", codecName(codec), off, ts, err)
		}
		// A max timestamp no record holds (the broker never rewrote a
		// producer's claim) finds nothing, as Kafka finds nothing.
		SetMaxTimestamp(b, 9999)
		if off, ts, err := MaxTimestampRecord(b, 0); off != -1 || ts != -1 || err != nil {
			t.Fatalf("%s: %d, %d, %v for an unheld max", codecName(codec), off, ts, err)
		}
		SetLogAppendTime(b, 5000)
		if off, ts, err := MaxTimestampRecord(b, 0); off != 100 || ts != 5000 || err != nil {
			t.Fatalf("%s: LogAppendTime: %d, %d, %v", codecName(codec), off, ts, err)
		}
	}
}

func TestReadRecordsErrors(t *testing.T) {
	t.Parallel()
	good := func() []byte { b, _ := compacted(t, CodecGzip); return b }
	for _, tc := range []struct {
		name  string
		b     []byte
		limit int
		want  *kerr.Error
		// lazy: MaxTimestampRecord finds its record before the fault.
		lazy bool
	}{
		{"short", good()[:HeaderSize-1], 0, kerr.CorruptMessage, false},
		{"trailing bytes", append(good(), 0), 0, kerr.CorruptMessage, false},
		{"truncated", good()[:len(good())-1], 0, kerr.CorruptMessage, false},
		{"magic 1", func() []byte { b := good(); b[MagicOffset] = 1; return b }(), 0, kerr.CorruptMessage, false},
		{"negative count", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[RecordCountOffset:], 0xffffffff)
			return b
		}(), 0, kerr.CorruptMessage, false},
		{"codec 6", func() []byte { b := good(); b[AttributesOffset+1] = 6; return b }(), 0, kerr.UnsupportedCompressionType, false},
		{"over the limit", good(), 10, kerr.MessageTooLarge, false},
		{"garbled payload", func() []byte { b := good(); b[HeaderSize+12] ^= 0xff; return b }(), 0, kerr.CorruptMessage, false},
		{"delta past last offset delta", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[LastOffsetDeltaOffset:], 6)
			return b
		}(), 0, kerr.InvalidRecord, true},
		{"more records declared", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[RecordCountOffset:], 4)
			return b
		}(), 0, kerr.InvalidRecord, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := ReadRecords(tc.b, tc.limit)
			wantCode(t, err, tc.want)
			_, _, _, err = FindTimestamp(tc.b, 1<<62, tc.limit)
			wantCode(t, err, tc.want)
			off, _, err := MaxTimestampRecord(tc.b, tc.limit)
			if tc.lazy {
				if off != 103 || err != nil {
					t.Fatalf("MaxTimestampRecord: %d, %v", off, err)
				}
				return
			}
			wantCode(t, err, tc.want)
		})
	}
}

func TestRecompressKeepsEverythingButTheCodec(t *testing.T) {
	t.Parallel()
	recs := []Record{
		{TimestampDelta: 0, OffsetDelta: 0, Key: []byte("k1"), Value: []byte("v1"), Headers: []RecordHeader{{Key: "h", Value: []byte("x")}}},
		{TimestampDelta: 5, OffsetDelta: 1, Key: nil, Value: []byte("v2")},
	}
	orig, err := BuildBatch(CodecNone, 0, recs, BuildOptions{ProducerID: 7, ProducerEpoch: 2, BaseSequence: 40, BaseTimestamp: 1000, PartitionLeaderEpoch: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, codec := range []int{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd, CodecNone} {
		out, err := Recompress(orig, codec, 1<<20)
		if err != nil {
			t.Fatalf("codec %d: %v", codec, err)
		}
		info, err := Validate(out, ValidateOptions{MaxDecompressedBytes: 1 << 20})
		if err != nil {
			t.Fatalf("codec %d: recompressed batch invalid: %v", codec, err)
		}
		h0, _ := ParseHeader(orig)
		h := info.Header
		if h.Codec() != codec || h.ProducerID != 7 || h.ProducerEpoch != 2 || h.BaseSequence != 40 ||
			h.BaseTimestamp != 1000 || h.MaxTimestamp != h0.MaxTimestamp || h.PartitionLeaderEpoch != 3 ||
			h.LastOffsetDelta != 1 || h.NumRecords != 2 {
			t.Fatalf("codec %d: header %+v, from %+v", codec, h, h0)
		}
		_, got, err := ReadRecords(out, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || string(got[0].Key) != "k1" || got[1].Key != nil || string(got[1].Value) != "v2" ||
			got[1].TimestampDelta != 5 || len(got[0].Headers) != 1 || string(got[0].Headers[0].Value) != "x" {
			t.Fatalf("codec %d: records %+v", codec, got)
		}
	}
}
