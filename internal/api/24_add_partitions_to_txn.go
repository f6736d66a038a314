package api

// AddPartitionsToTxn, versions 0-5.
//
// v1 is v0 again; v2 answers PRODUCER_FENCED (below it,
// INVALID_PRODUCER_EPOCH); v3 is flexible; v4 batches transactions
// (KIP-890 part 1), each with VerifyOnly, and is sent by partition leaders
// verifying a transactional produce rather than by clients; v5 is v4
// again (a coordinator may answer TRANSACTION_ABORTABLE). A partition of a
// topic that does not exist fails its transaction: it is
// UNKNOWN_TOPIC_OR_PARTITION and every other partition of the transaction
// OPERATION_NOT_ATTEMPTED, as Kafka answers.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/txn"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(24, 0, 5, (*Handler).addPartitionsToTxn) }

// errNoTxns answers transaction requests on a broker without a
// transaction coordinator.
var errNoTxns = kerr.CoordinatorNotAvailable

func (h *Handler) addPartitionsToTxn(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.AddPartitionsToTxnRequest)
	txns := r.Transactions
	if req.Version < 4 {
		txns = []kmsg.AddPartitionsToTxnRequestTransaction{{
			TransactionalID: r.TransactionalID, ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch,
		}}
		for _, t := range r.Topics {
			txns[0].Topics = append(txns[0].Topics, kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	results := make([]func(context.Context) map[txn.TopicPartition]int16, len(txns))
	parts := make([][]txn.TopicPartition, len(txns))
	for i, t := range txns {
		parts[i] = txnPartitions(t.Topics)
		results[i] = h.addTxnPartitions(req.Version, t, parts[i])
	}
	return func(ctx context.Context) wire.Response {
		resp := kmsg.NewPtrAddPartitionsToTxnResponse()
		for i, t := range txns {
			codes := results[i](ctx)
			rt := kmsg.NewAddPartitionsToTxnResponseTransaction()
			rt.TransactionalID = t.TransactionalID
			for _, tp := range parts[i] {
				if n := len(rt.Topics); n == 0 || rt.Topics[n-1].Topic != tp.Topic {
					rt.Topics = append(rt.Topics, kmsg.AddPartitionsToTxnResponseTransactionTopic{Topic: tp.Topic})
				}
				last := &rt.Topics[len(rt.Topics)-1]
				last.Partitions = append(last.Partitions, kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{Partition: tp.Partition, ErrorCode: codes[tp]})
			}
			resp.Transactions = append(resp.Transactions, rt)
		}
		if req.Version < 4 {
			for _, rt := range resp.Transactions {
				for _, t := range rt.Topics {
					ot := kmsg.AddPartitionsToTxnResponseTopic{Topic: t.Topic}
					for _, p := range t.Partitions {
						ot.Partitions = append(ot.Partitions, kmsg.AddPartitionsToTxnResponseTopicPartition{Partition: p.Partition, ErrorCode: p.ErrorCode})
					}
					resp.Topics = append(resp.Topics, ot)
				}
			}
			resp.Transactions = nil
		}
		resp.SetVersion(req.Version)
		return wire.Response{Msg: resp}
	}
}

// txnPartitions lists a request's partitions in order, each once (the
// answer names each once too).
func txnPartitions(topics []kmsg.AddPartitionsToTxnRequestTransactionTopic) []txn.TopicPartition {
	var out []txn.TopicPartition
	seen := map[txn.TopicPartition]bool{}
	for _, t := range topics {
		for _, p := range t.Partitions {
			tp := txn.TopicPartition{Topic: t.Topic, Partition: p}
			if !seen[tp] {
				seen[tp] = true
				out = append(out, tp)
			}
		}
	}
	return out
}

// addTxnPartitions decides (and, unless verifying, writes) one transaction
// of the request and returns the wait for its per-partition codes.
func (h *Handler) addTxnPartitions(version int16, t kmsg.AddPartitionsToTxnRequestTransaction, parts []txn.TopicPartition) func(context.Context) map[txn.TopicPartition]int16 {
	all := func(code int16) map[txn.TopicPartition]int16 {
		out := make(map[txn.TopicPartition]int16, len(parts))
		for _, tp := range parts {
			out[tp] = code
		}
		return out
	}
	if h.Txns == nil {
		return func(context.Context) map[txn.TopicPartition]int16 { return all(errNoTxns.Code) }
	}
	// Every partition must exist (and, from clients, not be internal: Kafka
	// leaves internal topics out of the topics it authorizes) before any
	// is added.
	img := h.image()
	bad := map[txn.TopicPartition]int16{}
	for _, tp := range parts {
		tm := img.Topics[tp.Topic]
		switch {
		case version < 4 && tm != nil && tm.Internal:
			bad[tp] = kerr.TopicAuthorizationFailed.Code
		case tm == nil || tp.Partition < 0 || int(tp.Partition) >= len(tm.Partitions):
			bad[tp] = kerr.UnknownTopicOrPartition.Code
		}
	}
	if len(bad) > 0 {
		out := all(kerr.OperationNotAttempted.Code)
		for tp, code := range bad {
			out[tp] = code
		}
		return func(context.Context) map[txn.TopicPartition]int16 { return out }
	}
	if t.VerifyOnly {
		verified := h.Txns.VerifyPartitions(t.TransactionalID, t.ProducerID, t.ProducerEpoch, parts)
		out := make(map[txn.TopicPartition]int16, len(parts))
		for tp, err := range verified {
			out[tp] = h.code(err)
		}
		return func(context.Context) map[txn.TopicPartition]int16 { return out }
	}
	// v4+ additions come from partition leaders adding implicitly for a
	// client of transaction version 2 (KIP-890 part 2).
	var clientTV int16
	if version >= 4 {
		clientTV = 2
	}
	pending := h.Txns.AddPartitions(t.TransactionalID, t.ProducerID, t.ProducerEpoch, parts, clientTV)
	return func(ctx context.Context) map[txn.TopicPartition]int16 {
		return all(txnCode(h, pending(ctx), version < 2))
	}
}
