package partition

// Replica roles, the high watermark and the ISR, with the semantics of
// Kafka's Partition (makeLeader, makeFollower, updateFollowerFetchState,
// maybeIncrementLeaderHW, maybeExpandIsr/maybeShrinkIsr,
// checkEnoughReplicasReachOffset) and Replica (isCaughtUp). The network
// side (follower fetchers, the leader's fetch handling, AlterPartition)
// drives these methods; nothing here sends or receives a request.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/log"
)

// Role is what a replica is in its partition's current leader epoch.
type Role int8

const (
	// RoleNone: opened, no role given by the metadata yet. It takes no
	// appends.
	RoleNone Role = iota
	RoleLeader
	RoleFollower
)

func (r Role) String() string {
	switch r {
	case RoleLeader:
		return "leader"
	case RoleFollower:
		return "follower"
	}
	return "none"
}

// replicaState is the replica's role and, on a leader, what it knows of
// the ISR and its followers. Guarded by Partition.stateMu; role, leader and
// the leader epoch change only under Partition.mu too.
type replicaState struct {
	role           Role
	closed         bool
	leader         int32 // the leader's id, -1 when unknown
	partitionEpoch int32
	replicas       []int32
	isr            []int32 // the committed ISR, as the controller last said
	pending        *isrChange
	followers      map[int32]*follower // leader only: every replica but this one
	epochStart     int64               // leader only: the log end when its epoch began
}

// isrChange is an ISR change sent to the controller and not yet answered
// (Kafka's PendingExpandIsr / PendingShrinkIsr). One at a time.
type isrChange struct {
	isr   []int32 // proposed
	added int32   // an expansion: the replica added; -1 for a shrink
}

// inMaximalISR reports whether id is in the ISR the high watermark waits
// for: the committed ISR plus a replica being added (KIP-497). Adding is
// the stricter assumption, so it is safe before the controller agrees;
// removal waits for the controller, or a failed shrink could have let the
// high watermark pass a replica that is still in the ISR.
func (st *replicaState) inMaximalISR(id int32) bool {
	return slices.Contains(st.isr, id) || st.pending != nil && st.pending.added == id
}

func (st *replicaState) maximalISRSize() int {
	n := len(st.isr)
	if st.pending != nil && st.pending.added >= 0 && !slices.Contains(st.isr, st.pending.added) {
		n++
	}
	return n
}

// follower is what a leader knows of one follower, from its fetches
// (Kafka's ReplicaState).
type follower struct {
	leo           int64     // the offset it last fetched from; -1 unknown
	lastFetchLEO  int64     // the leader's log end at its previous fetch
	lastFetchTime time.Time // when that was
	// lastCaughtUp is the latest time t at which the follower had
	// fetched up to the leader's log end as of t.
	lastCaughtUp time.Time
	// brokerEpoch is the broker epoch of its latest fetch (Fetch v15+
	// ReplicaState, KIP-903); -1 unknown or not sent.
	brokerEpoch int64
}

// caughtUp is Kafka's isCaughtUp: at the leader's log end, or caught up
// within lagMax.
func (f *follower) caughtUp(leaderEnd int64, now time.Time, lagMax time.Duration) bool {
	return f.leo == leaderEnd || now.Sub(f.lastCaughtUp) <= lagMax
}

