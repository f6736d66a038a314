// Command metrics measures what the metrics cost: it runs `samsa perf
// produce` against a samsa broker with the HTTP listener off (no metrics
// kept: no request timing, no flush timing) and with it on and scraped
// every -scrape-every, alternating the two in each round, and prints a
// markdown table of medians for docs/benchmarks.md: records/s, MB/s,
// latency and the broker's CPU-seconds per GB produced (from
// /proc/PID/stat, scrapes included).
//
//	go run ./bench/metrics -rounds 3
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/samsa-kafka/samsa/bench/internal/benchutil"
)

type result map[string]float64

func main() {
	rounds := flag.Int("rounds", 3, "rounds; each runs the workload with metrics off and on")
	records := flag.Int("records", 1000000, "records per produce run")
	size := flag.Int("record-size", 1000, "bytes per record")
	partitions := flag.Int("partitions", 4, "partitions of the topic")
	every := flag.Duration("scrape-every", 5*time.Second, "how often /metrics is scraped with metrics on")
	warmGiB := flag.Int("warm-gib", 3, "GiB of memory to touch and free before each produce run (0: none); see docs/benchmarks.md")
	flag.Parse()

	work, err := os.MkdirTemp("", "samsa-bench-metrics-")
	benchutil.Must(err)
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "samsa")
	benchutil.Run("go", "build", "-o", bin, "./cmd/samsa")

	modes := []string{"off", "on"}
	results := map[string][]result{}
	scrapes := map[string]int{}
	for r := 0; r < *rounds; r++ {
		for i := range modes {
			mode := modes[(i+r)%len(modes)] // alternate who goes first
			dir := filepath.Join(work, fmt.Sprintf("%s-%d", mode, r))
			port := benchutil.FreePort()
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			httpAddr := ""
			if mode == "on" {
				httpAddr = fmt.Sprintf("127.0.0.1:%d", benchutil.FreePort())
			}
			cmd := exec.Command(bin, "broker", "--data-dir", dir, "--listen", addr, "--http", httpAddr, "--log-level", "warn")
			benchutil.StartBroker(cmd, addr, 30*time.Second)
			benchutil.Run(bin, "topic", "create", "p", "--partitions", strconv.Itoa(*partitions), "--brokers", addr)
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan int)
			go func() { done <- scrapeEvery(ctx, httpAddr, *every) }()
			benchutil.WarmMemory(*warmGiB << 30)
			cpu0 := benchutil.CPUSeconds(cmd.Process.Pid)
			res := benchutil.PerfResult(bin, "perf", "produce", "--topic", "p", "--num-records", strconv.Itoa(*records),
				"--record-size", strconv.Itoa(*size), "--acks", "all", "--brokers", addr)
			res["cpu_s_per_gb"] = (benchutil.CPUSeconds(cmd.Process.Pid) - cpu0) / (res["bytes"] / 1e9)
			stop()
			scrapes[mode] += <-done
			results[mode] = append(results[mode], res)
			fmt.Fprintf(os.Stderr, "round %d metrics %s: %v\n", r, mode, res)
			benchutil.StopBroker(cmd)
			os.RemoveAll(dir)
		}
	}
	med := func(mode, k string) float64 {
		var xs []float64
		for _, r := range results[mode] {
			xs = append(xs, r[k])
		}
		return benchutil.Median(xs)
	}
	fmt.Printf("produce %d records of %d B, acks=all, %d partitions; medians of %d rounds; %d scrapes in all with metrics on\n\n",
		*records, *size, *partitions, *rounds, scrapes["on"])
	fmt.Println("| metrics | records/s | MB/s | p50 ms | p99 ms | broker CPU-s/GB |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, m := range modes {
		fmt.Printf("| %s | %.0f | %.1f | %.2f | %.2f | %.3f |\n", m, med(m, "records_per_sec"), med(m, "mb_per_sec"),
			med(m, "latency_p50_ms"), med(m, "latency_p99_ms"), med(m, "cpu_s_per_gb"))
	}
	fmt.Printf("\nCPU cost of metrics: %+.1f %% (CPU-s/GB on vs off)\n", 100*(med("on", "cpu_s_per_gb")/med("off", "cpu_s_per_gb")-1))
}

// scrapeEvery GETs /metrics at addr every interval until ctx ends, and
// returns how many scrapes succeeded; with no addr it waits for ctx.
func scrapeEvery(ctx context.Context, addr string, every time.Duration) int {
	if addr == "" {
		<-ctx.Done()
		return 0
	}
	n := 0
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return n
		case <-t.C:
		}
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			fmt.Fprintf(os.Stderr, "scrape: %v\n", err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			n++
		}
	}
}
