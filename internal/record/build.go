package record

import (
	"encoding/binary"
	"fmt"
	"math"
)

// BuildOptions are the header fields of a batch that BuildBatch does not
// derive from its records. The zero value is an idempotent batch of
// producer 0: set ProducerID and BaseSequence to NoProducerID and
// NoSequence for a plain one.
type BuildOptions struct {
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	BaseTimestamp        int64
	PartitionLeaderEpoch int32
	// Attributes supplies the timestamp-type, transactional and control
	// bits; the codec bits come from BuildBatch's codec argument.
	Attributes int16
	// MaxTimestamp is written for a LogAppendTime batch (the append time)
	// and for a batch without records; otherwise the max is computed from
	// the records, as Validate computes it.
	MaxTimestamp int64
	// LastOffsetDelta is written when larger than the last record's offset
	// delta: the log cleaner keeps a batch's offset range after dropping
	// records from it, even all of them.
	LastOffsetDelta int32
}

// BuildBatch encodes records as one magic v2 batch compressed with codec,
// with a correct length and CRC. The records' offset and timestamp deltas
// are written as given, so tests can build batches that Validate refuses.
func BuildBatch(codec int, baseOffset int64, records []Record, opts BuildOptions) ([]byte, error) {
	if codec < CodecNone || codec > CodecZstd {
		return nil, unsupportedCodec(codec)
	}
	// Uncompressed records are encoded in place after the header.
	var body []byte
	if codec == CodecNone {
		body = make([]byte, HeaderSize)
	}
	maxTS := int64(NoTimestamp)
	lastDelta := opts.LastOffsetDelta
	for i := range records {
		r := &records[i]
		var err error
		if body, err = appendRecord(body, r); err != nil {
			return nil, fmt.Errorf("record: record %d: %w", i, err)
		}
		maxTS = max(maxTS, opts.BaseTimestamp+r.TimestampDelta)
		lastDelta = max(lastDelta, r.OffsetDelta)
	}
	if len(records) == 0 || opts.Attributes&AttrTimestampType != 0 {
		maxTS = opts.MaxTimestamp
	}

	b := body
	if codec != CodecNone {
		var err error
		if b, err = appendCompressed(make([]byte, HeaderSize, HeaderSize+len(body)/2), codec, body); err != nil {
			return nil, err
		}
	}
	if len(b)-LogOverhead > math.MaxInt32 {
		return nil, fmt.Errorf("record: batch of %d bytes is too large", len(b))
	}
	be := binary.BigEndian
	be.PutUint64(b[BaseOffsetOffset:], uint64(baseOffset))
	be.PutUint32(b[LengthOffset:], uint32(len(b)-LogOverhead))
	be.PutUint32(b[LeaderEpochOffset:], uint32(opts.PartitionLeaderEpoch))
	b[MagicOffset] = 2
	be.PutUint16(b[AttributesOffset:], uint16(opts.Attributes&^AttrCompressionMask|int16(codec)))
	be.PutUint32(b[LastOffsetDeltaOffset:], uint32(lastDelta))
	be.PutUint64(b[BaseTimestampOffset:], uint64(opts.BaseTimestamp))
	be.PutUint64(b[MaxTimestampOffset:], uint64(maxTS))
	be.PutUint64(b[ProducerIDOffset:], uint64(opts.ProducerID))
	be.PutUint16(b[ProducerEpochOffset:], uint16(opts.ProducerEpoch))
	be.PutUint32(b[BaseSequenceOffset:], uint32(opts.BaseSequence))
	be.PutUint32(b[RecordCountOffset:], uint32(len(records)))
	UpdateCRC(b)
	return b, nil
}

// appendRecord encodes one record: its length, then the fields that
// decodeRecord reads.
func appendRecord(dst []byte, r *Record) ([]byte, error) {
	size := 1 + varlongLen(r.TimestampDelta) + varintLen(r.OffsetDelta) +
		nullableBytesLen(r.Key) + nullableBytesLen(r.Value) + varintLen(int32(len(r.Headers)))
	for _, h := range r.Headers {
		size += varintLen(int32(len(h.Key))) + len(h.Key) + nullableBytesLen(h.Value)
	}
	if size > math.MaxInt32 || len(r.Key) > math.MaxInt32 || len(r.Value) > math.MaxInt32 {
		return dst, fmt.Errorf("%d bytes is too large", size)
	}
	dst = appendVarint(dst, int32(size))
	dst = append(dst, byte(r.Attributes))
	dst = appendVarlong(dst, r.TimestampDelta)
	dst = appendVarint(dst, r.OffsetDelta)
	dst = appendNullableBytes(dst, r.Key)
	dst = appendNullableBytes(dst, r.Value)
	dst = appendVarint(dst, int32(len(r.Headers)))
	for _, h := range r.Headers {
		dst = appendVarint(dst, int32(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendNullableBytes(dst, h.Value)
	}
	return dst, nil
}

// Recompress re-encodes a validated batch with another codec, keeping
// everything else: base offset, producer id, epoch and sequence, leader
// epoch, timestamps and the other attribute bits. Brokers do this for
// topics whose compression.type is not "producer".
func Recompress(batch []byte, codec int, limit int) ([]byte, error) {
	h, recs, err := ReadRecords(batch, limit)
	if err != nil {
		return nil, err
	}
	return BuildBatch(codec, h.BaseOffset, recs, BuildOptions{
		ProducerID:           h.ProducerID,
		ProducerEpoch:        h.ProducerEpoch,
		BaseSequence:         h.BaseSequence,
		BaseTimestamp:        h.BaseTimestamp,
		MaxTimestamp:         h.MaxTimestamp,
		PartitionLeaderEpoch: h.PartitionLeaderEpoch,
		Attributes:           h.Attributes,
		LastOffsetDelta:      h.LastOffsetDelta,
	})
}
