package api

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzHandleTxn is FuzzHandle for a broker with a transaction
// coordinator: every body kmsg decodes for a served key and version goes
// through the real handlers, the coordinator's among them, with seeds of
// each transaction request and a transactional produce.
func FuzzHandleTxn(f *testing.F) {
	seed := fuzzSeed(f)
	id := "fuzz-tx"
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = &id, 1000
	seed(init, 4)
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = id, 1000, 0
	add.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	seed(add, 3)
	verify := kmsg.NewPtrAddPartitionsToTxnRequest()
	verify.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{{TransactionalID: id, ProducerID: 1000, VerifyOnly: true,
		Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "t", Partitions: []int32{0}}}}}
	seed(verify, 5)
	offsets := kmsg.NewPtrAddOffsetsToTxnRequest()
	offsets.TransactionalID, offsets.ProducerID, offsets.Group = id, 1000, "g"
	seed(offsets, 3)
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.Commit = id, 1000, true
	seed(end, 4)
	describe := kmsg.NewPtrDescribeTransactionsRequest()
	describe.TransactionalIDs = []string{id, ""}
	seed(describe, 0)
	list := kmsg.NewPtrListTransactionsRequest()
	pattern := "fuzz.*"
	list.TransactionalIDPattern = &pattern
	seed(list, 2)
	find := kmsg.NewPtrFindCoordinatorRequest()
	find.CoordinatorType, find.CoordinatorKeys = 1, []string{id}
	seed(find, 4)
	produce := produceReq(&id, "t", 0, nil)
	produce.Topics[0].Partitions[0].Records = fuzzTxnBatch(1000, 0, 0)
	produce.TimeoutMillis = 100
	seed(produce, 11)

	fuzzHandler(f, newTxnHandler(f), Versions())
}