// FollowerState is a leader's view of one follower.
type FollowerState struct {
	LogEndOffset int64 // -1 until it fetched in this leadership
	LastCaughtUp time.Time
	BrokerEpoch  int64 // of its latest fetch; -1 unknown
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// errNotLeader is NOT_LEADER_OR_FOLLOWER for this partition.
func (p *Partition) errNotLeader(what string) error {
	return fmt.Errorf("partition %s-%d: %s: %w", p.Topic, p.Index, what, kerr.NotLeaderForPartition)
}

// checkEpoch compares a request's current leader epoch with ours, as
// Kafka's checkCurrentLeaderEpoch: -1 (none given) passes.
func (p *Partition) checkEpoch(current int32) error {
	ours := p.leaderEpoch.Load()
	switch {
	case current < 0 || current == ours:
		return nil
	case current < ours:
		return fmt.Errorf("partition %s-%d: leader epoch %d is older than %d: %w", p.Topic, p.Index, current, ours, kerr.FencedLeaderEpoch)
	}
	return fmt.Errorf("partition %s-%d: leader epoch %d is newer than %d: %w", p.Topic, p.Index, current, ours, kerr.UnknownLeaderEpoch)
}

// CheckLeader answers whether a request that must reach the leader may be
// served here: FENCED_LEADER_EPOCH when currentLeaderEpoch (>= 0) is older
// than ours, UNKNOWN_LEADER_EPOCH when newer, else NOT_LEADER_OR_FOLLOWER
// unless this replica leads. The epoch is checked first, as Kafka does.
func (p *Partition) CheckLeader(currentLeaderEpoch int32) error {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if err := p.checkEpoch(currentLeaderEpoch); err != nil {
		return err
	}
	if p.st.closed || p.st.role != RoleLeader {
		return p.errNotLeader("not the leader")
	}
	return nil
}

// MakeLeader makes this replica the leader in epoch, with the ISR, the
// replica set and the partition epoch of the controller's record. A
// transition older than what the replica knows (a lower leader or
// partition epoch) is ignored. It reports whether the leadership is new
// (this replica did not lead, or led in an older epoch).
//
// A new leadership records epoch in the leader-epoch checkpoint at the log
// end, before any append in it, and resets what it knows of the
// followers: each is unknown until it fetches, and the ISR members count
// as caught up now. The high watermark stays where it was (a new leader's
// may lag) and moves once the ISR has fetched. The same epoch again
// updates the ISR and the replica set (the record of an ISR change) and
// clears a pending ISR change.
//
// The error is a failure to write the epoch checkpoint; the replica leads
// all the same, and its first append records the epoch.
func (p *Partition) MakeLeader(epoch int32, isr, replicas []int32, partitionEpoch int32) (bool, error) {
	p.mu.Lock()
	p.stateMu.Lock()
	cur, st := p.leaderEpoch.Load(), &p.st
	if st.closed || epoch < cur || partitionEpoch < st.partitionEpoch {
		p.stateMu.Unlock()
		p.mu.Unlock()
		return false, nil
	}
	wasLeader := st.role == RoleLeader
	fresh := !wasLeader || epoch > cur
	p.stateMu.Unlock()

	// The checkpoint write (an fsync) runs under the appender lock only,
	// which keeps appends out until the epoch is recorded; the fetch path
	// (stateMu) is not held up.
	var assignErr error
	start := p.log.EndOffset()
	if fresh {
		if start, assignErr = p.log.AssignEpoch(epoch); assignErr != nil {
			start = p.log.EndOffset()
			assignErr = fmt.Errorf("partition %s-%d: become leader in epoch %d: %w", p.Topic, p.Index, epoch, assignErr)
		}
	}

	p.stateMu.Lock()
	now := p.now()
	if partitionEpoch >= st.partitionEpoch {
		// SetISR may have brought a newer record meanwhile; it wins.
		st.isr, st.partitionEpoch = slices.Clone(isr), partitionEpoch
	}
	st.pending = nil
	st.role, st.leader = RoleLeader, p.localID
	st.replicas = slices.Clone(replicas)
	old := st.followers
	st.followers = make(map[int32]*follower, len(replicas))
	for _, id := range replicas {
		if id == p.localID {
			continue
		}
		f := old[id]
		inISR := slices.Contains(st.isr, id)
		switch {
		case fresh && (!wasLeader || f == nil):
			// Kafka's resetReplicaState for a new leader: nothing known.
			f = &follower{leo: -1, lastFetchLEO: -1, brokerEpoch: -1}
			if inISR {
				f.lastCaughtUp = now
			}
		case fresh:
			// Re-elected: the follower's log end still holds.
			f.lastFetchLEO, f.lastFetchTime, f.lastCaughtUp = start, time.Time{}, time.Time{}
			if inISR {
				f.lastFetchTime, f.lastCaughtUp = now, now
			}
		case f == nil:
			f = &follower{leo: -1, brokerEpoch: -1}
		}
		st.followers[id] = f
	}
	if fresh {
		st.epochStart = start
		p.leaderEpoch.Store(epoch)
	}
	advanced := p.maybeIncrementHW(now)
	p.stateMu.Unlock()
	p.mu.Unlock()
	switch {
	case fresh:
		p.wakeAll()
	case advanced:
		p.wakeHW()
	}
	return fresh, assignErr
}

// MakeFollower makes this replica a follower of leader in epoch. A
// transition older than what the replica knows is ignored. It reports
// whether the leader, the epoch or the role changed: the follower's
// fetcher then (re)starts, truncating first (OffsetForLeaderEpoch or the
// fetch's diverging epoch). Waiters for acks=all fail.
func (p *Partition) MakeFollower(epoch int32, leader int32, partitionEpoch int32) bool {
	p.mu.Lock()
	p.stateMu.Lock()
	cur, st := p.leaderEpoch.Load(), &p.st
	if st.closed || epoch < cur || partitionEpoch < st.partitionEpoch {
		p.stateMu.Unlock()
		p.mu.Unlock()
		return false
	}
	changed := epoch > cur || st.role != RoleFollower || st.leader != leader
	st.role, st.leader, st.partitionEpoch = RoleFollower, leader, partitionEpoch
	st.isr, st.pending, st.followers, st.epochStart = nil, nil, nil, -1
	p.leaderEpoch.Store(epoch)
	p.stateMu.Unlock()
	p.mu.Unlock()
	p.wakeAll()
	return changed
}

// SetLeaderEpoch records a new leader epoch from the metadata for a
// replica opened with Open, keeping its role and ISR; it never moves
// backwards. Replicas driven by MakeLeader and MakeFollower do not need
// it.
func (p *Partition) SetLeaderEpoch(e int32) {
	p.stateMu.Lock()
	st := p.st
	p.stateMu.Unlock()
	switch st.role {
	case RoleLeader:
		if _, err := p.MakeLeader(e, st.isr, st.replicas, st.partitionEpoch); err != nil {
			p.logger.Warn("leader epoch checkpoint not written", "topic", p.Topic, "partition", p.Index, "err", err)
		}
	case RoleFollower:
		p.MakeFollower(e, st.leader, st.partitionEpoch)
	}
}

// Role is the replica's current role.
func (p *Partition) Role() Role {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return p.st.role
}

// Leader is the id of the partition's leader as this replica knows it
// (its own when it leads), or -1.
func (p *Partition) Leader() int32 {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return p.st.leader
}

// PartitionEpoch is the partition epoch of the last record applied.
func (p *Partition) PartitionEpoch() int32 {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return p.st.partitionEpoch
}

// ISR is the committed in-sync replica set (empty on a follower).
func (p *Partition) ISR() []int32 {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return slices.Clone(p.st.isr)
}

// ISRSize is the size of the committed ISR (1 on a single node).
func (p *Partition) ISRSize() int32 {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return int32(len(p.st.isr))
}

// Replicas is the replica set of the last MakeLeader.
func (p *Partition) Replicas() []int32 {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return slices.Clone(p.st.replicas)
}

// Follower is what this leader knows of follower id.
func (p *Partition) Follower(id int32) (FollowerState, bool) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	f := p.st.followers[id]
	if f == nil {
		return FollowerState{}, false
	}
	return FollowerState{LogEndOffset: f.leo, LastCaughtUp: f.lastCaughtUp, BrokerEpoch: f.brokerEpoch}, true
}

