// Command replication measures what replication costs and how fast a
// cluster fails over, on a 3-node cluster of samsa and, beside it in the
// same run, a 3-node cluster of Apache Kafka (KRaft, combined
// broker+controller nodes) started from the Maven artifacts that the
// external-client tests already fetch:
//
//   - produce 1 KB records with acks=all to topics of replication factor 1
//     and 3 (min.insync.replicas=2), with 1 and 8 partitions, and the CPU
//     that all three nodes together spend per GB produced, after an
//     unmeasured run of the same size that warms the JVM's JIT;
//   - failover: a producer (franz-go, acks=all, one record in flight) writes
//     to a partition of replication factor 3; its leader is killed with
//     SIGKILL, and the time from the kill to the first acknowledgement of a
//     record sent after it is measured; the victim is restarted and the
//     partition's ISR waited for before the next try.
//
// Both clusters run with their defaults for everything the workload does
// not set, which for the failover means broker.session.timeout.ms = 9 s
// and broker.heartbeat.interval.ms = 2 s on both.
//
//   - with -txn: transactions on a topic of 4 partitions, replication
//     factor 3: 1 KB records (acks=all) in 16 KB batches, produced in
//     transactions of 1, 10 and 100 batches' worth of records (16, 160
//     and 1,600 records) beside the same records produced idempotently
//     without transactions.
//
//     (cd test/external/java && mvn -B -q compile)   # Kafka's classpath
//     go run ./bench/replication -rounds 3 -failovers 20
//     go run ./bench/replication -rounds 3 -produce=false -failovers 0 -txn
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/bench/internal/benchutil"
)

func main() {
	rounds := flag.Int("rounds", 3, "rounds; each runs every produce workload on each cluster")
	records := flag.Int("records", 300000, "1 KB records per produce run")
	failovers := flag.Int("failovers", 20, "failover tries per cluster, spread over the rounds")
	partitions := flag.String("partitions", "1,8", "comma-separated partition counts of the produce topics")
	batches := flag.String("batch-bytes", "1000012", "comma-separated producer batch sizes (batch.size) of the produce workloads; 16384 is Java's default")
	classpath := flag.String("kafka-classpath", "test/external/java/target/classpath.txt", "file holding Apache Kafka's runtime classpath; empty or missing: samsa alone")
	produce := flag.Bool("produce", true, "run the produce workloads (false: failovers only)")
	txn := flag.Bool("txn", false, "run the transactional workloads")
	txnRecords := flag.Int("txn-records", 100000, "1 KB records per transactional (and idempotent baseline) run")
	warmGiB := flag.Int("warm-gib", 3, "GiB of memory to touch and free before each produce run (0: none); see docs/benchmarks.md")
	flag.Parse()

	work, err := os.MkdirTemp("", "samsa-repl-bench-")
	benchutil.Must(err)
	defer os.RemoveAll(work)
	samsaBin := filepath.Join(work, "samsa")
	benchutil.Run("go", "build", "-o", samsaBin, "./cmd/samsa")

	kinds := []kind{samsaKind(samsaBin)}
	if *classpath != "" {
		if cp, err := os.ReadFile(*classpath); err == nil {
			kinds = append(kinds, kafkaKind(strings.TrimSpace(string(cp))))
		} else {
			fmt.Fprintf(os.Stderr, "no Apache Kafka peer (%v): build its classpath with (cd test/external/java && mvn -B -q compile)\n", err)
		}
	}
	parts, batchSizes := ints(*partitions), ints(*batches)

	res := results{}
	for r := 0; r < *rounds; r++ {
		for i := range kinds {
			k := kinds[(i+r)%len(kinds)] // alternate who goes first
			c := k.start(filepath.Join(work, fmt.Sprintf("%s-%d", k.name, r)))
			// An unmeasured run first: a JVM compiles its hot paths in
			// the first seconds, and both clusters open their files.
			if *produce {
				c.createTopic("warmup", 4, 3)
				perfProduce(samsaBin, c.bootstrap(), "warmup", *records, defaultBatch)
			}
			for _, p := range parts {
				if !*produce {
					break
				}
				for _, b := range batchSizes {
					for _, rf := range []int{1, 3} {
						w := produceWorkload(p, rf, b, len(batchSizes) > 1)
						topic := fmt.Sprintf("p%d-rf%d-b%d", p, rf, b)
						c.createTopic(topic, p, rf)
						benchutil.WarmMemory(*warmGiB << 30)
						cpu0 := c.cpu()
						out := perfProduce(samsaBin, c.bootstrap(), topic, *records, b)
						out["cpu_s_per_gb"] = (c.cpu() - cpu0) / (out["bytes"] / 1e9)
						res.add(k.name, w, out)
						fmt.Fprintf(os.Stderr, "round %d %s %s: %.0f MB/s, %.2f CPU-s/GB\n", r, k.name, w, out["mb_per_sec"], out["cpu_s_per_gb"])
					}
				}
			}
			if *txn {
				if !*produce {
					// The warm-up the produce workloads give a JVM.
					c.createTopic("warmup", 4, 3)
					perfProduce(samsaBin, c.bootstrap(), "warmup", *records, defaultBatch)
				}
				runTxn(c, k, r, samsaBin, *txnRecords, *warmGiB, res)
			}
			tries := *failovers / *rounds
			if r < *failovers%*rounds {
				tries++
			}
			for _, f := range c.failovers(tries) {
				res.add(k.name, "failover", map[string]float64{"seconds": f.ack.Seconds()})
				res.add(k.name, "election", map[string]float64{"seconds": f.leader.Seconds()})
				fmt.Fprintf(os.Stderr, "round %d %s failover: new leader after %v, first ack after %v\n", r, k.name,
					f.leader.Round(time.Millisecond), f.ack.Round(time.Millisecond))
			}
			c.stop()
		}
	}
	res.report(kinds, parts, batchSizes)
	if *txn {
		res.reportTxn(kinds)
	}
}

