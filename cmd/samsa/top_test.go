package main

import (
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
