package main

import (
	"os"
	"path/filepath"
	"testing"
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
