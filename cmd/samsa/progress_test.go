package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRenderBar(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		done, total int64
		want        string
	}{
		{0, 1000, "produce [>                             ]   0%  0/1000  9.5 records/sec"},
		{380, 1000, "produce [===========>                  ]  38%  380/1000  9.5 records/sec"},
		{1000, 1000, "produce [==============================] 100%  1000/1000  9.5 records/sec"},
		{5, 0, "produce [>                             ]   0%  5/0  9.5 records/sec"},
	} {
		if got := renderBar("produce", tc.done, tc.total, "9.5 records/sec"); got != tc.want {
			t.Errorf("renderBar(%d, %d):\n got %q\nwant %q", tc.done, tc.total, got, tc.want)
		}
	}
}

// controlChars reports the first terminal control character in s, other
// than the newline.
func controlChars(s string) (rune, bool) {
	for _, r := range s {
		if r != '\n' && (r < ' ' || r == 0x7f) {
			return r, true
		}
	}
	return 0, false
}

// TestPerfNoBarWithoutTerminal: piped, the perf commands print their
// progress lines and summaries and no control characters.
func TestPerfNoBarWithoutTerminal(t *testing.T) {
	t.Parallel()
	b := newCluster(t, 1, "t")
	for _, args := range [][]string{
		{"perf", "produce", "--brokers", b, "--topic", "t", "--num-records", "200", "--throughput", "400"},
		{"perf", "consume", "--brokers", b, "--topic", "t", "--messages", "200"},
	} {
		r := samsa(t, "", args...)
		if r.err != nil {
			t.Fatalf("%v: %v", args, r.err)
		}
		if c, ok := controlChars(r.stdout + r.stderr); ok {
			t.Errorf("%v printed control character %q:\nstdout %q\nstderr %q", args, c, r.stdout, r.stderr)
		}
	}
}

// openPTY opens a pseudo-terminal pair: what is written to tty is read
// from pty.
func openPTY(t *testing.T) (pty, tty *os.File) {
	t.Helper()
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { pty.Close() })
	if err := unix.IoctlSetPointerInt(int(pty.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(pty.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open tty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return pty, tty
}

// TestPerfBarOnTerminal: with stderr a terminal, perf produce draws its bar
// (ending full) instead of progress lines.
func TestPerfBarOnTerminal(t *testing.T) {
	t.Parallel()
	pty, tty := openPTY(t)
	if !isTerminal(tty) {
		t.Fatal("isTerminal(tty) = false")
	}
	var out bytes.Buffer
	read := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(pty); read <- b }()

	b := newCluster(t, 1, "t")
	root := newRootCmd()
	root.SetArgs([]string{"perf", "produce", "--brokers", b, "--topic", "t", "--num-records", "300", "--throughput", "1000"})
	root.SetIn(strings.NewReader(""))
	root.SetOut(&out)
	root.SetErr(tty)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	screen := string(<-read)
	if !strings.Contains(screen, "\rproduce [==============================] 100%  300/300  ") || !strings.HasSuffix(screen, "\r\n") {
		t.Errorf("terminal got %q", screen)
	}
	if strings.Contains(screen, "records sent,") {
		t.Errorf("progress lines on a terminal: %q", screen)
	}
	if !strings.HasPrefix(out.String(), "300 records sent, ") {
		t.Errorf("summary %q", out.String())
	}
}
