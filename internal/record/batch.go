// Package record reads, validates and rewrites Kafka record batches
// (magic v2) as they travel on the wire and sit on disk. It knows nothing
// of the network or of the log that stores the batches.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Byte layout of a v2 record batch header (all big endian). The CRC covers
// bytes [AttributesOffset, end of batch), so rewriting the base offset or
// the partition leader epoch needs no new CRC.
const (
	BaseOffsetOffset      = 0
	LengthOffset          = 8
	LeaderEpochOffset     = 12
	MagicOffset           = 16
	CRCOffset             = 17
	AttributesOffset      = 21
	LastOffsetDeltaOffset = 23
	BaseTimestampOffset   = 27
	MaxTimestampOffset    = 35
	ProducerIDOffset      = 43
	ProducerEpochOffset   = 51
	BaseSequenceOffset    = 53
	RecordCountOffset     = 57
	// HeaderSize is the size of the fixed batch header; records follow.
	HeaderSize = 61
	// LogOverhead is the size of baseOffset + batchLength: a batch occupies
	// LogOverhead + Length bytes.
	LogOverhead = 12
)

// Attribute bits.
const (
	AttrCompressionMask = 0x07
	AttrTimestampType   = 0x08 // 1 = LogAppendTime
	AttrTransactional   = 0x10
	AttrControl         = 0x20
	AttrDeleteHorizon   = 0x40
)

// Compression codecs as numbered in the attributes.
const (
	CodecNone   = 0
	CodecGzip   = 1
	CodecSnappy = 2
	CodecLZ4    = 3
	CodecZstd   = 4
)

// Sentinel values Kafka writes in batch headers.
const (
	NoTimestamp  = -1 // RecordBatch.NO_TIMESTAMP
	NoProducerID = -1 // a batch from a producer that is not idempotent
	NoSequence   = -1
)

// ErrShortBatch means the bytes end before the batch they start does.
var ErrShortBatch = errors.New("record: truncated batch")

// Header is the fixed part of a v2 record batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the whole batch's size in bytes.
func (h *Header) Size() int64 { return LogOverhead + int64(h.Length) }

// LastOffset is the offset of the batch's last record.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Codec is the compression codec from the attributes.
func (h *Header) Codec() int { return int(h.Attributes & AttrCompressionMask) }

// IsTransactional reports the transactional bit.
func (h *Header) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// IsControl reports the control-batch bit.
func (h *Header) IsControl() bool { return h.Attributes&AttrControl != 0 }

// IsLogAppendTime reports the timestamp-type bit: the broker's append time,
// stored as the batch's max timestamp, stands for every record's.
func (h *Header) IsLogAppendTime() bool { return h.Attributes&AttrTimestampType != 0 }

// RecordTimestamp is the timestamp of a record of this batch with the given
// timestamp delta.
func (h *Header) RecordTimestamp(delta int64) int64 {
	if h.IsLogAppendTime() {
		return h.MaxTimestamp
	}
	return h.BaseTimestamp + delta
}

// ParseHeader decodes the fixed header at the start of b. It checks only that
// the header is present and that Length is plausible; Validate checks the rest.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, ErrShortBatch
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[BaseOffsetOffset:]))
	h.Length = int32(binary.BigEndian.Uint32(b[LengthOffset:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[LeaderEpochOffset:]))
	h.Magic = int8(b[MagicOffset])
	h.CRC = binary.BigEndian.Uint32(b[CRCOffset:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[AttributesOffset:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[LastOffsetDeltaOffset:]))
	h.BaseTimestamp = int64(binary.BigEndian.Uint64(b[BaseTimestampOffset:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[MaxTimestampOffset:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[ProducerIDOffset:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[ProducerEpochOffset:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[BaseSequenceOffset:]))
	h.NumRecords = int32(binary.BigEndian.Uint32(b[RecordCountOffset:]))
	if h.Length < HeaderSize-LogOverhead {
		return h, fmt.Errorf("record: batch length %d below header size", h.Length)
	}
	return h, nil
}

// SetBaseOffset rewrites the base offset in place (not covered by the CRC).
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[BaseOffsetOffset:], uint64(off))
}

// SetPartitionLeaderEpoch rewrites the leader epoch in place (not covered by the CRC).
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[LeaderEpochOffset:], uint32(epoch))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ComputeCRC is the CRC-32C of batch bytes [AttributesOffset, end), the
// range the stored CRC covers. b must hold at least a header.
func ComputeCRC(b []byte) uint32 {
	return crc32.Checksum(b[AttributesOffset:], castagnoli)
}

// UpdateCRC stores ComputeCRC(b) in the header.
func UpdateCRC(b []byte) {
	binary.BigEndian.PutUint32(b[CRCOffset:], ComputeCRC(b))
}

// SetMaxTimestamp marks the batch CreateTime and stores ts as its max
// timestamp, recomputing the CRC only if either changed. Kafka's broker
// does this on append with the max it computed over the records, so a
// producer's wrong header never reaches the log or the time index.
func SetMaxTimestamp(b []byte, ts int64) { setMaxTimestamp(b, false, ts) }

// SetLogAppendTime marks the batch LogAppendTime and stores ts as its max
// timestamp, which then stands for every record's (the base timestamp and
// the deltas are left as the producer wrote them, as Kafka leaves them),
// and recomputes the CRC.
func SetLogAppendTime(b []byte, ts int64) { setMaxTimestamp(b, true, ts) }

func setMaxTimestamp(b []byte, logAppendTime bool, ts int64) {
	attrs := binary.BigEndian.Uint16(b[AttributesOffset:])
	next := attrs &^ AttrTimestampType
	if logAppendTime {
		next |= AttrTimestampType
	}
	if next == attrs && int64(binary.BigEndian.Uint64(b[MaxTimestampOffset:])) == ts {
		return
	}
	binary.BigEndian.PutUint16(b[AttributesOffset:], next)
	binary.BigEndian.PutUint64(b[MaxTimestampOffset:], uint64(ts))
	UpdateCRC(b)
}

// SplitBatches cuts b into the batches it holds, as sub-slices of b (capped,
// so appending to one cannot overwrite the next). It checks only the
// framing. When b ends inside a batch, the error wraps ErrShortBatch; a
// batch length below the header size is CORRUPT_MESSAGE. Either way the
// complete batches before the fault are returned with the error, for
// callers that keep a log's valid prefix.
func SplitBatches(b []byte) ([][]byte, error) {
	var batches [][]byte
	for pos := 0; pos < len(b); {
		rest := b[pos:]
		if len(rest) < LogOverhead {
			return batches, fmt.Errorf("%w: %d bytes at position %d", ErrShortBatch, len(rest), pos)
		}
		length := int32(binary.BigEndian.Uint32(rest[LengthOffset:]))
		if length < HeaderSize-LogOverhead {
			return batches, corrupt("batch length %d at position %d is below the header size", length, pos)
		}
		size := LogOverhead + int64(length)
		if int64(len(rest)) < size {
			return batches, fmt.Errorf("%w: %d of %d bytes at position %d", ErrShortBatch, len(rest), size, pos)
		}
		batches = append(batches, rest[:size:size])
		pos += int(size)
	}
	return batches, nil
}
