// Package cluster starts samsa brokers for black-box tests: in-process (fast,
// and the tests can reach the broker's stats) or as real processes of the
// samsa binary (so a test can SIGKILL one). Brokers listen on 127.0.0.1
// with an OS-chosen port, so tests run in parallel.
package cluster

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/broker"
	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/log"
)

// Broker is an in-process broker started by Start.
type Broker struct {
	*broker.Broker
	Dir       string
	sets      []string
	overrides map[string]string
	fs        log.FS // nil: the OS's
	t         testing.TB
}

// Start runs an in-process broker with a fresh data dir and the given
// --set style overrides ("num.partitions=3"). It stops when the test ends.
func Start(t testing.TB, sets ...string) *Broker {
	t.Helper()
	return StartIn(t, t.TempDir(), sets...)
}

// StartIn is Start on an existing data dir (to restart on the same data).
func StartIn(t testing.TB, dir string, sets ...string) *Broker {
	t.Helper()
	return startNode(t, dir, nil, map[string]string{"listeners": "127.0.0.1:0"}, sets)
}

// StartListeners is Start with the given listeners
// ("INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0") in place of one
// PLAINTEXT listener; sets name their protocols.
func StartListeners(t testing.TB, listeners string, sets ...string) *Broker {
	t.Helper()
	return startNode(t, t.TempDir(), nil, map[string]string{"listeners": listeners}, sets)
}

// startNode starts an in-process node on dir with overrides (beating sets),
// its logs on fs (nil: the OS's).
func startNode(t testing.TB, dir string, fs log.FS, overrides map[string]string, sets []string) *Broker {
	t.Helper()
	overrides["log.dirs"] = dir
	// No HTTP listener unless the test asks for one: a fixed default port
	// cannot serve parallel tests.
	sets = append([]string{"samsa.http.listen="}, sets...)
	cfg, err := config.Load("", sets, overrides)
	if err != nil {
		t.Fatalf("cluster: config: %v", err)
	}
	level := slog.LevelWarn
	if os.Getenv("SAMSA_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	b, err := broker.Start(cfg, broker.Options{Logger: logger, LogFS: fs})
	if err != nil {
		t.Fatalf("cluster: start broker: %v", err)
	}
	br := &Broker{Broker: b, Dir: dir, sets: sets, overrides: overrides, fs: fs, t: t}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { br.stop() }) })
	return br
}

func (b *Broker) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.Broker.Shutdown(ctx)
}

// Restart shuts the broker down cleanly and starts a new one on the same
// data dir (on a new port).
func (b *Broker) Restart() *Broker {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Broker.Shutdown(ctx); err != nil {
		b.t.Fatalf("cluster: shutdown: %v", err)
	}
	return startNode(b.t, b.Dir, b.fs, b.overrides, b.sets)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds the samsa binary once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "samsa-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "samsa")
		buildErr = build(binPath)
	})
	if buildErr != nil {
		t.Fatalf("cluster: %v", buildErr)
	}
	return binPath
}

// BinaryWithTags builds the samsa binary with build tags (a planted bug,
// say) into a directory of the test's, and returns its path.
func BinaryWithTags(t testing.TB, tags ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "samsa")
	if err := build(path, "-tags", strings.Join(tags, ",")); err != nil {
		t.Fatalf("cluster: %v", err)
	}
	return path
}