// txnBatches are the transaction sizes of the -txn workloads, in 16 KB
// batches of 1 KB records; 0 is the idempotent baseline.
var txnBatches = []int{0, 1, 10, 100}

func txnWorkload(batches int) string {
	if batches == 0 {
		return "idempotent, no transactions"
	}
	return fmt.Sprintf("transactions of %d batches", batches)
}

// runTxn runs the transactional workloads on cluster c, each on a fresh
// topic of 4 partitions, replication factor 3.
func runTxn(c *cluster, k kind, round int, bin string, records, warmGiB int, res results) {
	const recordsPerBatch = 16 // 1 KB records in Java's 16 KB batch.size
	for _, b := range txnBatches {
		w := txnWorkload(b)
		topic := fmt.Sprintf("txn-%d", b)
		c.createTopic(topic, 4, 3)
		args := []string{"perf", "produce", "--brokers", c.bootstrap(), "--topic", topic,
			"--num-records", strconv.Itoa(records), "--record-size", "1000", "--acks", "all", "--batch-max-bytes", "16384"}
		if b > 0 {
			args = append(args, "--transactional-id", fmt.Sprintf("bench-%s-%d-%d", k.name, round, b),
				"--transaction-records", strconv.Itoa(b*recordsPerBatch))
		}
		benchutil.WarmMemory(warmGiB << 30)
		cpu0 := c.cpu()
		out := benchutil.PerfResult(bin, args...)
		out["cpu_s_per_gb"] = (c.cpu() - cpu0) / (out["bytes"] / 1e9)
		out["txn_per_sec"] = out["transactions"] / out["elapsed_s"]
		res.add(k.name, w, out)
		fmt.Fprintf(os.Stderr, "round %d %s %s: %.0f MB/s, %.0f txn/s, %.2f CPU-s/GB\n", round, k.name, w,
			out["mb_per_sec"], out["txn_per_sec"], out["cpu_s_per_gb"])
	}
}

// defaultBatch is `samsa perf produce`'s default batch size (the broker's
// default max.message.bytes).
const defaultBatch = 1000012

// ints parses a comma-separated list of integers.
func ints(list string) []int {
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		benchutil.Must(err)
		out = append(out, n)
	}
	return out
}

// perfProduce runs `samsa perf produce` with batches of at most batch
// bytes and returns its JSON summary.
func perfProduce(bin, bootstrap, topic string, n, batch int) map[string]float64 {
	return benchutil.PerfResult(bin, "perf", "produce", "--brokers", bootstrap, "--topic", topic,
		"--num-records", strconv.Itoa(n), "--record-size", "1000", "--acks", "all", "--batch-max-bytes", strconv.Itoa(batch))
}

// kind is a broker implementation that can start a 3-node cluster.
type kind struct {
	name string
	// node returns the command that starts node id (1-based) of a cluster
	// whose ports are given, after preparing its directory.
	node func(dir string, id int, ports clusterPorts) *exec.Cmd
	// prepare runs once per cluster before any node starts.
	prepare func(dir string, ports clusterPorts)
}

// clusterPorts are the client and controller ports of the three nodes.
type clusterPorts struct {
	client, controller [3]int
}

