package group

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/coordinator"
)

// Transactional offset commits (KIP-98, KIP-447, KIP-890).
//
// A TxnOffsetCommit is validated like an OffsetCommit and written as one
// transactional batch that carries the producer's id and epoch. Once the
// batch is committed its offsets are pending: they belong to the group's
// txnOffsets under the producer id, invisible to OffsetFetch (and, with
// RequireStable, making it answer UNSTABLE_OFFSET_COMMIT), until the
// transaction's marker in the same partition ends them (CompleteTxn):
// a commit makes each the group's committed offset unless a newer record
// committed that partition meanwhile; an abort drops them. The replay of
// the log does the same with the batches and markers it reads, so a
// reloaded shard holds exactly what the live one did.

// VerifyTxn asks the transaction coordinator whether producerID, in
// producerEpoch, has an ongoing transaction of transactionalID that may
// write offsets into partition offsetsPartition of __consumer_offsets
// (KIP-890 verification), before a TxnOffsetCommit is written. With
// implicitAdd (TxnOffsetCommit v5+, transaction version 2) it adds that
// partition to the transaction if needed, as AddOffsetsToTxn did before.
// An error wrapping a Kafka error (INVALID_TXN_STATE,
// INVALID_PRODUCER_EPOCH, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS,
// NOT_COORDINATOR, ...) refuses the commit with that code.
type VerifyTxn func(ctx context.Context, transactionalID string, producerID int64, producerEpoch int16, offsetsPartition int32, implicitAdd bool) error

// SetVerifyTxn installs the transaction coordinator's verification (see
// VerifyTxn); nil turns verification off. It may be called at any time:
// a commit uses the hook installed when it starts.
func (c *Coordinator) SetVerifyTxn(fn VerifyTxn) {
	if fn == nil {
		c.verifyTxn.Store(nil)
		return
	}
	c.verifyTxn.Store(&fn)
}

// producer is a transaction's producer: the id and epoch of its batches.
type producer struct {
	id    int64
	epoch int16
}

// TxnCommitOffsets handles a TxnOffsetCommit request and waits for its
// answer (StartTxnCommitOffsets).
func (c *Coordinator) TxnCommitOffsets(req *kmsg.TxnOffsetCommitRequest) *kmsg.TxnOffsetCommitResponse {
	return c.StartTxnCommitOffsets(req)(context.Background())
}

// StartTxnCommitOffsets handles a TxnOffsetCommit request of any version
// (v2's leader epoch, v3's member id, generation and instance id, v5's
// implicit add to the transaction): partitions of unknown topics are
// refused, the empty group id is INVALID_GROUP_ID (unlike OffsetCommit),
// and the group's coordinator must be loaded here. The transaction is then
// verified with the transaction coordinator (VerifyTxn, when installed),
// the commit validated as a transactional one, and its offsets written
// as one transactional batch of the request's producer (startCommit).
// The answer comes once the batch is committed; its offsets then wait for
// the transaction's end (CompleteTxn). Without a verification hook the
// batch is appended before StartTxnCommitOffsets returns, in request
// order; with one, the verification (a call to the transaction
// coordinator) and the append happen in the returned wait, so that the
// connection's reader never waits on another broker.
func (c *Coordinator) StartTxnCommitOffsets(req *kmsg.TxnOffsetCommitRequest) func(context.Context) *kmsg.TxnOffsetCommitResponse {
	cr := &offsetCommit{
		group: req.Group, memberID: req.MemberID, instanceID: req.InstanceID, generation: req.Generation,
		txn: &producer{id: req.ProducerID, epoch: req.ProducerEpoch},
	}
	if req.Version < 3 {
		// The fields do not exist below v3; a decoded request leaves
		// them zero, which would name generation 0.
		cr.memberID, cr.instanceID, cr.generation = "", nil, -1
	}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			o := offset{offset: p.Offset, leaderEpoch: p.LeaderEpoch, commitTime: -1, expireTime: -1}
			if req.Version < 2 {
				o.leaderEpoch = -1
			}
			if p.Metadata != nil {
				o.metadata = *p.Metadata
			}
			cr.parts = append(cr.parts, commitPart{topic: t.Topic, partition: p.Partition, o: o})
		}
	}
	answer := func() *kmsg.TxnOffsetCommitResponse {
		resp := kmsg.NewPtrTxnOffsetCommitResponse()
		n := 0
		for _, t := range req.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, cr.parts[n].code
				rt.Partitions = append(rt.Partitions, rp)
				n++
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	ready := func(context.Context) *kmsg.TxnOffsetCommitResponse { return answer() }
	if cr.checkTopics(c.md.Image()) == 0 {
		return ready
	}
	if req.Group == "" {
		cr.failAll(kerr.InvalidGroupID.Code)
		return ready
	}
	s, err := c.servingShardFor(req.Group)
	if err != nil {
		cr.failAll(codeOf(err, kerr.NotCoordinator))
		return ready
	}
	verify := c.verifyTxn.Load()
	if verify == nil {
		wait := c.startCommit(cr)
		return func(ctx context.Context) *kmsg.TxnOffsetCommitResponse {
			wait(ctx)
			return answer()
		}
	}
	index := s.rt.Index
	return func(ctx context.Context) *kmsg.TxnOffsetCommitResponse {
		vctx, cancel := context.WithTimeout(ctx, c.cfg.commitTimeout)
		err := (*verify)(vctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, index, req.Version >= 5)
		cancel()
		if err != nil {
			c.log.Debug("transactional offset commit not verified", "group", req.Group, "transactional_id", req.TransactionalID, "producer_id", req.ProducerID, "err", err)
			cr.failAll(verifyCode(err, req.Version))
			return answer()
		}
		c.startCommit(cr)(ctx)
		return answer()
	}
}

