package api

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/record"
	"github.com/samsa-kafka/samsa/internal/replication"
	"github.com/samsa-kafka/samsa/internal/txn"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// okMarkers answers every marker NONE, as partition leaders would.
type okMarkers struct {
	mu sync.Mutex
	n  int
}

func (m *okMarkers) WriteTxnMarkers(_ context.Context, _ int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
	m.mu.Lock()
	m.n++
	m.mu.Unlock()
	resp := kmsg.NewPtrWriteTxnMarkersResponse()
	for _, mk := range req.Markers {
		rm := kmsg.WriteTxnMarkersResponseMarker{ProducerID: mk.ProducerID}
		for _, t := range mk.Topics {
			rt := kmsg.WriteTxnMarkersResponseMarkerTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.WriteTxnMarkersResponseMarkerTopicPartition{Partition: p})
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp, nil
}

// newTxnHandler is a handler with a group and a transaction coordinator,
// as the broker wires them, with __transaction_state loaded and a topic
// "t" of 2 partitions.
func newTxnHandler(t testing.TB) *Handler {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Load("", []string{"offsets.topic.num.partitions=4", "transaction.state.log.num.partitions=4",
		"transaction.max.timeout.ms=60000"}, map[string]string{"log.dirs": dir})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := controller.OpenOneNode(controller.Config{DataDir: dir, NodeID: cfg.NodeID, ClusterID: "txns", DefaultPartitions: 2, DefaultReplicationFactor: 1}, "127.0.0.1", 9092)
	if err != nil {
		t.Fatal(err)
	}
	reps := replication.New(replication.Config{NodeID: cfg.NodeID, DataDir: dir,
		Resolve: func(o map[string]string) partition.Config {
			tc := cfg.ResolveTopic(o)
			return partition.Config{MaxMessageBytes: tc.MaxMessageBytes, MinInsyncReplicas: 1, Compact: true,
				TimestampBeforeMaxMs: tc.TimestampBeforeMaxMs, TimestampAfterMaxMs: tc.TimestampAfterMaxMs}
		}})
	ctl.Subscribe(reps.Apply)
	groups := group.New(cfg, ctl, reps, group.Options{Logger: slog.New(slog.DiscardHandler)})
	groups.Start()
	txns := txn.New(cfg, ctl, reps, txn.Options{Logger: slog.New(slog.DiscardHandler),
		ProducerIDs: txn.NewProducerIDs(cfg.NodeID, ctl.AllocateProducerIDs), Markers: &okMarkers{}, MarkerBackoff: time.Millisecond})
	txns.Start()
	t.Cleanup(func() { txns.Close(); groups.Close(); reps.Close(); ctl.Close() })
	if _, errs := ctl.CreateTopics(context.Background(), []controller.TopicSpec{{Name: "t", NumPartitions: 2, ReplicationFactor: 1}}, false); errs[0] != nil {
		t.Fatal(errs[0])
	}
	h := New(Deps{NodeID: cfg.NodeID, Host: "127.0.0.1", Port: 9092, Metadata: ctl.Pub, Controller: ctl.Controller, Client: ctl,
		Replicas: reps, Config: cfg, Groups: groups, Txns: txns, Logger: slog.New(slog.DiscardHandler)})
	// The first lookups create both internal topics; wait for the loads.
	for _, kt := range []int8{0, 1} {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey, fc.CoordinatorType = "x", kt
		if r := callTB[*kmsg.FindCoordinatorResponse](t, h, fc, 3); r.ErrorCode != 0 || r.NodeID != cfg.NodeID || r.Port != 9092 {
			t.Fatalf("find coordinator type %d: %+v", kt, r)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := callTB[*kmsg.ListTransactionsResponse](t, h, kmsg.NewPtrListTransactionsRequest(), 0); r.ErrorCode == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("transaction coordinator did not load")
		}
		time.Sleep(time.Millisecond)
	}
	return h
}

// callTB is call for any testing.TB (fuzz targets set up with one).
func callTB[R kmsg.Response](t testing.TB, h *Handler, req kmsg.Request, v int16) R {
	t.Helper()
	req.SetVersion(v)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := h.Handle(ctx, &wire.Request{Key: req.Key(), Version: v, Msg: req, Conn: &wire.ConnInfo{}})(ctx)
	if resp.Msg == nil {
		t.Fatalf("key %d v%d: no response", req.Key(), v)
	}
	return resp.Msg.(R)
}

// initTxn runs InitProducerId for id at version v and returns the answer.
func initTxn(t testing.TB, h *Handler, id string, v int16, pid int64, epoch int16) *kmsg.InitProducerIDResponse {
	t.Helper()
	r := kmsg.NewPtrInitProducerIDRequest()
	r.TransactionalID = &id
	r.TransactionTimeoutMillis = 30000
	r.ProducerID, r.ProducerEpoch = pid, epoch
	return callTB[*kmsg.InitProducerIDResponse](t, h, r, v)
}

func addParts(t *testing.T, h *Handler, v int16, id string, pid int64, epoch int16, topic string, parts ...int32) *kmsg.AddPartitionsToTxnResponse {
	t.Helper()
	r := kmsg.NewPtrAddPartitionsToTxnRequest()
	r.TransactionalID, r.ProducerID, r.ProducerEpoch = id, pid, epoch
	r.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: topic, Partitions: parts}}
	return call[*kmsg.AddPartitionsToTxnResponse](t, h, r, v)
}

