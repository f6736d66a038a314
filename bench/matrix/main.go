// Command matrix runs the workload matrix of docs/benchmarks.md: samsa
// beside franz-go's kfake (data on disk; with fsync per write for the fsync
// cells) on this machine, each cell on a fresh broker, the two brokers
// alternating who goes first in each round, and prints markdown tables of
// medians with samsa's ratio to the peer.
//
// A cell is one workload: partitions (one topic, or topics × partitions),
// record size, producer-side compression, producers, batch size, acks,
// fsync per batch; or consumers reading what a produce run wrote (from the
// start, or tailing the log while it is written); or end-to-end latency at
// a fixed rate. Sweeps vary one or two of these around a base cell (4
// partitions, 1 KB records, no compression, 1 producer, 1 MB batches,
// acks=all), so that no single workload shapes the result:
//
//	go run ./bench/matrix -rounds 3                         # every sweep
//	go run ./bench/matrix -rounds 3 -sweeps grid -mb 1024   # partitions × record size
//	go run ./bench/matrix -gen java -sweeps grid            # Kafka's producer-perf-test as the load
//	go run ./bench/matrix -gen kcat -sweeps grid            # librdkafka (kcat -P) as the load
//	go run ./bench/matrix -peer-samsa /tmp/samsa-base ...   # A/B: a base build of samsa as the peer
//
// The load generator is franz-go in this process (-gen kgo), Apache
// Kafka's own kafka-producer-perf-test (-gen java, its classpath built by
// `(cd test/external/java && mvn -B -q compile)`), or librdkafka through
// Debian's kcat (-gen kcat: `kcat -P` reading newline-separated values
// from a file); the last two produce to one topic, so cells of many
// topics are left out with them. End-to-end latency uses
// `samsa perf e2e`. Broker CPU is the broker process's user+system time
// from /proc over the run, per GB of record values produced (or consumed).
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/bench/internal/benchutil"
)

// cell is one workload.
type cell struct {
	sweep       string
	partitions  int // per topic
	topics      int
	size        int // record value bytes
	compression string
	producers   int
	batch       int    // producer batch max bytes
	acks        string // "all" or "1"
	fsync       bool   // flush.messages=1 (samsa) / SyncWrites (kfake)
	consumers   int    // > 0: a consume cell, reading what its produce run wrote
	tail        bool   // consumers tail the log while it is produced
	rate        int    // > 0: an end-to-end latency cell at this many records/s
}

var base = cell{partitions: 4, topics: 1, size: 1000, compression: "none", producers: 1, batch: 1 << 20, acks: "all"}

func (c cell) String() string {
	var parts []string
	if c.topics > 1 {
		parts = append(parts, fmt.Sprintf("%d topics × %d partitions", c.topics, c.partitions))
	} else {
		parts = append(parts, fmt.Sprintf("%d partitions", c.partitions))
	}
	parts = append(parts, sizeName(c.size))
	if c.rate > 0 {
		return strings.Join(append(parts, fmt.Sprintf("e2e at %d/s", c.rate)), ", ")
	}
	if c.compression != "none" {
		parts = append(parts, c.compression)
	}
	parts = append(parts, fmt.Sprintf("%d producer(s)", c.producers), "batch "+sizeName(c.batch), "acks="+c.acks)
	if c.fsync {
		parts = append(parts, "fsync per batch")
	}
	switch {
	case c.consumers > 0 && c.tail:
		parts = append(parts, fmt.Sprintf("%d tailing consumer(s)", c.consumers))
	case c.consumers > 0:
		parts = append(parts, fmt.Sprintf("%d consumer(s) from the start", c.consumers))
	}
	return strings.Join(parts, ", ")
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%d MB", n/1_000_000)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%d KB", n/1000)
	}
	return fmt.Sprintf("%d B", n)
}

