package record

import (
	"errors"
	"fmt"
)

// Record is one record of a v2 batch. Key, Value and header values are nil
// when null, which Kafka distinguishes from empty (a null value is a
// tombstone on a compacted topic).
type Record struct {
	Attributes     int8 // unused by Kafka so far; kept as read
	TimestampDelta int64
	OffsetDelta    int32
	Key, Value     []byte
	Headers        []RecordHeader
}

// RecordHeader is a record header: the key is a non-null string, the value
// nullable.
type RecordHeader struct {
	Key   string
	Value []byte
}

// minRecordSize is the smallest encoded record: one byte each for the
// length, attributes, timestamp delta, offset delta, key length, value
// length and header count.
const minRecordSize = 7

// rawRecord is a decoded record whose fields still point into the records
// section, with the headers left encoded so that validation allocates
// nothing.
type rawRecord struct {
	attributes     int8
	timestampDelta int64
	offsetDelta    int32
	key, value     []byte
	numHeaders     int
	headers        []byte // numHeaders encoded headers, already checked
}

// decodeRecord decodes the record at the start of b and returns the bytes
// after it. The error text is completed by the caller with the record's
// index.
func decodeRecord(b []byte, r *rawRecord) (rest []byte, err error) {
	size, n := readVarint(b)
	if n == 0 {
		return nil, errors.New("malformed length varint")
	}
	b = b[n:]
	if size < 0 || int(size) > len(b) {
		return nil, fmt.Errorf("length %d with %d bytes left in the batch", size, len(b))
	}
	body, rest := b[:size], b[size:]
	if len(body) == 0 {
		return nil, errors.New("empty record")
	}
	r.attributes = int8(body[0])
	body = body[1:]
	if r.timestampDelta, n = readVarlong(body); n == 0 {
		return nil, errors.New("malformed timestamp delta")
	}
	body = body[n:]
	if r.offsetDelta, n = readVarint(body); n == 0 {
		return nil, errors.New("malformed offset delta")
	}
	body = body[n:]
	var ok bool
	if r.key, body, ok = readNullableBytes(body); !ok {
		return nil, errors.New("malformed key")
	}
	if r.value, body, ok = readNullableBytes(body); !ok {
		return nil, errors.New("malformed value")
	}
	count, n := readVarint(body)
	// Every header takes at least two bytes, which bounds the count before
	// anyone sizes a slice by it.
	if n == 0 || count < 0 || int(count) > (len(body)-n)/2 {
		return nil, fmt.Errorf("header count %d with %d bytes left in the record", count, len(body)-n)
	}
	body = body[n:]
	r.numHeaders = int(count)
	r.headers = body
	for i := range r.numHeaders {
		kl, n := readVarint(body)
		if n == 0 || kl < 0 || int(kl) > len(body)-n {
			return nil, fmt.Errorf("header %d: malformed key", i)
		}
		if _, body, ok = readNullableBytes(body[n+int(kl):]); !ok {
			return nil, fmt.Errorf("header %d: malformed value", i)
		}
	}
	if len(body) != 0 {
		return nil, fmt.Errorf("%d bytes left over inside the record's length %d", len(body), size)
	}
	return rest, nil
}

// appendHeaders decodes r's headers, which decodeRecord has checked.
func (r *rawRecord) appendHeaders(dst []RecordHeader) []RecordHeader {
	b := r.headers
	for range r.numHeaders {
		kl, n := readVarint(b)
		key := string(b[n : n+int(kl)])
		var value []byte
		value, b, _ = readNullableBytes(b[n+int(kl):])
		dst = append(dst, RecordHeader{Key: key, Value: value})
	}
	return dst
}

// recordIter walks a batch's decompressed records section. It checks
// what every reader of a batch relies on: the records fill the section
// exactly, their number is the header's, and offset deltas rise within
// [0, LastOffsetDelta]. Deltas may skip values: compaction removes records
// from a batch and keeps its offset range.
type recordIter struct {
	rest            []byte
	numRecords      int32
	lastOffsetDelta int32
	index           int32
	prevDelta       int32
}

func newRecordIter(h *Header, records []byte) recordIter {
	return recordIter{rest: records, numRecords: h.NumRecords, lastOffsetDelta: h.LastOffsetDelta, prevDelta: -1}
}

// next decodes the next record into r. It returns false with a nil error
// once all records are read.
func (it *recordIter) next(r *rawRecord) (bool, error) {
	if it.index == it.numRecords {
		if len(it.rest) != 0 {
			return false, invalid("%d bytes left after the batch's %d records", len(it.rest), it.numRecords)
		}
		return false, nil
	}
	if len(it.rest) == 0 {
		return false, invalid("batch declares %d records but holds %d", it.numRecords, it.index)
	}
	rest, err := decodeRecord(it.rest, r)
	if err != nil {
		return false, invalid("record %d: %v", it.index, err)
	}
	if r.offsetDelta <= it.prevDelta || r.offsetDelta > it.lastOffsetDelta {
		return false, invalid("record %d: offset delta %d after %d, last offset delta %d",
			it.index, r.offsetDelta, it.prevDelta, it.lastOffsetDelta)
	}
	it.rest = rest
	it.prevDelta = r.offsetDelta
	it.index++
	return true, nil
}