func endTxn(t *testing.T, h *Handler, v int16, id string, pid int64, epoch int16, commit bool) *kmsg.EndTxnResponse {
	t.Helper()
	r := kmsg.NewPtrEndTxnRequest()
	r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit = id, pid, epoch, commit
	return call[*kmsg.EndTxnResponse](t, h, r, v)
}

// partCodes flattens a v0-v3 AddPartitionsToTxn answer.
func partCodes(r *kmsg.AddPartitionsToTxnResponse) map[string]int16 {
	out := map[string]int16{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			out[t.Topic+"/"+string(rune('0'+p.Partition))] = p.ErrorCode
		}
	}
	return out
}

// TestFindTransactionCoordinator: key type 1 names this broker (v3) and
// answers each key of a batch (v4+).
func TestFindTransactionCoordinator(t *testing.T) {
	t.Parallel()
	h := newTxnHandler(t)
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorType = 1
	fc.CoordinatorKeys = []string{"a", "b"}
	r := call[*kmsg.FindCoordinatorResponse](t, h, fc, 4)
	if len(r.Coordinators) != 2 || r.Coordinators[0].Key != "a" || r.Coordinators[1].NodeID != 1 || r.Coordinators[0].ErrorCode != 0 {
		t.Fatalf("batched: %+v", r.Coordinators)
	}
}

// TestInitProducerIDTransactional: a transactional id gets a producer id
// at epoch 0, then bumps; the timeout is checked; a fenced KIP-360
// producer is INVALID_PRODUCER_EPOCH at v3 and PRODUCER_FENCED from v4.
func TestInitProducerIDTransactional(t *testing.T) {
	t.Parallel()
	h := newTxnHandler(t)
	a := initTxn(t, h, "tx", 0, -1, -1)
	if a.ErrorCode != 0 || a.ProducerID < 0 || a.ProducerEpoch != 0 {
		t.Fatalf("first: %+v", a)
	}
	b := initTxn(t, h, "tx", 2, -1, -1)
	if b.ErrorCode != 0 || b.ProducerID != a.ProducerID || b.ProducerEpoch != 1 {
		t.Fatalf("second: %+v", b)
	}
	r := kmsg.NewPtrInitProducerIDRequest()
	id := "tx"
	r.TransactionalID, r.TransactionTimeoutMillis = &id, 60001
	if got := call[*kmsg.InitProducerIDResponse](t, h, r, 1); got.ErrorCode != kerr.InvalidTransactionTimeout.Code || got.ProducerID != -1 {
		t.Fatalf("timeout: %+v", got)
	}
	if got := initTxn(t, h, "tx", 3, a.ProducerID, 7); got.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("v3 fenced: %v", kerr.ErrorForCode(got.ErrorCode))
	}
	if got := initTxn(t, h, "tx", 4, a.ProducerID, 7); got.ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("v4 fenced: %v", kerr.ErrorForCode(got.ErrorCode))
	}
	if got := initTxn(t, h, "tx", 5, a.ProducerID, 1); got.ErrorCode != 0 || got.ProducerEpoch != 2 {
		t.Fatalf("v5 KIP-360 bump: %+v", got)
	}
	if got := initTxn(t, h, "tx", 3, a.ProducerID, -1); got.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("producer id without epoch: %v", kerr.ErrorForCode(got.ErrorCode))
	}
}