// sweeps builds the cells of each named sweep.
func sweeps() map[string][]cell {
	with := func(sweep string, f func(*cell)) cell {
		c := base
		c.sweep = sweep
		f(&c)
		return c
	}
	m := map[string][]cell{}
	// Partitions × record size: the cliff hunt (acceptance 1).
	for _, size := range []int{100, 1000, 16000, 1_000_000} {
		for _, p := range []int{1, 4, 16, 64, 256, 1000} {
			m["grid"] = append(m["grid"], with("grid", func(c *cell) { c.partitions, c.size = p, size }))
		}
		m["grid"] = append(m["grid"], with("grid", func(c *cell) { c.topics, c.partitions, c.size = 100, 10, size }))
	}
	for _, comp := range []string{"none", "lz4", "zstd"} {
		for _, p := range []int{4, 256} {
			m["compression"] = append(m["compression"], with("compression", func(c *cell) { c.compression, c.partitions = comp, p }))
		}
	}
	for _, producers := range []int{1, 4} {
		for _, batch := range []int{16 << 10, 1 << 20} {
			for _, acks := range []string{"1", "all"} {
				m["clients"] = append(m["clients"], with("clients", func(c *cell) {
					c.producers, c.batch, c.acks, c.partitions = producers, batch, acks, 16
				}))
			}
		}
	}
	// Memory under many partitions and producers (the RSS column).
	m["clients"] = append(m["clients"], with("clients", func(c *cell) { c.producers, c.partitions = 4, 1000 }))
	for _, p := range []int{1, 4, 16, 64, 256, 1000} {
		for _, consumers := range []int{1, 4} {
			m["consume"] = append(m["consume"], with("consume", func(c *cell) { c.partitions, c.consumers = p, consumers }))
		}
	}
	for _, p := range []int{4, 256} {
		m["tail"] = append(m["tail"], with("tail", func(c *cell) { c.partitions, c.consumers, c.tail = p, 4, true }))
	}
	for _, rate := range []int{10_000, 50_000} {
		m["e2e"] = append(m["e2e"], with("e2e", func(c *cell) { c.rate, c.size = rate, 100 }))
	}
	for _, producers := range []int{1, 4} {
		for _, size := range []int{1000, 16000} {
			m["fsync"] = append(m["fsync"], with("fsync", func(c *cell) {
				c.fsync, c.producers, c.size, c.batch, c.partitions = true, producers, size, 16<<10, 16
			}))
		}
	}
	return m
}

var sweepOrder = []string{"grid", "compression", "clients", "consume", "tail", "e2e", "fsync"}

// broker is one broker kind under test.
type broker struct {
	name  string
	start func(dir string, port int, c cell) *exec.Cmd
}

type config struct {
	mb          int // MB of record values per produce run
	warmGiB     int
	e2eDuration time.Duration
	e2eLinger   time.Duration
	gen         string
	classpath   string
	samsaBin    string
	work        string // scratch directory (kcat's input files)
}

