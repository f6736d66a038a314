package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// nodeSets make failures noticed quickly: a broker silent for 3 s is
// fenced, a follower 3 s behind leaves the ISR.
var nodeSets = []string{
	"--set", "broker.session.timeout.ms=3000",
	"--set", "broker.heartbeat.interval.ms=500",
	"--set", "replica.lag.time.max.ms=3000",
}

// sessionTimeout is broker.session.timeout.ms above.
const sessionTimeout = 3 * time.Second

// node is one combined broker+controller process behind its two proxies.
type node struct {
	id     int
	proc   *cluster.Process
	client *Proxy      // in front of the client listener (advertised)
	ctl    *Proxy      // in front of the controller listener (the voter address)
	direct *kgo.Client // a client whose requests go to this node only

	mu     sync.Mutex
	down   bool // killed, not yet restarted
	paused bool
	// pastLogs holds the logs of the node's earlier incarnations (a
	// restart replaces the process's log).
	pastLogs strings.Builder
}

// chaosCluster is n nodes on loopback whose links pass through a Network.
type chaosCluster struct {
	t     *testing.T
	net   *Network
	nodes []*node
	seeds []string // the client proxies
	adm   *kadm.Client
	cl    *kgo.Client // the admin client's
}

// startCluster starts n combined nodes (ids 1..n) of the samsa binary at
// bin ("" for cluster.Binary) behind proxies, and waits until every
// broker is live.
func startCluster(t *testing.T, n int, bin string, extra ...string) *chaosCluster {
	t.Helper()
	c := launch(t, n, bin, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c.poll(ctx, "every broker live", func() error { return c.allLive(ctx) })
	return c
}

// allLive checks that every node, asked directly, lists every broker as
// live.
func (c *chaosCluster) allLive(ctx context.Context) error {
	for _, nd := range c.nodes {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		resp, err := nd.direct.SeedBrokers()[0].Request(rctx, kmsg.NewPtrMetadataRequest())
		cancel()
		if err != nil {
			return fmt.Errorf("node %d: %w", nd.id, err)
		}
		if bs := resp.(*kmsg.MetadataResponse).Brokers; len(bs) != len(c.nodes) {
			var ids []int32
			for _, b := range bs {
				ids = append(ids, b.NodeID)
			}
			return fmt.Errorf("node %d lists live brokers %v", nd.id, ids)
		}
	}
	return nil
}

// launch starts the nodes and their proxies without waiting for the
// cluster to form.
func launch(t *testing.T, n int, bin string, extra ...string) *chaosCluster {
	t.Helper()
	c := &chaosCluster{t: t, net: NewNetwork()}
	t.Cleanup(c.net.Close)
	var voters, ctlAddrs []string
	for i := 1; i <= n; i++ {
		nd := &node{id: i}
		addr := freePort(t)
		ctlAddrs = append(ctlAddrs, addr)
		var err error
		if nd.ctl, err = c.net.Listen(i, addr); err != nil {
			t.Fatal(err)
		}
		if nd.client, err = c.net.Listen(i, ""); err != nil {
			t.Fatal(err)
		}
		voters = append(voters, fmt.Sprintf("%d@%s", i, nd.ctl.Addr()))
		c.seeds = append(c.seeds, nd.client.Addr())
		c.nodes = append(c.nodes, nd)
	}
	for i, nd := range c.nodes {
		args := []string{"--node-id", fmt.Sprint(nd.id), "--advertise", nd.client.Addr(),
			"--controller-listen", ctlAddrs[i], "--controller-quorum", strings.Join(voters, ",")}
		args = append(append(args, nodeSets...), extra...)
		nd.proc = cluster.StartBinary(t, bin, t.TempDir(), args...)
		nd.client.SetTarget(nd.proc.Addr)
		cl, err := kgo.NewClient(kgo.SeedBrokers(nd.client.Addr()), kgo.DialTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		nd.direct = cl
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.logTails(80)
		}
	})
	var err error
	// A short metadata min age: the admin client's Metadata answers
	// (leaders, ISRs) must be fresh, not kgo's cache.
	c.cl, err = kgo.NewClient(kgo.SeedBrokers(c.seeds...), kgo.DialTimeout(2*time.Second),
		kgo.RequestTimeoutOverhead(3*time.Second), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.cl.Close)
	c.adm = kadm.NewClient(c.cl)
	return c
}