// verifyCode is the answer to a TxnOffsetCommit whose verification failed
// with err, translated as Kafka's broker translates the transaction
// coordinator's answer: PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH
// (what producers expect of a verification), TRANSACTION_ABORTABLE becomes
// INVALID_TXN_STATE below v4 (whose clients do not know it), and the
// errors of a write that cannot be done now become
// COORDINATOR_NOT_AVAILABLE, which clients retry.
func verifyCode(err error, version int16) int16 {
	var ke *kerr.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return kerr.CoordinatorNotAvailable.Code
	case !errors.As(err, &ke):
		return kerr.UnknownServerError.Code
	case ke == kerr.ProducerFenced:
		return kerr.InvalidProducerEpoch.Code
	case ke == kerr.TransactionAbortable && version < 4:
		return kerr.InvalidTxnState.Code
	}
	return coordinator.ErrorCode(err, kerr.UnknownServerError)
}

// servingShardFor returns the loaded shard coordinating groupID: errors
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) servingShardFor(groupID string) (*shard, error) {
	s, err := c.shardFor(groupID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.unloaded:
		return nil, kerr.NotCoordinator
	case !s.loaded:
		return nil, kerr.CoordinatorLoadInProgress
	}
	return s, nil
}

// CompleteTxn ends the transactional offset commits of producer pid in
// partition index of __consumer_offsets: on commit they become their
// groups' committed offsets (each unless a newer record committed its
// partition), on abort they are dropped. The markers path calls it once
// the transaction's marker is committed in that partition, and before
// it reports the markers written, so before the transaction coordinator
// lets pid begin another transaction: every record of pid in the
// partition's log at the time of the call belongs to the transaction
// that ended (later ones, of a next transaction, stay pending).
//
// A partition this node does not coordinate (any more) is ignored: its
// next coordinator replays the marker from the log. A shard still loading
// ends the transaction once loaded. CompleteTxn takes only the shard's and
// the groups' locks, which no one holds while waiting on replication, and
// writes nothing: the marker is the record.
func (c *Coordinator) CompleteTxn(index int32, pid int64, commit bool) {
	s, err := c.rt.Lookup(func(int32) int32 { return index })
	if err != nil {
		return
	}
	// Every record of the ended transaction is below the log end now.
	e := txnEnd{pid: pid, bound: s.rt.Log.LogEndOffset(), commit: commit}
	s.mu.Lock()
	switch {
	case s.unloaded:
		s.mu.Unlock()
		return
	case !s.loaded:
		// The replay may have read the log before the marker: end the
		// transaction once the replayed groups are in place (activate).
		s.endsWhileLoading = append(s.endsWhileLoading, e)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.endTxn(e)
}

// txnEnd is the end of producer pid's transaction in one shard: its
// offsets whose records lie below bound are committed or dropped.
type txnEnd struct {
	pid    int64
	bound  int64
	commit bool
}

// endOf returns the end among ends (in the order they came) that ended the
// transaction of the record at offset rec, or nil if none did.
func endOf(ends []txnEnd, rec int64) *txnEnd {
	for i := range ends {
		if rec < ends[i].bound {
			return &ends[i]
		}
	}
	return nil
}

// shardTxns is a shard's index of its open transactions. Locks: taken
// under a group's mutex, never the other way round, and never held while
// taking another lock.
type shardTxns struct {
	mu sync.Mutex
	// open holds, per producer, the groups with pending offsets of it.
	open map[int64]map[*group]struct{}
	// inflight counts, per producer, its transactional batches appended
	// (or being appended) and not completed yet; ended keeps the ends of
	// the producer's transactions that came meanwhile, for those batches
	// to apply when they complete (a transaction that times out may be
	// aborted, and its marker committed, before the completion of a batch
	// it holds has run).
	inflight map[int64]int
	ended    map[int64][]txnEnd
}

// begin counts a transactional batch of pid in flight.
func (t *shardTxns) begin(pid int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inflight == nil {
		t.inflight = map[int64]int{}
	}
	t.inflight[pid]++
}

// done counts off a transactional batch of pid that was not appended.
func (t *shardTxns) done(pid int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.doneLocked(pid)
}

func (t *shardTxns) doneLocked(pid int64) {
	if t.inflight[pid]--; t.inflight[pid] <= 0 {
		delete(t.inflight, pid)
		delete(t.ended, pid)
	}
}

// hold records that g has pending offsets of pid.
func (t *shardTxns) hold(pid int64, g *group) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.holdLocked(pid, g)
}