func (p clusterPorts) voters() string {
	var vs []string
	for i, port := range p.controller {
		vs = append(vs, fmt.Sprintf("%d@127.0.0.1:%d", i+1, port))
	}
	return strings.Join(vs, ",")
}

func samsaKind(bin string) kind {
	return kind{
		name:    "samsa",
		prepare: func(string, clusterPorts) {},
		node: func(dir string, id int, p clusterPorts) *exec.Cmd {
			return exec.Command(bin, "broker", "--node-id", strconv.Itoa(id),
				"--listen", fmt.Sprintf("127.0.0.1:%d", p.client[id-1]),
				"--controller-listen", fmt.Sprintf("127.0.0.1:%d", p.controller[id-1]),
				"--controller-quorum", p.voters(),
				"--data-dir", filepath.Join(dir, fmt.Sprintf("node%d", id)), "--log-level", "info")
		},
	}
}

// kafkaKind runs Apache Kafka's broker (kafka.Kafka) in a JVM with a 1 GiB
// heap, logging at WARN through the slf4j-simple binding on the classpath.
func kafkaKind(classpath string) kind {
	props := func(dir string, id int, p clusterPorts) string {
		return filepath.Join(dir, fmt.Sprintf("node%d.properties", id))
	}
	java := func(args ...string) *exec.Cmd {
		base := []string{"-Xms1g", "-Xmx1g", "-XX:+UseG1GC", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", classpath}
		return exec.Command("java", append(base, args...)...)
	}
	return kind{
		name: "kafka",
		prepare: func(dir string, p clusterPorts) {
			benchutil.Must(os.MkdirAll(dir, 0o755))
			clusterID := "c2Ftc2EtYmVuY2gtcmVwbA" // any 16 bytes, base64url
			for id := 1; id <= 3; id++ {
				conf := fmt.Sprintf(`process.roles=broker,controller
node.id=%d
listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d
advertised.listeners=PLAINTEXT://127.0.0.1:%d
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.quorum.voters=%s
log.dirs=%s
`, id, p.client[id-1], p.controller[id-1], p.client[id-1], p.voters(), filepath.Join(dir, fmt.Sprintf("node%d", id)))
				benchutil.Must(os.WriteFile(props(dir, id, p), []byte(conf), 0o644))
				cmd := java("kafka.tools.StorageTool", "format", "-t", clusterID, "-c", props(dir, id, p))
				cmd.Stderr = os.Stderr
				benchutil.Must(cmd.Run())
			}
		},
		node: func(dir string, id int, p clusterPorts) *exec.Cmd {
			return java("kafka.Kafka", props(dir, id, p))
		},
	}
}

// cluster is a running 3-node cluster of one kind.
type cluster struct {
	kind  kind
	dir   string
	ports clusterPorts
	nodes [3]*exec.Cmd
	cl    *kgo.Client
	adm   *kadm.Client
}

func (k kind) start(dir string) *cluster {
	c := &cluster{kind: k, dir: dir}
	for i := range c.ports.client {
		c.ports.client[i], c.ports.controller[i] = benchutil.FreePort(), benchutil.FreePort()
	}
	benchutil.Must(os.MkdirAll(dir, 0o755))
	k.prepare(dir, c.ports)
	// All nodes start before any is waited for: a Kafka node opens its
	// client listener only once a quorum of controllers has formed.
	for id := 1; id <= 3; id++ {
		c.startNode(id)
	}
	for _, p := range c.ports.client {
		benchutil.WaitListening(fmt.Sprintf("127.0.0.1:%d", p), 120*time.Second)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.bootstrap(), ",")...))
	benchutil.Must(err)
	c.cl, c.adm = cl, kadm.NewClient(cl)
	c.waitBrokers(3, 60*time.Second)
	return c
}

