// Command scale measures a broker with many partitions (docs/benchmarks.md,
// "Many partitions"): how long creating them takes, the broker's memory
// with them idle and the cost per partition, how long a clean shutdown and
// the start after it take, and how long the start after a kill -9 takes
// (recovery), each start timed until every partition answers ListOffsets
// with the end it had and takes a produce.
//
//	go run ./bench/scale                               # 10,000 partitions
//	go run ./bench/scale -partitions 1000 -mb 10240    # recovery of 10 GB over 1,000
//
// .ci/run runs it small (-partitions 10000 -records 1) to check that it
// still runs; the numbers are for the doc, never asserted.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/bench/internal/benchutil"
)

func main() {
	partitions := flag.Int("partitions", 10_000, "partitions in all")
	perTopic := flag.Int("per-topic", 1000, "partitions per topic")
	records := flag.Int("records", 10, "records written to every partition before the clean shutdown")
	mb := flag.Int("mb", 0, "MB of 1 KB records spread over the partitions before the kill -9 (0: one record each)")
	keep := flag.Bool("keep", false, "keep the data directory")
	flag.Parse()

	work, err := os.MkdirTemp("", "samsa-scale-")
	benchutil.Must(err)
	if !*keep {
		defer os.RemoveAll(work)
	}
	bin := filepath.Join(work, "samsa")
	benchutil.Run("go", "build", "-o", bin, "./cmd/samsa")
	dir := filepath.Join(work, "data")
	port := benchutil.FreePort()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logPath := filepath.Join(work, "broker.log")
	start := func() (*exec.Cmd, time.Time) {
		cmd := exec.Command(bin, "broker", "--data-dir", dir, "--listen", addr, "--http", "")
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		benchutil.Must(err)
		cmd.Stdout, cmd.Stderr = f, f
		began := time.Now()
		benchutil.StartBroker(cmd, addr, 5*time.Minute)
		return cmd, began
	}
	var topics []string
	for i := 0; i*(*perTopic) < *partitions; i++ {
		topics = append(topics, fmt.Sprintf("s%d", i))
	}
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestTimeoutOverhead(time.Minute), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	benchutil.Must(err)
	defer cl.Close()
	adm := kadm.NewClient(cl)

	var rows [][2]string
	row := func(k, v string) { rows = append(rows, [2]string{k, v}); fmt.Fprintf(os.Stderr, "%s: %s\n", k, v) }

	cmd, began := start()
	row("start, empty", time.Since(began).Round(time.Millisecond).String())
	rssEmpty := rss(cmd.Process.Pid)
	began = time.Now()
	for i, t := range topics {
		n := min(*perTopic, *partitions-i*(*perTopic))
		resp, err := adm.CreateTopic(ctx, int32(n), 1, nil, t)
		benchutil.Must(err)
		benchutil.Must(resp.Err)
	}
	want := map[string]map[int32]int64{}
	for i, t := range topics {
		want[t] = map[int32]int64{}
		for p := range int32(min(*perTopic, *partitions-i*(*perTopic))) {
			want[t][p] = 0
		}
	}
	ready(ctx, adm, want)
	row(fmt.Sprintf("create %d partitions (%d topics), until each answers", *partitions, len(topics)), time.Since(began).Round(time.Millisecond).String())
	benchutil.WaitIdle(cmd.Process.Pid, time.Minute)
	rssIdle := rss(cmd.Process.Pid)
	row("RSS, empty broker", fmt.Sprintf("%.0f MB", rssEmpty))
	row("RSS, partitions idle", fmt.Sprintf("%.0f MB (%.1f KB a partition)", rssIdle, (rssIdle-rssEmpty)*1024/float64(*partitions)))
	row("open files, partitions idle", fmt.Sprintf("%d (%.2f a partition)", openFiles(cmd.Process.Pid), float64(openFiles(cmd.Process.Pid))/float64(*partitions)))

	began = time.Now()
	produceAll(ctx, cl, want, *records, 100)
	row(fmt.Sprintf("produce %d records of 100 B to every partition", *records), time.Since(began).Round(time.Millisecond).String())
	benchutil.WaitIdle(cmd.Process.Pid, time.Minute)
	row("RSS, after writing every partition", fmt.Sprintf("%.0f MB", rss(cmd.Process.Pid)))

	began = time.Now()
	benchutil.StopBroker(cmd)
	row("clean shutdown (SIGTERM to exit)", time.Since(began).Round(time.Millisecond).String())

	cmd, began = start()
	ready(ctx, adm, want)
	row("start after the clean shutdown, until every partition answers", time.Since(began).Round(time.Millisecond).String())
	benchutil.WaitIdle(cmd.Process.Pid, time.Minute)
	row("RSS after that start", fmt.Sprintf("%.0f MB", rss(cmd.Process.Pid)))

	// Data for the recovery: -mb of 1 KB records, or one more record a
	// partition, then kill -9.
	n := 1
	size := 100
	if *mb > 0 {
		size = 1000
		n = max(1, *mb*1000/(*partitions))
	}
	began = time.Now()
	produceAll(ctx, cl, want, n, size)
	row(fmt.Sprintf("produce %d records of %d B to every partition (%.0f MB)", n, size, float64(n*size*(*partitions))/1e6), time.Since(began).Round(time.Millisecond).String())
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	cmd, began = start()
	ready(ctx, adm, want)
	row("start after kill -9 (recovery), until every partition answers", time.Since(began).Round(time.Millisecond).String())
	row("recovery, as the broker logged it", recoveryLine(logPath))
	produceAll(ctx, cl, want, 1, 100)
	row("produce to every partition after the recovery", "ok")
	benchutil.StopBroker(cmd)

	fmt.Printf("| %d partitions | |\n|---|---:|\n", *partitions)
	for _, r := range rows {
		fmt.Printf("| %s | %s |\n", r[0], r[1])
	}
}

