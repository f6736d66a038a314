package api

// The transactional path of Produce: the transactional id a transactional
// batch requires, KIP-890 part 1's verification, and part 2's implicit
// addition of the partition to the transaction (Produce v12+).
//
// A transactional batch for a partition where its producer has no
// transaction open yet at the batch's epoch (Partition.OngoingTxn, and the
// epoch this leader last verified: see txnOrder.verifiedAt) is appended
// only once the
// transaction coordinator says the partition was added to the producer's
// transaction at that epoch (from v12 the coordinator adds it: the
// partition leader sends AddPartitionsToTxn v4+ without VerifyOnly, as
// Kafka's does for clients of transaction version 2): otherwise a late retry of a batch from an
// ended (or timed out) transaction would open a transaction that no
// marker ever ends, which holds every read_committed consumer of the
// partition at its last stable offset forever (a hanging transaction).
//
// The verification may go to another broker, so it does not run on the
// connection's reader: the batch is copied (the request frame is reused
// once Handle returns) and appended by a goroutine once the answer comes,
// and the response waits for it. Appends of one producer to one partition
// stay in request order all the same (idempotence needs it: the sequence
// of a later batch must not land before an earlier one): while one is
// waiting, every later batch of that producer to that partition, verified
// or not, queues behind it (txnOrder).

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/record"
	"github.com/samsa-kafka/samsa/internal/txn"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// txnOrderKey is one producer's appends to one partition.
type txnOrderKey struct {
	topic      string
	partition  int32
	producerID int64
}

// txnOrder queues the appends of a producer to a partition while some of
// them wait for a verification, and remembers the epoch each was last
// verified at (see verifiedAt).
type txnOrder struct {
	mu       sync.Mutex
	tails    map[txnOrderKey]chan struct{} // the last queued append of each key, closed once done
	verified map[txnOrderKey]int16
}

// maxVerified bounds the epochs remembered; past it they are forgotten at
// once, which costs a verification each, never a wrong answer.
const maxVerified = 1 << 16

// verifiedAt reports whether the coordinator verified (or added) k's
// partition in the transaction of k's producer at epoch. With the log's
// open transaction it stands for Kafka's hasOngoingTransaction(producer,
// epoch): a transaction open in the partition at another epoch is not the
// batch's (a zombie's batch at an older epoch; under transaction version
// 2, where the epoch bumps at every end, the previous transaction, whose
// marker is still on its way), so the batch is verified rather than
// joining it. Within one epoch a transaction open in the partition is the
// batch's: under the original protocol the next transaction cannot add
// the partition before every marker of the previous one is written.
// Forgotten epochs (a restart, a partition that moved here) cost one
// verification.
func (o *txnOrder) verifiedAt(k txnOrderKey, epoch int16) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.verified[k]
	return ok && e == epoch
}

func (o *txnOrder) setVerified(k txnOrderKey, epoch int16) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verified == nil || len(o.verified) >= maxVerified {
		o.verified = map[txnOrderKey]int16{}
	}
	o.verified[k] = epoch
}

// join queues an append for k when it must wait (it needs verifying) or
// when appends of k are queued already; it returns the append to wait for
// (nil when none) and the channel to close when done. queued is false when
// the append may happen at once, in Handle.
func (o *txnOrder) join(k txnOrderKey, mustWait bool) (prev, done chan struct{}, queued bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	prev = o.tails[k]
	if prev == nil && !mustWait {
		return nil, nil, false
	}
	done = make(chan struct{})
	o.tails[k] = done
	return prev, done, true
}

// finish marks a queued append of k done.
func (o *txnOrder) finish(k txnOrderKey, done chan struct{}) {
	o.mu.Lock()
	if o.tails[k] == done {
		delete(o.tails, k)
	}
	o.mu.Unlock()
	close(done)
}

// deferredAppend is a transactional batch appended after its
// verification, or behind one.
type deferredAppend struct {
	key     txnOrderKey
	epoch   int16
	p       *partition.Partition
	records []byte // a copy: the request frame does not outlive Handle
	verify  bool
	prev    chan struct{}
	done    chan struct{}
	resp    *kmsg.ProduceResponseTopicPartition
}

// refuseTransactional is the error of every partition of a request that
// carries transactional batches it may not: without a transactional id
// (Kafka answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED, whatever the
// authorizer), or of more than one producer (INVALID_PRODUCER_ID_MAPPING).
func (h *Handler) refuseTransactional(r *kmsg.ProduceRequest) error {
	var pids []int64
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			hdr, err := record.ParseHeader(rp.Records)
			if err != nil || !hdr.IsTransactional() {
				continue
			}
			if !slices.Contains(pids, hdr.ProducerID) {
				pids = append(pids, hdr.ProducerID)
			}
		}
	}
	switch {
	case len(pids) == 0:
		return nil
	case r.TransactionID == nil:
		return &controller.Error{Code: kerr.TransactionalIDAuthorizationFailed, Message: "transactional records need the request's transactional id"}
	case len(pids) > 1:
		return &controller.Error{Code: kerr.InvalidProducerIDMapping, Message: "transactional records of more than one producer id"}
	}
	return nil
}

