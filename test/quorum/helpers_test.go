package quorum

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// sessionSets make fencing quick: a broker silent for 3 s is fenced.
var sessionSets = []string{"--set", "broker.session.timeout.ms=3000", "--set", "broker.heartbeat.interval.ms=500"}

// freePorts returns n distinct loopback addresses with ports the OS just
// handed out. Each listener stays open until all n are picked: a port
// closed at once can be handed out again by the next Listen, and two
// voters on one address fail the node's start ("found duplicate address
// in configuration").
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		out = append(out, ln.Addr().String())
	}
	return out
}

// quorumArgs are the --controller-quorum flag for voters 1..n on addrs.
func quorumArgs(addrs []string) []string {
	var voters []string
	for i, a := range addrs {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, a))
	}
	return []string{"--controller-quorum", strings.Join(voters, ",")}
}

// startCombined starts n combined broker+controller nodes (ids 1..n) as
// processes, with extra args for each.
func startCombined(t *testing.T, n int, extra ...string) []*cluster.Process {
	t.Helper()
	ctl := freePorts(t, n)
	procs := make([]*cluster.Process, n)
	for i := range n {
		args := append([]string{"--node-id", fmt.Sprint(i + 1), "--controller-listen", ctl[i]}, quorumArgs(ctl)...)
		procs[i] = cluster.StartProcess(t, t.TempDir(), append(append(args, sessionSets...), extra...)...)
	}
	logOnFailure(t, procs)
	return procs
}

// startDedicated starts nctl controller-only nodes (ids 1..nctl) and nbrk
// broker-only nodes (ids nctl+1...), as Kafka's production layout, with
// extra args for each.
func startDedicated(t *testing.T, nctl, nbrk int, extra ...string) (ctls, brokers []*cluster.Process) {
	t.Helper()
	ctl := freePorts(t, nctl)
	for i := range nctl {
		args := append([]string{"--node-id", fmt.Sprint(i + 1), "--process-roles", "controller",
			"--controller-listen", ctl[i]}, quorumArgs(ctl)...)
		ctls = append(ctls, cluster.StartProcess(t, t.TempDir(), append(append(args, sessionSets...), extra...)...))
	}
	for i := range nbrk {
		// A broker-only node has no controller listener: it reaches the
		// quorum through the voters named in --controller-quorum.
		args := append([]string{"--node-id", fmt.Sprint(nctl + i + 1), "--process-roles", "broker"}, quorumArgs(ctl)...)
		brokers = append(brokers, cluster.StartProcess(t, t.TempDir(), append(append(args, sessionSets...), extra...)...))
	}
	logOnFailure(t, append(slices.Clip(ctls), brokers...))
	return ctls, brokers
}

// layout is a started cluster: every node (voters first, ids 1-3), the
// nodes with the broker role, and their ids.
type layout struct {
	nodes, brokers []*cluster.Process
	brokerIDs      []int32
}

// startLayout starts "combined" (three broker+controller nodes) or
// "dedicated" (three controller-only nodes, brokers 4-6), with extra args
// for each node.
func startLayout(t *testing.T, name string, extra ...string) layout {
	t.Helper()
	switch name {
	case "combined":
		nodes := startCombined(t, 3, extra...)
		return layout{nodes: nodes, brokers: nodes, brokerIDs: ids(1, 3)}
	case "dedicated":
		ctls, brokers := startDedicated(t, 3, 3, extra...)
		return layout{nodes: append(ctls, brokers...), brokers: brokers, brokerIDs: ids(4, 3)}
	}
	t.Fatalf("unknown layout %q", name)
	return layout{}
}

// logOnFailure prints the tail of every node's log when the test fails.
func logOnFailure(t *testing.T, procs []*cluster.Process) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i, p := range procs {
			lines := strings.Split(strings.TrimSpace(p.Log()), "\n")
			lines = lines[max(0, len(lines)-logTail):]
			t.Logf("node %d log (last %d lines):\n%s", i+1, len(lines), strings.Join(lines, "\n"))
		}
	})
}

// logTail is how much of each node's log a failed test prints.
const logTail = 60

// direct is a client whose requests all go to one broker (its seed
// connection), so a test reads that broker's own view; a kgo client
// spreads Metadata requests over every broker it has discovered.
type direct struct {
	addr string
	cl   *kgo.Client
	seed *kgo.Broker
}

func dial(t *testing.T, addr string) *direct {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &direct{addr: addr, cl: cl, seed: cl.SeedBrokers()[0]}
}

// dialAll dials every process with the broker role.
func dialAll(t *testing.T, procs []*cluster.Process) []*direct {
	t.Helper()
	var out []*direct
	for _, p := range procs {
		if p.Addr != "" {
			out = append(out, dial(t, p.Addr))
		}
	}
	return out
}

