package txn

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// TestVerifyRemote: a partition leader whose transaction coordinator is
// another broker asks it with AddPartitionsToTxn (VerifyOnly) and
// translates the answer as Kafka's AddPartitionsToTxnManager does.
func TestVerifyRemote(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.withImage(func(img *metadata.Image) {
		img.Brokers = map[int32]metadata.Broker{1: img.Brokers[1], 2: {NodeID: 2, Host: "127.0.0.1", Port: 9093}}
		for i := range img.Topics[TopicName].Partitions {
			img.Topics[TopicName].Partitions[i].Leader = 2
		}
	})
	parts := []TopicPartition{tp("t", 0), tp("t", 1), tp("t", 2)}
	codes := map[int32]int16{0: 0, 1: kerr.ProducerFenced.Code}
	e.peers.answer = func(_ int32, req kmsg.Request) (kmsg.Response, error) {
		r := req.(*kmsg.AddPartitionsToTxnRequest)
		resp := kmsg.NewPtrAddPartitionsToTxnResponse()
		resp.Version = 5
		rt := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rt.TransactionalID = r.Transactions[0].TransactionalID
		top := kmsg.AddPartitionsToTxnResponseTransactionTopic{Topic: "t"}
		for p, code := range codes { // partition 2 is left out of the answer
			top.Partitions = append(top.Partitions, kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{Partition: p, ErrorCode: code})
		}
		rt.Topics = []kmsg.AddPartitionsToTxnResponseTransactionTopic{top}
		resp.Transactions = []kmsg.AddPartitionsToTxnResponseTransaction{rt}
		return resp, nil
	}
	got := e.c.Verify(bg, "tx", 7, 3, parts, false)
	wantErr(t, "verified", got[tp("t", 0)], nil)
	wantErr(t, "fenced", got[tp("t", 1)], kerr.InvalidProducerEpoch)
	wantErr(t, "left out", got[tp("t", 2)], kerr.NetworkException)
	r := e.peers.reqs[0].(*kmsg.AddPartitionsToTxnRequest)
	tx := r.Transactions[0]
	if e.peers.nodes[0] != 2 || len(r.Transactions) != 1 || tx.TransactionalID != "tx" || tx.ProducerID != 7 || tx.ProducerEpoch != 3 ||
		!tx.VerifyOnly || len(tx.Topics) != 1 || len(tx.Topics[0].Partitions) != 3 {
		t.Fatalf("request to %d: %+v", e.peers.nodes[0], r)
	}
	e.peers.answer = func(int32, kmsg.Request) (kmsg.Response, error) {
		resp := kmsg.NewPtrAddPartitionsToTxnResponse()
		resp.Version, resp.ErrorCode = 5, kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	wantErr(t, "not authorized", e.c.Verify(bg, "tx", 7, 3, parts[:1], false)[tp("t", 0)], kerr.InvalidTxnState)
	e.peers.answer = func(int32, kmsg.Request) (kmsg.Response, error) { return nil, errors.New("connection refused") }
	wantErr(t, "no answer", e.c.Verify(bg, "tx", 7, 3, parts[:1], false)[tp("t", 0)], kerr.NetworkException)
	// The group coordinator's hook asks for the group's offsets partition.
	e.peers.answer = func(_ int32, req kmsg.Request) (kmsg.Response, error) {
		r := req.(*kmsg.AddPartitionsToTxnRequest)
		if r.Transactions[0].Topics[0].Topic != "__consumer_offsets" || r.Transactions[0].Topics[0].Partitions[0] != 4 {
			t.Errorf("hook asked %+v", r.Transactions[0].Topics)
		}
		resp := kmsg.NewPtrAddPartitionsToTxnResponse()
		resp.Version = 5
		resp.Transactions = []kmsg.AddPartitionsToTxnResponseTransaction{{TransactionalID: "tx",
			Topics: []kmsg.AddPartitionsToTxnResponseTransactionTopic{{Topic: "__consumer_offsets",
				Partitions: []kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{{Partition: 4, ErrorCode: kerr.TransactionAbortable.Code}}}}}}
		return resp, nil
	}
	wantErr(t, "hook", e.c.VerifyTxn(bg, "tx", 7, 3, 4, false), kerr.TransactionAbortable)
}

// TestVerifyLocal: the in-process verification, and the coordinator's
// answers when it cannot be asked.
func TestVerifyLocal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	wantErr(t, "add", p.add(tp("t", 0)), nil)
	got := e.c.Verify(bg, "tx", p.pid, p.epoch, []TopicPartition{tp("t", 0), tp("t", 1)}, false)
	wantErr(t, "added", got[tp("t", 0)], nil)
	wantErr(t, "not added", got[tp("t", 1)], kerr.TransactionAbortable)
	wantErr(t, "unknown id", e.c.VerifyTxn(bg, "nope", p.pid, p.epoch, 0, false), kerr.InvalidProducerIDMapping)
	e.withImage(func(img *metadata.Image) { delete(img.Topics, TopicName) })
	wantErr(t, "no coordinator topic", e.c.Verify(bg, "tx", p.pid, p.epoch, []TopicPartition{tp("t", 0)}, false)[tp("t", 0)], kerr.CoordinatorNotAvailable)
}