func (t *shardTxns) holdLocked(pid int64, g *group) {
	if t.open == nil {
		t.open = map[int64]map[*group]struct{}{}
	}
	gs := t.open[pid]
	if gs == nil {
		gs = map[*group]struct{}{}
		t.open[pid] = gs
	}
	gs[g] = struct{}{}
}

// endTxn ends a transaction in the shard's groups (see CompleteTxn).
func (s *shard) endTxn(e txnEnd) {
	t := &s.txns
	t.mu.Lock()
	groups := t.open[e.pid]
	delete(t.open, e.pid)
	if t.inflight[e.pid] > 0 {
		if t.ended == nil {
			t.ended = map[int64][]txnEnd{}
		}
		t.ended[e.pid] = append(t.ended[e.pid], e)
	}
	t.mu.Unlock()
	for g := range groups {
		g.mu.Lock()
		g.endTxn(e)
		g.mu.Unlock()
	}
}

// applyTxnOffsets settles a completed transactional batch of producer pid
// holding parts, whose records start at log offset base: applied
// says whether it is in the committed log (and the group still alive).
// Its offsets become pending, or, if their transaction ended while the
// batch was in flight, are committed or dropped at once. Called with g.mu
// held, from the batch's completion.
func (g *group) applyTxnOffsets(pid int64, parts []commitPart, base int64, applied bool) {
	t := &g.shard.txns
	t.mu.Lock()
	ends := slices.Clone(t.ended[pid])
	t.doneLocked(pid)
	if applied && endOf(ends, base+int64(len(parts)-1)) == nil {
		// Registered in the same step that counted the batch off, so an
		// end that comes next finds this group.
		t.holdLocked(pid, g)
	}
	t.mu.Unlock()
	if !applied {
		return
	}
	for n, p := range parts {
		o := p.o
		o.record = base + int64(n)
		tp := topicPartition{p.topic, p.partition}
		if e := endOf(ends, o.record); e != nil {
			if e.commit {
				g.commitTxnOffset(tp, o)
			}
			continue
		}
		ps := g.txnOffsets[pid]
		if ps == nil {
			ps = map[topicPartition]offset{}
			g.txnOffsets[pid] = ps
		}
		ps[tp] = o
	}
}

// endTxn commits or drops the group's pending offsets of e's transaction;
// those of a later transaction of the producer stay.
func (g *group) endTxn(e txnEnd) {
	ps := g.txnOffsets[e.pid]
	for tp, o := range ps {
		if o.record >= e.bound {
			continue
		}
		if e.commit && g.state != stateDead {
			g.commitTxnOffset(tp, o)
		}
		delete(ps, tp)
	}
	if len(ps) == 0 {
		delete(g.txnOffsets, e.pid)
		return
	}
	g.shard.txns.hold(e.pid, g)
}

// commitTxnOffset makes a committed transaction's offset the group's,
// unless the committed offset's record is the newer: Kafka keeps the most
// recent record when regular and transactional commits mix.
func (g *group) commitTxnOffset(tp topicPartition, o offset) {
	if cur, ok := g.offsets[tp.topic][tp.partition]; ok && cur.record > o.record {
		return
	}
	g.setOffset(tp.topic, tp.partition, o)
}

// hasTxnOffset reports whether an open transaction has a pending offset
// for tp.
func (g *group) hasTxnOffset(tp topicPartition) bool {
	for _, ps := range g.txnOffsets {
		if _, ok := ps[tp]; ok {
			return true
		}
	}
	return false
}

// dropTxnOffsets drops every open transaction's pending offset for tp, as
// the replay of its tombstone does.
func (g *group) dropTxnOffsets(tp topicPartition) {
	for pid, ps := range g.txnOffsets {
		delete(ps, tp)
		if len(ps) == 0 {
			delete(g.txnOffsets, pid)
		}
	}
}