// deferTxn queues a transactional batch whose partition needs verifying
// (or, from v12, adding to the transaction), or that must wait behind one
// that does; nil when the batch may be appended at once.
func (h *Handler) deferTxn(version int16, topic string, index int32, p *partition.Partition, hdr record.Header, records []byte, sp *kmsg.ProduceResponseTopicPartition) *deferredAppend {
	if h.Txns == nil || !hdr.IsTransactional() || hdr.IsControl() {
		return nil
	}
	k := txnOrderKey{topic: topic, partition: index, producerID: hdr.ProducerID}
	verify := !p.OngoingTxn(hdr.ProducerID) || !h.txnOrder.verifiedAt(k, hdr.ProducerEpoch)
	prev, done, queued := h.txnOrder.join(k, verify)
	if !queued {
		return nil
	}
	return &deferredAppend{key: k, epoch: hdr.ProducerEpoch, p: p, records: slices.Clone(records), verify: verify, prev: prev, done: done, resp: sp}
}

// appendVerified verifies the partitions that need it (one question to
// the coordinator for the request) and appends each batch in its turn,
// filling its answer; it returns what acks=all then waits for. Every
// queued append is finished, whatever happens, so that later ones go on.
func (h *Handler) appendVerified(r *kmsg.ProduceRequest, req *wire.Request, ds []*deferredAppend, resp *kmsg.ProduceResponse) []awaiting {
	version := req.Version
	var verdict map[txn.TopicPartition]error
	var ask []txn.TopicPartition
	for _, d := range ds {
		if d.verify {
			ask = append(ask, txn.TopicPartition{Topic: d.key.topic, Partition: d.key.partition})
		}
	}
	if len(ask) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), max(time.Duration(r.TimeoutMillis)*time.Millisecond, time.Second))
		go func() {
			select {
			case <-h.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		verdict = h.verify(ctx, *r.TransactionID, ds[0].key.producerID, ds[0].epoch, ask, version >= 12)
		cancel()
	}
	var waits []awaiting
	for _, d := range ds {
		if d.prev != nil {
			<-d.prev
		}
		var last partition.AppendResult
		var err error
		if d.verify {
			err = produceVerifyError(verdict[txn.TopicPartition{Topic: d.key.topic, Partition: d.key.partition}], version)
			if err == nil {
				h.txnOrder.setVerified(d.key, d.epoch)
			}
		}
		if err == nil {
			last, err = d.p.AppendAcks(d.records, r.Acks)
		}
		h.txnOrder.finish(d.key, d.done)
		if w, ok := h.produced(req, r.Acks, d.key.topic, d.p, len(d.records), last, err, d.resp, resp); ok {
			waits = append(waits, w)
		}
	}
	return waits
}

// verify asks the coordinator (txn.Coordinator.Verify). An addition
// (Produce v12+) that meets CONCURRENT_TRANSACTIONS, the previous
// transaction's markers still being written, is retried every
// add.partitions.to.txn.retry.backoff.ms for at most
// add.partitions.to.txn.retry.backoff.max.ms, as Kafka's broker retries
// it, rather than sending the producer into its own, longer backoff.
func (h *Handler) verify(ctx context.Context, id string, producerID int64, epoch int16, parts []txn.TopicPartition, add bool) map[txn.TopicPartition]error {
	verdict := h.Txns.Verify(ctx, id, producerID, epoch, parts, add)
	if !add {
		return verdict
	}
	cfg := h.currentConfig()
	backoff := time.Duration(cfg.AddPartitionsToTxnRetryBackoffMs) * time.Millisecond
	deadline := time.Now().Add(time.Duration(cfg.AddPartitionsToTxnRetryBackoffMaxMs) * time.Millisecond)
	for {
		var again []txn.TopicPartition
		for _, tp := range parts {
			if errors.Is(verdict[tp], kerr.ConcurrentTransactions) {
				again = append(again, tp)
			}
		}
		if len(again) == 0 || !time.Now().Add(backoff).Before(deadline) {
			return verdict
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return verdict
		case <-t.C:
		}
		for tp, err := range h.Txns.Verify(ctx, id, producerID, epoch, again, add) {
			verdict[tp] = err
		}
	}
}

// produceVerifyError is the produce answer for a failed verification, as
// Kafka's ReplicaManager translates the coordinator's errors:
// TRANSACTION_ABORTABLE is INVALID_TXN_STATE before Produce v11 (clients
// that predate it); INVALID_TXN_STATE says the partition was not added;
// the errors of a coordinator that could not answer become
// NOT_ENOUGH_REPLICAS, which every producer retries without a metadata
// refresh.
func produceVerifyError(err error, version int16) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, kerr.TransactionAbortable) && version <= 10 {
		err = kerr.InvalidTxnState
	}
	switch {
	case errors.Is(err, kerr.InvalidTxnState):
		return &controller.Error{Code: kerr.InvalidTxnState, Message: "Partition was not added to the transaction"}
	case errors.Is(err, kerr.ConcurrentTransactions), errors.Is(err, kerr.NetworkException),
		errors.Is(err, kerr.CoordinatorLoadInProgress), errors.Is(err, kerr.CoordinatorNotAvailable),
		errors.Is(err, kerr.NotCoordinator):
		return &controller.Error{Code: kerr.NotEnoughReplicas,
			Message: "Unable to verify the partition has been added to the transaction. Underlying error: " + err.Error()}
	}
	return err
}
