package groups

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// Group timings for the tests: sessions far shorter than Kafka's defaults
// (45 s session, 3 s heartbeat) so expiry and rebalances finish quickly.
// The broker must accept them: brokerSets lowers its minimum session.
const (
	sessionTimeout    = 3 * time.Second
	heartbeatInterval = 200 * time.Millisecond
)

// brokerSets are the broker overrides every test uses: no initial
// rebalance delay (a group of one forms at once) and a 1 s minimum session.
var brokerSets = []string{"group.initial.rebalance.delay.ms=0", "group.min.session.timeout.ms=1000"}

func startBroker(t *testing.T) *cluster.Broker {
	t.Helper()
	return cluster.Start(t, brokerSets...)
}

// testCtx bounds one test's client calls; a broker that stops answering
// fails the test at the deadline instead of hanging the package.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func newKgo(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newAdmin(t testing.TB, addr string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newKgo(t, addr))
}

func createTopic(ctx context.Context, t testing.TB, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// waitFor polls cond until it holds, failing the test at ctx's deadline
// with what was awaited and, from state, where things stood.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() bool, state func() string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			s := ""
			if state != nil {
				s = "; " + state()
			}
			t.Fatalf("timed out waiting for %s%s", what, s)
		case <-tick.C:
		}
	}
}

// describe returns the group as the coordinator describes it; a failed
// request is returned as the group's Err.
func describe(ctx context.Context, adm *kadm.Client, group string) kadm.DescribedGroup {
	ds, err := adm.DescribeGroups(ctx, group)
	g, ok := ds[group]
	if err != nil || !ok {
		return kadm.DescribedGroup{Group: group, Err: fmt.Errorf("describe groups: %v (answered: %v)", err, ok)}
	}
	return g
}

// assignments maps member id → partitions of topic, from a description.
func assignments(g kadm.DescribedGroup, topic string) map[string][]int32 {
	m := make(map[string][]int32, len(g.Members))
	for _, mem := range g.Members {
		var ps []int32
		if a, ok := mem.Assigned.AsConsumer(); ok {
			for _, at := range a.Topics {
				if at.Topic == topic {
					ps = append(ps, at.Partitions...)
				}
			}
		}
		slices.Sort(ps)
		m[mem.MemberID] = ps
	}
	return m
}

// overlaps returns a description of each partition that more than one
// member holds, or "" when the assignment is disjoint.
func overlaps(byMember map[string][]int32) string {
	owners := make(map[int32][]string)
	for m, ps := range byMember {
		for _, p := range ps {
			owners[p] = append(owners[p], m)
		}
	}
	var bad []string
	for p, ms := range owners {
		if len(ms) > 1 {
			slices.Sort(ms)
			bad = append(bad, fmt.Sprintf("partition %d owned by %s", p, strings.Join(ms, " and ")))
		}
	}
	slices.Sort(bad)
	return strings.Join(bad, "; ")
}

// covers reports whether byMember assigns each of partitions 0..n-1 to
// exactly one member.
func covers(byMember map[string][]int32, n int32) bool {
	count := make(map[int32]int)
	for _, ps := range byMember {
		for _, p := range ps {
			count[p]++
		}
	}
	if int32(len(count)) != n {
		return false
	}
	for p, c := range count {
		if p < 0 || p >= n || c != 1 {
			return false
		}
	}
	return true
}

func describeState(g kadm.DescribedGroup, topic string) string {
	if g.Err != nil {
		return g.Err.Error()
	}
	return fmt.Sprintf("state %s, protocol %q, %d members, assignments %v", g.State, g.Protocol, len(g.Members), assignments(g, topic))
}

// waitStable waits until the group is Stable with members members that
// between them own every partition of topic exactly once, and returns it.
func waitStable(ctx context.Context, t testing.TB, adm *kadm.Client, group, topic string, members int, partitions int32) kadm.DescribedGroup {
	t.Helper()
	var g kadm.DescribedGroup
	waitFor(ctx, t, fmt.Sprintf("group %s Stable with %d members owning all %d partitions", group, members, partitions), func() bool {
		g = describe(ctx, adm, group)
		return g.Err == nil && g.State == "Stable" && len(g.Members) == members && covers(assignments(g, topic), partitions)
	}, func() string { return describeState(g, topic) })
	return g
}

// monitor describes a group continuously and checks, at every Stable
// state it sees, that no partition is assigned to two members: the
// coordinator's view of each stable generation.
type monitor struct {
	adm          *kadm.Client
	group, topic string
	stop         context.CancelFunc
	done         chan struct{}
	stable       int            // Stable descriptions seen
	states       map[string]int // descriptions seen per state
	bad          []string       // overlaps seen
}

func startMonitor(ctx context.Context, adm *kadm.Client, group, topic string) *monitor {
	ctx, cancel := context.WithCancel(ctx)
	m := &monitor{adm: adm, group: group, topic: topic, stop: cancel, done: make(chan struct{}), states: make(map[string]int)}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			m.observe(describe(ctx, adm, group))
		}
	}()
	return m
}