// effectiveMinISR is min.insync.replicas bounded by the replication
// factor, as Kafka bounds it since 3.7 (KAFKA-15583).
func (p *Partition) effectiveMinISR() int {
	n := int(p.cfg.Load().MinInsyncReplicas)
	return max(min(n, len(p.st.replicas)), 1)
}

// UpdateFollower records a follower's fetch from fetchOffset at now (on
// the leader, for a replica of the partition) and reports whether the
// high watermark advanced. The follower's log end becomes fetchOffset; it
// counts as caught up at now if it fetched from the leader's log end, or
// at its previous fetch if it has now reached the log end as of then
// (Kafka's lastCaughtUpTimeMs rule, so a follower chasing a busy leader
// still counts as caught up).
func (p *Partition) UpdateFollower(replicaID int32, fetchOffset int64, now time.Time) bool {
	advanced, _ := p.UpdateFollowerFetch(replicaID, -1, fetchOffset, now)
	return advanced
}

// UpdateFollowerFetch is UpdateFollower for a fetch that carries the
// follower's broker epoch (Fetch v15+ ReplicaState; -1: not sent), which
// the leader records for the ISR it proposes (KIP-903). A fetch from an
// older incarnation of the follower than the live one the metadata knows
// is refused with NOT_LEADER_OR_FOLLOWER and recorded not at all, as
// Kafka's Replica.updateFetchStateOrThrow refuses it: it may come from a
// broker that restarted and lost what it had acknowledged.
func (p *Partition) UpdateFollowerFetch(replicaID int32, brokerEpoch int64, fetchOffset int64, now time.Time) (bool, error) {
	if cur := p.brokerEpoch(replicaID); brokerEpoch != -1 && cur > brokerEpoch {
		return false, fmt.Errorf("partition %s-%d: fetch from replica %d with broker epoch %d, the live one is %d: %w",
			p.Topic, p.Index, replicaID, brokerEpoch, cur, kerr.NotLeaderForPartition)
	}
	p.stateMu.Lock()
	st := &p.st
	f := st.followers[replicaID]
	if st.closed || st.role != RoleLeader || f == nil {
		p.stateMu.Unlock()
		return false, nil
	}
	f.brokerEpoch = brokerEpoch
	leo := p.log.EndOffset()
	switch {
	case fetchOffset >= leo:
		f.lastCaughtUp = later(f.lastCaughtUp, now)
	case fetchOffset >= f.lastFetchLEO:
		f.lastCaughtUp = later(f.lastCaughtUp, f.lastFetchTime)
	}
	f.lastFetchLEO, f.lastFetchTime = max(leo, f.lastFetchLEO), now
	moved := f.leo != fetchOffset
	f.leo = fetchOffset
	advanced := moved && p.maybeIncrementHW(now)
	p.stateMu.Unlock()
	if advanced {
		p.wakeHW()
	}
	return advanced, nil
}

