package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// fault kinds the nemesis injects.
const (
	faultKill           = "kill-random"     // kill -9 a random node, restart it
	faultKillController = "kill-controller" // kill -9 the active controller
	faultKillLeader     = "kill-leader"     // kill -9 a partition's leader
	faultKillMajority   = "kill-majority"   // kill -9 a majority at once: unavailable for a while
	faultPauseLeader    = "pause-leader"    // SIGSTOP a partition's leader, sometimes past the session timeout
	faultPauseNode      = "pause-random"    // SIGSTOP a random node
	faultIsolateLeader  = "isolate-leader"  // cut a leader from every other node; clients still reach it
	faultIsolateCtl     = "isolate-controller"
	faultSplit          = "split"   // a minority from the majority
	faultPartial        = "partial" // one link cut, both ends still reach the rest
)

// faultWeight is how often a kind is drawn.
type faultWeight struct {
	kind   string
	weight int
}

// faultWeights: how often each kind is drawn. The majority kill is rare:
// it makes the cluster unavailable until the nodes return.
var faultWeights = []faultWeight{
	{faultKill, 3}, {faultKillController, 3}, {faultKillLeader, 3}, {faultKillMajority, 1},
	{faultPauseLeader, 3}, {faultPauseNode, 2},
	{faultIsolateLeader, 3}, {faultIsolateCtl, 2}, {faultSplit, 2}, {faultPartial, 2},
}

// nemesis injects faults into a cluster from a seeded schedule.
type nemesis struct {
	t      *testing.T
	c      *chaosCluster
	rng    *rand.Rand
	topic  string
	parts  int32
	counts map[string]int
	// verbose logs each fault as it is injected (go test -v).
	verbose bool
	// stuck counts recovery waits that timed out: the cluster did not
	// become healthy within 30 s of a healed fault.
	stuck int
	// weights are faultWeights and the kinds of the kill targets.
	weights []faultWeight
	targets map[string]killTarget
}

// killTarget is a fault kind beyond faultWeights: kill -9 the leader of a
// partition that some test names, such as a coordinator's partition of
// __transaction_state or __consumer_offsets, and restart it after 0.2-6 s.
type killTarget struct {
	kind   string
	weight int
	// aim draws the partition whose leader dies, from the nemesis's
	// random numbers (so a seed replays it), and returns the moment to
	// strike: a function that blocks until then (for instance, until a
	// transaction is ending), or nil for at once.
	aim func(rng *rand.Rand) (topic string, partition int32, wait func(ctx context.Context))
}

// addKillTarget makes the nemesis draw kt's kind with kt's weight.
func (n *nemesis) addKillTarget(kt killTarget) {
	n.weights = append(n.weights, faultWeight{kt.kind, kt.weight})
	n.targets[kt.kind] = kt
}

func newNemesis(t *testing.T, c *chaosCluster, seed uint64, topic string, parts int32) *nemesis {
	return &nemesis{t: t, c: c, rng: rand.New(rand.NewPCG(seed, seed^0x5deece66d)), topic: topic, parts: parts,
		counts: map[string]int{}, verbose: testing.Verbose(),
		weights: slices.Clone(faultWeights), targets: map[string]killTarget{}}
}

func (n *nemesis) draw() string {
	total := 0
	for _, w := range n.weights {
		total += w.weight
	}
	x := n.rng.IntN(total)
	for _, w := range n.weights {
		if x < w.weight {
			return w.kind
		}
		x -= w.weight
	}
	panic("unreachable")
}

// between is a random duration in [lo, hi).
func (n *nemesis) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(n.rng.Int64N(int64(hi-lo)))
}

// pick is a node id drawn from ids.
func (n *nemesis) pick(ids []int) int { return ids[n.rng.IntN(len(ids))] }

// leader finds the leader of a random partition, or a random node when
// none is known (the cluster is down or moving).
// It draws the same numbers whatever the cluster answers, so a seed
// replays the same schedule of kinds and durations.
func (n *nemesis) leader(ctx context.Context) int {
	p := int32(n.rng.IntN(int(n.parts)))
	fallback := n.pick(n.c.ids())
	if id := n.c.leaderOf(ctx, n.topic, p); id > 0 && n.c.node(id).up() {
		return id
	}
	return fallback
}

func (n *nemesis) controller(ctx context.Context) int {
	fallback := n.pick(n.c.ids())
	if id := n.c.activeController(ctx); id > 0 {
		return id
	}
	return fallback
}

