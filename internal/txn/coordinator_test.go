package txn

import (
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// TestInitProducerIDNewAndBump: a new id gets a fresh producer id at epoch
// 0; each InitProducerId after that bumps the epoch on the same producer
// id, and the state stays Empty with no partitions.
func TestInitProducerIDNewAndBump(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	if p.epoch != 0 || p.pid < 0 {
		t.Fatalf("new id: producer %d epoch %d", p.pid, p.epoch)
	}
	first := p.pid
	p.mustInit()
	if p.pid != first || p.epoch != 1 {
		t.Fatalf("second init: producer %d epoch %d, want %d epoch 1", p.pid, p.epoch, first)
	}
	d := e.describe("tx")
	if d.ErrorCode != 0 || d.State != "Empty" || d.ProducerID != first || d.ProducerEpoch != 1 || d.TimeoutMillis != 10000 || d.StartTimestamp != -1 || len(d.Topics) != 0 {
		t.Fatalf("describe: %+v", d)
	}
	// Another id gets another producer id.
	q := e.producer("other")
	q.mustInit()
	if q.pid == first || q.epoch != 0 {
		t.Fatalf("other id: producer %d epoch %d", q.pid, q.epoch)
	}
}

// TestInitProducerIDRequestErrors: Kafka's validation of InitProducerId.
func TestInitProducerIDRequestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		name    string
		id      string
		timeout int32
		pid     int64
		epoch   int16
		want    *kerr.Error
	}{
		{"empty id", "", 1000, -1, -1, kerr.InvalidRequest},
		{"producer id without epoch", "a", 1000, 5, -1, kerr.InvalidRequest},
		{"epoch without producer id", "a", 1000, -1, 3, kerr.InvalidRequest},
		{"timeout above the maximum", "a", 60001, -1, -1, kerr.InvalidTransactionTimeout},
		{"zero timeout", "a", 0, -1, -1, kerr.InvalidTransactionTimeout},
	} {
		res := e.c.InitProducerID(bg, c.id, c.timeout, c.pid, c.epoch)(bg)
		if res.Err != c.want || res.ProducerID != -1 || res.Epoch != -1 {
			t.Errorf("%s: %+v, want %v", c.name, res, c.want)
		}
	}
}

// TestZombieFencing: a second InitProducerId fences the first producer:
// its AddPartitionsToTxn and EndTxn at the old epoch are PRODUCER_FENCED,
// and the verification of its produce too.
func TestZombieFencing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zombie := e.producer("tx")
	zombie.mustInit()
	fresh := e.producer("tx")
	fresh.mustInit()
	if fresh.pid != zombie.pid || fresh.epoch != zombie.epoch+1 {
		t.Fatalf("second producer: %d/%d after %d/%d", fresh.pid, fresh.epoch, zombie.pid, zombie.epoch)
	}
	wantErr(t, "zombie add", zombie.add(tp("t", 0)), kerr.ProducerFenced)
	wantErr(t, "fresh add", fresh.add(tp("t", 0)), nil)
	wantErr(t, "zombie end", zombie.end(true).Err, kerr.ProducerFenced)
	v := e.c.VerifyPartitions("tx", zombie.pid, zombie.epoch, []TopicPartition{tp("t", 0)})
	wantErr(t, "zombie verify", v[tp("t", 0)], kerr.ProducerFenced)
	v = e.c.VerifyPartitions("tx", fresh.pid, fresh.epoch, []TopicPartition{tp("t", 0), tp("t", 1)})
	wantErr(t, "fresh verify added", v[tp("t", 0)], nil)
	wantErr(t, "fresh verify not added", v[tp("t", 1)], kerr.TransactionAbortable)
	wantErr(t, "another producer id", e.c.AddPartitions("tx", fresh.pid+100, fresh.epoch, []TopicPartition{tp("t", 0)}, 0)(bg), kerr.InvalidProducerIDMapping)
	wantErr(t, "unknown id", e.c.AddPartitions("nope", fresh.pid, fresh.epoch, []TopicPartition{tp("t", 0)}, 0)(bg), kerr.InvalidProducerIDMapping)
	// Verify: each partition leader's verification in process
	// translates PRODUCER_FENCED into INVALID_PRODUCER_EPOCH.
	got := e.c.Verify(bg, "tx", zombie.pid, zombie.epoch, []TopicPartition{tp("t", 0)}, false)
	wantErr(t, "zombie Verify", got[tp("t", 0)], kerr.InvalidProducerEpoch)
}