func (c *cluster) startNode(id int) {
	cmd := c.kind.node(c.dir, id, c.ports)
	logf, err := os.OpenFile(filepath.Join(c.dir, fmt.Sprintf("node%d.log", id)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	benchutil.Must(err)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The nodes die with this program, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	benchutil.Must(cmd.Start())
	c.nodes[id-1] = cmd
}

func (c *cluster) bootstrap() string {
	var as []string
	for _, p := range c.ports.client {
		as = append(as, fmt.Sprintf("127.0.0.1:%d", p))
	}
	return strings.Join(as, ",")
}

// cpu is the CPU time of all three nodes together.
func (c *cluster) cpu() float64 {
	var s float64
	for _, n := range c.nodes {
		s += benchutil.CPUSeconds(n.Process.Pid)
	}
	return s
}

func (c *cluster) stop() {
	c.adm.Close()
	for _, n := range c.nodes {
		_ = n.Process.Signal(syscall.SIGTERM)
	}
	for _, n := range c.nodes {
		done := make(chan struct{})
		go func() { _ = n.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = n.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(c.dir)
}

// waitBrokers waits until Metadata lists n brokers. It asks a broker
// directly: kadm's BrokerMetadata answers from franz-go's cache, whose broker
// list is only refreshed with topic metadata.
func (c *cluster) waitBrokers(n int, limit time.Duration) {
	poll(limit, func(ctx context.Context) error {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{}
		m, err := req.RequestWith(ctx, c.cl)
		if err != nil {
			return err
		}
		if len(m.Brokers) != n {
			return fmt.Errorf("%d brokers of %d", len(m.Brokers), n)
		}
		return nil
	})
}

func (c *cluster) createTopic(name string, partitions, rf int) {
	configs := map[string]*string{}
	if rf == 3 {
		two := "2"
		configs["min.insync.replicas"] = &two
	}
	poll(60*time.Second, func(ctx context.Context) error {
		r, err := c.adm.CreateTopic(ctx, int32(partitions), int16(rf), configs, name)
		if err != nil {
			return err
		}
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return r.Err
		}
		return nil
	})
	c.waitISR(name, partitions, rf)
}

// waitISR waits until every partition of topic has a leader and rf replicas
// in its ISR.
func (c *cluster) waitISR(topic string, partitions, rf int) {
	poll(120*time.Second, func(ctx context.Context) error {
		m, err := c.adm.Metadata(ctx, topic)
		if err != nil {
			return err
		}
		t := m.Topics[topic]
		if t.Err != nil {
			return t.Err
		}
		if len(t.Partitions) != partitions {
			return fmt.Errorf("%d partitions", len(t.Partitions))
		}
		for _, p := range t.Partitions {
			if p.Err != nil || p.Leader < 0 || len(p.ISR) != rf {
				return fmt.Errorf("partition %d: leader %d, ISR %v, err %v", p.Partition, p.Leader, p.ISR, p.Err)
			}
		}
		return nil
	})
}

func (c *cluster) leaderOf(topic string, partition int32) int32 {
	var leader int32
	poll(60*time.Second, func(ctx context.Context) error {
		m, err := c.adm.Metadata(ctx, topic)
		if err != nil {
			return err
		}
		p, ok := m.Topics[topic].Partitions[partition]
		if !ok || p.Leader < 0 {
			return fmt.Errorf("no leader")
		}
		leader = p.Leader
		return nil
	})
	return leader
}

// failover is one try: from the kill to a survivor's metadata naming a
// new leader, and to the first acknowledgement of a record sent after the
// kill.
type failover struct{ leader, ack time.Duration }

// failovers runs n failover tries on a fresh single-partition topic.
func (c *cluster) failovers(n int) []failover {
	if n == 0 {
		return nil
	}
	const topic = "failover"
	c.createTopic(topic, 1, 3)
	p := startProducer(c.bootstrap(), topic)
	defer p.close()
	var out []failover
	for i := 0; i < n; i++ {
		c.waitISR(topic, 1, 3)
		p.waitAckAfter(time.Now(), 60*time.Second)
		victim := c.leaderOf(topic, 0)
		node := c.nodes[victim-1]
		benchutil.Must(node.Process.Signal(syscall.SIGKILL))
		killed := time.Now()
		_ = node.Wait()
		elected := c.newLeaderSeen(topic, victim%3+1, victim)
		ack := p.waitAckAfter(killed, 120*time.Second)
		out = append(out, failover{leader: elected.Sub(killed), ack: ack.Sub(killed)})
		c.startNode(int(victim))
		benchutil.WaitListening(fmt.Sprintf("127.0.0.1:%d", c.ports.client[victim-1]), 120*time.Second)
	}
	c.waitISR(topic, 1, 3)
	if p.failed() > 0 {
		fmt.Fprintf(os.Stderr, "%s: %d failover records failed\n", c.kind.name, p.failed())
	}
	return out
}

// newLeaderSeen polls broker survivor's own metadata every 10 ms until it
// names a leader of partition 0 of topic other than old, and returns when.
func (c *cluster) newLeaderSeen(topic string, survivor, old int32) time.Time {
	br := c.cl.Broker(int(survivor))
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := br.Request(ctx, req)
		cancel()
		if err == nil {
			for _, t := range resp.(*kmsg.MetadataResponse).Topics {
				for _, p := range t.Partitions {
					if p.Partition == 0 && p.Leader >= 0 && p.Leader != old {
						return time.Now()
					}
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	benchutil.Must(fmt.Errorf("broker %d never named a new leader", survivor))
	return time.Time{}
}
