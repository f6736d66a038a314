package record

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ValidateOptions are the topic's settings that Validate enforces.
type ValidateOptions struct {
	// MaxDecompressedBytes bounds a compressed batch's records once
	// decompressed (<= 0: DefaultMaxDecompressedBytes). Keep it at 8 MiB
	// or more: a zstd stream from the Java client declares a window of up
	// to 8 MiB (2 MiB at the default level), and a window larger than the
	// bound is refused like an output larger than it.
	MaxDecompressedBytes int
	// MaxBatchBytes, if positive, is max.message.bytes: a larger batch is
	// MESSAGE_TOO_LARGE.
	MaxBatchBytes int
	// RequireKeys refuses records with a null key, as a compacted topic
	// does.
	RequireKeys bool
	// Now, when not zero, is the broker's clock (Unix ms), and a record
	// stamped more than TimestampBeforeMaxMs before it or
	// TimestampAfterMaxMs after it is INVALID_TIMESTAMP
	// (message.timestamp.before.max.ms and .after.max.ms, KIP-937; pass
	// math.MaxInt64 for no bound). Kafka applies the bounds only on topics
	// with message.timestamp.type=CreateTime, so leave Now zero on
	// LogAppendTime topics. Records with no timestamp (-1) pass.
	Now                  int64
	TimestampBeforeMaxMs int64
	TimestampAfterMaxMs  int64
	// Coordinator validates a coordinator's own batch: a producer id
	// without a sequence (a transactional offset commit) is allowed.
	Coordinator bool
}

// BatchInfo is what Validate learned about a batch.
type BatchInfo struct {
	Header Header // as the producer wrote it
	// NumRecords is the number of records, equal to Header.NumRecords.
	NumRecords int32
	// MaxTimestamp is the largest record timestamp, computed as Kafka does:
	// never below NoTimestamp (-1). Store it with SetMaxTimestamp, or use
	// SetLogAppendTime, before appending: the header's value is the
	// producer's claim.
	MaxTimestamp int64
	// OffsetOfMaxTimestampDelta is the offset delta of the first record
	// with MaxTimestamp (0 when no record exceeds -1).
	OffsetOfMaxTimestampDelta int32
	Codec                     int
	// UncompressedBytes is the size of the records section decompressed.
	UncompressedBytes int
}

// legacyMinRecordSize is the smallest magic v0 message (RECORD_OVERHEAD_V0):
// Kafka's batch iterator calls any shorter length corrupt before it reads
// the magic byte.
const legacyMinRecordSize = 14