// request sends req to this broker with a deadline of its own, so one
// stalled broker cannot use up a poll's whole context.
func (d *direct) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := d.seed.Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("broker %s: %w", d.addr, err)
	}
	return resp, nil
}

// partView is one partition as a broker's Metadata describes it.
type partView struct {
	Leader   int32
	Replicas []int32
	ISR      []int32
	Offline  []int32
}

// topicView is one topic as a broker's Metadata describes it.
type topicView struct {
	ID         [16]byte
	Partitions []partView // by index
}

// view is a broker's answer to Metadata for all topics.
type view struct {
	ClusterID  string
	Controller int32
	Brokers    []int32 // live brokers, sorted
	Topics     map[string]topicView
}

// metadata asks this broker for every topic.
func (d *direct) metadata(ctx context.Context) (view, error) {
	req := kmsg.NewPtrMetadataRequest()
	resp, err := d.request(ctx, req)
	if err != nil {
		return view{}, err
	}
	r := resp.(*kmsg.MetadataResponse)
	v := view{Controller: r.ControllerID, Topics: map[string]topicView{}}
	if r.ClusterID != nil {
		v.ClusterID = *r.ClusterID
	}
	for _, b := range r.Brokers {
		v.Brokers = append(v.Brokers, b.NodeID)
	}
	slices.Sort(v.Brokers)
	for _, t := range r.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return view{}, fmt.Errorf("broker %s: topic %v: %w", d.addr, t.Topic, err)
		}
		tv := topicView{ID: t.TopicID, Partitions: make([]partView, len(t.Partitions))}
		for _, p := range t.Partitions {
			if p.Partition < 0 || int(p.Partition) >= len(t.Partitions) {
				return view{}, fmt.Errorf("broker %s: topic %s: partition %d of %d", d.addr, *t.Topic, p.Partition, len(t.Partitions))
			}
			tv.Partitions[p.Partition] = partView{Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR, Offline: p.OfflineReplicas}
		}
		v.Topics[*t.Topic] = tv
	}
	return v, nil
}

// describeCluster asks this broker DescribeCluster.
func (d *direct) describeCluster(ctx context.Context) (*kmsg.DescribeClusterResponse, error) {
	resp, err := d.request(ctx, kmsg.NewPtrDescribeClusterRequest())
	if err != nil {
		return nil, err
	}
	r := resp.(*kmsg.DescribeClusterResponse)
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return nil, fmt.Errorf("broker %s: describe cluster: %w", d.addr, err)
	}
	return r, nil
}

// activeController asks this broker which voter leads the quorum
// (DescribeQuorum, forwarded to the active controller).
func (d *direct) activeController(ctx context.Context) (int32, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := d.request(ctx, req)
	if err != nil {
		return -1, err
	}
	r := resp.(*kmsg.DescribeQuorumResponse)
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return -1, fmt.Errorf("broker %s: describe quorum: %w", d.addr, err)
	}
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		return -1, fmt.Errorf("broker %s: describe quorum: malformed answer", d.addr)
	}
	p := r.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return -1, fmt.Errorf("broker %s: describe quorum: %w", d.addr, err)
	}
	return p.LeaderID, nil
}

// topicConfigs asks this broker for the dynamic (per-topic) configs of topic.
func (d *direct) topicConfigs(ctx context.Context, topic string) (map[string]string, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	req.Resources = append(req.Resources, rr)
	resp, err := d.request(ctx, req)
	if err != nil {
		return nil, err
	}
	r := resp.(*kmsg.DescribeConfigsResponse)
	if len(r.Resources) != 1 {
		return nil, fmt.Errorf("broker %s: describe configs: %d resources", d.addr, len(r.Resources))
	}
	if err := kerr.ErrorForCode(r.Resources[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("broker %s: describe configs %s: %w", d.addr, topic, err)
	}
	out := map[string]string{}
	for _, c := range r.Resources[0].Configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil {
			out[c.Name] = *c.Value
		}
	}
	return out, nil
}

// agreed polls until every broker answers Metadata with the same view,
// listing exactly the live brokers want, every partition led by a live
// replica and no replica offline; it returns that view.
func agreed(t *testing.T, ctx context.Context, ds []*direct, want []int32) view {
	t.Helper()
	var v view
	poll(t, ctx, func() error {
		var err error
		v, err = sameView(ctx, ds, want)
		return err
	})
	return v
}

