package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// ISR and leader elections, as KRaft's controller decides them
// (ReplicationControlManager with PartitionChangeBuilder), without eligible
// leader replicas (KIP-966):
//
//   - The ISR holds only live brokers (registered, unfenced, not in a
//     controlled shutdown), except that it never becomes empty: when its
//     last member goes, that member stays the ISR and the partition has no
//     leader (-1) until it comes back, or until an unclean election.
//   - A partition's leader is a live ISR member: the current one while it
//     qualifies, else the first that does in replica order.
//   - An unclean election (unclean.leader.election.enable for the topic, or
//     ElectLeaders with type UNCLEAN) gives a partition with no live ISR
//     member the first live replica in replica order, and makes it the whole
//     ISR: records only it had may be lost.
//   - A preferred election (ElectLeaders PREFERRED, the periodic leader
//     balancing) moves leadership to the first replica when it is a live
//     ISR member.
//   - The partition's leader shrinks and grows its ISR with AlterPartition;
//     the controller checks it against the partition and leader epochs.
//
// Every change is a metadata.PartitionChange: the partition epoch moves on
// each, the leader epoch only when the leader changes (an ISR-only change
// keeps it, as KRaft since metadata.version 3.6 does).

// electionKind is how a partition's leader may be chosen.
type electionKind int

const (
	// electOnline keeps a live ISR leader, else takes the first live ISR
	// replica in replica order, else no leader (KRaft's ONLINE).
	electOnline electionKind = iota
	// electUnclean is electOnline, then the first live replica in replica
	// order, outside the ISR (KRaft's UNCLEAN).
	electUnclean
	// electPreferred takes the first replica when it is a live ISR member,
	// else is electOnline (KRaft's PREFERRED).
	electPreferred
)

// liveBroker reports whether id is a registered broker that may lead and be
// in an ISR. (The zero Broker of an unregistered id would read as live.)
func liveBroker(img *metadata.Image, id int32) bool {
	b, ok := img.Brokers[id]
	return ok && b.Live()
}

// planPartition returns the change that gives p the ISR isr (nil or empty:
// keep p's) and elects its leader by kind, or nil when nothing changes.
func planPartition(img *metadata.Image, topic metadata.UUID, p metadata.Partition, isr []int32, kind electionKind) *metadata.PartitionChange {
	if len(isr) == 0 {
		isr = p.ISR
	}
	valid := func(r int32) bool { return slices.Contains(isr, r) && liveBroker(img, r) }
	leader := int32(-1)
	switch {
	case kind == electPreferred && len(p.Replicas) > 0 && valid(p.Replicas[0]):
		leader = p.Replicas[0]
	case p.Leader >= 0 && valid(p.Leader):
		leader = p.Leader
	default:
		if i := slices.IndexFunc(p.Replicas, valid); i >= 0 {
			leader = p.Replicas[i]
		} else if kind == electUnclean {
			if i := slices.IndexFunc(p.Replicas, func(r int32) bool { return liveBroker(img, r) }); i >= 0 {
				leader = p.Replicas[i]
				isr = []int32{leader}
			}
		}
	}
	ch := &metadata.PartitionChange{TopicID: topic, Partition: p.Index}
	if leader != p.Leader {
		ch.Leader = ptr(leader)
	}
	if !slices.Equal(isr, p.ISR) {
		ch.ISR = slices.Clone(isr)
	}
	if ch.Leader == nil && ch.ISR == nil {
		return nil
	}
	return ch
}

// electLeaders returns the partition changes that restore the invariants
// above after a broker's state or a config changed: every ISR loses its
// members that are not live (never its last one), and every partition
// without a live ISR leader gets one where it can, by an unclean election
// where the topic allows it. KRaft makes the same changes for the broker
// that was fenced, went into controlled shutdown or was unfenced
// (handleBrokerFenced, handleBrokerInControlledShutdown,
// handleBrokerUnfenced); looking at every partition also covers a new
// incarnation registered fenced, a changed unclean.leader.election.enable
// (KRaft waits for its periodic check, unclean.leader.election.interval.ms,
// to act on that) and a newly active controller.
func (c *Controller) electLeaders(img *metadata.Image) []metadata.Record {
	var recs []metadata.Record
	notLive := func(r int32) bool { return !liveBroker(img, r) }
	for _, name := range img.TopicNames() {
		t := img.Topics[name]
		kind, resolved := electOnline, false
		for _, p := range t.Partitions {
			isr := p.ISR
			if slices.ContainsFunc(isr, notLive) {
				isr = slices.DeleteFunc(slices.Clone(isr), notLive)
			} else if p.Leader >= 0 && liveBroker(img, p.Leader) {
				continue // the common case: nothing to do
			}
			if len(isr) == 0 && !resolved {
				if c.uncleanEnabled(img, t) {
					kind = electUnclean
				}
				resolved = true
			}
			if ch := planPartition(img, t.ID, p, isr, kind); ch != nil {
				recs = append(recs, metadata.Record{PartitionChange: ch})
			}
		}
	}
	return recs
}

