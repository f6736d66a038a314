package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestProduceConsumeKeysAndHeaders(t *testing.T) {
	t.Parallel()
	b := newCluster(t, 1, "t")
	// The last line has no newline; ":v3" has an empty (not null) key.
	mustRun(t, "k1:v1\nnokey\r\n:v3\n\nk5:a:b", "produce", "t", "--brokers", b,
		"--key-separator", ":", "--header", "h=1", "--header", "e=")
	got := mustRun(t, "", "consume", "t", "--brokers", b, "--from-beginning", "--exit", "--format", `%k=%v %h\n`)
	equal(t, "consume", got, ""+
		"k1=v1 h=1,e=\n"+
		"=nokey h=1,e=\n"+
		"=v3 h=1,e=\n"+
		"= h=1,e=\n"+
		"k5=a:b h=1,e=\n")
}

func TestConsumeOffsetsAndPartitions(t *testing.T) {
	t.Parallel()
	b := newCluster(t, 2, "t")
	mustRun(t, "a\nb\nc\n", "produce", "t", "--brokers", b, "--partition", "0")
	mustRun(t, "x\ny\n", "produce", "t", "--brokers", b, "--partition", "1")
	consume := func(args ...string) string {
		return mustRun(t, "", append([]string{"consume", "t", "--brokers", b, "--format", `%T/%p/%o:%v\n`}, args...)...)
	}

	equal(t, "--offset 1", consume("--partition", "0", "--offset", "1", "--exit"), "t/0/1:b\nt/0/2:c\n")
	equal(t, "--offset -1", consume("--partition", "0", "--offset", "-1", "--exit"), "t/0/2:c\n")
	equal(t, "--offset -10 clamps to the log start", consume("--partition", "1", "--offset", "-10", "--exit"), "t/1/0:x\nt/1/1:y\n")
	equal(t, "--offset past the end", consume("--offset", "99", "--exit"), "")
	equal(t, "latest", consume("--exit"), "")
	equal(t, "--timestamp 0", consume("--partition", "1", "--timestamp", "0", "--exit"), "t/1/0:x\nt/1/1:y\n")
	equal(t, "--timestamp in the future", consume("--timestamp", "2100-01-01T00:00:00Z", "--exit"), "")
	equal(t, "--max-messages", consume("--partition", "0", "--from-beginning", "--max-messages", "2"), "t/0/0:a\nt/0/1:b\n")
	equal(t, "--max-messages with --exit", consume("--partition", "1", "--from-beginning", "--max-messages", "5", "--exit"), "t/1/0:x\nt/1/1:y\n")

	// Both partitions: the order between them is not defined.
	lines := strings.SplitAfter(consume("--from-beginning", "--exit"), "\n")
	slices.Sort(lines)
	equal(t, "all partitions", strings.Join(lines, ""), "t/0/0:a\nt/0/1:b\nt/0/2:c\nt/1/0:x\nt/1/1:y\n")
	lines = strings.SplitAfter(consume("--partition", "1", "--partition", "0", "--offset", "1", "--exit"), "\n")
	slices.Sort(lines)
	equal(t, "two partitions from offset 1", strings.Join(lines, ""), "t/0/1:b\nt/0/2:c\nt/1/1:y\n")
}

func TestConsumeGroupCommitsPrintedRecords(t *testing.T) {
	t.Parallel()
	b := newCluster(t, 1, "t")
	mustRun(t, "a\nb\nc\n", "produce", "t", "--brokers", b)
	consume := func(args ...string) string {
		return mustRun(t, "", append([]string{"consume", "t", "--brokers", b, "--group", "g", "--from-beginning"}, args...)...)
	}
	// The first member stops after two records; the group's commit must
	// cover exactly those, so the next member starts at the third.
	equal(t, "first member", consume("--max-messages", "2"), "a\nb\n")
	equal(t, "second member", consume("--exit"), "c\n")
	equal(t, "nothing left", consume("--exit"), "")
}

func TestProduceAndConsumeErrors(t *testing.T) {
	t.Parallel()
	b := newCluster(t, 1, "t")
	mustFail(t, `--header "x": want key=value`, "a\n", "produce", "t", "--brokers", b, "--header", "x")
	mustFail(t, "--acks \"2\"", "a\n", "produce", "t", "--brokers", b, "--acks", "2")
	mustFail(t, "--compression \"brotli\"", "a\n", "produce", "t", "--brokers", b, "--compression", "brotli")
	mustFail(t, "--key-separator must not be empty", "a\n", "produce", "t", "--brokers", b, "--key-separator", "")
	mustFail(t, `topic "nope": UNKNOWN_TOPIC_OR_PARTITION`, "", "consume", "nope", "--brokers", b, "--exit")
	mustFail(t, `topic "t" has no partition 7 (it has 1)`, "", "consume", "t", "--brokers", b, "--partition", "7")
	mustFail(t, `--isolation "dirty"`, "", "consume", "t", "--brokers", b, "--isolation", "dirty")
	mustFail(t, "unknown placeholder %q", "", "consume", "t", "--brokers", b, "--format", "%q")
	mustFail(t, "none of the others can be", "", "consume", "t", "--brokers", b, "--from-beginning", "--offset", "1")
	mustFail(t, `--timestamp "yesterday"`, "", "consume", "t", "--brokers", b, "--timestamp", "yesterday")

	// A record for a partition that does not exist fails; the command
	// reports it and exits non-zero, after delivering the others.
	r := mustFail(t, "0 of 1 records delivered; 1 failed", "a\n", "produce", "t", "--brokers", b, "--partition", "5")
	if !strings.Contains(r.stderr, `samsa: record "a": `) {
		t.Errorf("stderr %q does not name the failed record", r.stderr)
	}
}

func TestConsumeTransactionsExit(t *testing.T) {
	t.Parallel()
	b := newCluster(t, 1, "t")
	// One committed and one aborted transaction: the log ends with an
	// abort marker, which --exit must see to know the partition is done.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b), kgo.TransactionalID("tx"), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		value  string
		commit kgo.TransactionEndTry
	}{{"committed", kgo.TryCommit}, {"aborted", kgo.TryAbort}} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(tc.value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, tc.commit); err != nil {
			t.Fatal(err)
		}
	}
	consume := func(isolation string) string {
		return mustRun(t, "", "consume", "t", "--brokers", b, "--from-beginning", "--exit", "--isolation", isolation,
			"--format", `%o:%v\n`)
	}
	equal(t, "read_committed", consume("read_committed"), "0:committed\n")
	equal(t, "read_uncommitted", consume("read_uncommitted"), "0:committed\n2:aborted\n")
}