// Validate checks one record batch as a producer sent it (Produce v3+
// carries exactly one per partition) and reports what the broker needs to
// append it. The checks and their order follow Kafka's broker: framing and
// magic (ProduceRequest.validateRecords), base offset, size and CRC
// (UnifiedLog.analyzeAndValidateRecords), then the batch and its records
// (LogValidator). Errors are *Error:
//
//   - INVALID_RECORD: b is not exactly one whole batch; magic 0 or 1; a
//     base offset other than 0; a record count that is not positive or
//     disagrees with the last offset delta; a control batch; a producer id
//     without a sequence; records that do not parse, do not fill the batch
//     or do not have offset deltas 0..n-1; a null key with RequireKeys.
//   - CORRUPT_MESSAGE: a length below any batch's; magic outside 0..2; a
//     CRC mismatch; a compressed payload that does not decode.
//   - UNSUPPORTED_COMPRESSION_TYPE: codec ids 5-7.
//   - MESSAGE_TOO_LARGE: over MaxBatchBytes, or inflating past
//     MaxDecompressedBytes.
//   - INVALID_TIMESTAMP: a LogAppendTime batch, or a record out of the
//     timestamp bounds.
//
// Where Kafka answers UNKNOWN_SERVER_ERROR or is laxer, the check says why
// samsa differs. Validate never panics; its allocations are bounded by
// MaxDecompressedBytes, never by what a batch claims; an uncompressed
// batch that passes costs none.
func Validate(b []byte, opts ValidateOptions) (BatchInfo, error) {
	var info BatchInfo
	h, err := validateFraming(b, opts)
	if err != nil {
		return info, err
	}
	// An uncompressed batch's records are scanned in the same pass as the
	// CRC; the scan's verdict counts only once the CRC and header pass.
	sc := newScan(h.NumRecords, h.BaseTimestamp)
	var crc uint32
	if h.Codec() == CodecNone {
		crc = crcAndScan(b, &sc)
	} else {
		crc = ComputeCRC(b)
	}
	if crc != h.CRC {
		return info, corrupt("CRC 0x%08x, computed 0x%08x", h.CRC, crc)
	}
	if err := validateHeader(&h, opts.Coordinator); err != nil {
		return info, err
	}
	records := b[HeaderSize:]
	if h.Codec() != CodecNone {
		scratch := getScratch()
		defer putScratch(scratch)
		*scratch, err = appendDecompressed((*scratch)[:0], h.Codec(), records, opts.MaxDecompressedBytes)
		if err != nil {
			return info, err
		}
		records = *scratch
		sc.run(records, len(records))
	}
	info = BatchInfo{
		Header:            h,
		NumRecords:        h.NumRecords,
		MaxTimestamp:      NoTimestamp,
		Codec:             h.Codec(),
		UncompressedBytes: len(records),
	}
	// The common batch (well formed, no headers, keys where required,
	// timestamps in bounds) is checked in one tight pass; anything else
	// goes through the iterator below, which words the error.
	if minTS, maxTS, maxIdx, nullKey, ok := sc.result(records); ok &&
		!(opts.RequireKeys && nullKey) && !h.IsLogAppendTime() &&
		// Bounds are an interval, so min and max decide for every
		// record, unless NoTimestamp (exempt) hides among real ones.
		(opts.Now == 0 || (minTS != NoTimestamp || maxTS == NoTimestamp) && !outOfBounds(minTS, &opts) && !outOfBounds(maxTS, &opts)) {
		info.MaxTimestamp, info.OffsetOfMaxTimestampDelta = maxTS, maxIdx
		return info, nil
	}
	var recordErrs []RecordError
	var badTimestamp bool
	it := newRecordIter(&h, records)
	var r rawRecord
	for {
		more, err := it.next(&r)
		if err != nil {
			return BatchInfo{}, err
		}
		if !more {
			break
		}
		i := it.index - 1
		ts := h.BaseTimestamp + r.timestampDelta
		if ts > info.MaxTimestamp {
			info.MaxTimestamp = ts
			info.OffsetOfMaxTimestampDelta = i
		}
		// Kafka reports a record's key error in preference to its
		// timestamp error, and every bad record, not just the first.
		switch {
		case opts.RequireKeys && r.key == nil:
			recordErrs = append(recordErrs, RecordError{i, "compacted topic cannot accept a record without a key"})
		case h.IsLogAppendTime():
			// Producers must not claim the broker's clock.
			recordErrs = append(recordErrs, RecordError{i, "producer set timestamp type LogAppendTime"})
			badTimestamp = true
		case opts.Now != 0 && outOfBounds(ts, &opts):
			recordErrs = append(recordErrs, RecordError{i, "timestamp out of the topic's accepted range"})
			badTimestamp = true
		}
	}
	if len(recordErrs) > 0 {
		first := recordErrs[0]
		e := invalid("%d of %d records refused; record %d: %s", len(recordErrs), h.NumRecords, first.Index, first.Msg)
		if badTimestamp {
			// Kafka answers INVALID_TIMESTAMP for the batch as soon as
			// any record has a timestamp error.
			e.Code = kerr.InvalidTimestamp.Code
		}
		e.RecordErrors = recordErrs
		return BatchInfo{}, e
	}
	return info, nil
}