func (m *monitor) observe(g kadm.DescribedGroup) {
	if g.Err != nil {
		return
	}
	m.states[g.State]++
	if g.State != "Stable" {
		return
	}
	m.stable++
	if o := overlaps(assignments(g, m.topic)); o != "" {
		m.bad = append(m.bad, fmt.Sprintf("stable group with %d members: %s", len(g.Members), o))
	}
}

// check stops the monitor, describes the group once more, and fails the
// test if it saw an overlap or never saw the group Stable.
func (m *monitor) check(t testing.TB) {
	t.Helper()
	m.halt()
	m.observe(describe(t.Context(), m.adm, m.group))
	if m.stable == 0 {
		t.Errorf("monitor: never saw the group Stable")
	}
	for _, b := range m.bad {
		t.Errorf("monitor: %s", b)
	}
}

// halt stops the monitor; its fields are then safe to read.
func (m *monitor) halt() {
	m.stop()
	<-m.done
}

// ledger records what the members of one group consumed and what each was
// assigned in each generation, as the clients report it.
type ledger struct {
	mu       sync.Mutex
	seen     map[int32]map[int64]int      // partition → offset → deliveries
	byMember map[string]int               // member label → records consumed
	gens     map[int32]map[string][]int32 // generation → member id → partitions
	labels   map[string]string            // member id → label
	last     map[int32]delivery           // partition → latest delivery
}

func newLedger() *ledger {
	return &ledger{
		seen:     make(map[int32]map[int64]int),
		byMember: make(map[string]int),
		gens:     make(map[int32]map[string][]int32),
		labels:   make(map[string]string),
		last:     make(map[int32]delivery),
	}
}

func (l *ledger) consumed(label string, partition int32, offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[partition] == nil {
		l.seen[partition] = make(map[int64]int)
	}
	l.seen[partition][offset]++
	l.byMember[label]++
	if offset >= l.last[partition].offset {
		l.last[partition] = delivery{label, offset, time.Now()}
	}
}

// delivery is the latest record consumed from a partition: by whom, when.
type delivery struct {
	label  string
	offset int64
	at     time.Time
}

// lastDeliveries describes the latest delivery of each of partitions.
func (l *ledger) lastDeliveries(partitions map[int32]int64) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for p := range partitions {
		d := l.last[p]
		out = append(out, fmt.Sprintf("%d: offset %d to %s %v ago", p, d.offset, d.label, time.Since(d.at).Round(time.Millisecond)))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// assigned records that member (label) owns partitions in generation gen;
// a later report for the same generation replaces an earlier one.
func (l *ledger) assigned(gen int32, memberID, label string, partitions []int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gens[gen] == nil {
		l.gens[gen] = make(map[string][]int32)
	}
	ps := slices.Clone(partitions)
	slices.Sort(ps)
	l.gens[gen][memberID] = ps
	if label != "" {
		l.labels[memberID] = label
	}
}

// label names a member id in failure messages.
func (l *ledger) label(memberID, label string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.labels[memberID] = label
}

// generations returns a copy of what was reported: generation → member
// id → partitions.
func (l *ledger) generations() map[int32]map[string][]int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int32]map[string][]int32, len(l.gens))
	for g, ms := range l.gens {
		out[g] = maps.Clone(ms)
	}
	return out
}

func (l *ledger) count(label string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byMember[label]
}

func (l *ledger) counts() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.byMember)
}

// missing describes the produced records never consumed, or "".
func (l *ledger) missing(produced map[int32][]int64) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for p, offs := range produced {
		var lost []int64
		for _, o := range offs {
			if l.seen[p][o] == 0 {
				lost = append(lost, o)
			}
		}
		if len(lost) > 0 {
			out = append(out, fmt.Sprintf("partition %d: %d records (first %d, last %d)", p, len(lost), lost[0], lost[len(lost)-1]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// firstMissing returns, per partition, the first produced offset never
// consumed.
func (l *ledger) firstMissing(produced map[int32][]int64) map[int32]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int32]int64)
	for p, offs := range produced {
		for _, o := range offs {
			if l.seen[p][o] == 0 {
				out[p] = o
				break
			}
		}
	}
	return out
}

// probe reads each partition at the given offset with a fresh consumer and
// says what the broker returns, to tell a record the broker does not serve
// from one a group member did not fetch.
func probe(t testing.TB, addr, topic string, at map[int32]int64) string {
	if len(at) == 0 {
		return ""
	}
	offsets := make(map[int32]kgo.Offset)
	for p, o := range at {
		offsets[p] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		return "probe: " + err.Error()
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	got := make(map[int32]int64)
	for len(got) < len(at) && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := got[r.Partition]; !ok {
				got[r.Partition] = r.Offset
			}
		})
	}
	return fmt.Sprintf("a fresh consumer reading from %v got first offsets %v", at, got)
}

func (l *ledger) duplicates() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, offs := range l.seen {
		for _, c := range offs {
			n += c - 1
		}
	}
	return n
}