func sameView(ctx context.Context, ds []*direct, want []int32) (view, error) {
	var first view
	for i, d := range ds {
		v, err := d.metadata(ctx)
		if err != nil {
			return view{}, err
		}
		if !slices.Equal(v.Brokers, want) {
			return view{}, fmt.Errorf("broker %s lists live brokers %v, want %v", d.addr, v.Brokers, want)
		}
		for name, tv := range v.Topics {
			for i, p := range tv.Partitions {
				if !slices.Contains(want, p.Leader) || !slices.Contains(p.Replicas, p.Leader) {
					return view{}, fmt.Errorf("broker %s: %s-%d led by %d, replicas %v", d.addr, name, i, p.Leader, p.Replicas)
				}
				if len(p.Offline) > 0 {
					return view{}, fmt.Errorf("broker %s: %s-%d offline replicas %v", d.addr, name, i, p.Offline)
				}
			}
		}
		if i == 0 {
			first = v
			continue
		}
		// The controller each names may differ (a broker names itself when
		// the active controller is not a broker); the rest must not.
		v.Controller = first.Controller
		if err := sameTopics(first, v, true); err != nil {
			return view{}, fmt.Errorf("broker %s disagrees with %s: %w", d.addr, ds[0].addr, err)
		}
		if v.ClusterID != first.ClusterID {
			return view{}, fmt.Errorf("broker %s: cluster id %q, %s says %q", d.addr, v.ClusterID, ds[0].addr, first.ClusterID)
		}
	}
	return first, nil
}

// sameTopics compares two views' topics: names, ids, replica assignments,
// and (with leaders) the leaders and ISRs.
func sameTopics(a, b view, leaders bool) error {
	if !slices.Equal(slices.Sorted(maps.Keys(a.Topics)), slices.Sorted(maps.Keys(b.Topics))) {
		return fmt.Errorf("topics %v vs %v", slices.Sorted(maps.Keys(a.Topics)), slices.Sorted(maps.Keys(b.Topics)))
	}
	for name, at := range a.Topics {
		bt := b.Topics[name]
		if at.ID != bt.ID {
			return fmt.Errorf("topic %s: id %x vs %x", name, at.ID, bt.ID)
		}
		if len(at.Partitions) != len(bt.Partitions) {
			return fmt.Errorf("topic %s: %d vs %d partitions", name, len(at.Partitions), len(bt.Partitions))
		}
		for i, ap := range at.Partitions {
			bp := bt.Partitions[i]
			if !slices.Equal(ap.Replicas, bp.Replicas) {
				return fmt.Errorf("%s-%d: replicas %v vs %v", name, i, ap.Replicas, bp.Replicas)
			}
			if leaders && (ap.Leader != bp.Leader || !slices.Equal(ap.ISR, bp.ISR) || !slices.Equal(ap.Offline, bp.Offline)) {
				return fmt.Errorf("%s-%d: leader %d isr %v offline %v vs leader %d isr %v offline %v",
					name, i, ap.Leader, ap.ISR, ap.Offline, bp.Leader, bp.ISR, bp.Offline)
			}
		}
	}
	return nil
}

// metaClusterID reads cluster.id from a node's meta.properties.
func metaClusterID(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "meta.properties"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "cluster.id="); ok {
			return v
		}
	}
	t.Fatalf("%s/meta.properties has no cluster.id:\n%s", dir, b)
	return ""
}

// fencedIn lists the brokers a node's controller fenced for an expired
// session, as its log says.
func fencedIn(log string) []int32 {
	var out []int32
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `msg="fenced broker: session expired"`) {
			continue
		}
		var id int32
		if _, rest, ok := strings.Cut(line, " node_id="); ok {
			if _, err := fmt.Sscan(rest, &id); err == nil {
				out = append(out, id)
			}
		}
	}
	return out
}

// ids lists n node ids from first.
func ids(first, n int32) []int32 {
	var out []int32
	for i := range n {
		out = append(out, first+i)
	}
	return out
}

func poll(t *testing.T, ctx context.Context, cond func() error) {
	t.Helper()
	var last error
	for ctx.Err() == nil {
		if last = cond(); last == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("condition not met: %v", last)
}

// retriable reports whether a failed admin request may succeed if sent
// again: the controller moved, a connection broke, or a deadline passed.
func retriable(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable || ke == kerr.NotController || ke == kerr.RequestTimedOut
	}
	return true // transport errors: the broker went away
}

// clientAddrs lists the client addresses of nodes.
func clientAddrs(nodes []*cluster.Process) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Addr)
	}
	return out
}

// newAdmin is an admin client over seeds, closed when the test ends.
func newAdmin(t *testing.T, seeds []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// createTopic creates topic with min.insync.replicas minISR, retrying
// while the cluster is still settling (a quorum forming, brokers not all
// registered yet).
func createTopic(t *testing.T, ctx context.Context, adm *kadm.Client, topic string, partitions int32, rf int16, minISR string) {
	t.Helper()
	poll(t, ctx, func() error {
		res, err := adm.CreateTopic(ctx, partitions, rf, map[string]*string{"min.insync.replicas": &minISR}, topic)
		if err == nil {
			err = res.Err
		}
		return err
	})
}
