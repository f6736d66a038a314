package group

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/record"
)

const (
	// loadRetry is the pause before loading a partition again after a
	// read failure; its groups answer COORDINATOR_LOAD_IN_PROGRESS meanwhile.
	loadRetry = 5 * time.Second
	// maxRecordBytes bounds decompression of a batch of the partition.
	maxRecordBytes = 64 << 20
)

// load replays a shard's partition to its log end, waits until the high
// watermark covers it (coordinator.Load), then serves its groups. The
// runtime retries a failure until the shard is unloaded.
func (c *Coordinator) load(ctx context.Context, sh *coordinator.Shard, s *shard) error {
	start := time.Now()
	st := newLoadState()
	err := coordinator.Load(ctx, sh.Log, sh.Epoch, func(b []byte, h record.Header) { st.replayBatch(b, h, c.log.Warn) })
	if err != nil {
		return err
	}
	groups := st.groups(c, s)
	n := len(groups) // the map is the shard's once activated
	c.activate(s, groups)
	c.log.Debug("loaded groups", "partition", sh.Index, "leader_epoch", sh.Epoch, "groups", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// activate makes a loaded shard serve its groups: members of a Stable group
// keep their generation across the restart and must heartbeat within their
// session timeout, as with Kafka.
func (c *Coordinator) activate(s *shard, groups map[string]*group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unloaded {
		return
	}
	s.groups = groups
	s.loaded = true
	for _, g := range groups {
		g.mu.Lock()
		for pid := range g.txnOffsets {
			s.txns.hold(pid, g)
		}
		for _, id := range g.order {
			m := g.members[id]
			g.scheduleHeartbeat(m, m.sessionTimeout)
		}
		if len(g.members) > c.cfg.maxSize {
			// group.max.size shrank: make the members rejoin, which
			// evicts the excess (and lets them commit first).
			g.prepareRebalance("loaded group is larger than group.max.size")
		}
		g.mu.Unlock()
	}
	// Markers committed while the shard loaded, which the replay may not
	// have read: their transactions end now, after everything replayed.
	for _, e := range s.endsWhileLoading {
		s.endTxn(e)
	}
	s.endsWhileLoading = nil
}

// loadState is the replay of a partition: the latest record of each key,
// and the offsets of transactions no marker has ended yet.
type loadState struct {
	meta    map[string]*kmsg.GroupMetadataValue // nil value: tombstoned
	offsets map[string]map[string]map[int32]offset
	// txn holds the open transactions' offsets: producer id → group →
	// partition.
	txn   map[int64]map[string]map[topicPartition]offset
	order []string // group ids in first-seen order
}

func newLoadState() *loadState {
	return &loadState{
		meta:    map[string]*kmsg.GroupMetadataValue{},
		offsets: map[string]map[string]map[int32]offset{},
		txn:     map[int64]map[string]map[topicPartition]offset{},
	}
}

func (st *loadState) see(id string) {
	if _, ok := st.meta[id]; ok {
		return
	}
	if _, ok := st.offsets[id]; ok {
		return
	}
	for _, gs := range st.txn {
		if _, ok := gs[id]; ok {
			return
		}
	}
	st.order = append(st.order, id)
}

// readPartition replays log from its start to its end.
func readPartition(ctx context.Context, log coordinator.Partition, warn func(string, ...any)) (*loadState, error) {
	st := newLoadState()
	err := coordinator.ReadLog(ctx, log, log.LogStartOffset(), log.LogEndOffset(), func(b []byte, h record.Header) { st.replayBatch(b, h, warn) })
	if err != nil {
		return nil, err
	}
	return st, nil
}

// replayBatch applies one batch of the log. A transactional batch holds a
// TxnOffsetCommit's offsets, pending for its producer until a marker (a
// control batch) of that producer commits or aborts them.
func (st *loadState) replayBatch(b []byte, h record.Header, warn func(string, ...any)) {
	if h.IsControl() {
		m, err := record.ParseMarker(b, maxRecordBytes)
		if err != nil {
			// A control batch of a kind Kafka may add later, or a
			// damaged one: it ends nothing.
			warn("skipping control batch of "+TopicName+" that is not a transaction marker", "offset", h.BaseOffset, "err", err)
			return
		}
		st.endTxn(m.ProducerID, m.Commit)
		return
	}
	_, recs, err := record.ReadRecords(b, maxRecordBytes)
	if err != nil {
		warn("skipping undecodable batch of "+TopicName, "offset", h.BaseOffset, "err", err)
		return
	}
	pid := int64(record.NoProducerID)
	if h.IsTransactional() {
		pid = h.ProducerID
	}
	for _, r := range recs {
		at := h.BaseOffset + int64(r.OffsetDelta)
		if err := st.replay(r.Key, r.Value, at, pid); err != nil {
			warn("skipping undecodable record of "+TopicName, "offset", at, "err", err)
		}
	}
}

// endTxn applies a marker: the producer's pending offsets become the
// committed ones (each unless a newer record committed its partition, see
// group.commitTxnOffset), or are dropped.
func (st *loadState) endTxn(pid int64, commit bool) {
	if commit {
		for id, ps := range st.txn[pid] {
			for tp, o := range ps {
				if cur, ok := st.offsets[id][tp.topic][tp.partition]; !ok || o.record > cur.record {
					st.setOffset(id, tp, o)
				}
			}
		}
	}
	delete(st.txn, pid)
}

func (st *loadState) setOffset(id string, tp topicPartition, o offset) {
	ts := st.offsets[id]
	if ts == nil {
		ts = map[string]map[int32]offset{}
		st.offsets[id] = ts
	}
	if ts[tp.topic] == nil {
		ts[tp.topic] = map[int32]offset{}
	}
	ts[tp.topic][tp.partition] = o
}

// replay applies one record, at log offset at, of a batch of transaction
// producer pid (record.NoProducerID: not transactional). A nil value is a
// tombstone.
func (st *loadState) replay(key, value []byte, at, pid int64) error {
	kind, ok := recordKind(key)
	if !ok {
		return errors.New("key shorter than its version")
	}
	switch kind {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("offset commit key: %w", err)
		}
		st.see(k.Group)
		tp := topicPartition{k.Topic, k.Partition}
		if value == nil {
			// A tombstone deletes the committed offset and the open
			// transactions' offsets of the partition too.
			if ps := st.offsets[k.Group][k.Topic]; ps != nil {
				delete(ps, k.Partition)
			}
			for _, gs := range st.txn {
				delete(gs[k.Group], tp)
			}
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("offset commit value: %w", err)
		}
		if v.Version < 0 || v.Version > 4 {
			return fmt.Errorf("offset commit value version %d", v.Version)
		}
		o := offset{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitTime: v.CommitTimestamp, expireTime: -1, record: at}
		if v.Version >= 3 {
			o.leaderEpoch = v.LeaderEpoch
		}
		if v.Version == 1 {
			o.expireTime = v.ExpireTimestamp
		}
		if pid == record.NoProducerID {
			st.setOffset(k.Group, tp, o)
			return nil
		}
		gs := st.txn[pid]
		if gs == nil {
			gs = map[string]map[topicPartition]offset{}
			st.txn[pid] = gs
		}
		if gs[k.Group] == nil {
			gs[k.Group] = map[topicPartition]offset{}
		}
		gs[k.Group][tp] = o
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("group metadata key: %w", err)
		}
		st.see(k.Group)
		if value == nil {
			st.meta[k.Group] = nil
			return nil
		}
		v := new(kmsg.GroupMetadataValue)
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("group metadata value: %w", err)
		}
		if v.Version < 0 || v.Version > 4 {
			return fmt.Errorf("group metadata value version %d", v.Version)
		}
		st.meta[k.Group] = v
	default:
		// Records of Kafka's newer coordinators (KIP-848 consumer
		// groups, share groups): not ours to replay.
	}
	return nil
}