// TestInitDuringOngoingTransaction: an InitProducerId while a transaction
// is open aborts it with the epoch bumped (the markers carry the bumped
// epoch, fencing the old producer at every partition), answers
// CONCURRENT_TRANSACTIONS, and the retry after the abort bumps again.
func TestInitDuringOngoingTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.producer("tx")
	old.mustInit()
	wantErr(t, "add", old.add(tp("t", 0), tp("t", 2)), nil)
	if s := e.stateOf("tx"); s != "Ongoing" {
		t.Fatalf("state %s, want Ongoing", s)
	}
	next := e.producer("tx")
	wantErr(t, "init during the transaction", next.init(), kerr.ConcurrentTransactions)
	e.waitState("tx", "CompleteAbort")
	calls := e.markers.snapshot()
	if len(calls) != 1 {
		t.Fatalf("%d marker requests, want 1", len(calls))
	}
	mk := calls[0].req.Markers[0]
	if calls[0].node != 1 || mk.ProducerID != old.pid || mk.ProducerEpoch != old.epoch+1 || mk.Committed || mk.CoordinatorEpoch != e.shardEpoch("tx") ||
		len(mk.Topics) != 1 || mk.Topics[0].Topic != "t" || len(mk.Topics[0].Partitions) != 2 {
		t.Fatalf("marker %+v to node %d", mk, calls[0].node)
	}
	next.mustInit()
	if next.pid != old.pid || next.epoch != old.epoch+2 {
		t.Fatalf("retry: %d/%d, want %d/%d", next.pid, next.epoch, old.pid, old.epoch+2)
	}
	wantErr(t, "the fenced producer ends", old.end(true).Err, kerr.ProducerFenced)
}

// shardEpoch is the coordinator epoch of id's shard.
func (e *env) shardEpoch(id string) int32 {
	s, err := e.c.shardFor(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.rt.Epoch
}

// TestCommitAndRetries: EndTxn answers once the decision is committed; the
// markers follow and the completion is written. A retry of the same end
// is CONCURRENT_TRANSACTIONS while the markers are being written and NONE
// once complete; the other end is INVALID_TXN_STATE either way; nothing
// else may start meanwhile.
func TestCommitAndRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createInternalTopic("__consumer_offsets", e.cfg.OffsetsTopicNumPartitions)
	p := e.producer("tx")
	p.mustInit()
	wantErr(t, "add", p.add(tp("t", 1)), nil)
	wantErr(t, "add offsets", e.c.AddOffsets("tx", p.pid, p.epoch, "g")(bg), nil)
	// Hold the markers back: the transaction stays PrepareCommit.
	release := make(chan struct{})
	e.markers.setAnswer(func(_ int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
		<-release
		return answerAll(req, 0), nil
	})
	res := p.end(true)
	if res.Err != nil || res.ProducerID != p.pid || res.Epoch != p.epoch {
		t.Fatalf("commit: %+v", res)
	}
	if s := e.stateOf("tx"); s != "PrepareCommit" {
		t.Fatalf("state %s, want PrepareCommit", s)
	}
	wantErr(t, "commit again", p.end(true).Err, kerr.ConcurrentTransactions)
	wantErr(t, "abort", p.end(false).Err, kerr.InvalidTxnState)
	wantErr(t, "add", p.add(tp("t", 2)), kerr.ConcurrentTransactions)
	wantErr(t, "init", e.producer("tx").init(), kerr.ConcurrentTransactions)
	wantErr(t, "verify", e.c.VerifyPartitions("tx", p.pid, p.epoch, []TopicPartition{tp("t", 1)})[tp("t", 1)], kerr.ConcurrentTransactions)
	close(release)
	e.waitState("tx", "CompleteCommit")
	calls := e.markers.snapshot()
	if len(calls) != 1 || !calls[0].req.Markers[0].Committed || len(calls[0].req.Markers[0].Topics) != 2 {
		t.Fatalf("markers %+v", calls)
	}
	again := p.end(true)
	if again.Err != nil || again.ProducerID != p.pid || again.Epoch != p.epoch {
		t.Fatalf("commit retried after completion: %+v", again)
	}
	wantErr(t, "abort after commit", p.end(false).Err, kerr.InvalidTxnState)
	d := e.describe("tx")
	if len(d.Topics) != 0 || d.StartTimestamp < 0 {
		t.Fatalf("describe after commit: %+v", d)
	}
	// The next transaction starts from CompleteCommit.
	wantErr(t, "add in the next transaction", p.add(tp("t", 0)), nil)
	e.markers.setAnswer(nil)
	if res := p.end(false); res.Err != nil {
		t.Fatalf("abort: %+v", res)
	}
	e.waitState("tx", "CompleteAbort")
	wantErr(t, "abort again", p.end(false).Err, nil)
	wantErr(t, "commit after abort", p.end(true).Err, kerr.InvalidTxnState)
}

