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
	c.log.Info("loaded groups", "partition", sh.Index, "leader_epoch", sh.Epoch, "groups", n, "took", time.Since(start).Round(time.Millisecond))
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
}

// loadState is the replay of a partition: the latest record of each key.
type loadState struct {
	meta    map[string]*kmsg.GroupMetadataValue // nil value: tombstoned
	offsets map[string]map[string]map[int32]offset
	order   []string // group ids in first-seen order
}

func newLoadState() *loadState {
	return &loadState{meta: map[string]*kmsg.GroupMetadataValue{}, offsets: map[string]map[string]map[int32]offset{}}
}

func (st *loadState) see(id string) {
	if _, ok := st.meta[id]; ok {
		return
	}
	if _, ok := st.offsets[id]; ok {
		return
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

func (st *loadState) replayBatch(b []byte, h record.Header, warn func(string, ...any)) {
	if h.IsControl() {
		return // transaction markers: nothing to replay until transactional offset commits exist
	}
	_, recs, err := record.ReadRecords(b, maxRecordBytes)
	if err != nil {
		warn("skipping undecodable batch of "+TopicName, "offset", h.BaseOffset, "err", err)
		return
	}
	for _, r := range recs {
		if err := st.replay(r.Key, r.Value); err != nil {
			warn("skipping undecodable record of "+TopicName, "offset", h.BaseOffset+int64(r.OffsetDelta), "err", err)
		}
	}
}

// replay applies one record. A nil value is a tombstone.
func (st *loadState) replay(key, value []byte) error {
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
		if value == nil {
			if ps := st.offsets[k.Group][k.Topic]; ps != nil {
				delete(ps, k.Partition)
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
		o := offset{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitTime: v.CommitTimestamp, expireTime: -1}
		if v.Version >= 3 {
			o.leaderEpoch = v.LeaderEpoch
		}
		if v.Version == 1 {
			o.expireTime = v.ExpireTimestamp
		}
		ts := st.offsets[k.Group]
		if ts == nil {
			ts = map[string]map[int32]offset{}
			st.offsets[k.Group] = ts
		}
		if ts[k.Topic] == nil {
			ts[k.Topic] = map[int32]offset{}
		}
		ts[k.Topic][k.Partition] = o
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