// openBatch checks the framing of one stored batch and returns its header
// and records section, decompressed into *scratch (which it keeps grown)
// when compressed, or into a fresh buffer when scratch is nil. The batch is
// assumed to have passed a CRC check (on append or on recovery); openBatch
// does not repeat it.
func openBatch(b []byte, limit int, scratch *[]byte) (Header, []byte, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, nil, corrupt("%v", err)
	}
	if h.Size() != int64(len(b)) {
		return h, nil, corrupt("batch length %d in %d bytes", h.Length, len(b))
	}
	if h.Magic != 2 {
		return h, nil, corrupt("magic %d, want 2", h.Magic)
	}
	if h.NumRecords < 0 {
		return h, nil, corrupt("record count %d", h.NumRecords)
	}
	if h.Codec() == CodecNone {
		return h, b[HeaderSize:], nil
	}
	var dst []byte
	if scratch != nil {
		dst = (*scratch)[:0]
	}
	records, err := appendDecompressed(dst, h.Codec(), b[HeaderSize:], limit)
	if scratch != nil {
		*scratch = records[:0]
	}
	return h, records, err
}

// ReadRecords decodes every record of one batch, decompressing it with at
// most limit bytes of output (limit <= 0 means DefaultMaxDecompressedBytes).
// Keys, values and header values alias batch when it is uncompressed and a
// fresh buffer otherwise; copy them to keep them past batch's lifetime.
// Control batches and compacted batches (fewer records than the offset
// range, even none) are read as they are. The CRC is not checked.
func ReadRecords(batch []byte, limit int) (Header, []Record, error) {
	h, data, err := openBatch(batch, limit, nil)
	if err != nil {
		return h, nil, err
	}
	records := make([]Record, 0, min(int(h.NumRecords), len(data)/minRecordSize))
	it := newRecordIter(&h, data)
	var r rawRecord
	for {
		ok, err := it.next(&r)
		if err != nil {
			return h, nil, err
		}
		if !ok {
			return h, records, nil
		}
		rec := Record{
			Attributes:     r.attributes,
			TimestampDelta: r.timestampDelta,
			OffsetDelta:    r.offsetDelta,
			Key:            r.key,
			Value:          r.value,
		}
		if r.numHeaders > 0 {
			rec.Headers = r.appendHeaders(make([]RecordHeader, 0, r.numHeaders))
		}
		records = append(records, rec)
	}
}

// EachKey calls fn with the key of each record of batch (nil for a null
// key), in order, decompressing the batch with at most limit bytes of output
// into a pooled buffer; a key aliases batch or that buffer, so it is valid
// only during fn. It stops at the first malformed record, after the keys
// before it. The CRC is not checked.
func EachKey(batch []byte, limit int, fn func(key []byte)) error {
	scratch := getScratch()
	defer putScratch(scratch)
	h, data, err := openBatch(batch, limit, scratch)
	if err != nil {
		return err
	}
	it := newRecordIter(&h, data)
	var r rawRecord
	for {
		more, err := it.next(&r)
		if err != nil || !more {
			return err
		}
		fn(r.key)
	}
}

// FindTimestamp returns the offset and timestamp of the first record of
// batch whose timestamp is at least ts, for ListOffsets by time; ok is
// false when no record qualifies. In a LogAppendTime batch every record
// carries the batch's max timestamp.
func FindTimestamp(batch []byte, ts int64, limit int) (offset, timestamp int64, ok bool, err error) {
	scratch := getScratch()
	defer putScratch(scratch)
	h, data, err := openBatch(batch, limit, scratch)
	if err != nil {
		return -1, -1, false, err
	}
	it := newRecordIter(&h, data)
	var r rawRecord
	for {
		more, err := it.next(&r)
		if err != nil {
			return -1, -1, false, err
		}
		if !more {
			return -1, -1, false, nil
		}
		if t := h.RecordTimestamp(r.timestampDelta); t >= ts {
			return h.BaseOffset + int64(r.offsetDelta), t, true, nil
		}
	}
}

// MaxTimestampRecord returns the offset of the first record of batch whose
// timestamp equals the batch's max timestamp, and that timestamp, as Kafka
// answers ListOffsets with MAX_TIMESTAMP (-3, KIP-734). It returns -1, -1
// when no record matches (an emptied batch, or a max timestamp the broker
// never rewrote).
func MaxTimestampRecord(batch []byte, limit int) (offset, timestamp int64, err error) {
	scratch := getScratch()
	defer putScratch(scratch)
	h, data, err := openBatch(batch, limit, scratch)
	if err != nil {
		return -1, -1, err
	}
	it := newRecordIter(&h, data)
	var r rawRecord
	for {
		more, err := it.next(&r)
		if err != nil {
			return -1, -1, err
		}
		if !more {
			return -1, -1, nil
		}
		if h.RecordTimestamp(r.timestampDelta) == h.MaxTimestamp {
			return h.BaseOffset + int64(r.offsetDelta), h.MaxTimestamp, nil
		}
	}
}
