// Command compare runs `samsa perf` against samsa and against franz-go's
// kfake (data directory on disk) on this machine, alternating the two in
// each round, and prints a markdown table of medians for
// docs/benchmarks.md: produce 1 KB and 100 B records with acks=all,
// consume from the start, end-to-end latency at a fixed rate, and each
// broker's CPU-seconds per GB produced (from /proc/PID/stat).
//
//	go run ./bench/compare -rounds 3
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/samsa-kafka/samsa/bench/internal/benchutil"
)

type result map[string]float64

func main() {
	rounds := flag.Int("rounds", 3, "rounds; each runs every workload on both brokers")
	big := flag.Int("records-1k", 300000, "1 KB records per produce run")
	small := flag.Int("records-100b", 2000000, "100 B records per produce run")
	rate := flag.Int("e2e-rate", 10000, "end-to-end records/s")
	dur := flag.Duration("e2e-duration", 20*time.Second, "end-to-end duration")
	partitions := flag.Int("partitions", 4, "partitions per topic")
	warmGiB := flag.Int("warm-gib", 3, "GiB of memory to touch and free before each produce run (0: none); see docs/benchmarks.md")
	flag.Parse()

	work, err := os.MkdirTemp("", "samsa-bench-")
	benchutil.Must(err)
	defer os.RemoveAll(work)
	samsaBin := filepath.Join(work, "samsa")
	kfakeBin := filepath.Join(work, "kfake")
	benchutil.Run("go", "build", "-o", samsaBin, "./cmd/samsa")
	benchutil.Run("go", "build", "-o", kfakeBin, "./bench/kfake")

	type broker struct {
		name  string
		start func(dir string, port int) *exec.Cmd
	}
	brokers := []broker{
		{"samsa", func(dir string, port int) *exec.Cmd {
			return exec.Command(samsaBin, "broker", "--data-dir", dir, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-level", "warn")
		}},
		{"kfake", func(dir string, port int) *exec.Cmd {
			return exec.Command(kfakeBin, "-data-dir", dir, "-port", strconv.Itoa(port))
		}},
	}
	results := map[string]map[string][]result{} // broker → workload → runs
	for r := 0; r < *rounds; r++ {
		for i := range brokers {
			b := brokers[(i+r)%len(brokers)] // alternate who goes first
			dir := filepath.Join(work, fmt.Sprintf("%s-%d", b.name, r))
			port := benchutil.FreePort()
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			cmd := b.start(dir, port)
			benchutil.StartBroker(cmd, addr, 30*time.Second)
			perf := func(args ...string) result {
				return benchutil.PerfResult(samsaBin, append(args, "--brokers", addr)...)
			}
			topic := func(name string) {
				benchutil.Run(samsaBin, "topic", "create", name, "--partitions", strconv.Itoa(*partitions), "--brokers", addr)
			}
			rec := func(w string, res result) {
				if results[b.name] == nil {
					results[b.name] = map[string][]result{}
				}
				results[b.name][w] = append(results[b.name][w], res)
				fmt.Fprintf(os.Stderr, "round %d %s %s: %v\n", r, b.name, w, res)
			}
			topic("p1k")
			benchutil.WarmMemory(*warmGiB << 30)
			cpu0 := benchutil.CPUSeconds(cmd.Process.Pid)
			res := perf("perf", "produce", "--topic", "p1k", "--num-records", strconv.Itoa(*big), "--record-size", "1000", "--acks", "all")
			res["cpu_s_per_gb"] = (benchutil.CPUSeconds(cmd.Process.Pid) - cpu0) / (res["bytes"] / 1e9)
			rec("produce-1KB", res)

			topic("p100")
			benchutil.WarmMemory(*warmGiB << 30)
			cpu0 = benchutil.CPUSeconds(cmd.Process.Pid)
			res = perf("perf", "produce", "--topic", "p100", "--num-records", strconv.Itoa(*small), "--record-size", "100", "--acks", "all")
			res["cpu_s_per_gb"] = (benchutil.CPUSeconds(cmd.Process.Pid) - cpu0) / (res["bytes"] / 1e9)
			rec("produce-100B", res)

			cpu0 = benchutil.CPUSeconds(cmd.Process.Pid)
			res = perf("perf", "consume", "--topic", "p1k", "--messages", strconv.Itoa(*big))
			res["cpu_s_per_gb"] = (benchutil.CPUSeconds(cmd.Process.Pid) - cpu0) / (res["bytes"] / 1e9)
			rec("consume-1KB", res)

			topic("e2e")
			res = perf("perf", "e2e", "--topic", "e2e", "--rate", strconv.Itoa(*rate), "--duration", dur.String(), "--record-size", "100")
			rec("e2e", res)

			benchutil.StopBroker(cmd)
			os.RemoveAll(dir)
		}
	}
	report(results)
}

func report(results map[string]map[string][]result) {
	med := func(b, w, k string) float64 {
		var xs []float64
		for _, r := range results[b][w] {
			xs = append(xs, r[k])
		}
		return benchutil.Median(xs)
	}
	fmt.Println("| workload | broker | records/s | MB/s | p50 ms | p99 ms | broker CPU-s/GB |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	for _, w := range []string{"produce-1KB", "produce-100B", "consume-1KB", "e2e"} {
		for _, b := range []string{"samsa", "kfake"} {
			rps, mbs := med(b, w, "records_per_sec"), med(b, w, "mb_per_sec")
			if w == "e2e" {
				rps = med(b, w, "sent_records_per_sec")
			}
			cpu := "-"
			if w != "e2e" {
				cpu = fmt.Sprintf("%.2f", med(b, w, "cpu_s_per_gb"))
			}
			p50, p99 := "-", "-"
			if w != "consume-1KB" {
				p50, p99 = fmt.Sprintf("%.2f", med(b, w, "latency_p50_ms")), fmt.Sprintf("%.2f", med(b, w, "latency_p99_ms"))
			}
			fmt.Printf("| %s | %s | %.0f | %.1f | %s | %s | %s |\n", w, b, rps, mbs, p50, p99, cpu)
		}
	}
	fmt.Println()
	fmt.Println("Ratios samsa/kfake (medians):")
	for _, w := range []string{"produce-1KB", "produce-100B", "consume-1KB"} {
		fmt.Printf("- %s throughput: %.2fx\n", w, med("samsa", w, "records_per_sec")/med("kfake", w, "records_per_sec"))
	}
	fmt.Printf("- e2e p99: samsa %.2f ms vs kfake %.2f ms\n", med("samsa", "e2e", "latency_p99_ms"), med("kfake", "e2e", "latency_p99_ms"))
}
