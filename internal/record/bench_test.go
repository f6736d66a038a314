package record

import "testing"

// BenchmarkValidate measures the produce hot path on a 16 KiB batch of
// sixteen 1 KiB records, per codec. Bytes/s counts uncompressed bytes.
func BenchmarkValidate(b *testing.B) {
	recs := bigRecords(16, 1000)
	size := len(mustBuild(b, CodecNone, recs, plain)) - HeaderSize
	opts := ValidateOptions{MaxDecompressedBytes: 1 << 20}
	for _, codec := range codecs {
		batch := mustBuild(b, codec, recs, plain)
		b.Run(codecName(codec), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Validate(batch, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidateSmallRecords: the produce hot path for 100-byte records,
// where the per-record parse dominates.
func BenchmarkValidateSmallRecords(b *testing.B) {
	benchValidateNone(b, bigRecords(1000, 100))
}

// BenchmarkValidateProducerBatch: a batch as franz-go's producer sends it
// under load in `samsa perf produce --record-size 100`: 3,000 records with
// null keys and 100-byte values, a few milliseconds of timestamp spread.
func BenchmarkValidateProducerBatch(b *testing.B) {
	recs := bigRecords(3000, 100)
	for i := range recs {
		recs[i].Key = nil
		recs[i].TimestampDelta = int64(i / 600)
	}
	benchValidateNone(b, recs)
}

// benchValidateNone validates one uncompressed batch of recs per op.
func benchValidateNone(b *testing.B, recs []Record) {
	batch := mustBuild(b, CodecNone, recs, plain)
	opts := ValidateOptions{MaxDecompressedBytes: 1 << 20}
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(batch, opts); err != nil {
			b.Fatal(err)
		}
	}
}