// maybeIncrementHW moves a leader's high watermark up to the smallest log
// end of the replicas it waits for: itself, the maximal ISR, and any
// eligible follower caught up within replica.lag.time.max.ms (so a
// follower chasing the log end can reach the high watermark and join the
// ISR). Under min.insync.replicas it does not move at all (Kafka 3.7+).
// It never moves backwards. Caller holds stateMu.
func (p *Partition) maybeIncrementHW(now time.Time) bool {
	st := &p.st
	if st.closed || st.role != RoleLeader || len(st.isr) < p.effectiveMinISR() {
		return false
	}
	end := p.log.EndPosition()
	// The leader's own replica counts as far as the flush policy lets it
	// (a batch that must be fsynced first counts once it is).
	hw := min(end.Offset, p.log.FlushBound())
	for id, f := range st.followers {
		if f.leo < hw && (st.inMaximalISR(id) || f.caughtUp(end.Offset, now, p.lagMax) && p.eligible(id)) {
			hw = f.leo
		}
	}
	if hw <= p.hw.Load().Offset {
		return false
	}
	pos := end
	if hw != end.Offset {
		var err error
		if pos, err = p.log.PositionOf(hw); err != nil {
			p.logger.Warn("high watermark not advanced", "topic", p.Topic, "partition", p.Index, "offset", hw, "err", err)
			return false
		}
	}
	p.log.UpdateHighWatermark(pos.Offset)
	p.hw.Store(&pos)
	return true
}

// setHW sets the high watermark to off clamped to [log start, log end],
// whichever way that moves it, and reports whether it changed. Caller
// holds stateMu.
func (p *Partition) setHW(off int64) (bool, error) {
	end := p.log.EndPosition()
	off = min(max(off, p.log.StartOffset()), end.Offset)
	cur := p.hw.Load()
	pos := end
	if off != end.Offset {
		var err error
		if pos, err = p.log.PositionOf(off); err != nil {
			return false, fmt.Errorf("partition %s-%d: high watermark %d: %w", p.Topic, p.Index, off, err)
		}
	}
	p.log.UpdateHighWatermark(pos.Offset)
	p.hw.Store(&pos)
	return cur == nil || cur.Offset != off, nil
}

