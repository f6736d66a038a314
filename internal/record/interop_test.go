package record

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kmsgSection encodes records with franz-go's kmsg, an encoder written
// independently of ours.
func kmsgSection(recs []Record) []byte {
	var section []byte
	for _, r := range recs {
		kr := kmsg.Record{
			Attributes:       r.Attributes,
			TimestampDelta64: r.TimestampDelta,
			OffsetDelta:      r.OffsetDelta,
			Key:              r.Key,
			Value:            r.Value,
		}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		// Length counts what follows it; measure with a zero length, which
		// encodes in one byte.
		kr.Length = int32(len(kr.AppendTo(nil)) - 1)
		section = kr.AppendTo(section)
	}
	return section
}

var kgoCodecs = map[int]kgo.CompressionCodec{
	CodecGzip:   kgo.GzipCompression(),
	CodecSnappy: kgo.SnappyCompression(),
	CodecLZ4:    kgo.Lz4Compression(),
	CodecZstd:   kgo.ZstdCompression(),
}

// TestFranzGoProducedBatch: a batch as franz-go's producer builds it
// (kmsg records, kgo's compressor, kmsg's batch encoder, CRC-32C from the
// standard library) validates and reads back.
func TestFranzGoProducedBatch(t *testing.T) {
	t.Parallel()
	recs := sampleRecords()
	section := kmsgSection(recs)
	if ours := mustBuild(t, CodecNone, recs, plain)[HeaderSize:]; !bytes.Equal(ours, section) {
		t.Fatalf("records section differs from kmsg's:\n% x\n% x", ours, section)
	}
	for _, codec := range codecs {
		t.Run(codecName(codec), func(t *testing.T) {
			t.Parallel()
			payload := section
			if codec != CodecNone {
				c, err := kgo.DefaultCompressor(kgoCodecs[codec])
				if err != nil {
					t.Fatal(err)
				}
				out, used := c.Compress(new(bytes.Buffer), section)
				if int(used) != codec {
					t.Fatalf("kgo compressed with codec %d", used)
				}
				payload = append([]byte(nil), out...)
			}
			rb := kmsg.RecordBatch{
				Length:               int32(HeaderSize - LogOverhead + len(payload)),
				PartitionLeaderEpoch: -1,
				Magic:                2,
				Attributes:           int16(codec),
				LastOffsetDelta:      int32(len(recs) - 1),
				FirstTimestamp:       plain.BaseTimestamp,
				MaxTimestamp:         plain.BaseTimestamp + 1<<40,
				ProducerID:           -1,
				ProducerEpoch:        -1,
				FirstSequence:        -1,
				NumRecords:           int32(len(recs)),
				Records:              payload,
			}
			b := rb.AppendTo(nil)
			binary.BigEndian.PutUint32(b[CRCOffset:], crc32.Checksum(b[AttributesOffset:], crc32.MakeTable(crc32.Castagnoli)))

			info, err := Validate(b, ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if info.NumRecords != 5 || info.MaxTimestamp != rb.MaxTimestamp || info.UncompressedBytes != len(section) {
				t.Fatalf("info %+v", info)
			}
			_, got, err := ReadRecords(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, recs) {
				t.Fatalf("records differ:\n got %+v\nwant %+v", got, recs)
			}
		})
	}
}

// TestFranzGoConsumesOurBatch: franz-go's decoder reads the batches
// BuildBatch writes, header and compressed records alike.
func TestFranzGoConsumesOurBatch(t *testing.T) {
	t.Parallel()
	recs := sampleRecords()
	section := kmsgSection(recs)
	dec := kgo.DefaultDecompressor()
	for _, codec := range codecs {
		b := mustBuild(t, codec, recs, plain)
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatalf("%s: kmsg: %v", codecName(codec), err)
		}
		if int(rb.Length) != len(b)-LogOverhead || uint32(rb.CRC) != crc32.Checksum(b[AttributesOffset:], crc32.MakeTable(crc32.Castagnoli)) ||
			rb.NumRecords != 5 || rb.LastOffsetDelta != 4 || rb.MaxTimestamp != plain.BaseTimestamp+1<<40 {
			t.Fatalf("%s: kmsg read %+v", codecName(codec), rb)
		}
		records := rb.Records
		if codec != CodecNone {
			out, err := dec.Decompress(rb.Records, kgo.CompressionCodecType(codec))
			if err != nil {
				t.Fatalf("%s: kgo: %v", codecName(codec), err)
			}
			records = out
		}
		if !bytes.Equal(records, section) {
			t.Fatalf("%s: kgo decompressed something else", codecName(codec))
		}
	}
}