// TestEndTxnErrors: EndTxn without a transaction, for an unknown id, with
// another producer id.
func TestEndTxnErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	wantErr(t, "end of nothing", p.end(true).Err, kerr.InvalidTxnState)
	wantErr(t, "abort of nothing", p.end(false).Err, kerr.InvalidTxnState)
	wantErr(t, "unknown id", e.c.EndTxn("nope", p.pid, p.epoch, true, 0)(bg).Err, kerr.InvalidProducerIDMapping)
	wantErr(t, "another producer id", e.c.EndTxn("tx", p.pid+1, p.epoch, true, 0)(bg).Err, kerr.InvalidProducerIDMapping)
	wantErr(t, "a newer epoch", e.c.EndTxn("tx", p.pid, p.epoch+1, true, 0)(bg).Err, kerr.ProducerFenced)
	wantErr(t, "empty id", e.c.EndTxn("", p.pid, p.epoch, true, 0)(bg).Err, kerr.InvalidRequest)
}

// TestPendingTransition: while a transition is being written, requests
// that would start another answer CONCURRENT_TRANSACTIONS.
func TestPendingTransition(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	s, err := e.c.acquire("tx")
	if err != nil {
		t.Fatal(err)
	}
	m := s.txns["tx"]
	m.pending = &transit{state: Ongoing}
	s.mu.Unlock()
	wantErr(t, "init", e.producer("tx").init(), kerr.ConcurrentTransactions)
	wantErr(t, "add", p.add(tp("t", 0)), kerr.ConcurrentTransactions)
	wantErr(t, "end", p.end(true).Err, kerr.ConcurrentTransactions)
	s.mu.Lock()
	m.pending = nil
	s.mu.Unlock()
	wantErr(t, "add once written", p.add(tp("t", 0)), nil)
}

// TestKIP360: InitProducerId with the producer's id and epoch: the current
// epoch is bumped; the epoch before the last bump is a retry and gets the
// same epoch again; anything else is PRODUCER_FENCED.
func TestKIP360(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	pid := p.pid
	res := e.c.InitProducerID(bg, "tx", 1000, pid, 0)(bg)
	if res.Err != nil || res.ProducerID != pid || res.Epoch != 1 {
		t.Fatalf("bump from 0: %+v", res)
	}
	res = e.c.InitProducerID(bg, "tx", 1000, pid, 0)(bg)
	if res.Err != nil || res.ProducerID != pid || res.Epoch != 1 {
		t.Fatalf("retry from 0: %+v", res)
	}
	res = e.c.InitProducerID(bg, "tx", 1000, pid, 5)(bg)
	wantErr(t, "unknown epoch", res.Err, kerr.ProducerFenced)
	res = e.c.InitProducerID(bg, "tx", 1000, pid+7, 1)(bg)
	wantErr(t, "other producer id", res.Err, kerr.ProducerFenced)
	// Without the fields, the retry no longer counts as one.
	p.mustInit()
	res = e.c.InitProducerID(bg, "tx", 1000, pid, 1)(bg)
	wantErr(t, "epoch before a blind init", res.Err, kerr.ProducerFenced)
}

