package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestTopicReassignArgs: the modes exclude each other, plans are checked
// before any broker is asked (log_dirs "any" only), and --generate needs
// its topics and brokers.
func TestTopicReassignArgs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1],"log_dirs":["/var/kafka"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	noBroker := []string{"--brokers", "127.0.0.1:1", "--timeout", "1s"}
	for _, c := range []struct {
		want string
		args []string
	}{
		{"give exactly one of", []string{"topic", "reassign", "--plan", plan}},
		{"give exactly one of", []string{"topic", "reassign", "--plan", plan, "--execute", "--verify"}},
		{"need --plan FILE", []string{"topic", "reassign", "--execute"}},
		{`log_dirs "/var/kafka": samsa brokers have one log directory, so only "any" is accepted`, []string{"topic", "reassign", "--plan", plan, "--execute"}},
		{"no such file", []string{"topic", "reassign", "--plan", filepath.Join(dir, "none.json"), "--verify"}},
		{"--generate needs --topics and --broker-list", []string{"topic", "reassign", "--generate", "--topics", "a"}},
		{`--broker-list "x"`, []string{"topic", "reassign", "--generate", "--topics", "a", "--broker-list", "x"}},
	} {
		mustFail(t, c.want, "", append(c.args, noBroker...)...)
	}
}

// TestTopicReassignGenerate: --generate prints the topics' assignment and
// a plan in kafka-reassign-partitions' format; a balanced assignment plans
// nothing.
func TestTopicReassignGenerate(t *testing.T) {
	t.Parallel()
	addr := newCluster(t, 2, "g")
	current := `Current partition replica assignment
{"version":1,"partitions":[{"topic":"g","partition":0,"replicas":[0],"log_dirs":["any"]},{"topic":"g","partition":1,"replicas":[0],"log_dirs":["any"]}]}

`
	equal(t, "generate, balanced", mustRun(t, "", "topic", "reassign", "--generate", "--topics", "g", "--broker-list", "0", "--brokers", addr),
		current+"The replicas and preferred leaders are balanced: nothing to move.\n")
	equal(t, "generate, a broker more", mustRun(t, "", "topic", "reassign", "--generate", "--topics", "g", "--broker-list", "0,1", "--brokers", addr),
		current+`Proposed partition reassignment configuration
{"version":1,"partitions":[{"topic":"g","partition":0,"replicas":[1],"log_dirs":["any"]}]}
`)
}

// TestTopicReassignWait: --execute --wait returns once the replicas have
// moved (a follower caught up with the partition's records), then
// verifies; piped, it draws no progress bar.
func TestTopicReassignWait(t *testing.T) {
	t.Parallel()
	nodes := cluster.StartQuorum(t, 2)
	addr := cluster.Bootstrap(nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createAssigned(t, ctx, nodes[0].Addr(), "r", [][]int32{{1}, {1}})
	mustRun(t, strings.Repeat("x\n", 100), "produce", "r", "--brokers", addr, "--partition", "0")
	plan := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[`+
		`{"topic":"r","partition":0,"replicas":[2,1],"log_dirs":["any","any"]},`+
		`{"topic":"r","partition":1,"replicas":[2],"log_dirs":["any"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := samsa(t, "", "topic", "reassign", "--plan", plan, "--execute", "--wait", "--brokers", addr)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	equal(t, "execute --wait", r.stdout, "Successfully started partition reassignments for r-0, r-1\n"+
		"Reassignment of partition r-0 is completed.\n"+
		"Reassignment of partition r-1 is completed.\n")
	equal(t, "stderr", r.stderr, "")
	mustFail(t, "--wait goes with --execute", "", "topic", "reassign", "--plan", plan, "--verify", "--wait", "--brokers", addr)
}
