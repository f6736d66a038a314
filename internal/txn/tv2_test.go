package txn

import (
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// endV2 sends EndTxn v5 (transaction version 2).
func (p *producer) endV2(commit bool) ProducerIDAndEpoch {
	return p.e.c.EndTxn(p.id, p.pid, p.epoch, commit, 2)(bg)
}

// addV2 adds partitions as a partition leader does for a Produce v12.
func (p *producer) addV2(parts ...TopicPartition) error {
	return p.e.c.AddPartitions(p.id, p.pid, p.epoch, parts, 2)(bg)
}

// TestEndTxnV2: under transaction version 2 every end bumps the epoch and
// answers the producer id and epoch to continue with; the markers carry
// the bumped epoch and version 2; a retry (the epoch before the bump) is
// NONE or CONCURRENT_TRANSACTIONS, the same end at the current epoch
// INVALID_TXN_STATE, and an abort with nothing added bumps the epoch too.
func TestEndTxnV2(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	first := p.epoch
	wantErr(t, "add", p.addV2(tp("t", 0)), nil)
	res := p.endV2(true)
	if res.Err != nil || res.ProducerID != p.pid || res.Epoch != first+1 {
		t.Fatalf("commit: %+v, want %d/%d", res, p.pid, first+1)
	}
	e.waitState("tx", "CompleteCommit")
	mk := e.markers.snapshot()[0].req.Markers[0]
	if !mk.Committed || mk.ProducerEpoch != first+1 || mk.TransactionVersion != 2 {
		t.Fatalf("marker %+v", mk)
	}
	// The retry names the epoch it sent.
	if r := p.endV2(true); r.Err != nil || r.ProducerID != p.pid || r.Epoch != first+1 {
		t.Fatalf("commit retried: %+v", r)
	}
	wantErr(t, "abort retried after a commit", p.endV2(false).Err, kerr.InvalidTxnState)
	p.epoch = res.Epoch
	wantErr(t, "commit of nothing", p.endV2(true).Err, kerr.InvalidTxnState)
	// An abort with nothing added bumps the epoch.
	r := p.endV2(false)
	if r.Err != nil || r.Epoch != first+2 {
		t.Fatalf("empty abort: %+v", r)
	}
	e.waitState("tx", "CompleteAbort")
	p.epoch = r.Epoch
	wantErr(t, "an epoch ahead", e.c.EndTxn("tx", p.pid, p.epoch+1, false, 2)(bg).Err, kerr.ProducerFenced)
	wantErr(t, "an old epoch", e.c.EndTxn("tx", p.pid, p.epoch-2, false, 2)(bg).Err, kerr.ProducerFenced)
	// The original protocol's EndTxn is served on the same id.
	wantErr(t, "add", p.add(tp("t", 1)), nil)
	if r := p.end(true); r.Err != nil {
		t.Fatalf("v1 commit: %+v", r)
	}
	e.waitState("tx", "CompleteCommit")
	if d := e.describe("tx"); d.ProducerEpoch != p.epoch {
		t.Fatalf("a v1 end bumped the epoch: %+v", d)
	}
}

// TestEpochOverflowV2: an end at the last epoch of a producer id moves the
// id to a new producer id at epoch 0 once the markers (at the last epoch)
// are written; the answer names the new one, and retries of the end and of
// InitProducerId with the old id and epoch are recognised.
func TestEpochOverflowV2(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	old := p.pid
	e.setEpoch("tx", math.MaxInt16-1)
	p.epoch = math.MaxInt16 - 1
	wantErr(t, "add", p.addV2(tp("t", 0)), nil)
	res := p.endV2(false)
	if res.Err != nil || res.ProducerID == old || res.Epoch != 0 {
		t.Fatalf("abort at the last epoch: %+v", res)
	}
	e.waitState("tx", "CompleteAbort")
	mk := e.markers.snapshot()[0].req.Markers[0]
	if mk.ProducerID != old || mk.ProducerEpoch != math.MaxInt16 {
		t.Fatalf("marker %+v", mk)
	}
	if d := e.describe("tx"); d.ProducerID != res.ProducerID || d.ProducerEpoch != 0 {
		t.Fatalf("after the markers: %+v", d)
	}
	retry := e.c.EndTxn("tx", old, math.MaxInt16-1, false, 2)(bg)
	if retry.Err != nil || retry.ProducerID != res.ProducerID || retry.Epoch != 0 {
		t.Fatalf("retried abort: %+v", retry)
	}
	init := e.c.InitProducerID(bg, "tx", 1000, old, math.MaxInt16-1)(bg)
	if init.Err != nil || init.ProducerID != res.ProducerID || init.Epoch != 0 {
		t.Fatalf("retried init: %+v", init)
	}
}

// TestTimeoutAtLastEpochV2: the coordinator's abort of a transaction past
// its timeout at the last epoch bumps it once (to MaxInt16) and moves the
// id to a new producer id, and the producer's later InitProducerId with its
// old id and epoch gets the new one (Kafka's test of the same case).
func TestTimeoutAtLastEpochV2(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.timeout = 5000
	p.mustInit()
	old := p.pid
	e.setEpoch("tx", math.MaxInt16-1)
	p.epoch = math.MaxInt16 - 1
	wantErr(t, "add", p.addV2(tp("t", 0)), nil)
	e.clock.Advance(6 * time.Second)
	e.waitState("tx", "CompleteAbort")
	mk := e.markers.snapshot()[0].req.Markers[0]
	if mk.ProducerID != old || mk.ProducerEpoch != math.MaxInt16 || mk.Committed {
		t.Fatalf("marker %+v", mk)
	}
	d := e.describe("tx")
	if d.ProducerID == old || d.ProducerEpoch != 0 {
		t.Fatalf("after the abort: %+v", d)
	}
	init := e.c.InitProducerID(bg, "tx", 1000, old, math.MaxInt16-1)(bg)
	if init.Err != nil || init.ProducerID != d.ProducerID || init.Epoch != 0 {
		t.Fatalf("init after the abort: %+v", init)
	}
}

// TestFenceByTransactionVersion: a fence below transaction version 2
// leaves no previous epoch, so the fenced producer's KIP-360
// InitProducerId is PRODUCER_FENCED; at version 2 (Kafka's) it keeps the
// epoch before the bump as the last one.
func TestFenceByTransactionVersion(t *testing.T) {
	t.Parallel()
	for _, tv := range []int16{1, 2} {
		e := newEnv(t)
		e.tv.Store(int32(tv))
		old := e.producer("tx")
		old.mustInit()
		wantErr(t, "add", old.add(tp("t", 0)), nil)
		wantErr(t, "init during the transaction", e.producer("tx").init(), kerr.ConcurrentTransactions)
		e.waitState("tx", "CompleteAbort")
		res := e.c.InitProducerID(bg, "tx", 1000, old.pid, old.epoch)(bg)
		switch tv {
		case 1:
			wantErr(t, "v1: the fenced producer's init", res.Err, kerr.ProducerFenced)
		case 2:
			if res.Err != nil || res.Epoch != old.epoch+1 {
				t.Fatalf("v2: the fenced producer's init: %+v", res)
			}
		}
		wantTV := int8(0) // the original protocol's markers
		if tv == 2 {
			wantTV = 2
		}
		calls := e.markers.snapshot()
		if mk := calls[len(calls)-1].req.Markers[0]; mk.ProducerEpoch != old.epoch+1 || mk.TransactionVersion != wantTV {
			t.Fatalf("tv %d: marker %+v", tv, mk)
		}
	}
}

// TestImplicitAddV2: a partition leader's addition (Verify with add, as
// for Produce v12) adds the partition and makes the transaction's end a
// version 2 one; a partition already added is answered at once.
func TestImplicitAddV2(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	got := e.c.Verify(bg, "tx", p.pid, p.epoch, []TopicPartition{tp("t", 0), tp("t", 2)}, true)
	wantErr(t, "add t-0", got[tp("t", 0)], nil)
	wantErr(t, "add t-2", got[tp("t", 2)], nil)
	got = e.c.Verify(bg, "tx", p.pid, p.epoch, []TopicPartition{tp("t", 0)}, false)
	wantErr(t, "verify t-0", got[tp("t", 0)], nil)
	got = e.c.Verify(bg, "tx", p.pid, p.epoch+1, []TopicPartition{tp("t", 1)}, true)
	wantErr(t, "a fenced addition", got[tp("t", 1)], kerr.InvalidProducerEpoch)
	wantErr(t, "the hook's implicit addition", e.c.VerifyTxn(bg, "tx", p.pid, p.epoch, 7, true), nil)
	d := e.describe("tx")
	if d.State != "Ongoing" || len(d.Topics) != 2 {
		t.Fatalf("describe %+v", d)
	}
	if r := p.endV2(true); r.Err != nil || r.Epoch != p.epoch+1 {
		t.Fatalf("end: %+v", r)
	}
	e.waitState("tx", "CompleteCommit")
	for _, c := range e.markers.snapshot() {
		if mk := c.req.Markers[0]; mk.TransactionVersion != 2 {
			t.Fatalf("marker %+v", mk)
		}
	}
}

// TestNewClusterFinalizesTransactionVersion2: a new cluster's controller
// finalizes transaction.version 2, as Kafka 4's does.
func TestNewClusterFinalizesTransactionVersion2(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if got := e.ctl.Image().Features[metadata.TransactionVersionFeature]; got != metadata.MaxTransactionVersion {
		t.Fatalf("transaction.version %d, want %d", got, metadata.MaxTransactionVersion)
	}
	if got := e.c.transactionVersion(); got != 2 {
		t.Fatalf("the coordinator runs at %d", got)
	}
}

// TestDecidedV2: while a version 2 decision's markers are written, every
// end (a retry, or the next transaction's end at the epoch the decision
// answered, either result) is CONCURRENT_TRANSACTIONS, as in Kafka; and so
// is the addition of the next producer id's transaction after an epoch
// overflow.
func TestDecidedV2(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.producer("tx")
	p.mustInit()
	wantErr(t, "add", p.addV2(tp("t", 0)), nil)
	release := make(chan struct{})
	e.markers.setAnswer(func(_ int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
		<-release
		return answerAll(req, 0), nil
	})
	res := p.endV2(true)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, c := range []struct {
		epoch  int16
		commit bool
		want   *kerr.Error
	}{
		{p.epoch, true, kerr.ConcurrentTransactions},    // a retry
		{p.epoch, false, kerr.ConcurrentTransactions},   // a retry, the other end
		{res.Epoch, false, kerr.ConcurrentTransactions}, // the next transaction's abort
		{res.Epoch, true, kerr.ConcurrentTransactions},  // its commit
		{res.Epoch + 1, false, kerr.ProducerFenced},     // an epoch never handed out
		{p.epoch - 1, false, kerr.ProducerFenced},       // an older one
	} {
		wantErr(t, "end during the markers", e.c.EndTxn("tx", p.pid, c.epoch, c.commit, 2)(bg).Err, c.want)
	}
	close(release)
	e.waitState("tx", "CompleteCommit")
	// Once complete, the next transaction's abort of nothing bumps.
	if r := e.c.EndTxn("tx", p.pid, res.Epoch, false, 2)(bg); r.Err != nil || r.Epoch != res.Epoch+1 {
		t.Fatalf("abort after the markers: %+v", r)
	}
	e.waitState("tx", "CompleteAbort")

	// After an overflow, the new producer id's addition waits for the
	// completion.
	q := e.producer("over")
	q.mustInit()
	e.setEpoch("over", math.MaxInt16-1)
	q.epoch = math.MaxInt16 - 1
	wantErr(t, "add", q.addV2(tp("t", 1)), nil)
	release = make(chan struct{})
	e.markers.setAnswer(func(_ int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
		<-release
		return answerAll(req, 0), nil
	})
	over := q.endV2(true)
	if over.Err != nil || over.Epoch != 0 {
		t.Fatalf("end at the last epoch: %+v", over)
	}
	wantErr(t, "the next producer id adds early", e.c.AddPartitions("over", over.ProducerID, 0, []TopicPartition{tp("t", 1)}, 2)(bg), kerr.ConcurrentTransactions)
	close(release)
	e.waitState("over", "CompleteCommit")
	wantErr(t, "the next producer id adds", e.c.AddPartitions("over", over.ProducerID, 0, []TopicPartition{tp("t", 1)}, 2)(bg), nil)
}