// validateFraming checks what Kafka checks before the batch's content:
// that b is one batch, its magic, base offset and size. Validate checks
// the CRC next (for an uncompressed batch in one pass with the records).
func validateFraming(b []byte, opts ValidateOptions) (Header, error) {
	var h Header
	// Kafka's batch iterator yields no batch from bytes that end inside
	// one, and the produce path then says "must have at least one record
	// batch": INVALID_RECORD.
	if len(b) < LogOverhead {
		return h, invalid("%d bytes hold no record batch", len(b))
	}
	length := int32(binary.BigEndian.Uint32(b[LengthOffset:]))
	if length < legacyMinRecordSize {
		return h, corrupt("batch length %d", length)
	}
	if len(b) <= MagicOffset {
		return h, invalid("%d bytes hold no record batch", len(b))
	}
	// The iterator calls a magic byte outside 0..2 corrupt; the produce
	// path refuses v0 and v1 message sets from Produce v3+ with
	// INVALID_RECORD, not UNSUPPORTED_FOR_MESSAGE_FORMAT (which is for
	// transactional or idempotent data bound for an old message format).
	magic := int8(b[MagicOffset])
	if magic < 0 || magic > 2 {
		return h, corrupt("magic %d", magic)
	}
	size := LogOverhead + int64(length)
	if int64(len(b)) < size {
		return h, invalid("batch of %d bytes truncated to %d", size, len(b))
	}
	// Kafka ignores bytes after the first batch that do not form a whole
	// one, and refuses a second whole one with INVALID_RECORD. Stray bytes
	// are refused the same way here: nothing good follows a batch.
	if int64(len(b)) > size {
		return h, invalid("%d bytes after the batch", int64(len(b))-size)
	}
	if magic != 2 {
		return h, invalid("magic %d; Produce v3+ carries magic 2 batches only", magic)
	}
	if length < HeaderSize-LogOverhead {
		return h, corrupt("batch length %d below the v2 header size", length)
	}
	h, _ = ParseHeader(b)
	// Offsets are the broker's to assign; Kafka refuses anything else
	// from a client.
	if h.BaseOffset != 0 {
		return h, invalid("base offset %d, want 0", h.BaseOffset)
	}
	if opts.MaxBatchBytes > 0 && size > int64(opts.MaxBatchBytes) {
		return h, newError(kerr.MessageTooLarge, "batch of %d bytes exceeds max.message.bytes %d", size, opts.MaxBatchBytes)
	}
	return h, nil // the caller checks the CRC
}

// validateHeader applies LogValidator's batch checks for client data.
func validateHeader(h *Header, coordinator bool) error {
	if c := h.Codec(); c > CodecZstd {
		return unsupportedCodec(c)
	}
	if h.LastOffsetDelta < 0 {
		return invalid("last offset delta %d", h.LastOffsetDelta)
	}
	if h.NumRecords <= 0 {
		return invalid("record count %d", h.NumRecords)
	}
	// With the iterator's rising deltas within [0, LastOffsetDelta], this
	// makes the deltas exactly 0..n-1. Kafka checks consecutive deltas
	// only inside compressed batches ("inner record ... does not have
	// incremental offsets") and never rewrites an uncompressed batch's, so
	// gaps would reach the log and consumers; we refuse them everywhere.
	if int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
		return invalid("record count %d with last offset delta %d", h.NumRecords, h.LastOffsetDelta)
	}
	// Control records (transaction markers) are written by the
	// coordinator, never by a producer.
	if h.IsControl() {
		return invalid("clients may not write control batches")
	}
	if h.ProducerID >= 0 && h.BaseSequence < 0 && !coordinator {
		return invalid("producer id %d with base sequence %d", h.ProducerID, h.BaseSequence)
	}
	return nil
}

// outOfBounds applies message.timestamp.before/after.max.ms to a
// CreateTime record. The differences are taken unsigned so that no
// timestamp a producer can send overflows them.
func outOfBounds(ts int64, opts *ValidateOptions) bool {
	if ts == NoTimestamp {
		return false
	}
	if ts < opts.Now {
		return opts.TimestampBeforeMaxMs < 0 || uint64(opts.Now)-uint64(ts) > uint64(opts.TimestampBeforeMaxMs)
	}
	return opts.TimestampAfterMaxMs < 0 || uint64(ts)-uint64(opts.Now) > uint64(opts.TimestampAfterMaxMs)
}
