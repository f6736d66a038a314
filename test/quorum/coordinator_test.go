package quorum

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// coordSets make failover quick: a dead follower leaves the ISR after 3 s.
var coordSets = []string{
	"--set", "replica.lag.time.max.ms=3000", "--set", "replica.fetch.wait.max.ms=200",
	"--set", "offsets.topic.num.partitions=3", "--set", "group.initial.rebalance.delay.ms=0",
}

// committer is a kgo consumer of a group that commits what it polled
// itself and records every commit the coordinator acknowledged.
type committer struct {
	cl *kgo.Client

	mu       sync.Mutex
	acked    map[int32]int64          // the last acknowledged commit per partition
	consumed map[int32]map[int64]bool // every offset polled, per partition
}

// poll consumes one poll's records and commits them; commit errors are
// left to the next poll (the coordinator may be moving).
func (c *committer) poll(ctx context.Context, topic string) {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	fs := c.cl.PollFetches(pctx)
	cancel()
	c.mu.Lock()
	fs.EachRecord(func(r *kgo.Record) {
		if c.consumed[r.Partition] == nil {
			c.consumed[r.Partition] = map[int64]bool{}
		}
		c.consumed[r.Partition][r.Offset] = true
	})
	c.mu.Unlock()
	c.commit(ctx, topic)
}

// commit commits what was polled, synchronously.
func (c *committer) commit(ctx context.Context, topic string) {
	offs := c.cl.UncommittedOffsets()
	if len(offs) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c.cl.CommitOffsetsSync(cctx, offs, func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil || resp == nil {
			return
		}
		asked := map[int32]int64{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				asked[p.Partition] = p.Offset
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if t.Topic == topic && p.ErrorCode == 0 {
					c.acked[p.Partition] = asked[p.Partition]
				}
			}
		}
	})
}