// TestAddPartitionsToTxnErrors: Kafka's per-partition answers.
func TestAddPartitionsToTxnErrors(t *testing.T) {
	t.Parallel()
	h := newTxnHandler(t)
	a := initTxn(t, h, "tx", 4, -1, -1)
	pid := a.ProducerID
	got := partCodes(addParts(t, h, 3, "tx", pid, 0, "t", 0, 1, 5))
	if got["t/0"] != kerr.OperationNotAttempted.Code || got["t/1"] != kerr.OperationNotAttempted.Code || got["t/5"] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("a missing partition: %v", got)
	}
	got = partCodes(addParts(t, h, 3, "tx", pid, 0, "nope", 0))
	if got["nope/0"] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("a missing topic: %v", got)
	}
	got = partCodes(addParts(t, h, 3, "tx", pid, 0, "__consumer_offsets", 0))
	if got["__consumer_offsets/0"] != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("an internal topic: %v", got)
	}
	got = partCodes(addParts(t, h, 1, "tx", pid, 3, "t", 0))
	if got["t/0"] != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("v1 fenced: %v", got)
	}
	got = partCodes(addParts(t, h, 2, "tx", pid, 3, "t", 0))
	if got["t/0"] != kerr.ProducerFenced.Code {
		t.Fatalf("v2 fenced: %v", got)
	}
	got = partCodes(addParts(t, h, 3, "unknown", pid, 0, "t", 0))
	if got["t/0"] != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("unknown id: %v", got)
	}
	got = partCodes(addParts(t, h, 3, "tx", pid, 0, "t", 0))
	if got["t/0"] != 0 {
		t.Fatalf("add: %v", got)
	}
}

// TestAddPartitionsToTxnVerifyOnly: v4+ batches transactions; VerifyOnly
// answers without adding (TRANSACTION_ABORTABLE for a partition not in
// the transaction).
func TestAddPartitionsToTxnVerifyOnly(t *testing.T) {
	t.Parallel()
	h := newTxnHandler(t)
	a := initTxn(t, h, "a", 4, -1, -1)
	b := initTxn(t, h, "b", 4, -1, -1)
	if got := partCodes(addParts(t, h, 3, "a", a.ProducerID, 0, "t", 0)); got["t/0"] != 0 {
		t.Fatalf("add: %v", got)
	}
	r := kmsg.NewPtrAddPartitionsToTxnRequest()
	r.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{
		{TransactionalID: "a", ProducerID: a.ProducerID, ProducerEpoch: 0, VerifyOnly: true,
			Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "t", Partitions: []int32{0, 1}}}},
		{TransactionalID: "b", ProducerID: b.ProducerID, ProducerEpoch: 0, VerifyOnly: false,
			Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "t", Partitions: []int32{1}}}},
		{TransactionalID: "a", ProducerID: a.ProducerID, ProducerEpoch: 9, VerifyOnly: true,
			Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "t", Partitions: []int32{0}}}},
	}
	resp := call[*kmsg.AddPartitionsToTxnResponse](t, h, r, 5)
	codes := func(i int) []int16 {
		var out []int16
		for _, tp := range resp.Transactions[i].Topics {
			for _, p := range tp.Partitions {
				out = append(out, p.ErrorCode)
			}
		}
		return out
	}
	if resp.ErrorCode != 0 || len(resp.Transactions) != 3 {
		t.Fatalf("response %+v", resp)
	}
	if c := codes(0); len(c) != 2 || c[0] != 0 || c[1] != kerr.TransactionAbortable.Code {
		t.Fatalf("verify a: %v", c)
	}
	if c := codes(1); len(c) != 1 || c[0] != 0 {
		t.Fatalf("add b: %v", c)
	}
	if c := codes(2); len(c) != 1 || c[0] != kerr.ProducerFenced.Code {
		t.Fatalf("verify a at another epoch: %v", c)
	}
}