func main() {
	rounds := flag.Int("rounds", 3, "rounds; each runs every cell on both brokers")
	names := flag.String("sweeps", strings.Join(sweepOrder, ","), "sweeps to run: "+strings.Join(sweepOrder, ", "))
	match := flag.String("cells", "", "only cells whose description matches this regexp")
	var cfg config
	flag.IntVar(&cfg.mb, "mb", 512, "MB of record values per produce run")
	flag.IntVar(&cfg.warmGiB, "warm-gib", 2, "GiB of memory to touch and free before each produce run (0: none); see docs/benchmarks.md")
	flag.DurationVar(&cfg.e2eDuration, "e2e-duration", 20*time.Second, "how long each end-to-end run produces")
	flag.DurationVar(&cfg.e2eLinger, "e2e-linger", 5*time.Millisecond, "the end-to-end producer's linger (Java's default is 5 ms; 0 shows the brokers' own latency, as Kafka's EndToEndLatency tool sets)")
	flag.StringVar(&cfg.gen, "gen", "kgo", "producer load generator: kgo (franz-go, in this process), java (kafka-producer-perf-test) or kcat (librdkafka)")
	baseBin := flag.String("peer-samsa", "", "run this samsa binary as the peer instead of kfake (an A/B of a change against its base build; the kfake columns then show it)")
	profDir := flag.String("cpuprofile", "", "write a CPU profile of each samsa broker to this directory, one file per round and cell (the whole broker life: topic creation and shutdown included)")
	cpFile := flag.String("kafka-classpath", "test/external/java/target/classpath.txt", "Apache Kafka's classpath, for -gen java")
	flag.Parse()
	if cfg.gen == "java" {
		cp, err := os.ReadFile(*cpFile)
		benchutil.Must(err)
		cfg.classpath = strings.TrimSpace(string(cp))
	} else if cfg.gen == "kcat" {
		_, err := exec.LookPath("kcat")
		benchutil.Must(err)
	} else if cfg.gen != "kgo" {
		benchutil.Must(fmt.Errorf("-gen %q: want kgo, java or kcat", cfg.gen))
	}
	var re *regexp.Regexp
	if *match != "" {
		re = regexp.MustCompile(*match)
	}
	all := sweeps()
	var cells []cell
	for _, n := range strings.Split(*names, ",") {
		cs, ok := all[n]
		if !ok {
			benchutil.Must(fmt.Errorf("unknown sweep %q", n))
		}
		for _, c := range cs {
			if re != nil && !re.MatchString(c.String()) {
				continue
			}
			if cfg.gen != "kgo" && c.topics > 1 && c.rate == 0 {
				fmt.Fprintf(os.Stderr, "-gen %s produces to one topic: leaving out [%s]\n", cfg.gen, c)
				continue
			}
			cells = append(cells, c)
		}
	}

	work, err := os.MkdirTemp("", "samsa-matrix-")
	benchutil.Must(err)
	defer os.RemoveAll(work)
	cfg.samsaBin = filepath.Join(work, "samsa")
	cfg.work = work
	kfakeBin := filepath.Join(work, "kfake")
	benchutil.Run("go", "build", "-o", cfg.samsaBin, "./cmd/samsa")
	benchutil.Run("go", "build", "-o", kfakeBin, "./bench/kfake")
	samsa := func(bin string) func(dir string, port int, _ cell) *exec.Cmd {
		return func(dir string, port int, _ cell) *exec.Cmd {
			args := []string{"broker", "--data-dir", dir, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
				"--http", "127.0.0.1:0", "--log-level", "warn"}
			if *profDir != "" {
				args = append(args, "--cpuprofile", filepath.Join(*profDir, filepath.Base(dir)+".pprof"))
			}
			return exec.Command(bin, args...)
		}
	}
	brokers := []broker{
		{"samsa", samsa(cfg.samsaBin)},
		{"kfake", func(dir string, port int, c cell) *exec.Cmd {
			args := []string{"-data-dir", dir, "-port", strconv.Itoa(port)}
			if c.fsync {
				args = append(args, "-sync")
			}
			return exec.Command(kfakeBin, args...)
		}},
	}
	if *baseBin != "" {
		brokers[1].start = samsa(*baseBin)
	}

	res := results{}
	for r := 0; r < *rounds; r++ {
		for ci, c := range cells {
			for i := range brokers {
				b := brokers[(i+r+ci)%len(brokers)] // alternate who goes first
				dir := filepath.Join(work, fmt.Sprintf("%s-%d-%d", b.name, r, ci))
				port := benchutil.FreePort()
				addr := fmt.Sprintf("127.0.0.1:%d", port)
				cmd := b.start(dir, port, c)
				benchutil.StartBroker(cmd, addr, 60*time.Second)
				v := runCell(cfg, addr, cmd.Process.Pid, c)
				benchutil.StopBroker(cmd)
				os.RemoveAll(dir)
				fmt.Fprintf(os.Stderr, "round %d %s [%s]: %s\n", r, b.name, c, fmtResult(v))
				res.add(b.name, c.String(), v)
			}
		}
	}
	report(res, cells, cfg)
}

