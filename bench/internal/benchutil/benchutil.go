// Package benchutil holds what the load-generating benchmarks under bench/
// share: process CPU time, memory warming, free ports, running commands and
// medians.
package benchutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// WarmMemory touches n bytes of fresh anonymous memory, then frees it.
//
// A virtual machine with free page reporting (virtio-balloon, as on the
// Firecracker VMs these numbers come from) hands the guest's free memory
// back to its host; the next write to such a page traps to the host, which
// maps and zeroes it, and that time is charged to whichever guest process
// touched the page. A produce run fills about a GB of new page cache, so
// without this the broker's CPU-seconds swing by 2x with how long memory
// has lain free (a `perf` profile then shows 60% of the broker in the
// page-cache copy). Touching the memory just before the run gives every
// broker host-backed pages, so the CPU measured is the broker's own work.
func WarmMemory(n int) {
	if n <= 0 {
		return
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	Must(err)
	for i := 0; i < n; i += os.Getpagesize() {
		b[i] = 1
	}
	Must(syscall.Munmap(b))
}

// CPUSeconds is the process's user+system CPU time from /proc/PID/stat, or
// 0 for a process that is gone.
func CPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after ')' are fixed.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// WaitIdle waits until the process pid has used less than 10 ms of CPU in
// a 250 ms window (at most timeout): a broker finishing work a setup step
// started in the background (opening a thousand new partitions' logs)
// would otherwise bill it to the measurement that follows.
func WaitIdle(pid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for prev := CPUSeconds(pid); time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		cur := CPUSeconds(pid)
		if cur-prev < 0.01 {
			return
		}
		prev = cur
	}
}

// FreePort is a loopback TCP port the OS had free a moment ago.
func FreePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Must(err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitListening polls addr until it accepts a connection, for up to limit.
func WaitListening(addr string, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	Must(fmt.Errorf("%s never listened", addr))
}

// StartBroker starts a broker process (its stderr on ours, unless the
// caller set one) and waits up to limit for it to accept connections at
// addr.
func StartBroker(cmd *exec.Cmd, addr string, limit time.Duration) {
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	Must(cmd.Start())
	WaitListening(addr, limit)
}

// StopBroker stops a broker process with SIGTERM and waits for it to exit.
func StopBroker(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
}

// Run runs a command with its output on stderr and exits on failure.
func Run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	Must(cmd.Run())
}

// Output runs a command and returns its stdout, exiting on failure.
func Output(name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		Must(fmt.Errorf("%s %v: %w\n%s", name, args, err, out))
	}
	return string(out)
}

// PerfResult runs `samsa perf` (bin, args; --json is added) and returns the
// numbers of the JSON summary it prints on its last line.
func PerfResult(bin string, args ...string) map[string]float64 {
	out := Output(bin, append(append([]string{}, args...), "--json")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	raw := map[string]any{}
	Must(json.Unmarshal([]byte(lines[len(lines)-1]), &raw))
	res := map[string]float64{}
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			res[k] = f
		}
	}
	return res
}

// Median is the middle of xs (the upper middle for an even count), 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// Must exits with err when it is not nil.
func Must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, os.Args[0]+":", err)
		os.Exit(1)
	}
}
