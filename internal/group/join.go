package group

import (
	"bytes"
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/coordinator"
)

// Client identifies where a request came from, for DescribeGroups.
type Client struct {
	ID   string
	Host string // as Kafka shows it: "/" + IP
}

// joinParams is a JoinGroup request, normalised across versions.
type joinParams struct {
	memberID     string
	instanceID   *string
	client       Client
	session      time.Duration
	rebalance    time.Duration
	protocolType string
	protocols    []protocol
	version      int16
	reason       string
}

// JoinGroup handles a JoinGroup request of any version (the request's
// Version is honoured: v0 has no rebalance timeout, v4+ requires a known
// member id, v9 may skip the assignment). The order-sensitive part runs
// before JoinGroup returns; the channel receives the one response later,
// when the rebalance completes, or at once for an error.
func (c *Coordinator) JoinGroup(req *kmsg.JoinGroupRequest, client Client) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	if req.Group == "" {
		ch <- errJoinResponse(kerr.InvalidGroupID.Code, req.MemberID)
		return ch
	}
	p := joinParams{
		memberID:     req.MemberID,
		instanceID:   req.InstanceID,
		client:       client,
		session:      ms(req.SessionTimeoutMillis),
		rebalance:    ms(req.RebalanceTimeoutMillis),
		protocolType: req.ProtocolType,
		protocols:    joinProtocols(req.Protocols),
		version:      req.Version,
	}
	if req.Version == 0 {
		// v0 has no rebalance timeout: Kafka uses the session timeout.
		p.rebalance = p.session
	}
	if req.Reason != nil {
		p.reason = *req.Reason
	}
	if p.session < c.cfg.minSession || p.session > c.cfg.maxSession {
		ch <- errJoinResponse(kerr.InvalidSessionTimeout.Code, req.MemberID)
		return ch
	}
	// Only a member without an id may create the group; a member id for a
	// group that does not exist is UNKNOWN_MEMBER_ID.
	g, err := c.acquire(req.Group, req.MemberID == "")
	if err != nil {
		ch <- errJoinResponse(codeOf(err, kerr.UnknownMemberID), req.MemberID)
		return ch
	}
	g.join(p, ch)
	drop := g.dropIfUnused()
	g.mu.Unlock()
	if drop {
		c.removeGroup(g)
	}
	return ch
}