// uncleanKey is the topic config (and its broker synonym) that allows
// unclean elections.
const uncleanKey = "unclean.leader.election.enable"

// uncleanEnabled resolves unclean.leader.election.enable for topic t as
// KRaft's controller does (ConfigurationControlManager.getTopicConfig): the
// topic's override, else this controller's dynamic broker config, else the
// cluster-wide dynamic default, else this controller's static config.
// Stored values were validated as booleans, which Kafka reads without
// regard to case or surrounding spaces.
func (c *Controller) uncleanEnabled(img *metadata.Image, t *metadata.Topic) bool {
	for _, m := range []map[string]string{t.Configs, img.BrokerConfigs[c.cfg.NodeID], img.DefaultBrokerConfigs} {
		if v, ok := m[uncleanKey]; ok {
			return strings.EqualFold(strings.TrimSpace(v), "true")
		}
	}
	return c.cfg.UncleanLeaderElection
}

// PartitionISRRequest is one partition of an AlterPartition request: the
// ISR its leader wants, and the epochs of the state the leader acts on.
type PartitionISRRequest struct {
	// ByID names the topic by TopicID (AlterPartition v2+), else by Topic.
	ByID      bool
	TopicID   metadata.UUID
	Topic     string
	Partition int32
	// LeaderEpoch and PartitionEpoch are what the leader last learned.
	LeaderEpoch    int32
	PartitionEpoch int32
	NewISR         []int32
	// NewISREpochs, when set (v3), holds the broker epoch of each NewISR
	// member, as the leader learned it from that follower's fetches; -1
	// skips the check of one member.
	NewISREpochs []int64
	// LeaderRecoveryState is 1 while the leader recovers from an unclean
	// election (KIP-704); samsa's partitions are always recovered (0).
	LeaderRecoveryState int8
}

// PartitionISRResult answers one PartitionISRRequest: an error (an *Error
// with Kafka's code), or the partition's state after the change.
type PartitionISRResult struct {
	Err            error
	Leader         int32
	LeaderEpoch    int32
	ISR            []int32
	PartitionEpoch int32
}

