package groups

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMoreMembersThanPartitions: 15 members on 10 partitions with the
// range strategy leave 5 members without partitions, and each partition
// with exactly one member.
func TestMoreMembersThanPartitions(t *testing.T) {
	t.Parallel()
	const members, partitions = 15, 10
	b := startBroker(t)
	ctx := testCtx(t, 60*time.Second)
	adm := newAdmin(t, b.Addr())
	topic, group := "idle", "idle-group"
	createTopic(ctx, t, adm, topic, partitions)
	l := newLedger()
	mon := startMonitor(ctx, adm, group, topic)
	start := franzMember(kgo.RangeBalancer())
	for i := range members {
		start(t, b.Addr(), group, topic, fmt.Sprintf("m%02d", i), l)
	}
	g := waitStable(ctx, t, adm, group, topic, members, partitions)

	sizes := func(byMember map[string][]int32) map[int]int { // partitions held → members holding that many
		n := make(map[int]int)
		for _, ps := range byMember {
			n[len(ps)]++
		}
		return n
	}
	want := map[int]int{0: 5, 1: 10}
	if got := sizes(assignments(g, topic)); !maps.Equal(got, want) {
		t.Errorf("coordinator: members per partition count %v, want %v (%s)", got, want, describeState(g, topic))
	}
	// Every member, idle ones included, reports the generation the
	// coordinator settled on.
	lastGen := func() map[string][]int32 {
		gens := l.generations()
		if len(gens) == 0 {
			return nil
		}
		return gens[slices.Max(slices.Collect(maps.Keys(gens)))]
	}
	waitFor(ctx, t, "all 15 members to report the last generation", func() bool { return len(lastGen()) == members },
		func() string { return fmt.Sprint(l.generations()) })
	gens := l.checkGenerations(t)
	if g, ok := l.lastCovers(partitions); !ok {
		t.Errorf("clients: generation %d does not assign each partition once: %v", g, lastGen())
	}
	last := lastGen()
	if got := sizes(last); !maps.Equal(got, want) {
		t.Errorf("clients: members per partition count %v in generation %d, want %v: %v", got, gens[len(gens)-1], want, last)
	}
	mon.check(t)
}

// TestStaticMemberRestart: a static member (group.instance.id, KIP-345)
// that restarts within its session timeout gets its partitions back in the
// same generation, and the other members are not rebalanced. Both a
// follower and the leader (KIP-814) are restarted.
func TestStaticMemberRestart(t *testing.T) {
	t.Parallel()
	const partitions = 6
	b := startBroker(t)
	ctx := testCtx(t, 60*time.Second)
	adm := newAdmin(t, b.Addr())
	topic, group := "static", "static-group"
	createTopic(ctx, t, adm, topic, partitions)
	l := newLedger()
	start := func(instance string) *member {
		return franzMember(kgo.RangeBalancer(), kgo.InstanceID(instance))(t, b.Addr(), group, topic, instance, l)
	}
	members := map[string]*member{"s1": start("s1")}
	// s1 joins alone first, so it is the leader.
	waitStable(ctx, t, adm, group, topic, 1, partitions)
	members["s2"], members["s3"] = start("s2"), start("s3")
	before := waitStable(ctx, t, adm, group, topic, 3, partitions)
	byInstance := func(g kadm.DescribedGroup) map[string]string { // instance → member id
		m := make(map[string]string)
		for _, mem := range g.Members {
			if mem.InstanceID != nil {
				m[*mem.InstanceID] = mem.MemberID
			}
		}
		return m
	}
	wantAssigned := assignments(before, topic)
	ids := byInstance(before)

	mon := startMonitor(ctx, adm, group, topic)
	for _, restart := range []string{"s3", "s1"} { // a follower, then the leader
		// The clients report their assignment after the coordinator
		// has it: wait until all three reported the current one.
		var gensBefore map[int32]map[string][]int32
		var lastGen int32
		waitFor(ctx, t, "every member to report its assignment", func() bool {
			gensBefore = l.generations()
			lastGen = slices.Max(slices.Collect(maps.Keys(gensBefore)))
			for _, id := range ids {
				if !slices.Equal(gensBefore[lastGen][id], wantAssigned[id]) {
					return false
				}
			}
			return true
		}, func() string { return fmt.Sprintf("reported %v, want %v", gensBefore, wantAssigned) })

		// A static member closes without LeaveGroup: the coordinator
		// keeps it, and its partitions, until its session expires.
		members[restart].stop()
		if g := describe(ctx, adm, group); g.Err != nil || len(g.Members) != 3 || byInstance(g)[restart] != ids[restart] {
			t.Fatalf("after %s closed: want it still a member (%s): %s", restart, ids[restart], describeState(g, topic))
		}
		members[restart] = start(restart)
		var g kadm.DescribedGroup
		var newGen int32
		waitFor(ctx, t, restart+" back with a new member id and partitions", func() bool {
			g = describe(ctx, adm, group)
			id := byInstance(g)[restart]
			if g.Err != nil || g.State != "Stable" || len(g.Members) != 3 || id == "" || id == ids[restart] {
				return false
			}
			for gen, ms := range l.generations() {
				if len(ms[id]) > 0 {
					newGen = gen
					return true
				}
			}
			return false
		}, func() string { return describeState(g, topic) + fmt.Sprintf("; reported %v", l.generations()) })
		newID := byInstance(g)[restart]

		gensAfter := l.generations()
		if got := slices.Max(slices.Collect(maps.Keys(gensAfter))); got != lastGen || newGen != lastGen {
			t.Fatalf("restarting %s: generation %d → %d (the restarted member's %d), want no rebalance: %v", restart, lastGen, got, newGen, gensAfter)
		}
		if got, want := gensAfter[lastGen][newID], wantAssigned[ids[restart]]; !slices.Equal(got, want) {
			t.Errorf("restarted %s was assigned %v, want its old partitions %v", restart, got, want)
		}
		for other, id := range ids {
			if other != restart && !slices.Equal(gensAfter[lastGen][id], gensBefore[lastGen][id]) {
				t.Errorf("%s was reassigned when %s restarted: %v → %v", other, restart, gensBefore[lastGen][id], gensAfter[lastGen][id])
			}
		}
		got := assignments(g, topic)
		for inst, id := range byInstance(g) {
			if !slices.Equal(got[id], wantAssigned[ids[inst]]) {
				t.Errorf("after restarting %s the coordinator assigns %s %v, want %v", restart, inst, got[id], wantAssigned[ids[inst]])
			}
		}
		wantAssigned[newID] = wantAssigned[ids[restart]]
		ids[restart] = newID
	}
	mon.check(t)
	if len(mon.states) != 1 {
		t.Errorf("the group left Stable while static members restarted: states seen %v", mon.states)
	}
}

