package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestStorageFormatThenStart: a data dir formatted with a cluster id
// starts a one-node cluster with that id, which `cluster describe` and
// `cluster quorum` print, with the node as the only broker and voter.
func TestStorageFormatThenStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := strings.TrimSuffix(mustRun(t, "", "storage", "random-uuid"), "\n")
	equal(t, "format", mustRun(t, "", "storage", "format", "--cluster-id", id, "--data-dir", dir),
		"Formatted "+dir+" for cluster "+id+", node 1.\n")

	b := cluster.StartIn(t, dir)
	addr := b.Addr()
	w := max(len(addr), len("ADDRESS")) + 2
	equal(t, "cluster describe", mustRun(t, "", "cluster", "describe", "--brokers", addr), ""+
		"Cluster ID: "+id+"\n"+
		"Controller: 1\n"+
		fmt.Sprintf("BROKER  %-*sRACK  FENCED\n", w, "ADDRESS")+
		fmt.Sprintf("1       %-*s-     no\n", w, addr))

	// The epoch and offsets come from the quorum itself (Raft's term and
	// indexes, which depend on how many records the start committed);
	// a one-node cluster has nothing more to commit while idle, so they
	// are the same in both answers. The leader's timestamps are the time
	// of the answer.
	before := time.Now().UnixMilli()
	out := mustRun(t, "", "cluster", "quorum", "--brokers", addr)
	after := time.Now().UnixMilli()
	q := describeQuorumForTest(t, addr)
	if len(q.CurrentVoters) != 1 {
		t.Fatalf("voters %+v, want one", q.CurrentVoters)
	}
	leo := q.CurrentVoters[0].LogEndOffset
	if q.HighWatermark != leo || leo <= 0 || q.LeaderEpoch <= 0 {
		t.Fatalf("high watermark %d, log end %d, epoch %d: want a caught-up quorum with entries", q.HighWatermark, leo, q.LeaderEpoch)
	}
	lines := strings.Split(out, "\n")
	if len(lines) != 12 {
		t.Fatalf("quorum printed %d lines, want 12:\n%s", len(lines), out)
	}
	row := strings.Fields(lines[10])
	if len(row) != 6 {
		t.Fatalf("voter row %q", lines[10])
	}
	for _, ts := range row[3:5] {
		if ms, err := strconv.ParseInt(ts, 10, 64); err != nil || ms < before || ms > after {
			t.Errorf("leader timestamp %s, want the time of the answer, in [%d, %d]", ts, before, after)
		}
	}
	stamp := row[3] + strings.Repeat(" ", 22-len(row[3])) + row[4] + strings.Repeat(" ", 26-len(row[4]))
	equal(t, "cluster quorum", out, fmt.Sprintf(""+
		"ClusterId:              %s\n"+
		"LeaderId:               1\n"+
		"LeaderEpoch:            %d\n"+
		"HighWatermark:          %d\n"+
		"MaxFollowerLag:         0\n"+
		"MaxFollowerLagTimeMs:   0\n"+
		"CurrentVoters:          [1]\n"+
		"CurrentObservers:       []\n"+
		"\n"+
		"NODE  LOG-END-OFFSET  LAG  LAST-FETCH-TIMESTAMP  LAST-CAUGHT-UP-TIMESTAMP  STATUS\n"+
		"1     %-14d  0    %sLeader\n", id, q.LeaderEpoch, leo, leo, stamp))

	// The running node holds the directory's lock.
	mustFail(t, "in use by another process", "", "storage", "format", "--cluster-id", id, "--data-dir", dir)
}