// checkGenerations fails the test if, in any generation, two members
// reported the same partition. It returns the generations seen.
func (l *ledger) checkGenerations(t testing.TB) []int32 {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	gens := slices.Sorted(maps.Keys(l.gens))
	for _, g := range gens {
		named := make(map[string][]int32)
		for id, ps := range l.gens[g] {
			named[l.name(id)] = ps
		}
		if o := overlaps(named); o != "" {
			t.Errorf("generation %d: %s (assignments %v)", g, o, named)
		}
	}
	return gens
}

// lastCovers reports whether the last generation reported assigns each of
// partitions 0..n-1 to one member, and returns that generation.
func (l *ledger) lastCovers(n int32) (int32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.gens) == 0 {
		return -1, false
	}
	last := slices.Max(slices.Collect(maps.Keys(l.gens)))
	return last, covers(l.gens[last], n)
}

// waitLastCovers waits until the members have reported a last generation
// that assigns all n partitions (the clients report after the coordinator
// has settled), and returns it.
func (l *ledger) waitLastCovers(ctx context.Context, t testing.TB, n int32) int32 {
	t.Helper()
	var last int32
	waitFor(ctx, t, fmt.Sprintf("the members to report a generation that assigns all %d partitions", n), func() bool {
		var ok bool
		last, ok = l.lastCovers(n)
		return ok
	}, func() string { return fmt.Sprint(l.generations()) })
	return last
}

func (l *ledger) name(memberID string) string {
	if label, ok := l.labels[memberID]; ok {
		return label + "(" + memberID + ")"
	}
	return memberID
}

// producer produces to every partition of a topic until stopped, one
// record per partition every few milliseconds, and remembers the offset of
// each acknowledged record.
type producer struct {
	cl    *kgo.Client
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	acked map[int32][]int64
	err   error
}

func startProducer(t testing.TB, addr, topic string, partitions int32) *producer {
	t.Helper()
	p := &producer{
		cl: newKgo(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(time.Millisecond),
			kgo.RequiredAcks(kgo.AllISRAcks())),
		stopc: make(chan struct{}),
		done:  make(chan struct{}),
		acked: make(map[int32][]int64),
	}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		seq := 0
		for {
			select {
			case <-p.stopc:
				return
			case <-tick.C:
			}
			for part := range partitions {
				seq++
				r := &kgo.Record{Topic: topic, Partition: part, Value: fmt.Appendf(nil, "record %d", seq)}
				p.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
					p.mu.Lock()
					defer p.mu.Unlock()
					if err != nil {
						if p.err == nil {
							p.err = err
						}
						return
					}
					p.acked[r.Partition] = append(p.acked[r.Partition], r.Offset)
				})
			}
		}
	}()
	return p
}

func (p *producer) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, o := range p.acked {
		n += len(o)
	}
	return n
}

// stop stops producing, waits for every record in flight, and returns the
// acknowledged offsets per partition.
func (p *producer) stop(ctx context.Context, t testing.TB) map[int32][]int64 {
	t.Helper()
	close(p.stopc)
	<-p.done
	if err := p.cl.Flush(ctx); err != nil {
		t.Fatalf("producer flush: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		t.Fatalf("produce: %v", p.err)
	}
	return p.acked
}

// waitDrained waits until every produced record was consumed at least once
// and the group's committed offsets equal the end offsets of all the
// topic's partitions.
func waitDrained(ctx context.Context, t testing.TB, addr string, adm *kadm.Client, l *ledger, group, topic string, produced map[int32][]int64) {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil || len(ends[topic]) == 0 {
		t.Fatalf("list end offsets of %s: %v (%v)", topic, err, ends)
	}
	var lastCommits string
	waitFor(ctx, t, "every produced record consumed", func() bool { return l.missing(produced) == "" },
		func() string { // what a failure needs to tell a lost record from a stuck member
			missing := l.firstMissing(produced)
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			committed, err := adm.FetchOffsets(sctx, group)
			return "missing " + l.missing(produced) + "; consumed per member " + l.counts() +
				"; last deliveries " + l.lastDeliveries(missing) +
				fmt.Sprintf("; committed %v (%v)", committed.Offsets().KOffsets()[topic], err) +
				"; coordinator: " + describeState(describe(sctx, adm, group), topic) +
				"; reported generations " + fmt.Sprint(l.generations()) +
				"; " + probe(t, addr, topic, missing)
		})
	waitFor(ctx, t, "committed offsets at the end offsets", func() bool {
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			lastCommits = err.Error()
			return false
		}
		var diff []string
		ends.Each(func(e kadm.ListedOffset) {
			c, ok := committed.Lookup(topic, e.Partition)
			if !ok || c.Err != nil || c.At != e.Offset {
				diff = append(diff, fmt.Sprintf("%d: committed %d (%v), end %d", e.Partition, c.At, c.Err, e.Offset))
			}
		})
		sort.Strings(diff)
		lastCommits = strings.Join(diff, "; ")
		return len(diff) == 0
	}, func() string { return lastCommits })
	for p, offs := range produced {
		if e, _ := ends.Lookup(topic, p); len(offs) > 0 && e.Offset != slices.Max(offs)+1 {
			t.Errorf("partition %d: end offset %d, but the last acknowledged record is at %d", p, e.Offset, slices.Max(offs))
		}
	}
}