// groups builds the groups of a replayed partition. A record read from disk
// is not trusted: duplicate member or instance ids and a leader that is not
// a member are repaired rather than loaded as an inconsistent group.
func (st *loadState) groups(c *Coordinator, s *shard) map[string]*group {
	out := map[string]*group{}
	for _, id := range st.order {
		v := st.meta[id]
		var offs int
		for _, ps := range st.offsets[id] {
			offs += len(ps)
		}
		for _, gs := range st.txn {
			offs += len(gs[id])
		}
		if v == nil && offs == 0 {
			continue
		}
		g := newGroup(c, s, id)
		g.stateTime = -1
		for t, ps := range st.offsets[id] {
			for p, o := range ps {
				g.setOffset(t, p, o)
			}
		}
		for pid, gs := range st.txn {
			if ps := gs[id]; len(ps) > 0 {
				g.txnOffsets[pid] = ps
			}
		}
		if v != nil {
			g.fromMetadata(v)
		}
		out[id] = g
	}
	return out
}

func (g *group) fromMetadata(v *kmsg.GroupMetadataValue) {
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Version >= 2 && v.CurrentStateTimestamp >= 0 {
		g.stateTime = v.CurrentStateTimestamp
	}
	for _, vm := range v.Members {
		// An empty id names no member a client could hold (the
		// coordinator never writes one); a repeated id keeps its first.
		if vm.MemberID == "" || g.members[vm.MemberID] != nil {
			continue
		}
		m := &member{
			id:               vm.MemberID,
			clientID:         vm.ClientID,
			clientHost:       vm.ClientHost,
			sessionTimeout:   ms(vm.SessionTimeoutMillis),
			rebalanceTimeout: ms(vm.RebalanceTimeoutMillis),
			protocolType:     g.protocolType,
			// A loaded member supports exactly the group's protocol,
			// with its subscription as metadata, as in Kafka.
			protocols:  []protocol{{name: g.protocol, metadata: vm.Subscription}},
			assignment: vm.Assignment,
		}
		if v.Version < 1 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		if vm.InstanceID != nil {
			if _, taken := g.static[*vm.InstanceID]; !taken {
				m.instanceID = vm.InstanceID
			}
		}
		g.add(m)
	}
	if v.Leader != nil && g.members[*v.Leader] != nil {
		g.leader = *v.Leader
	} else if len(g.order) > 0 {
		// No leader recorded, or one that is not a member: as in Kafka,
		// where adding the first member to a leaderless group makes it
		// the leader, the first member leads.
		g.leader = g.order[0]
	}
	if len(g.members) == 0 {
		g.protocol = ""
		g.state = stateEmpty
	} else {
		g.state = stateStable
	}
	g.prevState = g.state
	g.computeSubscribed()
}
