package txn

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Records of __transaction_state, as Kafka writes them: the key is
// TransactionLogKey v0 {transactional id}; the value TransactionLogValue
// v1 (flexible, with the previous and next producer ids and the client's
// transaction version as tagged fields), which Kafka writes from
// transaction.version 1 on; version 0 values (Kafka before 4.0) are read
// too. A null value is a tombstone: the id expired.
const (
	keyVersion   = 0
	valueVersion = 1
)

func txnKey(id string) []byte {
	k := kmsg.TxnMetadataKey{Version: keyVersion, TransactionalID: id}
	return k.AppendTo(nil)
}

// txnValue encodes a transit as Kafka's TransactionLogValue. An Empty
// transaction has a null partition list, as Kafka writes it.
func txnValue(t transit) []byte {
	v := kmsg.NewTxnMetadataValue()
	v.Version = valueVersion
	v.ProducerID = t.producerID
	v.ProducerEpoch = t.epoch
	v.TimeoutMillis = t.timeoutMs
	v.State = t.state
	v.LastUpdateTimestamp = t.updateMs
	v.StartTimestamp = t.startMs
	v.PreviousProducerID = t.prevProducerID
	v.NextProducerID = t.nextProducerID
	v.ClientTransactionVersion = t.clientTV
	if t.state != Empty {
		v.Topics = []kmsg.TxnMetadataValueTopic{}
		for _, tp := range t.partitions {
			if n := len(v.Topics); n == 0 || v.Topics[n-1].Topic != tp.Topic {
				v.Topics = append(v.Topics, kmsg.TxnMetadataValueTopic{Topic: tp.Topic})
			}
			last := &v.Topics[len(v.Topics)-1]
			last.Partitions = append(last.Partitions, tp.Partition)
		}
	}
	return v.AppendTo(nil)
}

// errUnknownKey: a key of a version this coordinator does not write (a
// later Kafka's record, or a left-over of an aborted upgrade, as Kafka's
// loader says): skipped.
var errUnknownKey = fmt.Errorf("txn: unknown key version")

// decodeRecord decodes one record of the log: the transactional id, and
// its state (nil for a tombstone). Errors: errUnknownKey, or a malformed
// key or value.
func decodeRecord(key, value []byte) (string, *transit, error) {
	if len(key) < 2 {
		return "", nil, fmt.Errorf("txn: key of %d bytes", len(key))
	}
	if v := int16(binary.BigEndian.Uint16(key)); v != keyVersion {
		return "", nil, fmt.Errorf("%w %d", errUnknownKey, v)
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return "", nil, fmt.Errorf("txn: key: %w", err)
	}
	if value == nil {
		return k.TransactionalID, nil, nil
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return "", nil, fmt.Errorf("txn: value of %q: %w", k.TransactionalID, err)
	}
	if v.Version < 0 || v.Version > 1 {
		return "", nil, fmt.Errorf("txn: value of %q: version %d", k.TransactionalID, v.Version)
	}
	if v.State < Empty || v.State > PrepareEpochFence {
		return "", nil, fmt.Errorf("txn: value of %q: state %d", k.TransactionalID, v.State)
	}
	t := &transit{
		state: v.State, producerID: v.ProducerID, prevProducerID: v.PreviousProducerID, nextProducerID: v.NextProducerID,
		epoch: v.ProducerEpoch, lastEpoch: noEpoch, timeoutMs: v.TimeoutMillis,
		startMs: v.StartTimestamp, updateMs: v.LastUpdateTimestamp, clientTV: v.ClientTransactionVersion,
	}
	if v.Version == 0 {
		// Tagged fields do not exist at v0; ReadFrom leaves their
		// defaults, which are what a v0 record means.
		t.prevProducerID, t.nextProducerID, t.clientTV = noProducerID, noProducerID, 0
	}
	if t.state != Empty {
		seen := map[TopicPartition]bool{}
		for _, topic := range v.Topics {
			for _, p := range topic.Partitions {
				tp := TopicPartition{Topic: topic.Topic, Partition: p}
				if !seen[tp] {
					seen[tp] = true
					t.partitions = append(t.partitions, tp)
				}
			}
		}
		slices.SortFunc(t.partitions, compareTP)
	}
	return k.TransactionalID, t, nil
}