// TestCoordinatorFailover: on three combined nodes, __consumer_offsets has
// three replicas per partition (the default with a quorum). Two kgo
// consumers of a group consume a topic and commit; they pause, and the
// node coordinating the group is killed (SIGKILL). A survivor becomes the
// coordinator, and OffsetFetch returns exactly the commits acknowledged
// before the kill. The consumers go on, find the new coordinator, and
// consume the rest from their committed offsets: every record is consumed
// at least once. The killed node restarts, and once it leads the group's
// partition again (a preferred leader election), OffsetFetch still
// returns the last commits.
func TestCoordinatorFailover(t *testing.T) {
	const (
		topic = "orders"
		group = "billing"
		parts = 3
		n     = 600
	)
	nodes := startCombined(t, 3, coordSets...)
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	addrs := func(skip int32) []string {
		var out []string
		for i, nd := range nodes {
			if int32(i+1) != skip {
				out = append(out, nd.Addr)
			}
		}
		return out
	}
	adm := newAdmin(t, addrs(0))
	createTopic(t, ctx, adm, topic, parts, 3, "2")
	prod, err := kgo.NewClient(kgo.SeedBrokers(addrs(0)...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ends := map[int32]int64{}
	rs := make([]*kgo.Record, 0, n)
	for i := range n {
		rs = append(rs, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte(fmt.Sprintf("v%05d", i))})
	}
	results := prod.ProduceSync(ctx, rs...)
	if err := results.FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		ends[r.Record.Partition] = max(ends[r.Record.Partition], r.Record.Offset+1)
	}

	newCommitter := func(seeds []string) *committer {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.DisableAutoCommit(), kgo.FetchMaxWait(200*time.Millisecond), kgo.FetchMaxPartitionBytes(2048),
			kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return &committer{cl: cl, acked: map[int32]int64{}, consumed: map[int32]map[int64]bool{}}
	}
	cs := []*committer{newCommitter(addrs(0)), newCommitter(addrs(0))}
	// acked merges the consumers' acknowledged commits: a partition's
	// latest is the highest (each partition is committed by its owner,
	// which only moves forward).
	acked := func() map[int32]int64 {
		out := map[int32]int64{}
		for _, c := range cs {
			c.mu.Lock()
			for p, o := range c.acked {
				out[p] = max(out[p], o)
			}
			c.mu.Unlock()
		}
		return out
	}
	consumed := func() (total int, missing []string) {
		seen := map[int32]map[int64]bool{}
		for _, c := range cs {
			c.mu.Lock()
			for p, offs := range c.consumed {
				if seen[p] == nil {
					seen[p] = map[int64]bool{}
				}
				maps.Copy(seen[p], offs)
			}
			c.mu.Unlock()
		}
		for p := range int32(parts) {
			for o := range ends[p] {
				if seen[p][o] {
					total++
				} else if len(missing) < 5 {
					missing = append(missing, fmt.Sprintf("%d@%d", p, o))
				}
			}
		}
		return total, missing
	}
	// Phase 1: consume about half, committing as we go.
	for ctx.Err() == nil {
		if total, _ := consumed(); total >= n/2 {
			break
		}
		for _, c := range cs {
			c.poll(ctx, topic)
		}
	}
	before := acked()
	if len(before) == 0 {
		t.Fatal("no commit was acknowledged")
	}

	// Each look-up is a fresh client: kgo keeps a group's coordinator
	// until it answers NOT_COORDINATOR, and a killed one answers nothing.
	admin := func(seeds []string) (*kadm.Client, func(), error) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DialTimeout(2*time.Second))
		if err != nil {
			return nil, nil, err
		}
		return kadm.NewClient(cl), cl.Close, nil
	}
	fetch := func(seeds []string) (map[int32]int64, error) {
		cl, done, err := admin(seeds)
		if err != nil {
			return nil, err
		}
		defer done()
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		resp, err := cl.FetchOffsets(fctx, group)
		if err != nil {
			return nil, err
		}
		out := map[int32]int64{}
		for _, pr := range resp[topic] {
			if pr.Err != nil {
				return nil, pr.Err
			}
			out[pr.Partition] = pr.At
		}
		return out, nil
	}
	coordinator := func(seeds []string) (int32, error) {
		cl, done, err := admin(seeds)
		if err != nil {
			return -1, err
		}
		defer done()
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		r := cl.FindGroupCoordinators(fctx, group)[group]
		return r.NodeID, r.Err
	}
	got, err := fetch(addrs(0))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, before) {
		t.Fatalf("before the kill: OffsetFetch %v, acknowledged %v", got, before)
	}
	var victim int32
	poll(t, ctx, func() (err error) { victim, err = coordinator(addrs(0)); return err })
	t.Logf("commits acknowledged %v; killing coordinator %d", before, victim)
	nodes[victim-1].Kill()

	// A client of the survivors only: the new coordinator answers with
	// every acknowledged commit, exactly.
	poll(t, ctx, func() error {
		c, err := coordinator(addrs(victim))
		switch {
		case err != nil:
			return err
		case c == victim:
			return fmt.Errorf("coordinator still %d", c)
		}
		got, err = fetch(addrs(victim))
		return err
	})
	t.Logf("new coordinator answers %v", got)
	if !maps.Equal(got, before) {
		t.Fatalf("after the kill: OffsetFetch %v, acknowledged before it %v", got, before)
	}

	// Phase 2: the consumers go on and consume everything.
	for ctx.Err() == nil {
		if total, _ := consumed(); total == n {
			break
		}
		for _, c := range cs {
			c.poll(ctx, topic)
		}
	}
	if total, missing := consumed(); total != n {
		t.Fatalf("consumed %d of %d records; missing %v", total, n, missing)
	}
	// Commit the end of every partition, retrying until acknowledged:
	// that is then the committed state, exactly.
	poll(t, ctx, func() error {
		for _, c := range cs {
			c.poll(ctx, topic)
		}
		if a := acked(); !maps.Equal(a, ends) {
			return fmt.Errorf("acknowledged %v, ends %v", a, ends)
		}
		return nil
	})
	for _, c := range cs {
		c.cl.Close()
	}

	// The killed node comes back, catches up, and coordinates again.
	nodes[victim-1].Restart()
	fullCl, err := kgo.NewClient(kgo.SeedBrokers(addrs(0)...))
	if err != nil {
		t.Fatal(err)
	}
	defer fullCl.Close()
	full := kadm.NewClient(fullCl)
	poll(t, ctx, func() error {
		md, err := full.Metadata(ctx, "__consumer_offsets")
		if err != nil {
			return err
		}
		for _, p := range md.Topics["__consumer_offsets"].Partitions {
			if !slices.Contains(p.ISR, victim) {
				return fmt.Errorf("partition %d: ISR %v without %d", p.Partition, p.ISR, victim)
			}
		}
		return nil
	})
	// The group's partition, by Kafka's placement; its preferred leader
	// coordinates the group after the election.
	var preferred int32
	poll(t, ctx, func() error {
		md, err := full.Metadata(ctx, "__consumer_offsets")
		if err != nil {
			return err
		}
		preferred = md.Topics["__consumer_offsets"].Partitions[partitionFor(group, 3)].Replicas[0]
		return nil
	})
	poll(t, ctx, func() error {
		res, err := full.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"__consumer_offsets": {0: {}, 1: {}, 2: {}}})
		if err != nil {
			return err
		}
		for _, ps := range res {
			for _, r := range ps {
				if r.Err != nil && !errors.Is(r.Err, kerr.ElectionNotNeeded) {
					return r.Err
				}
			}
		}
		c, err := coordinator(addrs(0))
		if err == nil && c != preferred {
			err = fmt.Errorf("coordinator %d, want the preferred leader %d", c, preferred)
		}
		return err
	})
	poll(t, ctx, func() error {
		got, err = fetch(addrs(0))
		return err
	})
	if !maps.Equal(got, ends) {
		t.Fatalf("after the restart: OffsetFetch %v, want %v", got, ends)
	}
}