func (n *nemesis) logf(format string, args ...any) {
	if n.verbose {
		n.t.Logf("%s nemesis: %s", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
}

// one injects one fault, keeps it for a while and heals it.
func (n *nemesis) one(ctx context.Context) {
	kind := n.draw()
	n.counts[kind]++
	c := n.c
	size := len(c.nodes)
	mode := Drop
	if n.rng.IntN(2) == 0 {
		mode = Blackhole
	}
	switch kind {
	case faultKill, faultKillController, faultKillLeader:
		var id int
		switch kind {
		case faultKill:
			id = n.pick(c.ids())
		case faultKillController:
			id = n.controller(ctx)
		default:
			id = n.leader(ctx)
		}
		d := n.between(200*time.Millisecond, 6*time.Second)
		n.logf("%s: kill -9 node %d for %v", kind, id, d)
		c.kill(id)
		n.sleep(ctx, d)
		c.restart(id)
	case faultKillMajority:
		ids := c.ids()
		n.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		ids = ids[:size/2+1]
		d := n.between(200*time.Millisecond, 4*time.Second)
		n.logf("%s: kill -9 nodes %v for %v", kind, ids, d)
		for _, id := range ids {
			c.kill(id)
		}
		n.sleep(ctx, d)
		for _, id := range ids {
			c.restart(id)
		}
	case faultPauseLeader, faultPauseNode:
		var id int
		if kind == faultPauseLeader {
			id = n.leader(ctx)
		} else {
			id = n.pick(c.ids())
		}
		// Half the pauses outlast the session timeout: the controller
		// fences the node and moves its leaderships while it sleeps.
		d := n.between(200*time.Millisecond, sessionTimeout)
		if n.rng.IntN(2) == 0 {
			d = n.between(sessionTimeout, 3*sessionTimeout)
		}
		n.logf("%s: SIGSTOP node %d for %v", kind, id, d)
		c.pause(id)
		n.sleep(ctx, d)
		c.resume(id)
	case faultIsolateLeader, faultIsolateCtl:
		var id int
		if kind == faultIsolateCtl {
			id = n.controller(ctx)
		} else {
			id = n.leader(ctx)
		}
		d := n.between(500*time.Millisecond, 8*time.Second)
		n.logf("%s: isolate node %d (%v) for %v", kind, id, mode, d)
		c.net.Split([]int{id}, c.ids(id), mode)
		n.sleep(ctx, d)
		c.net.Heal()
	case faultSplit:
		ids := c.ids()
		n.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		minority := ids[:(size-1)/2]
		if len(minority) == 0 {
			minority = ids[:1]
		}
		d := n.between(500*time.Millisecond, 8*time.Second)
		n.logf("%s: %v | %v (%v) for %v", kind, minority, ids[len(minority):], mode, d)
		c.net.Split(minority, ids[len(minority):], mode)
		n.sleep(ctx, d)
		c.net.Heal()
	case faultPartial:
		ids := c.ids()
		n.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		d := n.between(500*time.Millisecond, 8*time.Second)
		n.logf("%s: cut %d-%d (%v) for %v", kind, ids[0], ids[1], mode, d)
		c.net.Cut(ids[0], ids[1], mode)
		n.sleep(ctx, d)
		c.net.Heal()
	default:
		topic, p, wait := n.targets[kind].aim(n.rng)
		fallback := n.pick(c.ids())
		d := n.between(200*time.Millisecond, 6*time.Second)
		// After the moment waited for, a delay of 0-40 ms: the kill lands
		// before, among or after the writes that moment sets off.
		delay := n.between(0, 40*time.Millisecond)
		id := c.leaderOf(ctx, topic, p)
		if id <= 0 || !c.node(id).up() {
			id = fallback
		}
		if wait != nil {
			wait(ctx)
			n.sleep(ctx, delay)
		}
		n.logf("%s: kill -9 node %d (leader of %s-%d) for %v", kind, id, topic, p, d)
		c.kill(id)
		n.sleep(ctx, d)
		c.restart(id)
	}
}

// run injects faults until count faults were injected (or, with a
// duration, until it passed), letting the cluster recover between most of
// them. The next fault sometimes starts before recovery.
func (n *nemesis) run(ctx context.Context, count int, duration time.Duration) {
	start := time.Now()
	for i := 0; ; i++ {
		if duration > 0 && time.Since(start) >= duration || duration == 0 && i >= count || ctx.Err() != nil {
			return
		}
		n.one(ctx)
		if n.rng.IntN(5) > 0 {
			if err := n.c.healthy(ctx, n.topic, 30*time.Second, false); err != nil {
				n.logf("recovery: %v", err)
				n.stuck++
				if n.verbose && n.stuck <= 3 {
					n.c.logTails(40)
				}
			}
		}
		n.sleep(ctx, n.between(0, 1500*time.Millisecond))
	}
}

// sleep waits d as part of the schedule (not to synchronise anything).
func (n *nemesis) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// summary is the faults injected by kind.
func (n *nemesis) summary() string {
	var parts []string
	total := 0
	for _, w := range n.weights {
		if k := n.counts[w.kind]; k > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", w.kind, k))
			total += k
		}
	}
	slices.Sort(parts)
	return fmt.Sprintf("faults injected: %d (%s); recovery waits that timed out: %d", total, strings.Join(parts, ", "), n.stuck)
}
