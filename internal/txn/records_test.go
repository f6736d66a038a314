package txn

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRecordRoundTrip: what the coordinator writes, it reads back as the
// same transit (the epoch before the last bump is not in Kafka's record).
func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	for _, in := range []transit{
		{state: Empty, producerID: 7, prevProducerID: 3, nextProducerID: -1, epoch: 2, lastEpoch: -1, timeoutMs: 60000, startMs: -1, updateMs: 1000},
		{state: Ongoing, producerID: 7, prevProducerID: -1, nextProducerID: -1, epoch: 2, lastEpoch: -1, timeoutMs: 60000,
			partitions: []TopicPartition{{"a", 0}, {"a", 3}, {"b", 1}}, startMs: 900, updateMs: 1000},
		{state: PrepareCommit, producerID: 7, prevProducerID: 6, nextProducerID: 8, epoch: 32767, lastEpoch: -1, timeoutMs: 1,
			partitions: []TopicPartition{{"__consumer_offsets", 12}}, startMs: 900, updateMs: 1000, clientTV: 2},
		{state: CompleteAbort, producerID: 7, prevProducerID: -1, nextProducerID: -1, epoch: 0, lastEpoch: -1, timeoutMs: 5, startMs: 900, updateMs: 1000},
	} {
		id, out, err := decodeRecord(txnKey("tx"), txnValue(in))
		if err != nil || id != "tx" || !reflect.DeepEqual(*out, in) {
			t.Errorf("round trip of %+v: %q %+v %v", in, id, out, err)
		}
	}
	if id, out, err := decodeRecord(txnKey("gone"), nil); err != nil || id != "gone" || out != nil {
		t.Errorf("tombstone: %q %+v %v", id, out, err)
	}
}

// TestRecordVersions: Kafka's value v0 (before 4.0, no tagged fields) is
// read; a key of another version is skipped as unknown; a bad state or
// truncated bytes are errors.
func TestRecordVersions(t *testing.T) {
	t.Parallel()
	v := kmsg.NewTxnMetadataValue()
	v.Version = 0
	v.ProducerID, v.ProducerEpoch, v.TimeoutMillis, v.State = 4, 1, 100, Ongoing
	v.Topics = []kmsg.TxnMetadataValueTopic{{Topic: "t", Partitions: []int32{2, 1}}}
	v.LastUpdateTimestamp, v.StartTimestamp = 10, 5
	_, out, err := decodeRecord(txnKey("x"), v.AppendTo(nil))
	want := transit{state: Ongoing, producerID: 4, prevProducerID: -1, nextProducerID: -1, epoch: 1, lastEpoch: -1, timeoutMs: 100,
		partitions: []TopicPartition{{"t", 1}, {"t", 2}}, startMs: 5, updateMs: 10}
	if err != nil || !reflect.DeepEqual(*out, want) {
		t.Fatalf("v0: %+v %v", out, err)
	}
	other := binary.BigEndian.AppendUint16(nil, 1)
	if _, _, err := decodeRecord(append(other, 0, 1, 'x'), nil); !errors.Is(err, errUnknownKey) {
		t.Fatalf("key v1: %v", err)
	}
	v.State = 9
	if _, _, err := decodeRecord(txnKey("x"), v.AppendTo(nil)); err == nil {
		t.Fatal("state 9 decoded")
	}
	good := txnValue(want)
	if _, _, err := decodeRecord(txnKey("x"), good[:len(good)-3]); err == nil {
		t.Fatal("truncated value decoded")
	}
}

// FuzzDecodeRecord: any bytes read from __transaction_state decode or fail
// without panicking, and what decodes encodes back to what it decodes to.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(txnKey("tx"), txnValue(transit{state: Ongoing, producerID: 1, epoch: 1, partitions: []TopicPartition{{"t", 0}}}))
	f.Add(txnKey(""), []byte(nil))
	f.Add([]byte{0, 1, 0}, []byte{0, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		id, out, err := decodeRecord(key, value)
		if err != nil || out == nil {
			return
		}
		id2, again, err := decodeRecord(txnKey(id), txnValue(*out))
		if err != nil || id2 != id || !reflect.DeepEqual(again, out) {
			t.Fatalf("re-encoding %+v: %+v %v", out, again, err)
		}
	})
}
