package group

import (
	"bytes"
	"errors"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/coordinator"
)

// SyncGroup handles a SyncGroup request of any version. Followers of a
// generation that is still completing wait for the leader's assignment; the
// channel receives the one response.
func (c *Coordinator) SyncGroup(req *kmsg.SyncGroupRequest) <-chan *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	if req.Group == "" {
		ch <- errSyncResponse(kerr.InvalidGroupID.Code)
		return ch
	}
	g, err := c.acquire(req.Group, false)
	if err != nil {
		ch <- errSyncResponse(codeOf(err, kerr.UnknownMemberID))
		return ch
	}
	defer g.mu.Unlock()
	if err := g.validateSync(req); err != nil {
		ch <- errSyncResponse(err.(*kerr.Error).Code)
		return ch
	}
	m := g.members[req.MemberID]
	switch g.state {
	case statePreparingRebalance:
		ch <- errSyncResponse(kerr.RebalanceInProgress.Code)
	case stateCompletingRebalance:
		g.completeSync(m, errSyncResponse(kerr.RebalanceInProgress.Code)) // superseded
		m.syncCh = ch
		g.removePendingSync(m.id)
		if m.id == g.leader {
			g.applyAssignment(req)
		}
	case stateStable:
		g.removePendingSync(m.id)
		r := kmsg.NewPtrSyncGroupResponse()
		r.ProtocolType, r.Protocol = strPtr(g.protocolType), strPtr(g.protocol)
		r.MemberAssignment = m.assignment
		ch <- r
	}
	return ch
}

func (g *group) validateSync(req *kmsg.SyncGroupRequest) error {
	if g.state == stateDead {
		return kerr.CoordinatorNotAvailable
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration
	}
	// v5 names the protocol the member thinks it syncs (KIP-559).
	if inconsistent(req.ProtocolType, g.protocolType) || inconsistent(req.Protocol, g.protocol) {
		return kerr.InconsistentGroupProtocol
	}
	return nil
}

func inconsistent(asked *string, have string) bool {
	return asked != nil && have != "" && *asked != have
}

// applyAssignment persists the leader's assignment (members it left out
// get an empty one), then distributes it and makes the group Stable. If the
// write fails, every waiting member gets the error and the group rebalances.
func (g *group) applyAssignment(req *kmsg.SyncGroupRequest) {
	assign := make(map[string][]byte, len(g.members))
	for _, a := range req.GroupAssignment {
		if g.members[a.MemberID] != nil {
			assign[a.MemberID] = bytes.Clone(a.MemberAssignment)
		}
	}
	for id := range g.members {
		if _, ok := assign[id]; !ok {
			g.c.log.Warn("leader left a member without an assignment; it gets an empty one", "group", g.id, "generation", g.generation, "member", id)
			assign[id] = []byte{}
		}
	}
	gen := g.generation
	failed := func(err error) {
		g.c.log.Warn("cannot write group assignment", "group", g.id, "generation", g.generation, "err", err)
		g.resetAndPropagateAssignmentWithError(groupAppendCode(err))
		g.maybePrepareRebalanceOrCompleteJoin("cannot store the assignment")
	}
	// The group stays CompletingRebalance until the assignment is
	// committed; if it moved on meanwhile (a member left, a rebalance
	// began, a retried SyncGroup of the leader completed it first), the
	// path that moved it answered the members.
	err := g.persistMetadata(assign, func(err error) {
		if g.state != stateCompletingRebalance || g.generation != gen {
			return
		}
		if !coordinator.Applied(err) {
			failed(err)
			return
		}
		for id, m := range g.members {
			m.assignment = assign[id]
		}
		g.propagateAssignment(0)
		g.transition(stateStable)
	})
	if err != nil {
		failed(err)
	}
}

// propagateAssignment answers every waiting SyncGroup with the member's
// assignment, or with code, and restarts those members' session timers: a
// session that ran out while the member waited for the leader was ignored.
func (g *group) propagateAssignment(code int16) {
	for _, id := range g.order {
		m := g.members[id]
		r := errSyncResponse(code)
		if code == 0 {
			r.ProtocolType, r.Protocol = strPtr(g.protocolType), strPtr(g.protocol)
		}
		r.MemberAssignment = m.assignment
		if g.completeSync(m, r) {
			g.scheduleHeartbeat(m, m.sessionTimeout)
		}
	}
}

func (g *group) resetAndPropagateAssignmentWithError(code int16) {
	for _, m := range g.members {
		m.assignment = []byte{}
	}
	g.propagateAssignment(code)
}

// schedulePendingSync bounds how long the new generation waits for every
// member's SyncGroup: the stragglers are removed and the group rebalances.
func (g *group) schedulePendingSync() {
	g.cancelSync()
	seq, gen := g.syncSeq, g.generation
	g.syncTimer = g.c.afterFunc(g.rebalanceTimeout(), func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.syncSeq != seq || gen != g.generation {
			return
		}
		if (g.state != stateCompletingRebalance && g.state != stateStable) || len(g.pendingSync) == 0 {
			return
		}
		late := make([]string, 0, len(g.pendingSync))
		for id := range g.pendingSync {
			late = append(late, id)
		}
		sort.Strings(late)
		for _, id := range late {
			g.remove(id)
		}
		g.prepareRebalance("members did not sync in time")
	})
}