// TestExpiredSession: a member killed without LeaveGroup stays in the group
// until its session timeout expires (a closed connection is not a
// departure), then is expelled and its partitions reassigned.
func TestExpiredSession(t *testing.T) {
	t.Parallel()
	const partitions = 4
	b := startBroker(t)
	ctx := testCtx(t, 60*time.Second)
	adm := newAdmin(t, b.Addr())
	topic, group := "expire", "expire-group"
	createTopic(ctx, t, adm, topic, partitions)
	l := newLedger()
	franzMember(kgo.RangeBalancer())(t, b.Addr(), group, topic, "survivor", l)
	waitStable(ctx, t, adm, group, topic, 1, partitions)

	// The other member is this test binary run as TestHelperMember, so
	// that it can be SIGKILLed.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMember$")
	cmd.Env = append(os.Environ(), "GROUPS_HELPER="+strings.Join([]string{b.Addr(), group, topic}, ","))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	assigned := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "assigned "); ok {
				select {
				case assigned <- id:
				default:
				}
			}
		}
	}()
	g := waitStable(ctx, t, adm, group, topic, 2, partitions)
	var helperID string
	for _, m := range g.Members {
		if m.ClientID == "groups-helper" {
			helperID = m.MemberID
		}
	}
	if helperID == "" || len(assignments(g, topic)[helperID]) == 0 {
		t.Fatalf("helper member has no partitions: %s", describeState(g, topic))
	}
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("helper never reported its assignment")
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitFor(ctx, t, "the killed member to be expelled", func() bool {
		g = describe(ctx, adm, group)
		if g.Err != nil {
			return false
		}
		for _, m := range g.Members {
			if m.MemberID == helperID {
				return false
			}
		}
		return true
	}, func() string { return describeState(g, topic) })
	expelled := time.Since(killed)
	// The last heartbeat came at most an interval or so before the kill;
	// under load it may come later than that, hence the loose bound. What
	// it rules out is expelling a member when its connection closes.
	if min := sessionTimeout - time.Second; expelled < min {
		t.Errorf("killed member expelled %v after the kill, before its %v session timeout could expire", expelled, sessionTimeout)
	}
	g = waitStable(ctx, t, adm, group, topic, 1, partitions)
	l.waitLastCovers(ctx, t, partitions)
	t.Logf("expelled %v after SIGKILL (session timeout %v); survivor owns %v", expelled.Round(10*time.Millisecond), sessionTimeout, assignments(g, topic))
}

// TestHelperMember is not a test: TestExpiredSession runs the test binary
// with it to get a group member in a process of its own. It prints
// "assigned MEMBER-ID" once it owns partitions, and consumes until killed.
func TestHelperMember(t *testing.T) {
	env := os.Getenv("GROUPS_HELPER")
	if env == "" {
		t.Skip("a helper process of TestExpiredSession")
	}
	f := strings.Split(env, ",")
	addr, group, topic := f[0], f[1], f[2]
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ClientID("groups-helper"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.SessionTimeout(sessionTimeout),
		kgo.HeartbeatInterval(heartbeatInterval),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, m map[string][]int32) {
			if len(m[topic]) > 0 {
				id, _ := cl.GroupMetadata()
				fmt.Printf("assigned %s\n", id)
			}
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	for {
		cl.PollFetches(context.Background())
	}
}