// SetFollowerHW sets a follower's high watermark from its leader's fetch
// response: hw clamped to [log start, log end]. Unlike a leader's, it may
// move down (a new leader's high watermark can lag the old one's).
func (p *Partition) SetFollowerHW(hw int64) error {
	p.stateMu.Lock()
	if p.st.closed || p.st.role != RoleFollower {
		p.stateMu.Unlock()
		return p.errNotLeader("not a follower")
	}
	changed, err := p.setHW(hw)
	p.stateMu.Unlock()
	if changed {
		p.wakeHW()
	}
	return err
}

// ISRChange decides, on the leader, whether the ISR should change, and if
// so marks the change pending and returns the ISR to propose to the
// controller (AlterPartition, with LeaderEpoch and PartitionEpoch).
// Nothing is proposed while a change is pending, nor by a non-leader.
//
// Shrink first: an ISR follower not caught up within lagMax (it has not
// fetched to the leader's log end for that long; replica.lag.time.max.ms)
// leaves. Else expand by one: the first replica, in replica order, outside
// the ISR whose log end is at or above both the high watermark and the
// start of the leader's epoch (so it holds everything committed, including
// what the previous leader committed), and that is eligible (a live
// broker). Call it after UpdateFollower (expansion) and periodically
// (shrinking).
func (p *Partition) ISRChange(now time.Time, lagMax time.Duration) ([]int32, bool) {
	u, ok := p.ProposeISR(now, lagMax)
	return u.ISR, ok
}

// ISRUpdate is an ISR change ProposeISR proposes.
type ISRUpdate struct {
	// From is the committed ISR the change was proposed against: the
	// change the controller accepts is From to ISR, whatever the
	// partition's ISR is by the time its answer arrives (the metadata
	// may bring the accepted ISR first).
	From []int32
	// ISR is the proposed ISR, and Epochs the broker epoch of each of
	// its members.
	ISR    []int32
	Epochs []int64
}

// ProposeISR is ISRChange with the ISR it changes and the broker epoch of
// each member of the proposed ISR, for AlterPartition v3's NewIsrWithEpochs
// (KIP-903): a follower's as its latest fetch carried it (-1 unknown), and
// -1 for this replica (the caller knows its own). A follower joins only if
// that epoch is -1 or its live one, as Kafka's isReplicaIsrEligible
// requires: one that fetched as an earlier incarnation must fetch again
// first.
func (p *Partition) ProposeISR(now time.Time, lagMax time.Duration) (ISRUpdate, bool) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	st := &p.st
	if st.closed || st.role != RoleLeader || st.pending != nil {
		return ISRUpdate{}, false
	}
	leo := p.log.EndOffset()
	keep := make([]int32, 0, len(st.isr))
	for _, id := range st.isr {
		if f := st.followers[id]; id != p.localID && (f == nil || !f.caughtUp(leo, now, lagMax)) {
			continue
		}
		keep = append(keep, id)
	}
	if len(keep) < len(st.isr) {
		st.pending = &isrChange{isr: keep, added: -1}
		return ISRUpdate{From: slices.Clone(st.isr), ISR: slices.Clone(keep), Epochs: p.memberEpochs(keep)}, true
	}
	hw := p.hw.Load().Offset
	for _, id := range st.replicas {
		f := st.followers[id]
		if id == p.localID || f == nil || slices.Contains(st.isr, id) {
			continue
		}
		if f.leo >= hw && f.leo >= st.epochStart && p.eligible(id) && (f.brokerEpoch == -1 || f.brokerEpoch == p.brokerEpoch(id)) {
			next := append(slices.Clone(st.isr), id)
			st.pending = &isrChange{isr: next, added: id}
			return ISRUpdate{From: slices.Clone(st.isr), ISR: slices.Clone(next), Epochs: p.memberEpochs(next)}, true
		}
	}
	return ISRUpdate{}, false
}

