package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestTopOnce: one frame of `top` on a seeded cluster, at rest, so every
// rate is zero and the offsets, sizes and lag are exact. Each record is
// produced by its own run, so each is a batch of its own: 61 bytes of
// batch header and 8 of record.
func TestTopOnce(t *testing.T) {
	t.Parallel()
	b := cluster.Start(t)
	run := func(stdin string, args ...string) string {
		t.Helper()
		return mustRun(t, stdin, append(args, "--brokers", b.Addr())...)
	}
	run("", "topic", "create", "orders", "--partitions", "2")
	run("", "topic", "create", "empty", "--partitions", "1")
	run("a\n", "produce", "orders", "--partition", "0")
	run("b\n", "produce", "orders", "--partition", "1")
	run("", "consume", "orders", "--group", "g", "--from-beginning", "--max-messages", "2")
	for range 3 {
		run("c\n", "produce", "orders", "--partition", "0")
	}
	equal(t, "top --once", run("", "top", "--once", "--interval", "100ms"), `brokers: 1  topics: 2  groups: 1

TOPIC   PARTITIONS  RECORDS/S  BYTES/S  END OFFSETS  SIZE
empty   1           0.0        0 B      0            0 B
orders  2           0.0        0 B      5            345 B

GROUP  STATE  MEMBERS  LAG  LAG TREND
g      Empty  0        3    steady
`)
}

// TestTopFrameRates: rates are the change between two samples per second.
func TestTopFrameRates(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	prev := topSample{at: t0, brokers: 3,
		topics: map[string]topicSample{"t": {partitions: 4, end: 100, size: 1000}},
		groups: map[string]groupSample{"up": {state: "Stable", members: 2, lag: 10}, "down": {state: "Stable", members: 1, lag: 10}},
	}
	cur := topSample{at: t0.Add(2 * time.Second), brokers: 3,
		topics: map[string]topicSample{"t": {partitions: 4, end: 300, size: 5096}, "new": {partitions: 1}},
		groups: map[string]groupSample{"up": {state: "Stable", members: 2, lag: 30}, "down": {state: "Stable", members: 1, lag: 4}},
	}
	var b strings.Builder
	writeTopFrame(&b, prev, cur)
	equal(t, "frame", b.String(), `brokers: 3  topics: 2  groups: 2

TOPIC  PARTITIONS  RECORDS/S  BYTES/S  END OFFSETS  SIZE
new    1           -          -        0            0 B
t      4           100.0      2.0 KB   300          5.0 KB

GROUP  STATE   MEMBERS  LAG  LAG TREND
down   Stable  1        4    shrinking -3.0/s
up     Stable  2        30   growing +10.0/s
`)
}

// TestTopRedrawsOnTerminal: on a terminal each frame homes the cursor and
// clears the screen first, under a title line with the time.
func TestTopRedrawsOnTerminal(t *testing.T) {
	t.Parallel()
	pty, tty := openPTY(t)
	b := newCluster(t, 1, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := newRootCmd()
	root.SetArgs([]string{"top", "--interval", "50ms", "--brokers", b})
	root.SetOut(tty)
	root.SetErr(tty)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	var screen []byte
	buf := make([]byte, 4096)
	for strings.Count(string(screen), "GROUP") < 2 {
		n, err := pty.Read(buf)
		if err != nil {
			t.Fatalf("read terminal: %v (got %q)", err, screen)
		}
		screen = append(screen, buf[:n]...)
	}
	cancel() // an interrupt ends the view without an error
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	frames := strings.Split(string(screen), "\x1b[H\x1b[2J")
	if len(frames) < 3 || frames[0] != "" {
		t.Fatalf("frames not each after a clear: %q", screen)
	}
	if !regexp.MustCompile(`^samsa top  \d\d:\d\d:\d\d  every 50ms  \(Ctrl-C to quit\)\r\n\r\nbrokers: 1  topics: 1  groups: 0\r\n`).MatchString(frames[1]) {
		t.Errorf("frame %q", frames[1])
	}
}