// TestEpochExhaustion: at an exhausted epoch, InitProducerId moves the id
// to a new producer id at epoch 0; a retry naming the old producer id and
// its last epoch is recognised.
func TestEpochExhaustion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	old := p.pid
	e.setEpoch("tx", math.MaxInt16-1)
	res := e.c.InitProducerID(bg, "tx", 1000, old, math.MaxInt16-1)(bg)
	if res.Err != nil || res.ProducerID == old || res.Epoch != 0 {
		t.Fatalf("rotation: %+v", res)
	}
	again := e.c.InitProducerID(bg, "tx", 1000, old, math.MaxInt16-1)(bg)
	if again.Err != nil || again.ProducerID != res.ProducerID || again.Epoch != 0 {
		t.Fatalf("retry of the rotation: %+v, want %d/0", again, res.ProducerID)
	}
}

// setEpoch forces an id's epoch (a shortcut to 32k InitProducerIds).
func (e *env) setEpoch(id string, epoch int16) {
	s, err := e.c.acquire(id)
	if err != nil {
		e.t.Fatal(err)
	}
	s.txns[id].epoch = epoch
	s.mu.Unlock()
}

// TestTimeoutAbort: a transaction open past its timeout is aborted by the
// sweep with its epoch bumped, so its producer is fenced.
func TestTimeoutAbort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("slow")
	p.timeout = 5000
	p.mustInit()
	wantErr(t, "add", p.add(tp("t", 0)), nil)
	idle := e.producer("idle")
	idle.mustInit()
	e.clock.Advance(4 * time.Second)
	if s := e.stateOf("slow"); s != "Ongoing" {
		t.Fatalf("before the timeout: %s", s)
	}
	e.clock.Advance(2 * time.Second)
	e.waitState("slow", "CompleteAbort")
	d := e.describe("slow")
	if d.ProducerEpoch != p.epoch+1 {
		t.Fatalf("epoch after the timeout: %d, want %d", d.ProducerEpoch, p.epoch+1)
	}
	calls := e.markers.snapshot()
	if len(calls) != 1 || calls[0].req.Markers[0].Committed || calls[0].req.Markers[0].ProducerEpoch != p.epoch+1 {
		t.Fatalf("markers %+v", calls)
	}
	wantErr(t, "the timed-out producer commits", p.end(true).Err, kerr.ProducerFenced)
	if s := e.stateOf("idle"); s != "Empty" {
		t.Fatalf("idle id: %s", s)
	}
}

// TestLoadResendsMarkers: a decision found in the log without its
// completion (the coordinator died during the markers) has its markers
// sent again on load, and its completion written; loaded again, it is
// complete and nothing is sent.
func TestLoadResendsMarkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	wantErr(t, "add", p.add(tp("t", 0), tp("t", 1)), nil)
	e.markers.setAnswer(func(_ int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
		return answerAll(req, kerr.NotLeaderForPartition.Code), nil
	})
	if res := p.end(true); res.Err != nil {
		t.Fatal(res.Err)
	}
	e.eventually("markers tried", func() bool { return e.markers.count() >= 2 })
	e.restart()
	e.markers.setAnswer(nil)
	before := e.markers.count()
	e.waitState("tx", "CompleteCommit")
	calls := e.markers.snapshot()[before:]
	if len(calls) == 0 {
		t.Fatal("no markers sent after the load")
	}
	mk := calls[len(calls)-1].req.Markers[0]
	if !mk.Committed || mk.ProducerID != p.pid || mk.ProducerEpoch != p.epoch || mk.CoordinatorEpoch != e.shardEpoch("tx") {
		t.Fatalf("resent marker %+v", mk)
	}
	e.restart()
	before = e.markers.count()
	if s := e.stateOf("tx"); s != "CompleteCommit" {
		t.Fatalf("after another load: %s", s)
	}
	// The completion survives: a commit retry is answered as done.
	wantErr(t, "commit retry after the loads", p.end(true).Err, nil)
	if n := e.markers.count(); n != before {
		t.Fatalf("%d markers sent for a completed transaction", n-before)
	}
}