// freePort is a loopback address whose port the OS just handed out.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// createTopic creates topic with partitions of replication factor 3 and
// min.insync.replicas 2, and waits until every partition has a leader.
func (c *chaosCluster) createTopic(ctx context.Context, topic string, partitions int32) {
	c.t.Helper()
	minISR := "2"
	c.poll(ctx, "create "+topic, func() error {
		res, err := c.adm.CreateTopic(ctx, partitions, 3, map[string]*string{"min.insync.replicas": &minISR}, topic)
		if err == nil {
			err = res.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
	c.poll(ctx, "leaders of "+topic, func() error {
		_, err := c.partitions(ctx, topic, false)
		return err
	})
}

// partitions describes topic's partitions; with full, it fails unless
// every partition's ISR holds all its replicas.
func (c *chaosCluster) partitions(ctx context.Context, topic string, full bool) ([]kadm.PartitionDetail, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tds, err := c.adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, err
	}
	td, ok := tds[topic]
	if !ok || td.Err != nil {
		return nil, fmt.Errorf("topic %s: %v", topic, td.Err)
	}
	ps := td.Partitions.Sorted()
	for _, p := range ps {
		switch {
		case p.Err != nil:
			return nil, fmt.Errorf("partition %d: %w", p.Partition, p.Err)
		case p.Leader < 0:
			return nil, fmt.Errorf("partition %d has no leader", p.Partition)
		case full && len(p.ISR) != len(p.Replicas):
			return nil, fmt.Errorf("partition %d: ISR %v of replicas %v", p.Partition, p.ISR, p.Replicas)
		}
	}
	return ps, nil
}

// leaderOf is the leader of topic's partition p, or -1.
func (c *chaosCluster) leaderOf(ctx context.Context, topic string, p int32) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tds, err := c.adm.ListTopics(ctx, topic)
	if err != nil {
		return -1
	}
	pd, ok := tds[topic].Partitions[p]
	if !ok || pd.Err != nil {
		return -1
	}
	return int(pd.Leader)
}

// activeController asks the live nodes in turn which voter leads the
// quorum (DescribeQuorum); -1 when none answers.
func (c *chaosCluster) activeController(ctx context.Context) int {
	for _, nd := range c.nodes {
		if !nd.up() {
			continue
		}
		req := kmsg.NewPtrDescribeQuorumRequest()
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic = "__cluster_metadata"
		rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
		req.Topics = append(req.Topics, rt)
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		resp, err := c.cl.Broker(nd.id).Request(rctx, req)
		cancel()
		if err != nil {
			continue
		}
		r := resp.(*kmsg.DescribeQuorumResponse)
		if r.ErrorCode != 0 || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			continue
		}
		if p := r.Topics[0].Partitions[0]; p.ErrorCode == 0 && p.LeaderID > 0 {
			return int(p.LeaderID)
		}
	}
	return -1
}

func (nd *node) up() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return !nd.down && !nd.paused
}

func (c *chaosCluster) node(id int) *node { return c.nodes[id-1] }

// kill sends SIGKILL to node id.
func (c *chaosCluster) kill(id int) {
	nd := c.node(id)
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.down {
		return
	}
	nd.client.SetTarget("")
	nd.proc.Kill()
	nd.down, nd.paused = true, false
}

// restart starts a killed node again on its data.
func (c *chaosCluster) restart(id int) {
	nd := c.node(id)
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.down {
		return
	}
	nd.pastLogs.WriteString(nd.proc.Log())
	nd.proc.Restart()
	nd.client.SetTarget(nd.proc.Addr)
	nd.down = false
}

// pause sends SIGSTOP to node id; resume SIGCONT.
func (c *chaosCluster) pause(id int) {
	nd := c.node(id)
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.down || nd.paused {
		return
	}
	nd.proc.Pause()
	nd.paused = true
}

func (c *chaosCluster) resume(id int) {
	nd := c.node(id)
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.paused {
		return
	}
	nd.proc.Resume()
	nd.paused = false
}

// healAll restarts, resumes and reconnects everything.
func (c *chaosCluster) healAll() {
	c.net.Heal()
	for _, nd := range c.nodes {
		c.resume(nd.id)
		c.restart(nd.id)
	}
}

// healthy waits (up to d) until every broker is live and every partition
// of topic has a leader; it reports whether that happened.
func (c *chaosCluster) healthy(ctx context.Context, topic string, d time.Duration, fullISR bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last error
	for {
		err := c.allLive(ctx)
		if err == nil {
			_, err = c.partitions(ctx, topic, fullISR)
		}
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("not healthy after %v: %w", d, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// poll retries cond until it succeeds or ctx ends (a test failure).
func (c *chaosCluster) poll(ctx context.Context, what string, cond func() error) {
	c.t.Helper()
	var last error
	for {
		if last = cond(); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("%s: %v", what, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ids lists node ids other than those in except.
func (c *chaosCluster) ids(except ...int) []int {
	var out []int
	for _, nd := range c.nodes {
		if !slices.Contains(except, nd.id) {
			out = append(out, nd.id)
		}
	}
	return out
}

// saveLogs writes every node's whole log, over all its incarnations, to
// dir/node-<id>.log.
func (c *chaosCluster) saveLogs(dir string) error {
	for _, nd := range c.nodes {
		nd.mu.Lock()
		log := nd.pastLogs.String() + nd.proc.Log()
		nd.mu.Unlock()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("node-%d.log", nd.id)), []byte(log), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// logTails logs the last n lines of every node's log, leaving out Raft's
// complaints about unreachable peers (the faults make plenty).
func (c *chaosCluster) logTails(n int) {
	for _, nd := range c.nodes {
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(nd.proc.Log()), "\n") {
			if !strings.Contains(l, "component=raft") {
				lines = append(lines, l)
			}
		}
		lines = lines[max(0, len(lines)-n):]
		c.t.Logf("node %d log (last %d lines):\n%s", nd.id, len(lines), strings.Join(lines, "\n"))
	}
}