// codeOf maps an acquire error to its code, errGroupNotFound to notFound.
func codeOf(err error, notFound *kerr.Error) int16 {
	if errors.Is(err, errGroupNotFound) {
		return notFound.Code
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

// joinProtocols copies the request's protocols (the request buffer is not
// ours to keep), dropping repeated names as Kafka's keyed collection does.
func joinProtocols(in []kmsg.JoinGroupRequestProtocol) []protocol {
	out := make([]protocol, 0, len(in))
	for _, p := range in {
		if slices.ContainsFunc(out, func(q protocol) bool { return q.name == p.Name }) {
			continue
		}
		out = append(out, protocol{name: p.Name, metadata: bytes.Clone(p.Metadata)})
	}
	return out
}

// withReason appends the client's join reason (KIP-800) to ours.
func withReason(ours, client string) string {
	if client == "" {
		return ours
	}
	return ours + " (client: " + client + ")"
}

// dropIfUnused marks Dead a group that a failed JoinGroup created and left
// with nothing in it, so that bad requests do not accumulate empty groups.
func (g *group) dropIfUnused() bool {
	if g.state != stateEmpty || g.generation != 0 || len(g.members) > 0 || len(g.pendingJoin) > 0 || len(g.offsets) > 0 || g.pendingWrites > 0 || len(g.txnOffsets) > 0 {
		return false
	}
	g.transition(stateDead)
	return true
}

func (g *group) join(p joinParams, ch chan *kmsg.JoinGroupResponse) {
	if !g.acceptJoiningMember(p.memberID) {
		// Kafka removes an existing member refused for size, so the
		// last members to rejoin a shrunk group are the ones left out.
		if m := g.members[p.memberID]; m != nil {
			g.removeMemberAndUpdate(m, "group is at group.max.size")
		}
		ch <- errJoinResponse(kerr.GroupMaxSizeReached.Code, "")
		return
	}
	if p.memberID == "" {
		g.joinNew(p, ch)
	} else {
		g.joinExisting(p, ch)
	}
}

// acceptJoiningMember enforces group.max.size. While preparing a rebalance
// the members that already rejoined count, so a shrunk limit evicts the
// stragglers; otherwise existing members are always accepted.
func (g *group) acceptJoiningMember(id string) bool {
	switch g.state {
	case stateEmpty, stateDead:
		return true
	case statePreparingRebalance:
		if m := g.members[id]; m != nil && m.awaitingJoin() {
			return true
		}
		return g.awaitingJoin < g.c.cfg.maxSize
	default:
		return g.members[id] != nil || len(g.members) < g.c.cfg.maxSize
	}
}

func (g *group) joinNew(p joinParams, ch chan *kmsg.JoinGroupResponse) {
	if !g.supportsProtocols(p.protocolType, p.protocols) {
		ch <- errJoinResponse(kerr.InconsistentGroupProtocol.Code, "")
		return
	}
	if p.instanceID != nil {
		newID := newMemberID(*p.instanceID)
		if old, ok := g.static[*p.instanceID]; ok {
			g.replaceStatic(old, newID, p, ch)
			return
		}
		g.addAndRebalance(newID, p, ch)
		return
	}
	newID := newMemberID(p.client.ID)
	if p.version >= 4 {
		// KIP-394: hand out the id and have the member join again with
		// it, so a client that times out and retries cannot leave
		// anonymous members behind. The id is held for a session.
		g.addPending(newID, p.session)
		ch <- errJoinResponse(kerr.MemberIDRequired.Code, newID)
		return
	}
	g.addAndRebalance(newID, p, ch)
}

func (g *group) joinExisting(p joinParams, ch chan *kmsg.JoinGroupResponse) {
	id := p.memberID
	if !g.supportsProtocols(p.protocolType, p.protocols) {
		ch <- errJoinResponse(kerr.InconsistentGroupProtocol.Code, id)
		return
	}
	if _, ok := g.pendingJoin[id]; ok {
		if p.instanceID != nil {
			// Pending ids are only handed to dynamic members.
			ch <- errJoinResponse(kerr.UnknownMemberID.Code, id)
			return
		}
		g.addAndRebalance(id, p, ch)
		return
	}
	if err := g.validateMember(id, p.instanceID); err != nil {
		ch <- errJoinResponse(err.(*kerr.Error).Code, id)
		return
	}
	m := g.members[id]
	switch g.state {
	case statePreparingRebalance:
		g.updateMember(m, p, ch)
		g.maybePrepareRebalanceOrCompleteJoin(withReason("member "+id+" rejoined", p.reason))
	case stateCompletingRebalance:
		if m.matches(p.protocols) {
			// The member lost the JoinGroup response: answer it again.
			ch <- g.joinResponse(id, id == g.leader)
			return
		}
		g.updateMember(m, p, ch)
		g.maybePrepareRebalanceOrCompleteJoin("member " + id + " changed its metadata")
	case stateStable:
		// A leader's rejoin always rebalances: that is how a consumer
		// leader asks for a new assignment when topic metadata changed
		// without any member's subscription changing.
		if id == g.leader || !m.matches(p.protocols) {
			g.updateMember(m, p, ch)
			g.maybePrepareRebalanceOrCompleteJoin(withReason("member "+id+" rejoined", p.reason))
			return
		}
		ch <- g.joinResponse(id, false)
	default:
		ch <- errJoinResponse(kerr.UnknownMemberID.Code, id)
	}
}

func (g *group) addPending(id string, session time.Duration) {
	pm := &pendingMember{}
	pm.timer = g.c.afterFunc(session, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.pendingJoin[id] != pm || g.state == stateDead {
			return
		}
		g.dropPending(id)
		if g.state == statePreparingRebalance && g.allMembersJoined() {
			g.completeJoinPhase()
		}
	})
	g.pendingJoin[id] = pm
}

func (g *group) addAndRebalance(id string, p joinParams, ch chan *kmsg.JoinGroupResponse) {
	m := &member{
		id:               id,
		instanceID:       p.instanceID,
		clientID:         p.client.ID,
		clientHost:       p.client.Host,
		sessionTimeout:   p.session,
		rebalanceTimeout: p.rebalance,
		protocolType:     p.protocolType,
		protocols:        p.protocols,
		joinCh:           ch,
		isNew:            true,
	}
	if g.state == statePreparingRebalance && g.prevState == stateEmpty {
		g.newMemberAdded = true
	}
	g.add(m)
	// A new member cannot heartbeat before its first JoinGroup response
	// (it has no id yet): bound the wait instead.
	g.scheduleHeartbeat(m, g.c.cfg.newMemberJoinTimeout)
	g.maybePrepareRebalanceOrCompleteJoin(withReason("member "+id+" joined", p.reason))
}

// updateMember takes a known member's new protocols and timeouts and parks
// its JoinGroup on ch.
func (g *group) updateMember(m *member, p joinParams, ch chan *kmsg.JoinGroupResponse) {
	g.decSupported(m)
	m.protocols = p.protocols
	g.incSupported(m)
	m.rebalanceTimeout, m.sessionTimeout = p.rebalance, p.session
	// A JoinGroup of this member that is still parked is superseded; its
	// client has given up on it, but its connection must not stall.
	g.completeJoin(m, errJoinResponse(kerr.RebalanceInProgress.Code, m.id))
	if ch != nil {
		m.joinCh = ch
		g.awaitingJoin++
	}
}

// replaceStatic handles a static member that joins without a member id while
// its instance id is known (KIP-345): it takes over the existing member's id
// slot and assignment, and the old id is fenced. In a Stable group whose
// protocol does not change, this does not rebalance: the member is answered
// with the current generation and gets its old assignment from SyncGroup.
func (g *group) replaceStatic(oldID, newID string, p joinParams, ch chan *kmsg.JoinGroupResponse) {
	currentLeader := g.leader
	old := g.members[oldID]
	oldProtocols, oldRebalance, oldSession := old.protocols, old.rebalanceTimeout, old.sessionTimeout
	nm := g.swapStatic(old, newID, p.client)
	g.updateMember(nm, p, ch)

	switch g.state {
	case stateStable:
		if g.selectProtocol() != g.protocol {
			g.maybePrepareRebalanceOrCompleteJoin("static member " + *p.instanceID + " rejoined with other protocols")
			return
		}
		gen := g.generation
		failed := func(err error) {
			// Revert, so the group keeps what the log says and the
			// old member id stays valid; this request gets the error.
			ch := nm.joinCh
			nm.joinCh = nil
			g.awaitingJoin--
			g.updateMember(nm, joinParams{protocols: oldProtocols, rebalance: oldRebalance, session: oldSession}, nil)
			g.swapStatic(nm, oldID, Client{ID: old.clientID, Host: old.clientHost})
			r := errJoinResponse(groupAppendCode(err), "")
			r.Generation = g.generation
			r.ProtocolType, r.Protocol = strPtr(g.protocolType), strPtr(g.protocol)
			r.LeaderID = currentLeader
			ch <- r
		}
		err := g.persistMetadata(nil, func(err error) {
			// While the write was pending, the member's JoinGroup
			// stayed parked; a rebalance that began meanwhile, or the
			// group's end, answers it on its own path.
			if !nm.awaitingJoin() || g.state != stateStable || g.generation != gen || g.members[newID] != nm {
				return
			}
			if !coordinator.Applied(err) {
				failed(err)
				return
			}
			if p.version >= 9 {
				// KIP-814: a static leader learns it leads, with
				// the members, but keeps the current assignment.
				isLeader := g.leader == newID
				r := g.joinResponse(newID, isLeader)
				r.SkipAssignment = isLeader
				g.completeJoin(nm, r)
				return
			}
			// Older clients would compute a new assignment if told
			// they lead, which would need a rebalance to distribute:
			// name the old leader id so that the member simply syncs.
			r := g.joinResponse(newID, false)
			r.LeaderID = currentLeader
			g.completeJoin(nm, r)
		})
		if err != nil {
			failed(err)
		}
	case stateCompletingRebalance:
		// The leader may already be assigning with the old member id,
		// which would leave the new id without an assignment.
		g.prepareRebalance("static member " + *p.instanceID + " rejoined while completing a rebalance")
	case statePreparingRebalance:
		// The member's JoinGroup now waits with the others.
	}
}

// swapStatic replaces member old by a member with id newID that keeps its
// place, instance id, protocols, timeouts and assignment. Parked requests of
// the old id are answered FENCED_INSTANCE_ID.
func (g *group) swapStatic(old *member, newID string, client Client) *member {
	fenced := errJoinResponse(kerr.FencedInstanceID.Code, old.id)
	g.completeJoin(old, fenced)
	g.completeSync(old, errSyncResponse(kerr.FencedInstanceID.Code))
	stop(old.hb)
	nm := &member{
		id:               newID,
		instanceID:       old.instanceID,
		clientID:         client.ID,
		clientHost:       client.Host,
		sessionTimeout:   old.sessionTimeout,
		rebalanceTimeout: old.rebalanceTimeout,
		protocolType:     old.protocolType,
		protocols:        old.protocols,
		assignment:       old.assignment,
	}
	delete(g.members, old.id)
	g.members[newID] = nm
	g.order[slices.Index(g.order, old.id)] = newID
	g.static[*old.instanceID] = newID
	if g.leader == old.id {
		g.leader = newID
	}
	if _, ok := g.pendingSync[old.id]; ok {
		delete(g.pendingSync, old.id)
		g.pendingSync[newID] = struct{}{}
	}
	g.scheduleHeartbeat(nm, nm.sessionTimeout)
	return nm
}

func (g *group) maybePrepareRebalanceOrCompleteJoin(reason string) {
	switch g.state {
	case stateStable, stateCompletingRebalance, stateEmpty:
		g.prepareRebalance(reason)
	default:
		g.maybeCompleteJoinPhase()
	}
}

// prepareRebalance starts a rebalance: members must rejoin within the
// rebalance timeout. The first rebalance of an empty group waits
// group.initial.rebalance.delay.ms first, extended while members keep
// arriving, so that consumers started together land in one generation.
func (g *group) prepareRebalance(reason string) {
	if g.state == stateCompletingRebalance {
		g.resetAndPropagateAssignmentWithError(kerr.RebalanceInProgress.Code)
	}
	g.cancelSync()
	initial := g.state == stateEmpty
	g.transition(statePreparingRebalance)
	g.c.log.Info("preparing to rebalance group", "group", g.id, "generation", g.generation, "members", len(g.members), "reason", reason)
	if initial {
		delay := g.c.cfg.initialDelay
		remaining := max(g.rebalanceTimeout()-delay, 0)
		g.scheduleJoin(delay, func() { g.tryCompleteInitialRebalance(delay, remaining) })
		return
	}
	if g.allMembersJoined() {
		g.completeJoinPhase()
		return
	}
	g.scheduleJoin(g.rebalanceTimeout(), g.completeJoinPhase)
}

func (g *group) tryCompleteInitialRebalance(delay, remaining time.Duration) {
	if g.newMemberAdded && remaining != 0 {
		g.newMemberAdded = false
		next := min(g.c.cfg.initialDelay, remaining)
		left := max(remaining-delay, 0)
		g.scheduleJoin(next, func() { g.tryCompleteInitialRebalance(next, left) })
		return
	}
	g.completeJoinPhase()
}

// maybeCompleteJoinPhase ends the join phase early once every member has
// rejoined, except during the initial delay, which always runs its course.
func (g *group) maybeCompleteJoinPhase() {
	if g.state == statePreparingRebalance && g.allMembersJoined() && g.prevState != stateEmpty {
		g.completeJoinPhase()
	}
}

// minJoinRetry is the shortest wait before a join phase that no member
// rejoined is tried again.
const minJoinRetry = time.Second

// completeJoinPhase ends the join phase: dynamic members that did not
// rejoin are removed (static ones keep their place until their session
// expires), the next generation starts, and every waiting JoinGroup is
// answered, the leader's with all members' metadata.
func (g *group) completeJoinPhase() {
	g.cancelJoin()
	for _, id := range slices.Clone(g.order) {
		if m := g.members[id]; !m.awaitingJoin() && m.instanceID == nil {
			g.remove(id)
		}
	}
	if g.state == stateDead {
		return
	}
	if !g.electJoinedLeader() && len(g.members) > 0 {
		// Only static members that did not rejoin are left: wait for
		// them, or for their sessions to expire. A rebalance timeout of
		// zero (a client may send one; a loaded member may carry one)
		// must not make this a busy loop.
		g.scheduleJoin(max(g.rebalanceTimeout(), minJoinRetry), g.completeJoinPhase)
		return
	}
	g.initNextGeneration()
	if g.state == stateEmpty {
		// Nobody to answer; record the empty generation. A failure
		// leaves the previous generation in the log, whose members
		// then simply time out after a restart.
		gen := g.generation
		warn := func(err error) {
			g.c.log.Warn("cannot write empty group metadata", "group", g.id, "generation", gen, "err", err)
		}
		if err := g.persistMetadata(nil, func(err error) {
			if !coordinator.Applied(err) {
				warn(err)
			}
		}); err != nil {
			warn(err)
		}
		return
	}
	g.c.log.Info("group rebalanced", "group", g.id, "generation", g.generation, "members", len(g.members), "protocol", g.protocol, "leader", g.leader)
	for _, id := range g.order {
		m := g.members[id]
		g.completeJoin(m, g.joinResponse(id, id == g.leader))
		g.scheduleHeartbeat(m, m.sessionTimeout)
		m.isNew = false
		g.pendingSync[id] = struct{}{}
	}
	g.schedulePendingSync()
}

// electJoinedLeader keeps the leader if it rejoined, or else picks the
// first member that did.
func (g *group) electJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if l := g.members[g.leader]; l != nil && l.awaitingJoin() {
		return true
	}
	for _, id := range g.order {
		if g.members[id].awaitingJoin() {
			g.leader = id
			return true
		}
	}
	return false
}

func (g *group) initNextGeneration() {
	g.generation++
	if len(g.members) > 0 {
		g.protocol = g.selectProtocol()
		g.computeSubscribed()
		g.transition(stateCompletingRebalance)
	} else {
		g.protocol = ""
		g.computeSubscribed()
		g.transition(stateEmpty)
	}
	clear(g.pendingSync)
}

// scheduleJoin (re)arms the group's single join-phase timer.
func (g *group) scheduleJoin(d time.Duration, f func()) {
	g.cancelJoin()
	seq := g.joinSeq
	g.joinTimer = g.c.afterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.joinSeq != seq || g.state != statePreparingRebalance {
			return
		}
		f()
	})
}

func (g *group) cancelJoin() {
	stop(g.joinTimer)
	g.joinTimer = nil
	g.joinSeq++
}