func describeQuorumForTest(t *testing.T, addr string) kmsg.DescribeQuorumResponseTopicPartition {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := describeQuorum(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStorageFormat(t *testing.T) {
	t.Parallel()
	const id, other = "MkU3OEVBNTcwNTJENDM2Qg", "4L6g3nShT-eMCtK--X86sw"
	dir := filepath.Join(t.TempDir(), "data")
	props := filepath.Join(dir, "meta.properties")
	content := func() string {
		t.Helper()
		b, err := os.ReadFile(props)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The node id and directory come from the config file, as for
	// `samsa broker --config`; --data-dir and --set override it.
	cfgFile := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(cfgFile, []byte("node.id=3\nlog.dirs=/nonexistent\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	format := func(args ...string) []string {
		return append([]string{"storage", "format", "--config", cfgFile, "--data-dir", dir}, args...)
	}

	equal(t, "format", mustRun(t, "", format("-t", id)...), "Formatted "+dir+" for cluster "+id+", node 3.\n")
	equal(t, "meta.properties", content(), "version=1\ncluster.id="+id+"\nnode.id=3\n")

	mustFail(t, "is already formatted for cluster "+id+", node 3 (--ignore-formatted accepts that)", "", format("-t", id)...)
	equal(t, "--ignore-formatted", mustRun(t, "", format("--cluster-id", id, "--ignore-formatted")...),
		dir+" is already formatted for cluster "+id+", node 3.\n")
	mustFail(t, "belongs to cluster "+id+", not "+other, "", format("-t", other, "--ignore-formatted")...)
	mustFail(t, "belongs to node.id 3, not 4", "", format("-t", id, "--node-id", "4", "--ignore-formatted")...)
	mustFail(t, "belongs to node.id 3, not 5", "", format("-t", id, "--set", "node.id=5")...)
	equal(t, "meta.properties after refusals", content(), "version=1\ncluster.id="+id+"\nnode.id=3\n")

	fresh := filepath.Join(t.TempDir(), "fresh")
	mustFail(t, "--cluster-id is required", "", "storage", "format", "--data-dir", fresh)
	mustFail(t, `cluster id "not-a-uuid" must be a UUID`, "", "storage", "format", "--data-dir", fresh, "-t", "not-a-uuid")
	mustFail(t, "--cluster-id "+id+" differs from the configured cluster.id "+other, "",
		"storage", "format", "--data-dir", fresh, "-t", id, "--set", "cluster.id="+other)
	mustFail(t, `config: log.segment.bytes="1"`, "", "storage", "format", "--data-dir", fresh, "-t", id, "--set", "log.segment.bytes=1")
	if _, err := os.Stat(filepath.Join(fresh, "meta.properties")); err == nil {
		t.Error("a refused format wrote meta.properties")
	}
	// A configured cluster.id is the default.
	equal(t, "format with cluster.id configured", mustRun(t, "", "storage", "format", "--data-dir", fresh, "--set", "cluster.id="+other),
		"Formatted "+fresh+" for cluster "+other+", node 1.\n")
}

func TestStorageRandomUUID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 20 {
		out := mustRun(t, "", "storage", "random-uuid")
		s, ok := strings.CutSuffix(out, "\n")
		if !ok || len(s) != 22 || s[0] == '-' {
			t.Fatalf("random-uuid printed %q, want 22 characters not starting with '-' and a newline", out)
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 16 {
			t.Fatalf("random-uuid %q decodes to %d bytes (%v), want 16", s, len(b), err)
		}
		if b[6]>>4 != 4 || b[8]>>6 != 2 {
			t.Errorf("random-uuid %q is not a version 4 IETF UUID", s)
		}
		if seen[s] {
			t.Fatalf("random-uuid printed %q twice", s)
		}
		seen[s] = true
	}
}

// TestWriteElections: an ElectLeaders answer is printed as
// kafka-leader-election prints it, partitions sorted, and any failed
// partition fails the command.
func TestWriteElections(t *testing.T) {
	t.Parallel()
	r := func(topic string, p int32, err error, msg string) kadm.ElectLeadersResult {
		return kadm.ElectLeadersResult{Topic: topic, Partition: p, Err: err, ErrMessage: msg}
	}
	rs := kadm.ElectLeadersResults{
		"orders": {
			2: r("orders", 2, nil, ""),
			0: r("orders", 0, nil, ""),
			1: r("orders", 1, kerr.ElectionNotNeeded, "Leader election not needed for topic partition."),
			3: r("orders", 3, kerr.PreferredLeaderNotAvailable, "The preferred leader was not available."),
		},
		"billing": {
			0: r("billing", 0, nil, ""),
			5: r("billing", 5, kerr.UnknownTopicOrPartition, "No such partition as billing-5"),
		},
	}
	var b strings.Builder
	err := writeElections(&b, kadm.ElectPreferredReplica, rs)
	if err == nil || err.Error() != "2 replica(s) could not be elected" {
		t.Errorf("error %v, want 2 replica(s) could not be elected", err)
	}
	equal(t, "preferred", b.String(), ""+
		"Successfully completed leader election (PREFERRED) for partitions billing-0, orders-0, orders-2\n"+
		"Valid replica already elected for partitions orders-1\n"+
		"Error completing leader election (PREFERRED) for partition: billing-5: UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition. (No such partition as billing-5)\n"+
		"Error completing leader election (PREFERRED) for partition: orders-3: PREFERRED_LEADER_NOT_AVAILABLE: The preferred leader was not available\n")

	b.Reset()
	if err := writeElections(&b, kadm.ElectLiveReplica, kadm.ElectLeadersResults{"orders": {0: r("orders", 0, nil, "")}}); err != nil {
		t.Errorf("unclean: %v", err)
	}
	equal(t, "unclean", b.String(), "Successfully completed leader election (UNCLEAN) for partitions orders-0\n")
	b.Reset()
	if err := writeElections(&b, kadm.ElectPreferredReplica, kadm.ElectLeadersResults{"orders": {}}); err != nil {
		t.Errorf("nothing elected: %v", err)
	}
	equal(t, "nothing to elect", b.String(), "")
}

// TestElectLeadersFlags: the partitions to elect are one --topic and
// --partition, or --all-topic-partitions, as kafka-leader-election takes
// them; nothing is sent otherwise.
func TestElectLeadersFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--topic", "t", "--partition", "0"}, `required flag(s) "election-type" not set`},
		{[]string{"--election-type", "fair", "--all-topic-partitions"}, `--election-type "fair": want preferred or unclean`},
		{[]string{"--election-type", "preferred"}, "give --topic and --partition, or --all-topic-partitions"},
		{[]string{"--election-type", "preferred", "--topic", "t"}, "give --topic and --partition, or --all-topic-partitions"},
		{[]string{"--election-type", "preferred", "--partition", "1"}, "give --topic and --partition, or --all-topic-partitions"},
		{[]string{"--election-type", "preferred", "--all-topic-partitions", "--topic", "t"}, "--all-topic-partitions excludes --topic and --partition"},
	} {
		mustFail(t, tc.want, "", append([]string{"cluster", "elect-leaders", "--brokers", "127.0.0.1:1"}, tc.args...)...)
	}
}