// TestUnloadStopsMarkers: a coordinator that loses its partition while
// markers are being retried stops sending them and writes no completion;
// the decision stays in the log for the next coordinator, which completes
// it.
func TestUnloadStopsMarkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	wantErr(t, "add", p.add(tp("t", 0)), nil)
	e.markers.setAnswer(func(_ int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
		return answerAll(req, kerr.NotEnoughReplicas.Code), nil
	})
	if res := p.end(false); res.Err != nil {
		t.Fatal(res.Err)
	}
	e.eventually("markers retried", func() bool { return e.markers.count() >= 2 })
	// The partition moves to another broker.
	e.withImage(func(img *metadata.Image) {
		img.Brokers = map[int32]metadata.Broker{1: img.Brokers[1], 2: {NodeID: 2, Host: "127.0.0.1", Port: 9093}}
		ts := img.Topics[TopicName]
		for i := range ts.Partitions {
			ts.Partitions[i].Leader = 2
			ts.Partitions[i].LeaderEpoch++
		}
	})
	wantErr(t, "end after the move", p.end(false).Err, kerr.NotCoordinator)
	e.c.wg.Wait() // the marker sender is gone
	after := e.markers.count()
	e.markers.setAnswer(nil)
	e.restart()
	e.waitState("tx", "CompleteAbort")
	if e.markers.count() <= after {
		t.Fatal("the next coordinator sent no markers")
	}
}

// TestMarkersForDeletedTopic: a partition whose topic was deleted is
// dropped from the markers (UNKNOWN_TOPIC_OR_PARTITION with the topic
// gone), and the transaction completes.
func TestMarkersForDeletedTopic(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic("gone", 1)
	p := e.producer("tx")
	p.mustInit()
	wantErr(t, "add", p.add(tp("t", 0), tp("gone", 0)), nil)
	release := make(chan struct{})
	e.markers.setAnswer(func(_ int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
		<-release
		resp := answerAll(req, 0)
		for i, t := range resp.Markers[0].Topics {
			if t.Topic == "gone" {
				resp.Markers[0].Topics[i].Partitions[0].ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
		}
		return resp, nil
	})
	if res := p.end(true); res.Err != nil {
		t.Fatal(res.Err)
	}
	e.deleteTopic("gone")
	close(release)
	e.waitState("tx", "CompleteCommit")
}

// TestFencedMarkersStop: a leader that answers TRANSACTION_COORDINATOR_FENCED
// (a newer coordinator wrote there) makes this coordinator stop sending;
// the transaction stays decided.
func TestFencedMarkersStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	wantErr(t, "add", p.add(tp("t", 0)), nil)
	e.markers.setAnswer(func(_ int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
		return answerAll(req, kerr.TransactionCoordinatorFenced.Code), nil
	})
	if res := p.end(true); res.Err != nil {
		t.Fatal(res.Err)
	}
	e.eventually("markers tried", func() bool { return e.markers.count() >= 1 })
	e.c.wg.Wait()
	if n := e.markers.count(); n != 1 {
		t.Fatalf("%d marker requests, want 1", n)
	}
	if s := e.stateOf("tx"); s != "PrepareCommit" {
		t.Fatalf("state %s", s)
	}
}

