package record

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Transaction markers (Kafka's EndTransactionMarker): a control batch
// (attributes control|transactional, no sequence) of one record whose key
// is {version int16 = 0, type int16: 0 abort, 1 commit} and whose value is
// {version int16 = 0, coordinatorEpoch int32}. The transaction coordinator
// has them written to every partition of a transaction when it ends; they
// carry the producer id and epoch of the transaction they end.

// Control record types (the key's type field).
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// Marker is a transaction marker.
type Marker struct {
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32
	Commit           bool
	Timestamp        int64 // ms; the batch's base and max timestamp
}

// ErrNotMarker: a control batch that is not a transaction marker (an
// unknown control type, or no record), or not a control batch at all.
var ErrNotMarker = errors.New("record: not a transaction marker")

// BuildMarker encodes m as a control batch at base offset 0 (the log
// assigns the offset).
func BuildMarker(m Marker) []byte {
	typ := ControlAbort
	if m.Commit {
		typ = ControlCommit
	}
	key := binary.BigEndian.AppendUint16(make([]byte, 2, 4), uint16(typ))
	val := binary.BigEndian.AppendUint32(make([]byte, 2, 6), uint32(m.CoordinatorEpoch))
	b, err := BuildBatch(CodecNone, 0, []Record{{Key: key, Value: val}}, BuildOptions{
		ProducerID:    m.ProducerID,
		ProducerEpoch: m.ProducerEpoch,
		BaseSequence:  NoSequence,
		BaseTimestamp: m.Timestamp,
		Attributes:    AttrControl | AttrTransactional,
	})
	if err != nil {
		panic(err) // an uncompressed batch of one small record always encodes
	}
	return b
}

// ControlType returns the type of a control record's key (ControlAbort,
// ControlCommit, or another Kafka defines); an error when the key is
// shorter than 4 bytes.
func ControlType(key []byte) (int16, error) {
	if len(key) < 4 {
		return 0, fmt.Errorf("%w: control key of %d bytes", ErrNotMarker, len(key))
	}
	return int16(binary.BigEndian.Uint16(key[2:])), nil
}

// ParseMarker decodes a transaction marker batch (a whole batch, as
// stored). A control batch of another type, or a malformed one, is an
// error wrapping ErrNotMarker; limit bounds decompression.
func ParseMarker(batch []byte, limit int) (Marker, error) {
	h, recs, err := ReadRecords(batch, limit)
	if err != nil {
		return Marker{}, fmt.Errorf("%w: %w", ErrNotMarker, err)
	}
	if !h.IsControl() {
		return Marker{}, fmt.Errorf("%w: not a control batch", ErrNotMarker)
	}
	if len(recs) == 0 {
		return Marker{}, fmt.Errorf("%w: control batch without records", ErrNotMarker)
	}
	typ, err := ControlType(recs[0].Key)
	if err != nil {
		return Marker{}, err
	}
	if typ != ControlAbort && typ != ControlCommit {
		return Marker{}, fmt.Errorf("%w: control type %d", ErrNotMarker, typ)
	}
	m := Marker{ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, Commit: typ == ControlCommit, Timestamp: h.BaseTimestamp}
	if v := recs[0].Value; len(v) >= 6 {
		m.CoordinatorEpoch = int32(binary.BigEndian.Uint32(v[2:]))
	} else {
		return Marker{}, fmt.Errorf("%w: marker value of %d bytes", ErrNotMarker, len(v))
	}
	return m, nil
}
