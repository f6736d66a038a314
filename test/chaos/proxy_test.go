package chaos

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestProxyHelperProcess is not a test: it is the "node" that
// TestProxyCut starts (this test binary with --node-id 7 on its command
// line). It dials $CHAOS_PROXY_DIAL, sends "ping", prints the answer, and
// prints "closed" when the connection ends.
func TestProxyHelperProcess(t *testing.T) {
	addr := os.Getenv("CHAOS_PROXY_DIAL")
	if addr == "" {
		t.Skip("helper process only")
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Println("closed")
		os.Exit(0)
	}
	fmt.Fprintln(c, "ping")
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err == nil {
		fmt.Print("answer ", line)
	}
	_, _ = io.Copy(io.Discard, r)
	fmt.Println("closed")
	os.Exit(0)
}

// TestProxyCut: the proxy knows a connection from a node process (by
// its --node-id) from one of the test's own, cuts the first when its link
// is cut (closing it, refusing new ones) and never the second, and lets
// new connections through once healed.
func TestProxyCut(t *testing.T) {
	t.Parallel()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintln(c, "pong", sc.Text())
				}
			}()
		}
	}()
	n := NewNetwork()
	defer n.Close()
	p, err := n.Listen(8, echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}

	// node starts the helper as node 7 and returns its output lines.
	node := func() (*exec.Cmd, *bufio.Scanner) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestProxyHelperProcess$", "--", "--node-id", "7")
		cmd.Env = append(os.Environ(), "CHAOS_PROXY_DIAL="+p.Addr())
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, bufio.NewScanner(out)
	}
	line := func(sc *bufio.Scanner) string {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("helper output ended: %v", sc.Err())
		}
		return sc.Text()
	}
	client, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	cr := bufio.NewReader(client)
	ask := func(what string) {
		t.Helper()
		client.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintln(client, what)
		got, err := cr.ReadString('\n')
		if want := "pong " + what + "\n"; err != nil || got != want {
			t.Fatalf("client: %q, %v; want %q", got, err, want)
		}
	}

	_, up := node()
	if got := line(up); got != "answer pong ping" {
		t.Fatalf("node 7 before the cut: %q", got)
	}
	ask("before")

	n.Cut(7, 8, Drop)
	if got := line(up); got != "closed" {
		t.Fatalf("node 7's connection after the cut: %q, want closed", got)
	}
	ask("during") // a client's connection is never cut
	_, refused := node()
	if got := line(refused); got != "closed" {
		t.Fatalf("a new connection from node 7 during the cut: %q, want closed", got)
	}

	n.Heal()
	_, healed := node()
	if got := line(healed); got != "answer pong ping" {
		t.Fatalf("node 7 after healing: %q", got)
	}
	ask("after")
}
