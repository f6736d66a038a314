package group

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestConcurrentGroups runs several groups of members on the wall clock,
// each member a goroutine doing what a consumer does (join, sync,
// heartbeat, commit, sometimes leave and come back), to find races and
// lock-order bugs under -race. It checks that every commit acknowledged is
// what OffsetFetch returns afterwards, and that all groups end Empty.
func TestConcurrentGroups(t *testing.T) {
	t.Parallel()
	e := newWallEnv(t, "group.initial.rebalance.delay.ms=20")
	e.createTopic("t", 3)
	const groups, members = 6, 3
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	last := make([][]int64, groups)
	var wg sync.WaitGroup
	for g := range groups {
		last[g] = make([]int64, members)
		for i := range members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := e.member(fmt.Sprintf("cg-%d", g))
				m.session, m.rebalance = 3000, 3000
				last[g][i] = runConsumer(ctx, m, int32(i), i == 0)
			}()
		}
	}
	wg.Wait()
	for g := range groups {
		id := fmt.Sprintf("cg-%d", g)
		for i := range members {
			if got := e.committed(id, "t", int32(i)); got.Offset != last[g][i] {
				t.Errorf("%s t/%d: committed %d, last acknowledged %d", id, i, got.Offset, last[g][i])
			}
		}
		g, err := e.c.acquire(id, false)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		st, gen := g.state, g.generation
		g.mu.Unlock()
		// Churn and leaves rebalanced every group several times.
		if st != stateEmpty || gen < 3 {
			t.Errorf("%s is %s at generation %d after every member left", id, st, gen)
		}
	}
}

// runConsumer is a consumer's group loop. It returns the last offset whose
// commit was acknowledged (-1 if none).
func runConsumer(ctx context.Context, m *tmember, partition int32, churn bool) int64 {
	acked, next := int64(-1), int64(0)
	for ctx.Err() == nil {
		var r *kmsg.JoinGroupResponse
		select {
		case r = <-m.joinAsync():
		case <-time.After(10 * time.Second):
			panic("JoinGroup not answered within 10s")
		}
		if r.ErrorCode != 0 {
			if r.ErrorCode == kerr.UnknownMemberID.Code {
				m.id = ""
			}
			continue
		}
		m.id, m.gen = r.MemberID, r.Generation
		var plan map[string][]byte
		if r.LeaderID == m.id {
			plan = byName(r.Members)
		}
		var s *kmsg.SyncGroupResponse
		select {
		case s = <-m.syncAsync(plan):
		case <-time.After(10 * time.Second):
			panic("SyncGroup not answered within 10s")
		}
		if s.ErrorCode != 0 {
			continue
		}
		for ctx.Err() == nil {
			if code := m.commit("t", partition, next, ""); code == 0 {
				acked = next
			}
			next++
			if m.heartbeat() != 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
			if churn && next%40 == 0 {
				m.leave() // and come back, as a restarted consumer would
				m.id = ""
				break
			}
		}
	}
	if m.id != "" {
		m.leave()
	}
	return acked
}
