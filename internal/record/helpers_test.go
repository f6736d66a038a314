package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

var codecs = []int{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

// plain are the header fields of a batch from a producer that is not
// idempotent, as the Java client sends them.
var plain = BuildOptions{
	ProducerID:           NoProducerID,
	ProducerEpoch:        -1,
	BaseSequence:         NoSequence,
	BaseTimestamp:        1_700_000_000_000,
	PartitionLeaderEpoch: -1,
}

// words makes compressible, deterministic text of n bytes.
func words(seed uint64, n int) []byte {
	vocab := strings.Fields("kafka broker partition offset leader replica segment index batch record producer consumer")
	r := rand.New(rand.NewPCG(seed, seed))
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(vocab[r.IntN(len(vocab))])
		sb.WriteByte(' ')
	}
	return []byte(sb.String()[:n])
}

// sampleRecords covers every field shape: null and empty keys and values,
// headers with null and empty values, negative and large timestamp deltas.
func sampleRecords() []Record {
	return []Record{
		{TimestampDelta: 0, OffsetDelta: 0, Key: []byte("k0"), Value: []byte("v0")},
		{TimestampDelta: 5, OffsetDelta: 1, Key: nil, Value: []byte("no key")},
		{TimestampDelta: -3, OffsetDelta: 2, Key: []byte{}, Value: nil,
			Headers: []RecordHeader{{Key: "h", Value: []byte("x")}, {Key: "", Value: nil}, {Key: "e", Value: []byte{}}}},
		{TimestampDelta: 1 << 40, OffsetDelta: 3, Key: []byte("k3"), Value: words(3, 3000)},
		{TimestampDelta: 1 << 40, OffsetDelta: 4, Key: []byte("k4"), Value: words(4, 10)},
	}
}

// bigRecords are n records with valueSize-byte values.
func bigRecords(n, valueSize int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{
			TimestampDelta: int64(i),
			OffsetDelta:    int32(i),
			Key:            fmt.Appendf(nil, "key-%d", i),
			Value:          words(uint64(i), valueSize),
		}
	}
	return recs
}

func mustBuild(t testing.TB, codec int, recs []Record, opts BuildOptions) []byte {
	t.Helper()
	b, err := BuildBatch(codec, 0, recs, opts)
	if err != nil {
		t.Fatalf("BuildBatch(%s): %v", codecName(codec), err)
	}
	return b
}

// rawBatch wraps a hand-written records section (compressed with codec)
// in a header declaring count records, with a correct CRC.
func rawBatch(t testing.TB, codec int, count int32, section []byte) []byte {
	t.Helper()
	b := mustBuild(t, CodecNone, nil, plain)
	body, err := Compress(codec, section)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[LengthOffset:], uint32(len(b)-LogOverhead))
	binary.BigEndian.PutUint16(b[AttributesOffset:], uint16(codec))
	binary.BigEndian.PutUint32(b[LastOffsetDeltaOffset:], uint32(count-1))
	binary.BigEndian.PutUint32(b[RecordCountOffset:], uint32(count))
	UpdateCRC(b)
	return b
}

// wantCode asserts that err is an *Error with the given Kafka code, and
// that errors.Is sees the kerr value.
func wantCode(t testing.TB, err error, want *kerr.Error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error with %s", err, err, want.Message)
	}
	if e.Code != want.Code || !errors.Is(err, want) {
		t.Fatalf("error %v: code %d, want %d (%s)", err, e.Code, want.Code, want.Message)
	}
	if !strings.HasPrefix(err.Error(), "record: ") {
		t.Fatalf("error %q lacks the package prefix", err)
	}
	return e
}