// AlterPartition applies the ISR changes a partition leader asks for
// (AlterPartition, KIP-497), checked as KRaft checks them
// (ReplicationControlManager.alterPartition), in this order:
// STALE_BROKER_EPOCH (for the whole request) when brokerEpoch is not the
// sender's registered epoch; then per partition UNKNOWN_TOPIC_ID (by id) or
// UNKNOWN_TOPIC_OR_PARTITION; NOT_CONTROLLER when the request carries a
// newer leader or partition epoch than this controller knows;
// FENCED_LEADER_EPOCH for an older leader epoch; INVALID_REQUEST when the
// sender does not lead the partition; INVALID_UPDATE_VERSION for an older
// partition epoch (the leader must wait for the metadata that changed the
// partition, then decide again); INVALID_REQUEST when the ISR names a
// replica twice or one not assigned, leaves out the leader, or claims a
// leader recovery state samsa does not have; INELIGIBLE_REPLICA when a
// member is not registered, fenced, in controlled shutdown or of another
// broker epoch than NewISREpochs says.
//
// The changes are committed together; a result's leader, leader epoch, ISR
// and partition epoch are the partition's after the commit (an ISR equal to
// the current one commits nothing and answers the current state). Requests
// for one partition apply in order, so a second one in the same request
// meets the partition epoch of the first.
func (c *Controller) AlterPartition(ctx context.Context, brokerID int32, brokerEpoch int64, reqs []PartitionISRRequest) ([]PartitionISRResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Active() {
		return nil, errNotController()
	}
	img := c.Image()
	if b, ok := img.Brokers[brokerID]; !ok || b.Epoch != brokerEpoch {
		return nil, errorf(kerr.StaleBrokerEpoch, "broker %d epoch %d is not the registered one", brokerID, brokerEpoch)
	}
	out := make([]PartitionISRResult, len(reqs))
	var recs []metadata.Record
	next := img
	for i, r := range reqs {
		t, p, err := alterTarget(next, r)
		if err == nil {
			err = checkAlterPartition(next, brokerID, t, p, r)
		}
		if err != nil {
			out[i].Err = err
			continue
		}
		if !slices.Equal(r.NewISR, p.ISR) {
			// The ISR may complete a reassignment, and that may move
			// the leadership (buildChange).
			ch := buildChange(next, t.ID, p, changeTarget{isr: slices.Clone(r.NewISR)}, electOnline)
			if ch == nil {
				return nil, errorf(kerr.UnknownServerError, "%s-%d: ISR %v changes nothing", t.Name, p.Index, r.NewISR)
			}
			rec := metadata.Record{PartitionChange: ch}
			if next, err = next.Apply(next.Offset+1, rec); err != nil {
				return nil, errorf(kerr.UnknownServerError, "%v", err)
			}
			recs = append(recs, rec)
			p = next.ByID[t.ID].Partitions[p.Index]
			if ch.Leader != nil {
				// KRaft answers so: the state changed, but the sender
				// no longer leads; it learns the rest from the metadata.
				out[i].Err = errorf(kerr.NewLeaderElected, "%s-%d: the ISR change completed a reassignment that moved the leadership to %d", t.Name, p.Index, p.Leader)
				continue
			}
		}
		out[i] = PartitionISRResult{Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, ISR: slices.Clone(p.ISR), PartitionEpoch: p.PartitionEpoch}
	}
	if len(recs) > 0 {
		if _, err := c.commit(recs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// alterTarget finds the topic and partition an AlterPartition entry names.
func alterTarget(img *metadata.Image, r PartitionISRRequest) (*metadata.Topic, metadata.Partition, error) {
	var t *metadata.Topic
	if r.ByID {
		if t = img.ByID[r.TopicID]; t == nil {
			return nil, metadata.Partition{}, errorf(kerr.UnknownTopicID, "topic id %s does not exist", r.TopicID)
		}
	} else if t = img.Topics[r.Topic]; t == nil {
		return nil, metadata.Partition{}, errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", r.Topic)
	}
	if r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
		return nil, metadata.Partition{}, errorf(kerr.UnknownTopicOrPartition, "partition %s-%d does not exist", t.Name, r.Partition)
	}
	return t, t.Partitions[r.Partition], nil
}

// checkAlterPartition validates one AlterPartition entry (see AlterPartition).
func checkAlterPartition(img *metadata.Image, brokerID int32, t *metadata.Topic, p metadata.Partition, r PartitionISRRequest) error {
	name := func() string { return fmt.Sprintf("%s-%d", t.Name, p.Index) }
	switch {
	case r.LeaderEpoch > p.LeaderEpoch:
		// A leader ahead of the controller: this controller is likely no
		// longer the active one, so the leader should look for it.
		return errorf(kerr.NotController, "%s: leader epoch %d is newer than the controller's %d", name(), r.LeaderEpoch, p.LeaderEpoch)
	case r.PartitionEpoch > p.PartitionEpoch:
		return errorf(kerr.NotController, "%s: partition epoch %d is newer than the controller's %d", name(), r.PartitionEpoch, p.PartitionEpoch)
	case r.LeaderEpoch < p.LeaderEpoch:
		return errorf(kerr.FencedLeaderEpoch, "%s: leader epoch %d, the current one is %d", name(), r.LeaderEpoch, p.LeaderEpoch)
	case brokerID != p.Leader:
		return errorf(kerr.InvalidRequest, "%s: broker %d is not the leader; %d is", name(), brokerID, p.Leader)
	case r.PartitionEpoch < p.PartitionEpoch:
		return errorf(kerr.InvalidUpdateVersion, "%s: partition epoch %d, the current one is %d", name(), r.PartitionEpoch, p.PartitionEpoch)
	case !validISR(p.Replicas, r.NewISR):
		return errorf(kerr.InvalidRequest, "%s: ISR %v is not a set of the assigned replicas %v", name(), r.NewISR, p.Replicas)
	case !slices.Contains(r.NewISR, p.Leader):
		return errorf(kerr.InvalidRequest, "%s: ISR %v does not include the leader %d", name(), r.NewISR, p.Leader)
	case r.LeaderRecoveryState != 0:
		// KRaft refuses RECOVERED -> RECOVERING; samsa's partitions are
		// always RECOVERED (it does not mark unclean elections).
		return errorf(kerr.InvalidRequest, "%s: leader recovery state %d; the partition is recovered", name(), r.LeaderRecoveryState)
	}
	for i, id := range r.NewISR {
		b, ok := img.Brokers[id]
		why := ""
		switch {
		case !ok:
			why = "not registered"
		case b.ShuttingDown:
			why = "shutting down"
		case b.Fenced:
			why = "fenced"
		case i < len(r.NewISREpochs) && r.NewISREpochs[i] != -1 && r.NewISREpochs[i] != b.Epoch:
			why = fmt.Sprintf("broker epoch %d, registered %d", r.NewISREpochs[i], b.Epoch)
		}
		if why != "" {
			return errorf(kerr.IneligibleReplica, "%s: replica %d cannot join the ISR: %s", name(), id, why)
		}
	}
	return nil
}

// validISR reports whether isr names assigned replicas only, none twice
// (KRaft's Replicas.validateIsr; an empty ISR passes here and fails the
// leader check).
func validISR(replicas, isr []int32) bool {
	seen := make(map[int32]bool, len(isr))
	for _, id := range isr {
		if seen[id] || !slices.Contains(replicas, id) {
			return false
		}
		seen[id] = true
	}
	return true
}

// ElectLeaders election types (KIP-460).
const (
	ElectPreferred int8 = 0
	ElectUnclean   int8 = 1
)

// ElectTopic names partitions of one topic for ElectLeaders.
type ElectTopic struct {
	Topic      string
	Partitions []int32
}

// ElectResult answers one topic of ElectLeaders.
type ElectResult struct {
	Topic      string
	Partitions []ElectPartitionResult
}

// ElectPartitionResult answers one partition: nil, or an *Error.
type ElectPartitionResult struct {
	Partition int32
	Err       error
}

// Kafka's messages for the per-partition election errors (its Errors
// defaults, which ElectLeaders carries in error_message).
const (
	msgElectionNotNeeded  = "Leader election not needed for topic partition."
	msgPreferredNotAvail  = "The preferred leader was not available."
	msgEligibleNotAvail   = "Eligible topic partition leaders are not available."
	maxElectionsPerCommit = 1000 // KRaft's MAX_ELECTIONS_PER_IMBALANCE
)

// ElectLeaders runs the elections of an ElectLeaders request, as KRaft's
// ReplicationControlManager.electLeaders: PREFERRED (0) moves leadership to
// each partition's first replica when it is a live ISR member
// (ELECTION_NOT_NEEDED when it already leads,
// PREFERRED_LEADER_NOT_AVAILABLE otherwise); UNCLEAN (1) gives a partition
// without a leader a live ISR member or else, whatever the topic's
// unclean.leader.election.enable, the first live replica, which becomes the
// whole ISR (ELECTION_NOT_NEEDED when it has a leader,
// ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is live). Unknown topics
// and partitions answer UNKNOWN_TOPIC_OR_PARTITION. topics nil means every
// partition of every topic, and then partitions that need no election are
// left out of the answer (each topic is still listed). Another type is
// INVALID_REQUEST for the whole request.
func (c *Controller) ElectLeaders(ctx context.Context, typ int8, topics []ElectTopic) ([]ElectResult, error) {
	if typ != ElectPreferred && typ != ElectUnclean {
		return nil, errorf(kerr.InvalidRequest, "Unknown election type %d", typ)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Active() {
		return nil, errNotController()
	}
	img := c.Image()
	all := topics == nil
	if all {
		for _, name := range img.TopicNames() {
			et := ElectTopic{Topic: name}
			for _, p := range img.Topics[name].Partitions {
				et.Partitions = append(et.Partitions, p.Index)
			}
			topics = append(topics, et)
		}
	}
	out := make([]ElectResult, len(topics))
	var recs []metadata.Record
	next := img
	for i, et := range topics {
		out[i] = ElectResult{Topic: et.Topic, Partitions: []ElectPartitionResult{}}
		for _, idx := range et.Partitions {
			ch, err := electOne(next, et.Topic, idx, typ)
			if all && errors.Is(err, kerr.ElectionNotNeeded) {
				continue
			}
			out[i].Partitions = append(out[i].Partitions, ElectPartitionResult{Partition: idx, Err: err})
			if ch == nil {
				continue
			}
			rec := metadata.Record{PartitionChange: ch}
			if next, err = next.Apply(next.Offset+1, rec); err != nil {
				return nil, errorf(kerr.UnknownServerError, "%v", err)
			}
			recs = append(recs, rec)
		}
	}
	if len(recs) > 0 {
		if _, err := c.commit(recs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// electOne decides one partition's ElectLeaders election.
func electOne(img *metadata.Image, topic string, idx int32, typ int8) (*metadata.PartitionChange, error) {
	t := img.Topics[topic]
	if t == nil {
		return nil, errorf(kerr.UnknownTopicOrPartition, "No such topic as %s", topic)
	}
	if idx < 0 || int(idx) >= len(t.Partitions) {
		return nil, errorf(kerr.UnknownTopicOrPartition, "No such partition as %s-%d", topic, idx)
	}
	p := t.Partitions[idx]
	kind := electPreferred
	if typ == ElectUnclean {
		kind = electUnclean
	}
	if kind == electPreferred && len(p.Replicas) > 0 && p.Leader == p.Replicas[0] ||
		kind == electUnclean && p.Leader >= 0 {
		return nil, errorf(kerr.ElectionNotNeeded, msgElectionNotNeeded)
	}
	ch := planPartition(img, t.ID, p, nil, kind)
	switch {
	case ch != nil:
		return ch, nil
	case kind == electPreferred:
		return nil, errorf(kerr.PreferredLeaderNotAvailable, msgPreferredNotAvail)
	}
	return nil, errorf(kerr.EligibleLeadersNotAvailable, msgEligibleNotAvail)
}

// BalanceLeaders runs one pass of the automatic leader balancing
// (auto.leader.rebalance.enable), as KRaft's maybeBalancePartitionLeaders:
// a preferred election for every partition led by another replica than
// its first, where the first is a live ISR member. KRaft does not use
// leader.imbalance.per.broker.percentage (ZooKeeper's controller did): any
// imbalanced partition is moved back. At most maxElectionsPerCommit
// elections go into one metadata entry; a pass commits as many entries as
// it needs. It returns how many leaders it moved.
func (c *Controller) BalanceLeaders(ctx context.Context) (int, error) {
	moved := 0
	for {
		n, more, err := c.balanceOnce()
		moved += n
		if err != nil || !more {
			return moved, err
		}
		if err := ctx.Err(); err != nil {
			return moved, err
		}
	}
}

func (c *Controller) balanceOnce() (n int, more bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Active() {
		return 0, false, errNotController()
	}
	img := c.Image()
	var recs []metadata.Record
topics:
	for _, name := range img.TopicNames() {
		t := img.Topics[name]
		for _, p := range t.Partitions {
			if p.Leader < 0 || len(p.Replicas) == 0 || p.Leader == p.Replicas[0] {
				continue
			}
			if len(recs) == maxElectionsPerCommit {
				more = true
				break topics
			}
			if ch := planPartition(img, t.ID, p, nil, electPreferred); ch != nil {
				recs = append(recs, metadata.Record{PartitionChange: ch})
			}
		}
	}
	if len(recs) == 0 {
		return 0, false, nil
	}
	if _, err := c.commit(recs); err != nil {
		return 0, false, err
	}
	return len(recs), more, nil
}

// balanceLeaders runs BalanceLeaders once (periodically, every
// LeaderImbalanceCheckInterval, on the active controller).
func (c *Controller) balanceLeaders() {
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	n, err := c.BalanceLeaders(ctx)
	cancel()
	switch {
	case err != nil && !errors.Is(err, kerr.NotController):
		c.log.Warn("controller: leader balancing failed", "err", err)
	case n > 0:
		c.log.Info("moved leaderships back to preferred replicas", "partitions", n)
	}
}