// runCell runs one cell against the broker at addr (process pid) and
// returns its numbers.
func runCell(cfg config, addr string, pid int, c cell) map[string]float64 {
	ctx := context.Background()
	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	benchutil.Must(err)
	defer adm.Close()
	topics := make([]string, c.topics)
	for i := range topics {
		topics[i] = fmt.Sprintf("m%d", i)
	}
	configs := map[string]*string{}
	if c.fsync {
		one := "1"
		configs["flush.messages"] = &one
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	resp, err := kadm.NewClient(adm).CreateTopics(cctx, int32(c.partitions), 1, configs, topics...)
	cancel()
	benchutil.Must(err)
	benchutil.Must(resp.Error())

	if c.rate > 0 {
		return benchutil.PerfResult(cfg.samsaBin, "perf", "e2e", "--brokers", addr, "--topic", topics[0],
			"--rate", strconv.Itoa(c.rate), "--duration", cfg.e2eDuration.String(), "--record-size", strconv.Itoa(c.size),
			"--linger", cfg.e2eLinger.String())
	}
	records := int64(cfg.mb) * 1_000_000 / int64(c.size)
	var tails *consumers
	if c.tail {
		// The topics are empty: consumers from offset 0 started now read
		// each record as it is written, at the end of the log.
		tails = startConsumers(addr, topics, c.consumers, records, kgo.NewOffset().AtStart())
	}
	benchutil.WarmMemory(cfg.warmGiB << 30)
	benchutil.WaitIdle(pid, 30*time.Second)
	cpu0 := benchutil.CPUSeconds(pid)
	var v map[string]float64
	switch cfg.gen {
	case "java":
		v = javaProduce(cfg, addr, topics[0], c, records)
	case "kcat":
		v = kcatProduce(cfg, addr, topics[0], c, records)
	default:
		v = produce(addr, topics, c, records)
	}
	if tails != nil {
		tails.wait()
	}
	v["cpu_s_per_gb"] = (benchutil.CPUSeconds(pid) - cpu0) / (v["bytes"] / 1e9)
	v["rss_mb"] = rssMB(pid)
	if c.consumers == 0 || c.tail {
		return v
	}
	// Consumers from the start, each reading the whole topic.
	cpu0 = benchutil.CPUSeconds(pid)
	start := time.Now()
	startConsumers(addr, topics, c.consumers, int64(v["records"]), kgo.NewOffset().AtStart()).wait()
	el := time.Since(start).Seconds()
	read := v["bytes"] * float64(c.consumers)
	return map[string]float64{"mb_per_sec": read / 1e6 / el, "records_per_sec": v["records"] * float64(c.consumers) / el,
		"cpu_s_per_gb": (benchutil.CPUSeconds(pid) - cpu0) / (read / 1e9), "bytes": read, "rss_mb": rssMB(pid)}
}

// payload is random uppercase letters, as kafka-producer-perf-test sends:
// values are slices of it at random offsets, so compression finds what it
// would in such a test, no more.
var payload = func() []byte {
	b := make([]byte, 2<<20)
	for i := range b {
		b[i] = 'A' + byte(rand.IntN(26))
	}
	return b
}()

// produce sends records values of c.size bytes over topics with
// c.producers franz-go clients configured as Java's producer defaults
// (32 MB buffer, linger 5 ms) with c's batch size, acks and compression.
func produce(addr string, topics []string, c cell, records int64) map[string]float64 {
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ProducerLinger(5 * time.Millisecond),
		kgo.ProducerBatchMaxBytes(int32(max(c.batch, c.size+512))),
		kgo.MaxBufferedBytes(32 << 20), kgo.MaxBufferedRecords(1 << 20)}
	if c.acks == "1" {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	}
	switch c.compression {
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for p := range c.producers {
		n := records / int64(c.producers)
		if p == 0 {
			n += records % int64(c.producers)
		}
		cl, err := kgo.NewClient(opts...)
		benchutil.Must(err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			ctx := context.Background()
			for i := range n {
				off := rand.IntN(len(payload) - c.size)
				r := &kgo.Record{Topic: topics[(int64(p)+i)%int64(len(topics))], Value: payload[off : off+c.size]}
				cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
					if err != nil {
						failed.Add(1)
					}
				})
			}
			benchutil.Must(cl.Flush(ctx))
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	if f := failed.Load(); f > 0 {
		benchutil.Must(fmt.Errorf("%d of %d records failed", f, records))
	}
	b := float64(records) * float64(c.size)
	return map[string]float64{"records": float64(records), "bytes": b, "mb_per_sec": b / 1e6 / el, "records_per_sec": float64(records) / el}
}

var javaLine = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)`)

// javaProduce runs Apache Kafka's ProducerPerformance (what
// kafka-producer-perf-test.sh runs) as the load, one process per producer.
func javaProduce(cfg config, addr, topic string, c cell, records int64) map[string]float64 {
	var wg sync.WaitGroup
	outs := make([][]byte, c.producers)
	start := time.Now()
	for p := range c.producers {
		n := records / int64(c.producers)
		if p == 0 {
			n += records % int64(c.producers)
		}
		cmd := exec.Command("java", "-Xms512m", "-Xmx1g", "-cp", cfg.classpath, "org.apache.kafka.tools.ProducerPerformance",
			"--topic", topic, "--num-records", strconv.FormatInt(n, 10), "--record-size", strconv.Itoa(c.size), "--throughput", "-1",
			"--producer-props", "bootstrap.servers="+addr, "acks="+c.acks, "batch.size="+strconv.Itoa(c.batch),
			"compression.type="+c.compression, "max.request.size="+strconv.Itoa(max(c.batch, c.size+512)),
			"enable.idempotence="+strconv.FormatBool(c.acks == "all"))
		cmd.Stderr = os.Stderr
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := cmd.Output()
			benchutil.Must(err)
			outs[p] = out
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	var sent int64
	for _, out := range outs {
		lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
		m := javaLine.FindSubmatch(lines[len(lines)-1])
		if m == nil {
			benchutil.Must(fmt.Errorf("ProducerPerformance printed %q", lines[len(lines)-1]))
		}
		n, _ := strconv.ParseInt(string(m[1]), 10, 64)
		sent += n
	}
	b := float64(sent) * float64(c.size)
	return map[string]float64{"records": float64(sent), "bytes": b, "mb_per_sec": b / 1e6 / el, "records_per_sec": float64(sent) / el}
}

// kcatProduce runs librdkafka's producer through kcat (`kcat -P`), one
// process per producer, each reading its share of the records from a file
// of newline-separated values (built once per record size and count, from
// the same payload as the other generators). kcat's exit status does not
// cover every delivery failure, so the topic's end offsets must add up to
// at least the records sent (acks=1 without idempotence may duplicate).
func kcatProduce(cfg config, addr, topic string, c cell, records int64) map[string]float64 {
	n := records / int64(c.producers)
	input := kcatInput(cfg.work, c.size, n)
	maxReq := max(c.batch, c.size+512)
	args := []string{"-P", "-b", addr, "-t", topic, "-X", "linger.ms=5", "-X", "batch.size=" + strconv.Itoa(c.batch),
		"-X", "message.max.bytes=" + strconv.Itoa(maxReq+64<<10), "-X", "acks=" + c.acks,
		"-X", "enable.idempotence=" + strconv.FormatBool(c.acks == "all"), "-X", "compression.codec=" + c.compression}
	var wg sync.WaitGroup
	start := time.Now()
	for range c.producers {
		f, err := os.Open(input)
		benchutil.Must(err)
		cmd := exec.Command("kcat", args...)
		cmd.Stdin, cmd.Stderr = f, os.Stderr
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.Close()
			benchutil.Must(cmd.Run())
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	sent := n * int64(c.producers)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	benchutil.Must(err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	benchutil.Must(err)
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total < sent {
		benchutil.Must(fmt.Errorf("kcat sent %d records, the topic holds %d", sent, total))
	}
	b := float64(sent) * float64(c.size)
	return map[string]float64{"records": float64(sent), "bytes": b, "mb_per_sec": b / 1e6 / el, "records_per_sec": float64(sent) / el}
}

// kcatInput returns a file of n values of size bytes, one a line, made
// (once) of slices of payload at random offsets.
func kcatInput(dir string, size int, n int64) string {
	name := filepath.Join(dir, fmt.Sprintf("kcat-%d-%d", size, n))
	if _, err := os.Stat(name); err == nil {
		return name
	}
	f, err := os.Create(name + ".tmp")
	benchutil.Must(err)
	w := bufio.NewWriterSize(f, 1<<20)
	for range n {
		off := rand.IntN(len(payload) - size)
		w.Write(payload[off : off+size])
		w.WriteByte('\n')
	}
	benchutil.Must(w.Flush())
	benchutil.Must(f.Close())
	benchutil.Must(os.Rename(name+".tmp", name))
	return name
}

// consumers are franz-go clients each reading every partition of the
// topics (no group), until each has read want records.
type consumers struct {
	wg sync.WaitGroup
}

func startConsumers(addr string, topics []string, n int, want int64, at kgo.Offset) *consumers {
	cs := &consumers{}
	for range n {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(at),
			kgo.FetchMaxWait(100*time.Millisecond))
		benchutil.Must(err)
		cs.wg.Add(1)
		go func() {
			defer cs.wg.Done()
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			var got int64
			for got < want {
				f := cl.PollFetches(ctx)
				if err := ctx.Err(); err != nil {
					benchutil.Must(fmt.Errorf("consumer read %d of %d records: %w", got, want, err))
				}
				f.EachError(func(t string, p int32, err error) {
					benchutil.Must(fmt.Errorf("consuming %s-%d: %w", t, p, err))
				})
				got += int64(f.NumRecords())
			}
		}()
	}
	return cs
}

func (cs *consumers) wait() { cs.wg.Wait() }

// rssMB is the process's peak resident set (VmHWM) in MB.
func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func fmtResult(v map[string]float64) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%.3g", k, v[k]))
	}
	return strings.Join(parts, " ")
}

// results are runs by broker and cell.
type results map[string]map[string][]map[string]float64

func (r results) add(b, c string, v map[string]float64) {
	if r[b] == nil {
		r[b] = map[string][]map[string]float64{}
	}
	r[b][c] = append(r[b][c], v)
}

func (r results) med(b, c, k string) float64 {
	var xs []float64
	for _, v := range r[b][c] {
		xs = append(xs, v[k])
	}
	return benchutil.Median(xs)
}

func report(r results, cells []cell, cfg config) {
	fmt.Printf("Load generator: %s; %d MB of record values per produce run; end-to-end producer linger %v; medians over rounds.\n", cfg.gen, cfg.mb, cfg.e2eLinger)
	bySweep := map[string][]cell{}
	for _, c := range cells {
		bySweep[c.sweep] = append(bySweep[c.sweep], c)
	}
	var misses []string
	for _, s := range sweepOrder {
		cs := bySweep[s]
		if len(cs) == 0 {
			continue
		}
		fmt.Printf("\n### %s\n\n", s)
		if s == "e2e" {
			fmt.Println("| cell | samsa p50 / p99 / p99.9 / max ms | kfake p50 / p99 / p99.9 / max ms |")
			fmt.Println("|---|---|---|")
			for _, c := range cs {
				n := c.String()
				lat := func(b string) string {
					return fmt.Sprintf("%.2f / %.2f / %.2f / %.2f", r.med(b, n, "latency_p50_ms"), r.med(b, n, "latency_p99_ms"),
						r.med(b, n, "latency_p999_ms"), r.med(b, n, "latency_max_ms"))
				}
				fmt.Printf("| %s | %s | %s |\n", n, lat("samsa"), lat("kfake"))
				if r.med("samsa", n, "latency_p99_ms") > r.med("kfake", n, "latency_p99_ms") {
					misses = append(misses, n+": p99 above kfake's")
				}
			}
			continue
		}
		fmt.Println("| cell | samsa MB/s | kfake MB/s | throughput × | samsa CPU-s/GB | kfake CPU-s/GB | CPU × | samsa peak RSS MB |")
		fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, c := range cs {
			n := c.String()
			sm, km := r.med("samsa", n, "mb_per_sec"), r.med("kfake", n, "mb_per_sec")
			sc, kc := r.med("samsa", n, "cpu_s_per_gb"), r.med("kfake", n, "cpu_s_per_gb")
			fmt.Printf("| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.0f |\n", n, sm, km, sm/km, sc, kc, sc/kc, r.med("samsa", n, "rss_mb"))
			switch {
			case c.fsync:
				if want := map[int]float64{1: 1.5, 4: 2}[c.producers]; sm/km < want {
					misses = append(misses, fmt.Sprintf("%s: throughput %.2f× kfake-sync, want %.1f×", n, sm/km, want))
				}
			case c.consumers > 0 && !c.tail:
				if sm/km < 1.5 {
					misses = append(misses, fmt.Sprintf("%s: consume %.2f× kfake, want 1.5×", n, sm/km))
				}
			default:
				if sc/kc > 0.6 || sm/km < 1 {
					misses = append(misses, fmt.Sprintf("%s: CPU %.2f×, throughput %.2f× kfake (want ≤ 0.6×, ≥ 1×)", n, sc/kc, sm/km))
				}
			}
		}
		if s == "grid" {
			// No cliffs: no cell's CPU per GB above 1.5× the best cell at
			// its record size.
			best := map[int]float64{}
			for _, c := range cs {
				v := r.med("samsa", c.String(), "cpu_s_per_gb")
				if b, ok := best[c.size]; !ok || v < b {
					best[c.size] = v
				}
			}
			for _, c := range cs {
				if v := r.med("samsa", c.String(), "cpu_s_per_gb"); v > 1.5*best[c.size] {
					misses = append(misses, fmt.Sprintf("%s: CPU-s/GB %.2f, %.2f× the best at %s", c, v, v/best[c.size], sizeName(c.size)))
				}
			}
		}
	}
	fmt.Printf("\n%d cells miss issue 12's targets", len(misses))
	if len(misses) > 0 {
		fmt.Println(":")
		for _, m := range misses {
			fmt.Println("-", m)
		}
	} else {
		fmt.Println(".")
	}
}