// ready polls until every partition's ListOffsets answers with the end
// want has for it.
func ready(ctx context.Context, adm *kadm.Client, want map[string]map[int32]int64) {
	var topics []string
	for t := range want {
		topics = append(topics, t)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		ends, err := adm.ListEndOffsets(ctx, topics...)
		missing := 0
		var why string
		if err != nil {
			missing, why = -1, err.Error()
		} else {
			for t, ps := range want {
				for p, end := range ps {
					o, ok := ends.Lookup(t, p)
					if !ok || o.Err != nil || o.Offset != end {
						missing++
						if why == "" {
							why = fmt.Sprintf("%s-%d: %+v", t, p, o)
						}
					}
				}
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			benchutil.Must(fmt.Errorf("%d partitions not ready after 10 minutes, e.g. %s", missing, why))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// produceAll writes n records of size bytes to every partition of want
// and adds them to its ends.
func produceAll(ctx context.Context, cl *kgo.Client, want map[string]map[int32]int64, n, size int) {
	// Random letters, as kafka-producer-perf-test sends: the bytes stored
	// are the bytes produced.
	val := make([]byte, size)
	for i := range val {
		val[i] = 'A' + byte(rand.IntN(26))
	}
	var rs []*kgo.Record
	flush := func() {
		for _, r := range cl.ProduceSync(ctx, rs...) {
			benchutil.Must(r.Err)
		}
		rs = rs[:0]
	}
	for t, ps := range want {
		for p := range ps {
			for range n {
				rs = append(rs, &kgo.Record{Topic: t, Partition: p, Value: val})
			}
			ps[p] += int64(n)
			if len(rs) >= 100_000 {
				flush()
			}
		}
	}
	flush()
}

func rss(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	benchutil.Must(err)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func openFiles(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	benchutil.Must(err)
	return len(es)
}

// recoveryLine is the broker's one-line summary of the last start's log
// loading.
func recoveryLine(path string) string {
	b, err := os.ReadFile(path)
	benchutil.Must(err)
	var last string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, " unclean=") {
			last = l
		}
	}
	if i := strings.Index(last, "msg="); i >= 0 {
		last = last[i:]
	}
	return strings.ReplaceAll(last, "|", "/")
}