func (g *group) cancelSync() {
	stop(g.syncTimer)
	g.syncTimer = nil
	g.syncSeq++
}

func (g *group) removePendingSync(id string) {
	delete(g.pendingSync, id)
	switch g.state {
	case stateCompletingRebalance, stateStable:
		if len(g.pendingSync) > 0 {
			return
		}
	}
	g.cancelSync()
}

// scheduleHeartbeat (re)arms a member's session timer.
func (g *group) scheduleHeartbeat(m *member, d time.Duration) {
	stop(m.hb)
	m.hbSeq++
	seq := m.hbSeq
	m.hb = g.c.afterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.members[m.id] != m || m.hbSeq != seq || g.state == stateDead {
			return
		}
		// A member waiting for a rebalance cannot heartbeat and is
		// not expired for it; its timer restarts when the wait ends.
		// A new member is expired anyway (newMemberJoinTimeout).
		if !m.isNew && (m.awaitingJoin() || m.awaitingSync()) {
			return
		}
		g.c.log.Info("member session expired", "group", g.id, "member", m.id)
		g.removeMemberAndUpdate(m, "session of member "+m.id+" expired")
	})
}

// removeMemberAndUpdate removes a member that failed (session expiry, size
// limit) and moves the group on.
func (g *group) removeMemberAndUpdate(m *member, reason string) {
	g.completeJoin(m, errJoinResponse(kerr.UnknownMemberID.Code, ""))
	g.remove(m.id)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		g.maybePrepareRebalanceOrCompleteJoin(reason)
	case statePreparingRebalance:
		if g.allMembersJoined() {
			g.completeJoinPhase()
		}
	}
}

// Heartbeat handles a Heartbeat request and returns its error code.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	g, err := c.acquire(req.Group, false)
	if errors.Is(err, kerr.CoordinatorLoadInProgress) {
		// Kafka answers heartbeats blindly while the partition loads,
		// so that members do not rejoin because the coordinator moved.
		return 0
	}
	if err != nil {
		return codeOf(err, kerr.UnknownMemberID)
	}
	defer g.mu.Unlock()
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return err.(*kerr.Error).Code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	m := g.members[req.MemberID]
	switch g.state {
	case statePreparingRebalance:
		g.scheduleHeartbeat(m, m.sessionTimeout)
		return kerr.RebalanceInProgress.Code
	case stateCompletingRebalance, stateStable:
		// Consumers may heartbeat between their JoinGroup response
		// and SyncGroup; that is a normal heartbeat.
		g.scheduleHeartbeat(m, m.sessionTimeout)
		return 0
	default:
		return kerr.UnknownMemberID.Code
	}
}

// LeaveGroup removes members (KIP-345 batches them; a member given only by
// instance id is removed by an admin). The error is for the whole group.
func (c *Coordinator) LeaveGroup(groupID string, members []kmsg.LeaveGroupRequestMember) ([]kmsg.LeaveGroupResponseMember, error) {
	if groupID == "" {
		return nil, kerr.InvalidGroupID
	}
	g, err := c.acquire(groupID, false)
	if err != nil {
		if err == errGroupNotFound {
			return nil, kerr.UnknownMemberID
		}
		return nil, err
	}
	defer g.mu.Unlock()
	out := make([]kmsg.LeaveGroupResponseMember, 0, len(members))
	left := 0
	for _, lm := range members {
		r := kmsg.NewLeaveGroupResponseMember()
		r.MemberID, r.InstanceID = lm.MemberID, lm.InstanceID
		switch {
		case lm.MemberID == "":
			if lm.InstanceID == nil || g.static[*lm.InstanceID] == "" {
				r.ErrorCode = kerr.UnknownMemberID.Code
				break
			}
			g.leave(g.static[*lm.InstanceID])
		case g.pendingJoin[lm.MemberID] != nil:
			g.dropPending(lm.MemberID)
		default:
			if err := g.validateMember(lm.MemberID, lm.InstanceID); err != nil {
				r.ErrorCode = err.(*kerr.Error).Code
				break
			}
			g.leave(lm.MemberID)
		}
		if r.ErrorCode == 0 {
			left++
		}
		out = append(out, r)
	}
	if left > 0 {
		switch g.state {
		case stateStable, stateCompletingRebalance:
			g.maybePrepareRebalanceOrCompleteJoin("members left")
		case statePreparingRebalance:
			g.maybeCompleteJoinPhase()
		}
	}
	return out, nil
}

func (g *group) leave(id string) {
	m := g.members[id]
	g.c.log.Info("member left group", "group", g.id, "member", id)
	g.completeJoin(m, errJoinResponse(kerr.UnknownMemberID.Code, ""))
	g.remove(id)
}
