package interop

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/record"
)

// txnConn drives the transaction APIs with raw requests, as a producer
// would, so that each error path of the issue is asserted by its exact
// code: the client libraries retry or translate most of them.
type txnConn struct {
	t     *testing.T
	ctx   context.Context
	raw   *rawConn
	topic string
}

func (c *txnConn) init(txnID string, timeoutMs int32) (int64, int16, int16) {
	c.t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.SetVersion(4)
	req.TransactionalID = kmsg.StringPtr(txnID)
	req.TransactionTimeoutMillis = timeoutMs
	req.ProducerID, req.ProducerEpoch = -1, -1
	resp := c.raw.do(c.ctx, c.t, req).(*kmsg.InitProducerIDResponse)
	return resp.ProducerID, resp.ProducerEpoch, resp.ErrorCode
}

// initRetrying retries InitProducerId while the coordinator loads or
// finishes an earlier transaction, and returns the codes it saw first.
func (c *txnConn) initRetrying(txnID string, timeoutMs int32) (int64, int16, []int16) {
	c.t.Helper()
	var seen []int16
	for {
		pid, epoch, code := c.init(txnID, timeoutMs)
		switch code {
		case 0:
			return pid, epoch, seen
		case kerr.CoordinatorLoadInProgress.Code, kerr.ConcurrentTransactions.Code, kerr.CoordinatorNotAvailable.Code:
			seen = append(seen, code)
		default:
			c.t.Fatalf("InitProducerId %s: %v", txnID, kerr.ErrorForCode(code))
		}
		c.pause()
	}
}

func (c *txnConn) pause() {
	c.t.Helper()
	select {
	case <-c.ctx.Done():
		c.t.Fatalf("deadline: %v", c.ctx.Err())
	case <-time.After(20 * time.Millisecond): // retry backoff, bounded by ctx
	}
}

func (c *txnConn) addPartitions(txnID string, pid int64, epoch int16, parts ...int32) int16 {
	c.t.Helper()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.SetVersion(3)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = txnID, pid, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = c.topic, parts
	req.Topics = append(req.Topics, rt)
	for {
		resp := c.raw.do(c.ctx, c.t, req).(*kmsg.AddPartitionsToTxnResponse)
		code := resp.Topics[0].Partitions[0].ErrorCode
		if code != kerr.ConcurrentTransactions.Code {
			return code
		}
		c.pause() // the previous transaction's markers are still being written
	}
}

func (c *txnConn) produce(txnID string, pid int64, epoch int16, seq int32, part int32) int16 {
	return c.produceV(11, txnID, pid, epoch, seq, part)
}