// partitionFor is Kafka's placement of a group on __consumer_offsets:
// abs(Java's String.hashCode) % partitions (ASCII ids only).
func partitionFor(group string, partitions int32) int32 {
	var h int32
	for _, c := range []byte(group) {
		h = 31*h + int32(c)
	}
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

// TestCoordinatorKillDuringCommits: an admin client commits ever larger
// offsets for a group (OffsetCommit without a generation, as tools do)
// while the node coordinating it is killed, and goes on committing to the
// new coordinator. Every acknowledged commit is larger than the ones
// before it; OffsetFetch after the kill returns at least the last one
// acknowledged (before or after the kill), and in the end exactly the
// last one acknowledged. (Followers fetch within milliseconds here, so
// this checks the failover path with writes in flight; that a commit is
// not acknowledged before it is replicated is checked deterministically by
// the group package's TestCommitWaitsForReplication.)
func TestCoordinatorKillDuringCommits(t *testing.T) {
	const (
		topic = "ledger"
		group = "auditors"
	)
	nodes := startCombined(t, 3, coordSets...)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	seeds := clientAddrs(nodes)
	client := func(seeds []string) *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DialTimeout(2*time.Second),
			kgo.RequestTimeoutOverhead(5*time.Second), kgo.RetryTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return kadm.NewClient(cl)
	}
	adm := client(seeds)
	poll(t, ctx, func() error {
		res, err := adm.CreateTopic(ctx, 1, 3, nil, topic)
		if err == nil {
			err = res.Err
		}
		return err
	})
	var victim int32
	poll(t, ctx, func() error {
		r := client(seeds).FindGroupCoordinators(ctx, group)[group]
		victim = r.NodeID
		return r.Err
	})
	var survivors []string
	for i, nd := range nodes {
		if int32(i+1) != victim {
			survivors = append(survivors, nd.Addr)
		}
	}

	// commit retries value on fresh clients until it is acknowledged.
	commit := func(seeds []string, value int64) {
		poll(t, ctx, func() error {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var os kadm.Offsets
			os.Add(kadm.Offset{Topic: topic, Partition: 0, At: value, LeaderEpoch: -1})
			resp, err := client(seeds).CommitOffsets(cctx, group, os)
			if err == nil {
				err = resp.Error()
			}
			return err
		})
	}
	fetch := func(seeds []string) (int64, error) {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		resp, err := client(seeds).FetchOffsets(fctx, group)
		if err != nil {
			return -1, err
		}
		o, ok := resp.Lookup(topic, 0)
		if !ok {
			return -1, nil
		}
		return o.At, o.Err
	}

	var acked int64
	for v := int64(1); v <= 20; v++ {
		commit(seeds, v)
		acked = v
	}
	// Kill the coordinator with commits in flight: a goroutine keeps
	// committing (errors are expected) while the node dies; the kill
	// comes after its first acknowledged commit.
	var inflight sync.WaitGroup
	var maxAcked atomic.Int64
	maxAcked.Store(acked)
	stop, first := make(chan struct{}), make(chan struct{})
	inflight.Add(1)
	go func() {
		defer inflight.Done()
		cl := client(seeds)
		for v := int64(1000); ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			var os kadm.Offsets
			os.Add(kadm.Offset{Topic: topic, Partition: 0, At: v, LeaderEpoch: -1})
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			resp, err := cl.CommitOffsets(cctx, group, os)
			cancel()
			if err == nil && resp.Error() == nil {
				if maxAcked.Swap(v) < 1000 {
					close(first)
				}
			}
		}
	}()
	select {
	case <-first:
	case <-ctx.Done():
		t.Fatal("no commit acknowledged by the committer")
	}
	nodes[victim-1].Kill()
	// Commits go on against the dead node and then the new coordinator,
	// until one is acknowledged after the kill.
	atKill := maxAcked.Load()
	poll(t, ctx, func() error {
		if v := maxAcked.Load(); v <= atKill {
			return fmt.Errorf("last acknowledged %d, as at the kill", v)
		}
		return nil
	})
	close(stop)
	inflight.Wait()
	acked = maxAcked.Load()

	var got int64
	poll(t, ctx, func() (err error) {
		got, err = fetch(survivors)
		if err == nil && got < 0 {
			err = errors.New("no offset")
		}
		return err
	})
	if got < acked {
		t.Fatalf("after the kill: offset %d, below the acknowledged %d", got, acked)
	}
	t.Logf("last acknowledged %d; the new coordinator has %d", acked, got)
	last := max(got, 5000) + 1
	commit(survivors, last)
	poll(t, ctx, func() error {
		v, err := fetch(survivors)
		if err == nil && v != last {
			err = fmt.Errorf("offset %d, want %d", v, last)
		}
		return err
	})
}