// TestEndTxnAPI: commit, the idempotent retry, the wrong end, the v1
// fencing code; AddOffsetsToTxn; DescribeTransactions and
// ListTransactions.
func TestEndTxnAPI(t *testing.T) {
	t.Parallel()
	h := newTxnHandler(t)
	a := initTxn(t, h, "tx", 4, -1, -1)
	pid := a.ProducerID
	if got := partCodes(addParts(t, h, 3, "tx", pid, 0, "t", 1)); got["t/1"] != 0 {
		t.Fatalf("add: %v", got)
	}
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = "tx", pid, 0, "g"
	if r := call[*kmsg.AddOffsetsToTxnResponse](t, h, ao, 3); r.ErrorCode != 0 {
		t.Fatalf("add offsets: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	ao.ProducerEpoch = 5
	if r := call[*kmsg.AddOffsetsToTxnResponse](t, h, ao, 1); r.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("add offsets v1 fenced: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	dr := kmsg.NewPtrDescribeTransactionsRequest()
	dr.TransactionalIDs = []string{"tx", "nope"}
	d := call[*kmsg.DescribeTransactionsResponse](t, h, dr, 0)
	if len(d.TransactionStates) != 2 || d.TransactionStates[0].State != "Ongoing" || len(d.TransactionStates[0].Topics) != 2 ||
		d.TransactionStates[1].ErrorCode != kerr.TransactionalIDNotFound.Code {
		t.Fatalf("describe: %+v", d.TransactionStates)
	}
	if r := endTxn(t, h, 1, "tx", pid, 9, true); r.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("v1 fenced end: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := endTxn(t, h, 3, "tx", pid, 0, true); r.ErrorCode != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lr := kmsg.NewPtrListTransactionsRequest()
		lr.StateFilters = []string{"CompleteCommit", "Nope"}
		l := call[*kmsg.ListTransactionsResponse](t, h, lr, 1)
		if len(l.UnknownStateFilters) != 1 || l.UnknownStateFilters[0] != "Nope" {
			t.Fatalf("unknown filters %v", l.UnknownStateFilters)
		}
		if len(l.TransactionStates) == 1 && l.TransactionStates[0].TransactionalID == "tx" && l.TransactionStates[0].ProducerID == pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not CompleteCommit: %+v", l.TransactionStates)
		}
		time.Sleep(time.Millisecond)
	}
	if r := endTxn(t, h, 4, "tx", pid, 0, true); r.ErrorCode != 0 {
		t.Fatalf("commit retry: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := endTxn(t, h, 4, "tx", pid, 0, false); r.ErrorCode != kerr.InvalidTxnState.Code || r.ProducerID != -1 {
		t.Fatalf("abort after commit: %+v", r)
	}
	lr := kmsg.NewPtrListTransactionsRequest()
	bad := "(("
	lr.TransactionalIDPattern = &bad
	if l := call[*kmsg.ListTransactionsResponse](t, h, lr, 2); l.ErrorCode != kerr.InvalidRegularExpression.Code {
		t.Fatalf("bad pattern: %v", kerr.ErrorForCode(l.ErrorCode))
	}
}

// txnBatch is a transactional batch of producer pid at epoch, sequence seq.
func txnBatch(t *testing.T, pid int64, epoch int16, seq int32) []byte {
	t.Helper()
	return fuzzTxnBatch(pid, epoch, seq)
}

func fuzzTxnBatch(pid int64, epoch int16, seq int32) []byte {
	b, err := record.BuildBatch(record.CodecNone, 0, []record.Record{{Key: []byte("k"), Value: []byte("v")}}, record.BuildOptions{
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, BaseTimestamp: time.Now().UnixMilli(),
		Attributes: record.AttrTransactional,
	})
	if err != nil {
		panic(err) // one small uncompressed record always encodes
	}
	return b
}

func produceReq(id *string, topic string, part int32, batch []byte) *kmsg.ProduceRequest {
	r := kmsg.NewPtrProduceRequest()
	r.TransactionID, r.Acks, r.TimeoutMillis = id, -1, 10000
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = part, batch
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.Partitions = topic, []kmsg.ProduceRequestTopicPartition{rp}
	r.Topics = []kmsg.ProduceRequestTopic{rt}
	return r
}

// TestProduceTransactional: a transactional batch needs the request's
// transactional id; a partition not added to the transaction is refused
// (INVALID_TXN_STATE before v11, TRANSACTION_ABORTABLE from v11), an
// added one appended.
func TestProduceTransactional(t *testing.T) {
	t.Parallel()
	h := newTxnHandler(t)
	a := initTxn(t, h, "tx", 4, -1, -1)
	pid := a.ProducerID
	code := func(r *kmsg.ProduceResponse) int16 { return r.Topics[0].Partitions[0].ErrorCode }
	if r := call[*kmsg.ProduceResponse](t, h, produceReq(nil, "t", 0, txnBatch(t, pid, 0, 0)), 9); code(r) != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("without an id: %v", kerr.ErrorForCode(code(r)))
	}
	id := "tx"
	if r := call[*kmsg.ProduceResponse](t, h, produceReq(&id, "t", 0, txnBatch(t, pid, 0, 0)), 10); code(r) != kerr.InvalidTxnState.Code {
		t.Fatalf("v10 not added: %v", kerr.ErrorForCode(code(r)))
	}
	if r := call[*kmsg.ProduceResponse](t, h, produceReq(&id, "t", 0, txnBatch(t, pid, 0, 0)), 11); code(r) != kerr.TransactionAbortable.Code {
		t.Fatalf("v11 not added: %v", kerr.ErrorForCode(code(r)))
	}
	if r := call[*kmsg.ProduceResponse](t, h, produceReq(&id, "t", 0, txnBatch(t, pid+1, 0, 0)), 11); code(r) != kerr.TransactionAbortable.Code &&
		code(r) != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("another producer: %v", kerr.ErrorForCode(code(r)))
	}
	if got := partCodes(addParts(t, h, 3, "tx", pid, 0, "t", 0)); got["t/0"] != 0 {
		t.Fatalf("add: %v", got)
	}
	r := call[*kmsg.ProduceResponse](t, h, produceReq(&id, "t", 0, txnBatch(t, pid, 0, 0)), 11)
	if code(r) != 0 || r.Topics[0].Partitions[0].BaseOffset != 0 {
		t.Fatalf("added: %+v", r.Topics[0].Partitions[0])
	}
	if r := call[*kmsg.ProduceResponse](t, h, produceReq(&id, "t", 0, txnBatch(t, pid, 1, 1)), 11); code(r) != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("a newer epoch than the coordinator's: %v", kerr.ErrorForCode(code(r)))
	}
}