// TestExpiry: an id unused for transactional.id.expiration.ms is
// tombstoned and forgotten, also after a reload; an id with a transaction
// open is kept.
func TestExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "transactional.id.expiration.ms=60000")
	idle := e.producer("idle")
	idle.mustInit()
	e.clock.Advance(30 * time.Second)
	busy := e.producer("busy")
	busy.timeout = 60000
	busy.mustInit()
	wantErr(t, "add", busy.add(tp("t", 0)), nil)
	e.clock.Advance(30 * time.Second) // the sweep at 60 s
	if d := e.describe("idle"); d.ErrorCode != kerr.TransactionalIDNotFound.Code {
		t.Fatalf("idle id after expiry: %+v", d)
	}
	if s := e.stateOf("busy"); s != "Ongoing" {
		t.Fatalf("busy id: %s", s)
	}
	e.restart()
	if d := e.describe("idle"); d.ErrorCode != kerr.TransactionalIDNotFound.Code {
		t.Fatalf("idle id after a reload: %+v", d)
	}
	if s := e.stateOf("busy"); s != "Ongoing" {
		t.Fatalf("busy id after a reload: %s", s)
	}
	// The expired id starts afresh with a new producer id.
	again := e.producer("idle")
	again.mustInit()
	if again.pid == idle.pid || again.epoch != 0 {
		t.Fatalf("re-created id: %d/%d", again.pid, again.epoch)
	}
}

// TestListAndDescribe: ListTransactions filters by state, producer id,
// duration and id pattern, and reports unknown state names.
func TestListAndDescribe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.producer("app-a")
	a.mustInit()
	wantErr(t, "add", a.add(tp("t", 2), tp("t", 0)), nil)
	b := e.producer("app-b")
	b.mustInit()
	c := e.producer("other")
	c.mustInit()
	e.clock.Advance(3 * time.Second)
	list := func(f ListFilter) []string {
		t.Helper()
		states, _, err := e.c.List(f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range states {
			out = append(out, s.TransactionalID+":"+s.TransactionState)
		}
		return out
	}
	eq := func(what string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: %v, want %v", what, got, want)
			}
		}
	}
	eq("all", list(ListFilter{DurationMs: -1}), "app-a:Ongoing", "app-b:Empty", "other:Empty")
	eq("ongoing", list(ListFilter{States: []string{"Ongoing"}, DurationMs: -1}), "app-a:Ongoing")
	eq("by producer", list(ListFilter{ProducerIDs: []int64{b.pid}, DurationMs: -1}), "app-b:Empty")
	eq("longer than 2s", list(ListFilter{States: []string{"Ongoing"}, DurationMs: 2000}), "app-a:Ongoing")
	eq("longer than 5s", list(ListFilter{States: []string{"Ongoing"}, DurationMs: 5000}))
	re, err := CompilePattern("app-.*")
	if err != nil {
		t.Fatal(err)
	}
	eq("pattern", list(ListFilter{Pattern: re, DurationMs: -1}), "app-a:Ongoing", "app-b:Empty")
	re, _ = CompilePattern("app")
	eq("a pattern matches whole ids", list(ListFilter{Pattern: re, DurationMs: -1}))
	if _, err := CompilePattern("(("); err != kerr.InvalidRegularExpression {
		t.Fatalf("bad pattern: %v", err)
	}
	_, unknown, _ := e.c.List(ListFilter{States: []string{"Ongoing", "Bogus"}, DurationMs: -1})
	if len(unknown) != 1 || unknown[0] != "Bogus" {
		t.Fatalf("unknown states %v", unknown)
	}
	d := e.describe("app-a")
	if d.State != "Ongoing" || d.ProducerID != a.pid || len(d.Topics) != 1 || len(d.Topics[0].Partitions) != 2 ||
		d.Topics[0].Partitions[0] != 0 || d.Topics[0].Partitions[1] != 2 || d.StartTimestamp <= 0 {
		t.Fatalf("describe %+v", d)
	}
	if d := e.describe(""); d.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("describe empty id: %+v", d)
	}
}

// TestNotCoordinator: a shard that moved away answers NOT_COORDINATOR.
func TestNotCoordinator(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	e.withImage(func(img *metadata.Image) {
		for i := range img.Topics[TopicName].Partitions {
			img.Topics[TopicName].Partitions[i].Leader = 2
		}
	})
	wantErr(t, "init", p.init(), kerr.NotCoordinator)
	if d := e.describe("tx"); d.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("describe: %+v", d)
	}
}