func (c *txnConn) produceV(version int16, txnID string, pid int64, epoch int16, seq int32, part int32) int16 {
	c.t.Helper()
	batch, err := record.BuildBatch(record.CodecNone, 0, []record.Record{{Value: []byte("txn")}}, record.BuildOptions{
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Attributes: record.AttrTransactional,
		BaseTimestamp: time.Now().UnixMilli(),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(version)
	req.TransactionID = kmsg.StringPtr(txnID)
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = c.topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = part, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.raw.do(c.ctx, c.t, req).(*kmsg.ProduceResponse)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func (c *txnConn) endTxn(txnID string, pid int64, epoch int16, commit bool) int16 {
	c.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.SetVersion(3)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = txnID, pid, epoch, commit
	for {
		code := c.raw.do(c.ctx, c.t, req).(*kmsg.EndTxnResponse).ErrorCode
		if code != kerr.ConcurrentTransactions.Code {
			return code
		}
		c.pause()
	}
}

func (c *txnConn) state(txnID string) (string, int16) {
	c.t.Helper()
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{txnID}
	resp := c.raw.do(c.ctx, c.t, req).(*kmsg.DescribeTransactionsResponse)
	if len(resp.TransactionStates) != 1 || resp.TransactionStates[0].ErrorCode != 0 {
		c.t.Fatalf("describe %s: %+v", txnID, resp.TransactionStates)
	}
	return resp.TransactionStates[0].State, resp.TransactionStates[0].ProducerEpoch
}

// offsets returns partition part's log end and last stable offset.
func (c *txnConn) offsets(part int32) (end, lso int64) {
	c.t.Helper()
	for _, iso := range []int8{0, 1} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.SetVersion(7)
		req.IsolationLevel = iso
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = c.topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = part, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		p := c.raw.do(c.ctx, c.t, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			c.t.Fatalf("list offsets %d: %v", part, kerr.ErrorForCode(p.ErrorCode))
		}
		if iso == 0 {
			end = p.Offset
		} else {
			lso = p.Offset
		}
	}
	return end, lso
}

func expectCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	if got != want.Code {
		t.Fatalf("%s: %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// TestTxnErrorPaths drives a transactional producer's requests by hand and
// asserts each error path of the transaction protocol with its exact code:
// a zombie fenced by a new producer of its transactional id (and a second
// InitProducerId during its open transaction, which aborts it), a
// transactional batch for a partition never added (KIP-890 verification),
// a transaction past its timeout aborted by the coordinator, and a timeout
// above transaction.max.timeout.ms.
func TestTxnErrorPaths(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 2*time.Minute)
	b := startBroker(t, "transaction.abort.timed.out.transaction.cleanup.interval.ms=100")
	const topic = "txn-errors"
	createTopic(ctx, t, b.Addr(), topic, 3, nil)
	c := &txnConn{t: t, ctx: ctx, raw: dialRaw(t, b.Addr()), topic: topic}

	// Every transactional id here lands on the one broker; wait until its
	// transaction coordinator serves (FindCoordinator creates the topic).
	for {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.SetVersion(4)
		req.CoordinatorType = 1
		req.CoordinatorKeys = []string{"zombie"}
		co := c.raw.do(ctx, t, req).(*kmsg.FindCoordinatorResponse).Coordinators[0]
		if co.ErrorCode == 0 {
			break
		}
		if co.ErrorCode != kerr.CoordinatorNotAvailable.Code {
			t.Fatalf("FindCoordinator: %v", kerr.ErrorForCode(co.ErrorCode))
		}
		c.pause()
	}

	t.Run("too long a timeout", func(t *testing.T) {
		_, _, code := c.init("too-long", 900_001)
		expectCode(t, "InitProducerId with 900001 ms", code, kerr.InvalidTransactionTimeout)
	})

	t.Run("zombie", func(t *testing.T) {
		pid, e0, _ := c.initRetrying("zombie", 60_000)
		expectCode(t, "add partition 0", c.addPartitions("zombie", pid, e0, 0), errNone)
		expectCode(t, "produce to partition 0", c.produce("zombie", pid, e0, 0, 0), errNone)
		if end, lso := c.offsets(0); end != 1 || lso != 0 {
			t.Fatalf("partition 0 with the transaction open: end %d, LSO %d; want 1, 0", end, lso)
		}
		// A new instance of the producer: its InitProducerId finds the
		// transaction open, aborts it, and answers CONCURRENT_TRANSACTIONS
		// until the abort is done.
		pid2, e2, seen := c.initRetrying("zombie", 60_000)
		if pid2 != pid || e2 <= e0 {
			t.Fatalf("second InitProducerId: producer %d epoch %d, want %d and an epoch above %d", pid2, e2, pid, e0)
		}
		if len(seen) == 0 || seen[0] != kerr.ConcurrentTransactions.Code {
			t.Fatalf("second InitProducerId during the open transaction answered %v first, want CONCURRENT_TRANSACTIONS", seen)
		}
		// The zombie is fenced everywhere.
		expectCode(t, "zombie's produce", c.produce("zombie", pid, e0, 1, 0), kerr.InvalidProducerEpoch)
		expectCode(t, "zombie's AddPartitionsToTxn", c.addPartitions("zombie", pid, e0, 1), kerr.ProducerFenced)
		expectCode(t, "zombie's EndTxn", c.endTxn("zombie", pid, e0, true), kerr.ProducerFenced)
		// Its transaction was aborted: the abort marker follows its
		// record, and the last stable offset passed both.
		if end, lso := c.offsets(0); end != 2 || lso != 2 {
			t.Fatalf("partition 0 after the abort: end %d, LSO %d; want 2, 2", end, lso)
		}
		// The new instance works.
		expectCode(t, "new instance adds partition 0", c.addPartitions("zombie", pid, e2, 0), errNone)
		expectCode(t, "new instance produces", c.produce("zombie", pid, e2, 0, 0), errNone)
		expectCode(t, "new instance commits", c.endTxn("zombie", pid, e2, true), errNone)
	})

	t.Run("partition not added", func(t *testing.T) {
		pid, e, _ := c.initRetrying("verify", 60_000)
		expectCode(t, "add partition 1", c.addPartitions("verify", pid, e, 1), errNone)
		end, _ := c.offsets(2)
		// Kafka answers Produce v11+ with the abortable error of
		// KIP-890, and older versions with INVALID_TXN_STATE.
		expectCode(t, "produce v11 to partition 2, never added", c.produce("verify", pid, e, 0, 2), kerr.TransactionAbortable)
		expectCode(t, "produce v10 to partition 2, never added", c.produceV(10, "verify", pid, e, 0, 2), kerr.InvalidTxnState)
		if got, _ := c.offsets(2); got != end {
			t.Fatalf("the refused batch reached partition 2: end %d, was %d", got, end)
		}
		expectCode(t, "produce to partition 1", c.produce("verify", pid, e, 0, 1), errNone)
		expectCode(t, "commit", c.endTxn("verify", pid, e, true), errNone)
	})

	t.Run("timeout", func(t *testing.T) {
		pid, e, _ := c.initRetrying("slow", 1000)
		expectCode(t, "add partition 2", c.addPartitions("slow", pid, e, 2), errNone)
		expectCode(t, "produce to partition 2", c.produce("slow", pid, e, 0, 2), errNone)
		// The coordinator aborts the transaction once it is a second
		// old, bumping the epoch so that the producer is fenced.
		for {
			state, epoch := c.state("slow")
			if state == "CompleteAbort" {
				if epoch <= e {
					t.Fatalf("aborted on timeout with epoch %d, want above %d", epoch, e)
				}
				break
			}
			if state != "Ongoing" && state != "PrepareAbort" {
				t.Fatalf("state %s while the transaction times out", state)
			}
			c.pause()
		}
		expectCode(t, "commit after the timeout", c.endTxn("slow", pid, e, true), kerr.ProducerFenced)
		if end, lso := c.offsets(2); lso != end {
			t.Fatalf("partition 2 after the timeout abort: end %d, LSO %d; want equal", end, lso)
		}
	})
}

// errNone is the code of success, for expectCode.
var errNone = &kerr.Error{Message: "NONE", Code: 0}
