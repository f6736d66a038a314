package group

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// state is a classic group's state (Kafka's ClassicGroupState).
//
//	Empty ──join──► PreparingRebalance ──all joined / timeout──► CompletingRebalance
//	  ▲                    ▲   │                                       │
//	  │                    │   └──no member left──► Empty               │ leader's SyncGroup
//	  │                    └──join, leave, expiry──── Stable ◄──────────┘
//	  └── Dead: deleted, expired, or its partition unloaded (terminal)
type state int8

const (
	stateEmpty state = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (s state) String() string { return stateNames[s] }

// protocol is one assignment protocol a member supports, with the member's
// metadata for it (a consumer's subscription), relayed to the leader as is.
type protocol struct {
	name     string
	metadata []byte
}

// member is one member of a group.
type member struct {
	id               string
	instanceID       *string // static membership (KIP-345)
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []protocol // in the member's order of preference
	assignment       []byte

	// joinCh / syncCh are set while a JoinGroup / SyncGroup of this member
	// waits; each has room for exactly the one response sent to it.
	joinCh chan *kmsg.JoinGroupResponse
	syncCh chan *kmsg.SyncGroupResponse
	// isNew: joined and not yet through a completed join phase; such a
	// member is expired by newMemberJoinTimeout even while it waits.
	isNew bool

	hb    Timer // session expiry
	hbSeq uint64
}

func (m *member) awaitingJoin() bool { return m.joinCh != nil }
func (m *member) awaitingSync() bool { return m.syncCh != nil }

// metadataFor returns the member's metadata for protocol name.
func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

// matches reports whether protocols are exactly the member's (same names,
// metadata and order): a rejoin that changes nothing need not rebalance.
func (m *member) matches(protocols []protocol) bool {
	return slices.EqualFunc(m.protocols, protocols, func(a, b protocol) bool {
		return a.name == b.name && bytes.Equal(a.metadata, b.metadata)
	})
}

// offset is a committed offset.
type offset struct {
	offset      int64
	leaderEpoch int32 // -1 when unknown
	metadata    string
	commitTime  int64 // ms
	expireTime  int64 // ms; -1 unless committed with an explicit retention (v2-v4)
	// record is the log offset of the offset's record in
	// __consumer_offsets: when a transaction commits offsets, one of its
	// offsets replaces a committed one only if its record is the newer
	// (Kafka keeps the most recent record's offset, so that a compacted
	// log materializes the same offsets).
	record int64
}

// group is one consumer group. Every field is guarded by mu.
type group struct {
	c     *Coordinator
	shard *shard
	id    string

	mu         sync.Mutex
	state      state
	prevState  state
	stateTime  int64 // ms of the last transition; -1 when unknown (old records)
	generation int32
	// protocolType is "" for a group that only stores offsets.
	protocolType string
	protocol     string // selected for the current generation; "" when none
	leader       string
	members      map[string]*member
	order        []string          // member ids in join order
	static       map[string]string // instance id → member id
	// pendingJoin holds the member ids handed out with MEMBER_ID_REQUIRED
	// (KIP-394) and not yet joined; each expires after the session timeout.
	pendingJoin map[string]*pendingMember
	// pendingSync holds the members of the new generation that have not
	// sent SyncGroup yet.
	pendingSync    map[string]struct{}
	awaitingJoin   int
	newMemberAdded bool // a member joined during the initial rebalance delay
	supported      map[string]int
	// subscribed is the union of the members' subscribed topics, or nil
	// when unknown (not the consumer protocol, or unparsable metadata).
	subscribed map[string]struct{}

	joinTimer Timer
	joinSeq   uint64
	syncTimer Timer
	syncSeq   uint64

	offsets map[string]map[int32]offset
	// pendingOffsets counts the offset commits appended and not yet
	// committed, per partition: a deletion tombstones them too.
	pendingOffsets map[topicPartition]int
	// pendingWrites counts the group's writes not yet completed.
	pendingWrites int
	// txnOffsets are the offsets of open transactions, by producer id
	// (TxnOffsetCommit, KIP-98): in the committed log, invisible to
	// OffsetFetch until their transaction commits (CompleteTxn).
	txnOffsets map[int64]map[topicPartition]offset
}

type topicPartition struct {
	topic     string
	partition int32
}

type pendingMember struct{ timer Timer }

func newGroup(c *Coordinator, s *shard, id string) *group {
	return &group{
		c:           c,
		shard:       s,
		id:          id,
		state:       stateEmpty,
		prevState:   stateEmpty,
		stateTime:   c.nowMs(),
		members:     map[string]*member{},
		static:      map[string]string{},
		pendingJoin: map[string]*pendingMember{},
		pendingSync: map[string]struct{}{},
		supported:   map[string]int{},
		offsets:     map[string]map[int32]offset{},

		pendingOffsets: map[topicPartition]int{},
		txnOffsets:     map[int64]map[topicPartition]offset{},
	}
}

func (c *Coordinator) nowMs() int64 { return c.clock.Now().UnixMilli() }

func (g *group) transition(to state) {
	g.prevState, g.state = g.state, to
	g.stateTime = g.c.nowMs()
}

// newMemberID is Kafka's member id: the client id (or, for a static member,
// its instance id), a dash, and a random UUID.
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// add puts a new member into the group; the first member sets the protocol
// type and becomes leader.
func (g *group) add(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	g.incSupported(m)
	if m.awaitingJoin() {
		g.awaitingJoin++
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.dropPending(m.id)
}

// remove takes a member out of the group and stops its timer. A request of
// the member still waiting is answered with UNKNOWN_MEMBER_ID, so that no
// connection's pipeline stays blocked on a member that no longer exists.
func (g *group) remove(id string) {
	if m := g.members[id]; m != nil {
		stop(m.hb)
		g.decSupported(m)
		g.completeJoin(m, errJoinResponse(kerr.UnknownMemberID.Code, ""))
		g.completeSync(m, errSyncResponse(kerr.UnknownMemberID.Code))
		if m.instanceID != nil && g.static[*m.instanceID] == id {
			delete(g.static, *m.instanceID)
		}
		delete(g.members, id)
		g.order = slices.DeleteFunc(g.order, func(s string) bool { return s == id })
	}
	if g.leader == id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
	g.dropPending(id)
	delete(g.pendingSync, id)
}

func (g *group) dropPending(id string) {
	if p := g.pendingJoin[id]; p != nil {
		stop(p.timer)
		delete(g.pendingJoin, id)
	}
}

func stop(t Timer) {
	if t != nil {
		t.Stop()
	}
}

func (g *group) incSupported(m *member) {
	for _, p := range m.protocols {
		g.supported[p.name]++
	}
}

func (g *group) decSupported(m *member) {
	for _, p := range m.protocols {
		if g.supported[p.name]--; g.supported[p.name] <= 0 {
			delete(g.supported, p.name)
		}
	}
}

// supportsProtocols is Kafka's admission check for a joining member: an
// Empty group takes any non-empty protocol set; otherwise the protocol type
// must match and one of the member's protocols must be supported by every
// current member.
func (g *group) supportsProtocols(protocolType string, protocols []protocol) bool {
	if g.state == stateEmpty {
		return protocolType != "" && len(protocols) > 0
	}
	if g.protocolType != protocolType {
		return false
	}
	for _, p := range protocols {
		if g.supported[p.name] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol of the next generation as Kafka does:
// among the protocols every member supports, each member votes for the
// first in its own preference order, and the most votes win. Kafka breaks a
// tie by hash-map order; we break it by the first member's preference, so
// the choice is deterministic.
func (g *group) selectProtocol() string {
	if len(g.order) == 0 {
		return ""
	}
	votes := map[string]int{}
	for _, id := range g.order {
		for _, p := range g.members[id].protocols {
			if g.supported[p.name] == len(g.members) {
				votes[p.name]++
				break
			}
		}
	}
	best, bestVotes := "", 0
	for _, p := range g.members[g.order[0]].protocols {
		if v := votes[p.name]; v > bestVotes {
			best, bestVotes = p.name, v
		}
	}
	return best
}

// computeSubscribed recomputes the subscribed topics from the members'
// metadata for the selected protocol (Kafka's computeSubscribedTopics).
func (g *group) computeSubscribed() {
	g.subscribed = nil
	if g.protocolType != consumerProtocolType {
		return
	}
	if len(g.members) == 0 {
		g.subscribed = map[string]struct{}{}
		return
	}
	if g.protocol == "" {
		return
	}
	all := map[string]struct{}{}
	for _, m := range g.members {
		topics, err := subscribedTopics(m.metadataFor(g.protocol))
		if err != nil {
			g.c.log.Warn("cannot parse consumer subscription; subscribed topics unknown", "group", g.id, "member", m.id, "protocol", g.protocol)
			return
		}
		for _, t := range topics {
			all[t] = struct{}{}
		}
	}
	g.subscribed = all
}

// isSubscribed reports whether a member of the group consumes topic; false
// when the subscriptions are unknown (Kafka's isSubscribedToTopic).
func (g *group) isSubscribed(topic string) bool {
	_, ok := g.subscribed[topic]
	return ok
}

// rebalanceTimeout is the longest rebalance timeout of the members: how
// long a rebalance waits for them to rejoin.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) allMembersJoined() bool {
	return len(g.members) == g.awaitingJoin && len(g.pendingJoin) == 0
}

// validateMember is Kafka's check of a member id and, for a static member,
// its instance id: a static member whose instance id now maps to another
// member id has been replaced and is fenced (KIP-345).
func (g *group) validateMember(memberID string, instanceID *string) error {
	if instanceID != nil {
		cur, ok := g.static[*instanceID]
		if !ok {
			return kerr.UnknownMemberID
		}
		if cur != memberID {
			return kerr.FencedInstanceID
		}
	}
	if g.members[memberID] == nil {
		return kerr.UnknownMemberID
	}
	return nil
}

// completeJoin answers a member's parked JoinGroup.
func (g *group) completeJoin(m *member, resp *kmsg.JoinGroupResponse) bool {
	if m.joinCh == nil {
		return false
	}
	m.joinCh <- resp
	m.joinCh = nil
	g.awaitingJoin--
	return true
}

// completeSync answers a member's parked SyncGroup.
func (*group) completeSync(m *member, resp *kmsg.SyncGroupResponse) bool {
	if m.syncCh == nil {
		return false
	}
	m.syncCh <- resp
	m.syncCh = nil
	return true
}

func errJoinResponse(code int16, memberID string) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.ErrorCode = code
	r.MemberID = memberID
	r.Generation = -1
	return r
}

func errSyncResponse(code int16) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.ErrorCode = code
	return r
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// joinResponse is the successful JoinGroup answer for the current
// generation; the leader also gets every member's metadata.
func (g *group) joinResponse(memberID string, withMembers bool) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Generation = g.generation
	r.ProtocolType = strPtr(g.protocolType)
	r.Protocol = strPtr(g.protocol)
	r.LeaderID = g.leader
	r.MemberID = memberID
	if withMembers {
		r.Members = g.memberList()
	}
	return r
}

func (g *group) memberList() []kmsg.JoinGroupResponseMember {
	out := make([]kmsg.JoinGroupResponseMember, 0, len(g.order))
	for _, id := range g.order {
		m := g.members[id]
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = id
		jm.InstanceID = m.instanceID
		jm.ProtocolMetadata = m.metadataFor(g.protocol)
		out = append(out, jm)
	}
	return out
}

// shutdown ends the group (its partition unloaded or the coordinator
// closed): timers stop and parked requests get code.
func (g *group) shutdown(code int16) {
	for _, id := range g.order {
		m := g.members[id]
		stop(m.hb)
		g.completeJoin(m, errJoinResponse(code, m.id))
		g.completeSync(m, errSyncResponse(code))
	}
	for id := range g.pendingJoin {
		g.dropPending(id)
	}
	stop(g.joinTimer)
	stop(g.syncTimer)
	g.transition(stateDead)
}

// describe is the DescribeGroups view. Member metadata and assignments are
// shown only while Stable, as Kafka does: in any other state they belong to
// a generation that is being replaced.
func (g *group) describe() kmsg.DescribeGroupsResponseGroup {
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group = g.id
	d.State = g.state.String()
	d.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		d.Protocol = g.protocol
	}
	for _, id := range g.order {
		m := g.members[id]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		dm.InstanceID = m.instanceID
		dm.ClientID = m.clientID
		dm.ClientHost = m.clientHost
		dm.ProtocolMetadata, dm.MemberAssignment = []byte{}, []byte{}
		if stable {
			dm.ProtocolMetadata = m.metadataFor(g.protocol)
			dm.MemberAssignment = m.assignment
		}
		d.Members = append(d.Members, dm)
	}
	return d
}