// TestProduceTransactionalOrder: pipelined produces of one producer to one
// partition, each waiting for its verification, are appended in request
// order (the sequences would be out of order otherwise).
func TestProduceTransactionalOrder(t *testing.T) {
	t.Parallel()
	h := newTxnHandler(t)
	a := initTxn(t, h, "tx", 4, -1, -1)
	pid := a.ProducerID
	if got := partCodes(addParts(t, h, 3, "tx", pid, 0, "t", 1)); got["t/1"] != 0 {
		t.Fatalf("add: %v", got)
	}
	id := "tx"
	ctx := context.Background()
	var pendings []wire.Pending
	const n = 20
	for i := range n {
		req := produceReq(&id, "t", 1, txnBatch(t, pid, 0, int32(i)))
		req.SetVersion(11)
		pendings = append(pendings, h.Handle(ctx, &wire.Request{Key: 0, Version: 11, Msg: req, Conn: &wire.ConnInfo{}}))
	}
	for i, p := range pendings {
		resp := p(ctx).Msg.(*kmsg.ProduceResponse)
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != 0 || sp.BaseOffset != int64(i) {
			t.Fatalf("produce %d: %v at offset %d", i, kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
		}
	}
}

// TestTransactionVersion2 (KIP-890 part 2): Produce v12 adds its partition
// to the transaction itself; EndTxn v5 bumps the epoch and answers the
// producer id and epoch to continue with; the next transaction's batches
// (at the new epoch) are added again once the previous one is complete.
func TestTransactionVersion2(t *testing.T) {
	t.Parallel()
	h := newTxnHandler(t)
	a := initTxn(t, h, "tx", 5, -1, -1)
	pid := a.ProducerID
	id := "tx"
	code := func(r *kmsg.ProduceResponse) int16 { return r.Topics[0].Partitions[0].ErrorCode }
	if r := call[*kmsg.ProduceResponse](t, h, produceReq(&id, "t", 0, txnBatch(t, pid, 0, 0)), 12); code(r) != 0 {
		t.Fatalf("v12 produce: %v", kerr.ErrorForCode(code(r)))
	}
	dr := kmsg.NewPtrDescribeTransactionsRequest()
	dr.TransactionalIDs = []string{"tx"}
	if d := call[*kmsg.DescribeTransactionsResponse](t, h, dr, 0).TransactionStates[0]; d.State != "Ongoing" || len(d.Topics) != 1 {
		t.Fatalf("describe after the produce: %+v", d)
	}
	end := endTxn(t, h, 5, "tx", pid, 0, true)
	if end.ErrorCode != 0 || end.ProducerID != pid || end.ProducerEpoch != 1 {
		t.Fatalf("EndTxn v5: %+v", end)
	}
	// Until the previous transaction's markers are written, the addition
	// is CONCURRENT_TRANSACTIONS at the coordinator, NOT_ENOUGH_REPLICAS
	// (retriable) to the producer.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := code(call[*kmsg.ProduceResponse](t, h, produceReq(&id, "t", 0, txnBatch(t, pid, 1, 0)), 12))
		if c == 0 {
			break
		}
		if c != kerr.NotEnoughReplicas.Code || time.Now().After(deadline) {
			t.Fatalf("v12 produce of the next transaction: %v", kerr.ErrorForCode(c))
		}
		time.Sleep(time.Millisecond)
	}
	if r := call[*kmsg.ProduceResponse](t, h, produceReq(&id, "t", 1, txnBatch(t, pid, 0, 0)), 12); code(r) != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("v12 produce at the old epoch: %v", kerr.ErrorForCode(code(r)))
	}
}