// build runs go build of ./cmd/samsa into path with extra flags.
func build(path string, flags ...string) error {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	args := append([]string{"build", "-o", path}, flags...)
	if raceBuild {
		// Tests run with -race start race-enabled brokers too, so
		// fault scenarios check the broker for data races.
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/samsa")...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// Process is a samsa node running as a child process.
type Process struct {
	t   testing.TB
	Dir string
	// Addr is the client listener's address; "" on a controller-only node,
	// which serves no clients.
	Addr string
	bin  string // "" is Binary's
	args []string
	cmd  *exec.Cmd
	// exited is closed once the process has been waited for; waitErr is
	// its exit error, readable after exited is closed.
	exited  chan struct{}
	waitErr error
	log     *syncBuffer
}

// StartProcess runs `samsa broker` on dir with extra args, and waits until
// it has started: a node with the broker role accepts connections (its
// start line is printed once it listens), a controller-only node
// (--process-roles controller) serves its controller listener.
func StartProcess(t testing.TB, dir string, args ...string) *Process {
	t.Helper()
	return StartBinary(t, "", dir, args...)
}

// StartBinary is StartProcess of the samsa binary at bin (one from
// BinaryWithTags); "" is Binary's.
func StartBinary(t testing.TB, bin, dir string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, Dir: dir, bin: bin, args: args}
	p.start()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		p.checkRaces()
	})
	return p
}

func (p *Process) start() {
	p.t.Helper()
	// The port is picked by listening and closing, so another socket can
	// take it before the broker binds it: that start is retried on a new
	// port. Any other failure to start fails the test.
	for try := 1; ; try++ {
		if p.startOnce() {
			return
		}
		if try == 5 || !strings.Contains(p.log.String(), "address already in use") {
			p.t.Fatalf("cluster: broker exited at start: %v; log:\n%s", p.waitErr, p.log.String())
		}
	}
}

// startOnce starts the broker on a fresh port and waits for its start line;
// false means it exited first.
func (p *Process) startOnce() bool {
	p.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.t.Fatal(err)
	}
	p.Addr = ln.Addr().String()
	ln.Close()
	// --http "" first: a later --http or --set of the test's wins.
	args := append([]string{"broker", "--listen", p.Addr, "--data-dir", p.Dir, "--set", "samsa.http.listen="}, p.args...)
	bin := p.bin
	if bin == "" {
		bin = Binary(p.t)
	}
	p.cmd = exec.Command(bin, args...)
	if p.log != nil {
		p.checkRaces() // the previous run's log is replaced
	}
	p.log = &syncBuffer{}
	p.cmd.Stdout = p.log
	stderr, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	// The start line: "broker" for a node with the broker role,
	// "controller" for a controller-only one; "" means it exited first.
	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stderr, p.log))
		signalled := false
		for sc.Scan() {
			if signalled {
				continue
			}
			for _, role := range []string{"broker", "controller"} {
				if strings.Contains(sc.Text(), "samsa "+role+" started") {
					started <- role
					signalled = true
				}
			}
		}
		if !signalled {
			started <- ""
		}
	}()
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case role := <-started:
		switch role {
		case "":
			<-p.exited
			return false
		case "controller":
			p.Addr = "" // --listen binds nothing without the broker role
		}
		return true
	case <-time.After(60 * time.Second):
		p.t.Fatalf("cluster: broker did not start; log:\n%s", p.log.String())
		return false
	}
}

// Kill sends SIGKILL and waits for the process to die.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Pause stops the process with SIGSTOP: it keeps its sockets and state but
// runs nothing (no heartbeats, no Raft), as a long GC pause or a stalled VM.
func (p *Process) Pause() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		p.t.Fatalf("cluster: SIGSTOP: %v", err)
	}
}

// Resume continues a paused process with SIGCONT.
func (p *Process) Resume() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		p.t.Fatalf("cluster: SIGCONT: %v", err)
	}
}

// Stop sends SIGTERM and waits; it returns the exit error (nil for exit 0).
func (p *Process) Stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.waitErr
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("cluster: broker did not exit within 30s of SIGTERM")
	}
}

// Restart starts the node again on the same data dir and args. The client
// listener gets a new port (Addr changes); ports named in args, such as
// --controller-listen, stay.
func (p *Process) Restart() { p.start() }

// checkRaces fails the test if a race-enabled broker reported a data race.
func (p *Process) checkRaces() {
	if log := p.log.String(); strings.Contains(log, "WARNING: DATA RACE") {
		p.t.Errorf("cluster: the broker in %s reported a data race; log:\n%s", p.Dir, log)
	}
}

// Log is what the broker printed.
func (p *Process) Log() string { return p.log.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(b)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