// memberEpochs is the broker epoch of each member of isr, as ProposeISR
// reports them. Caller holds stateMu.
func (p *Partition) memberEpochs(isr []int32) []int64 {
	epochs := make([]int64, len(isr))
	for i, id := range isr {
		epochs[i] = -1
		if f := p.st.followers[id]; f != nil && id != p.localID {
			epochs[i] = f.brokerEpoch
		}
	}
	return epochs
}

// PendingISR is the ISR change in flight, if any.
func (p *Partition) PendingISR() ([]int32, bool) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if p.st.pending == nil {
		return nil, false
	}
	return slices.Clone(p.st.pending.isr), true
}

// AbortISRChange drops the pending ISR change, for an AlterPartition the
// controller refused without applying it (OPERATION_NOT_ATTEMPTED,
// INELIGIBLE_REPLICA); the next ISRChange may propose again. For other
// failures, leave it pending until the metadata brings the truth.
func (p *Partition) AbortISRChange() {
	p.stateMu.Lock()
	p.st.pending = nil
	p.stateMu.Unlock()
}

// SetISR applies the ISR of a controller record (or of an AlterPartition
// answer, which carries the committed state): the record is the only
// truth, so it replaces the committed ISR and clears any pending change.
// A partition epoch older than the one known is ignored (false). On a
// leader the high watermark may advance (a shrink).
func (p *Partition) SetISR(isr []int32, partitionEpoch int32) bool {
	p.stateMu.Lock()
	st := &p.st
	if st.closed || partitionEpoch < st.partitionEpoch {
		p.stateMu.Unlock()
		return false
	}
	st.isr, st.partitionEpoch, st.pending = slices.Clone(isr), partitionEpoch, nil
	advanced := p.maybeIncrementHW(p.now())
	p.stateMu.Unlock()
	if advanced {
		p.wakeHW()
	}
	return true
}

// WaitCommitted waits for an acks=all produce: it returns nil once the
// high watermark passes offset while this replica still leads in epoch
// (the epoch the batch was appended in, AppendResult.LeaderEpoch);
// NOT_LEADER_OR_FOLLOWER if leadership or the epoch changed first;
// NOT_ENOUGH_REPLICAS_AFTER_APPEND if, when the high watermark passed, the
// ISR had shrunk below min.insync.replicas (Kafka's
// checkEnoughReplicasReachOffset); ctx's error when ctx ends first (the
// caller answers REQUEST_TIMED_OUT).
func (p *Partition) WaitCommitted(ctx context.Context, epoch int32, offset int64) error {
	wake := make(chan struct{}, 1)
	defer p.AddWaiter(wake)()
	for {
		if done, err := p.committed(epoch, offset); done {
			return err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Committed is WaitCommitted's check without the wait: done is false while
// the high watermark has not passed offset and this replica still leads in
// epoch; once done, err is WaitCommitted's answer.
func (p *Partition) Committed(epoch int32, offset int64) (done bool, err error) {
	return p.committed(epoch, offset)
}

func (p *Partition) committed(epoch int32, offset int64) (bool, error) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	st := &p.st
	switch {
	case st.closed || st.role != RoleLeader || p.leaderEpoch.Load() != epoch:
		return true, p.errNotLeader(fmt.Sprintf("leadership in epoch %d ended before offset %d was committed", epoch, offset))
	case p.hw.Load().Offset <= offset:
		return false, nil
	case st.maximalISRSize() < p.effectiveMinISR():
		return true, fmt.Errorf("partition %s-%d: offset %d committed by an ISR of %d, below min.insync.replicas: %w",
			p.Topic, p.Index, offset, st.maximalISRSize(), kerr.NotEnoughReplicasAfterAppend)
	}
	return true, nil
}

// checkFollower says whether a follower may append what it fetched in
// leader epoch epoch. Caller holds mu.
func (p *Partition) checkFollower(epoch int32) error {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if p.st.closed || p.st.role != RoleFollower {
		return p.errNotLeader("not a follower")
	}
	if epoch < 0 {
		epoch = p.leaderEpoch.Load()
	}
	return p.checkEpoch(epoch)
}

// AppendReplicated appends, on a follower, the records its fetcher got
// from the leader in leaderEpoch (-1: the current one), as the leader
// wrote them (see log.AppendReplicated). A fetch from an older or newer
// epoch than this replica's is FENCED_LEADER_EPOCH or
// UNKNOWN_LEADER_EPOCH, and the fetcher resyncs. Batches starting below
// the log end are log.ErrUnexpectedAppendOffset, except on an empty log
// whose start falls inside the first batch (the leader's log start moved
// into a batch, by DeleteRecords): the log then restarts at that batch,
// as Kafka's follower does. The high watermark is the caller's to set
// after (SetFollowerHW).
func (p *Partition) AppendReplicated(leaderEpoch int32, records []byte) (AppendResult, error) {
	p.mu.Lock()
	if err := p.checkFollower(leaderEpoch); err != nil {
		p.mu.Unlock()
		return AppendResult{}, err
	}
	res, err := p.log.AppendReplicatedDeferFlush(records)
	var ue *log.UnexpectedAppendOffsetError
	if errors.As(err, &ue) && ue.LogEnd == p.log.StartOffset() && ue.First < ue.LogEnd && ue.Last >= ue.LogEnd {
		if err = p.restartLocked(ue.First); err == nil {
			res, err = p.log.AppendReplicatedDeferFlush(records)
		}
	}
	p.mu.Unlock()
	if err == nil && res.FlushDue {
		// The policy's fsync, outside the appender lock; the fetcher
		// fetches (and so acknowledges to the leader) only after it.
		res.FlushDue = false
		err = p.log.FlushTo(res.LastOffset + 1)
	}
	if err != nil {
		return res, mapLogError(err)
	}
	if res.LastOffset >= 0 {
		p.wakeLEO()
	}
	return res, nil
}

// TruncateTo removes every batch at or above offset (rounded down to a
// batch boundary) from a replica that does not lead: a follower whose log
// diverged from its leader's (KIP-101, KIP-279). The high watermark comes
// down with the log end.
func (p *Partition) TruncateTo(offset int64) error {
	return p.truncate(func() error { return p.log.Truncate(offset) })
}

// TruncateFullyAndStartAt empties a non-leader's log and restarts it at
// offset: a follower whose log end is below its leader's log start.
func (p *Partition) TruncateFullyAndStartAt(offset int64) error {
	return p.truncate(func() error { return p.restartLocked(offset) })
}

func (p *Partition) truncate(cut func() error) error {
	p.mu.Lock()
	p.stateMu.Lock()
	leads, closed := p.st.role == RoleLeader, p.st.closed
	p.stateMu.Unlock()
	if leads || closed {
		p.mu.Unlock()
		return p.errNotLeader("a leader never truncates")
	}
	err := cut()
	if err == nil {
		p.stateMu.Lock()
		_, err = p.setHW(p.hw.Load().Offset)
		p.stateMu.Unlock()
	}
	p.mu.Unlock()
	p.wakeAll()
	return mapLogError(err)
}

// restartLocked empties the log, restarting it at offset, and brings the
// high watermark to it. Caller holds mu.
func (p *Partition) restartLocked(offset int64) error {
	if err := p.log.TruncateFullyAndStartAt(offset); err != nil {
		return err
	}
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	_, err := p.setHW(offset)
	return err
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch from the leader-epoch
// checkpoint: the end offset of the requested epoch (the start of the
// next larger epoch, or the log end for the latest) and the largest epoch
// <= the requested one, exactly as Kafka's LeaderEpochFileCache.endOffsetFor
// (see log.EndOffsetForEpoch); (-1, -1) when undefined.
func (p *Partition) EndOffsetForEpoch(epoch int32) (int32, int64) {
	return p.log.EndOffsetForEpoch(epoch)
}

// LatestEpoch is the leader epoch of the log's last batch, as the
// leader-epoch checkpoint records it, or -1 for none: a follower's fetch
// sends it as LastFetchedEpoch (KIP-595), by which the leader finds where
// the logs diverge.
func (p *Partition) LatestEpoch() int32 {
	e := p.log.EpochEntries()
	if len(e) == 0 {
		return -1
	}
	return e[len(e)-1].Epoch
}
