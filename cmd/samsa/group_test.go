package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupFixture is a kfake cluster with topic "orders" (2 partitions): 10
// records in partition 0 and 3 in partition 1.
type groupFixture struct {
	t    *testing.T
	addr string
	adm  *kadm.Client
}

func newGroupFixture(t *testing.T) *groupFixture {
	t.Helper()
	addr := newCluster(t, 2, "orders")
	mustRun(t, strings.Repeat("r\n", 10), "produce", "orders", "--brokers", addr, "--partition", "0")
	mustRun(t, strings.Repeat("r\n", 3), "produce", "orders", "--brokers", addr, "--partition", "1")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	t.Cleanup(adm.Close)
	return &groupFixture{t: t, addr: addr, adm: adm}
}

func (f *groupFixture) group(args ...string) string {
	f.t.Helper()
	return mustRun(f.t, "", append([]string{"group", "--brokers", f.addr}, args...)...)
}

func (f *groupFixture) fail(want string, args ...string) {
	f.t.Helper()
	mustFail(f.t, want, "", append([]string{"group", "--brokers", f.addr}, args...)...)
}

// commit commits offsets for group outside any generation, as a tool
// does for an Empty group: offsets is topic → partition → offset.
func (f *groupFixture) commit(group string, offsets map[string]map[int32]int64) {
	f.t.Helper()
	os := make(kadm.Offsets)
	for t, ps := range offsets {
		for p, o := range ps {
			os.AddOffset(t, p, o, -1)
		}
	}
	if err := f.adm.CommitAllOffsets(context.Background(), group, os); err != nil {
		f.t.Fatalf("commit %v: %v", offsets, err)
	}
}

// committed renders the group's commits as "topic/partition=offset ...".
func (f *groupFixture) committed(group string) string {
	f.t.Helper()
	os, err := f.adm.FetchOffsets(context.Background(), group)
	if err != nil {
		f.t.Fatal(err)
	}
	var s []string
	for _, o := range os.Sorted() {
		s = append(s, fmt.Sprintf("%s/%d=%d", o.Topic, o.Partition, o.At))
	}
	return strings.Join(s, " ")
}

// member joins group as a consumer of topic that never commits, and
// waits until the group is Stable with every partition assigned.
func (f *groupFixture) member(group, topic string) *kgo.Client {
	f.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.addr), kgo.ClientID("app"),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(cl.Close)
	f.waitGroup(group, func(g kadm.DescribedGroup) bool {
		return g.State == "Stable" && len(g.AssignedPartitions()[topic]) > 0
	})
	return cl
}

func (f *groupFixture) waitGroup(group string, ok func(kadm.DescribedGroup) bool) kadm.DescribedGroup {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ds, err := f.adm.DescribeGroups(context.Background(), group)
		if err == nil && ok(ds[group]) {
			return ds[group]
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("group %s: condition not reached: %+v, %v", group, ds[group], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var runsOfSpaces = regexp.MustCompile(` {2,}`)

// cells rewrites tabwriter output with " | " between columns, so a test can
// check every value of a table whose widths depend on generated ids.
func cells(s string) string { return runsOfSpaces.ReplaceAllString(s, " | ") }

func TestGroupResetOffsets(t *testing.T) {
	t.Parallel()
	f := newGroupFixture(t)
	f.commit("app", map[string]map[int32]int64{"orders": {0: 4}})
	// The log of partition 0 now starts at 2: resets clamp to it.
	if _, err := f.adm.DeleteRecords(context.Background(), kadm.Offsets{"orders": {0: {Topic: "orders", Partition: 0, At: 2}}}); err != nil {
		t.Fatal(err)
	}

	equal(t, "to-earliest (dry run)", f.group("reset-offsets", "app", "--topic", "orders", "--to-earliest"), ""+
		"TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"orders  0          4               2\n"+
		"orders  1          -               0\n"+
		"Dry run: nothing committed; run with --execute to commit these offsets.\n")
	equal(t, "explicit --dry-run", f.group("reset-offsets", "app", "--topic", "orders:1", "--to-latest", "--dry-run"), ""+
		"TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"orders  1          -               3\n"+
		"Dry run: nothing committed; run with --execute to commit these offsets.\n")
	equal(t, "a dry run commits nothing", f.committed("app"), "orders/0=4")

	equal(t, "to-offset clamps to [log start, log end]", f.group("reset-offsets", "app", "--topic", "orders:0", "--topic", "orders:1", "--to-offset", "7"), ""+
		"TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"orders  0          4               7\n"+
		"orders  1          -               3\n"+
		"Dry run: nothing committed; run with --execute to commit these offsets.\n")
	equal(t, "to-offset below the log start", f.group("reset-offsets", "app", "--topic", "orders:0", "--to-offset", "0"), ""+
		"TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"orders  0          4               2\n"+
		"Dry run: nothing committed; run with --execute to commit these offsets.\n")
	equal(t, "shift-by", f.group("reset-offsets", "app", "--topic", "orders:0", "--shift-by", "-1"), ""+
		"TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"orders  0          4               3\n"+
		"Dry run: nothing committed; run with --execute to commit these offsets.\n")
	equal(t, "shift-by clamps", f.group("reset-offsets", "app", "--topic", "orders:0", "--shift-by", "100"), ""+
		"TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"orders  0          4               10\n"+
		"Dry run: nothing committed; run with --execute to commit these offsets.\n")
	f.fail(`reset offsets of group "app": cannot shift orders[1]: the group has no committed offset for it`,
		"reset-offsets", "app", "--topic", "orders", "--shift-by", "1")
	// Every record was produced before now: a time in the future finds
	// none and resets to the end; the epoch finds the first record.
	equal(t, "to-datetime in the future", f.group("reset-offsets", "app", "--topic", "orders", "--to-datetime", "2999-01-01T00:00:00Z"), ""+
		"TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"orders  0          4               10\n"+
		"orders  1          -               3\n"+
		"Dry run: nothing committed; run with --execute to commit these offsets.\n")
	equal(t, "to-datetime in ms", f.group("reset-offsets", "app", "--topic", "orders", "--to-datetime", "0"), ""+
		"TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"orders  0          4               2\n"+
		"orders  1          -               0\n"+
		"Dry run: nothing committed; run with --execute to commit these offsets.\n")

	equal(t, "execute", f.group("reset-offsets", "app", "--topic", "orders", "--to-offset", "1", "--execute"), ""+
		"TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"orders  0          4               2\n"+
		"orders  1          -               1\n"+
		"Committed new offsets of group app.\n")
	equal(t, "committed after execute", f.committed("app"), "orders/0=2 orders/1=1")
	equal(t, "all-topics takes the committed partitions", f.group("reset-offsets", "app", "--all-topics", "--shift-by", "1", "--execute"), ""+
		"TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"orders  0          2               3\n"+
		"orders  1          1               2\n"+
		"Committed new offsets of group app.\n")
	equal(t, "committed after all-topics", f.committed("app"), "orders/0=3 orders/1=2")
	// A group that does not exist yet is Dead: its offsets can be set.
	equal(t, "new group", f.group("reset-offsets", "fresh", "--topic", "orders:1", "--to-earliest", "--execute"), ""+
		"TOPIC   PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"orders  1          -               0\n"+
		"Committed new offsets of group fresh.\n")
	equal(t, "committed in the new group", f.committed("fresh"), "orders/1=0")

	f.fail("at least one of the flags in the group [to-earliest to-latest to-offset to-datetime shift-by] is required",
		"reset-offsets", "app", "--topic", "orders")
	f.fail("if any flags in the group [to-earliest to-latest to-offset to-datetime shift-by] are set none of the others can be",
		"reset-offsets", "app", "--topic", "orders", "--to-earliest", "--to-latest")
	f.fail("at least one of the flags in the group [topic all-topics] is required", "reset-offsets", "app", "--to-earliest")
	f.fail("none of the others can be", "reset-offsets", "app", "--all-topics", "--topic", "orders", "--to-earliest")
	f.fail("none of the others can be", "reset-offsets", "app", "--topic", "orders", "--to-earliest", "--dry-run", "--execute")
	f.fail("--to-offset must not be negative, got -1", "reset-offsets", "app", "--topic", "orders", "--to-offset", "-1")
	f.fail(`--to-datetime "yesterday": want RFC3339`, "reset-offsets", "app", "--topic", "orders", "--to-datetime", "yesterday")
	f.fail(`--topic "orders:x": partition "x" is not a partition number`, "reset-offsets", "app", "--topic", "orders:x", "--to-earliest")
	f.fail(`--topic "orders:": want TOPIC or TOPIC:PARTITION[,PARTITION]`, "reset-offsets", "app", "--topic", "orders:", "--to-earliest")
	f.fail(`reset offsets of group "app": topic "orders" has no partition 5 (it has 2)`, "reset-offsets", "app", "--topic", "orders:5", "--to-earliest")
	f.fail(`reset offsets of group "app": topic "nope": UNKNOWN_TOPIC_OR_PARTITION`, "reset-offsets", "app", "--topic", "nope", "--to-earliest")
	f.fail(`reset offsets of group "empty": the group has no committed offsets`, "reset-offsets", "empty", "--all-topics", "--to-earliest")
	equal(t, "failures commit nothing", f.committed("app"), "orders/0=3 orders/1=2")
}

func TestGroupResetOffsetsRefusesActiveGroup(t *testing.T) {
	t.Parallel()
	f := newGroupFixture(t)
	f.commit("live", map[string]map[int32]int64{"orders": {0: 4, 1: 1}})
	f.member("live", "orders")
	want := `cannot reset offsets of group "live": it is Stable with 1 member(s); offsets can only be changed while the group is inactive (Empty): stop its consumers first`
	r := mustFail(t, want, "", "group", "--brokers", f.addr, "reset-offsets", "live", "--topic", "orders", "--to-earliest", "--execute")
	equal(t, "no plan printed", r.stdout, "")
	mustFail(t, want, "", "group", "--brokers", f.addr, "reset-offsets", "live", "--all-topics", "--to-latest")
	equal(t, "offsets untouched", f.committed("live"), "orders/0=4 orders/1=1")

	// The process exit status is 1 with the message on stderr.
	var out, errOut strings.Builder
	code := run(t.Context(), []string{"group", "--brokers", f.addr, "reset-offsets", "live", "--topic", "orders", "--to-earliest"},
		strings.NewReader(""), &out, &errOut)
	if code != 1 || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q", code, out.String())
	}
	equal(t, "stderr", errOut.String(), "samsa: "+want+"\n")
}

func TestGroupDescribe(t *testing.T) {
	t.Parallel()
	f := newGroupFixture(t)
	mustRun(t, "", "topic", "--brokers", f.addr, "create", "payments", "--partitions", "1")
	mustRun(t, "a\nb\nc\nd\ne\n", "produce", "payments", "--brokers", f.addr)
	f.commit("app", map[string]map[int32]int64{"orders": {0: 4}, "payments": {0: 5}})

	// Empty group: every partition of each topic with a commit, lag only
	// where there is a commit, no owners.
	equal(t, "empty group", f.group("describe", "app"), ""+
		"Group: app  State: Empty  ProtocolType: -  Protocol: -  Members: 0\n"+
		"\n"+
		"TOPIC     PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  MEMBER-ID\n"+
		"orders    0          4               10              6    -\n"+
		"orders    1          -               3               -    -\n"+
		"payments  0          5               5               0    -\n")

	// A member that consumes orders but has not committed owns both of
	// its partitions; payments keeps its commit and has no owner.
	f.member("app", "orders")
	g := f.waitGroup("app", func(g kadm.DescribedGroup) bool { return g.State == "Stable" })
	if len(g.Members) != 1 {
		t.Fatalf("members: %+v", g.Members)
	}
	m := g.Members[0]
	out := f.group("describe", "app")
	out = strings.ReplaceAll(out, m.MemberID, "MEMBER")
	out = strings.ReplaceAll(out, m.ClientHost, "HOST")
	equal(t, "group with a member", cells(out), ""+
		"Group: app | State: Stable | ProtocolType: consumer | Protocol: "+g.Protocol+" | Members: 1\n"+
		"\n"+
		"MEMBER-ID | INSTANCE-ID | CLIENT-ID | HOST | ASSIGNMENT\n"+
		"MEMBER | - | app | HOST | orders:0,1\n"+
		"\n"+
		"TOPIC | PARTITION | CURRENT-OFFSET | LOG-END-OFFSET | LAG | MEMBER-ID\n"+
		"orders | 0 | 4 | 10 | 6 | MEMBER\n"+
		"orders | 1 | - | 3 | - | MEMBER\n"+
		"payments | 0 | 5 | 5 | 0 | -\n")

	// Two groups print one after the other; an unknown one is an error
	// after the others are printed.
	f.commit("other", map[string]map[int32]int64{"payments": {0: 1}})
	r := mustFail(t, `describe group "nope": GROUP_ID_NOT_FOUND`, "", "group", "--brokers", f.addr, "describe", "other", "nope", "other")
	equal(t, "two groups and an unknown", r.stdout, ""+
		"Group: other  State: Empty  ProtocolType: -  Protocol: -  Members: 0\n"+
		"\n"+
		"TOPIC     PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  MEMBER-ID\n"+
		"payments  0          1               5               4    -\n"+
		"\n"+
		"Group: other  State: Empty  ProtocolType: -  Protocol: -  Members: 0\n"+
		"\n"+
		"TOPIC     PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  MEMBER-ID\n"+
		"payments  0          1               5               4    -\n")
}

func TestGroupListDeleteAndDeleteOffsets(t *testing.T) {
	t.Parallel()
	f := newGroupFixture(t)
	equal(t, "no groups", f.group("list"), "GROUP  STATE  PROTOCOL-TYPE\n")
	f.commit("idle", map[string]map[int32]int64{"orders": {0: 1, 1: 2}})
	f.commit("busy", map[string]map[int32]int64{"orders": {0: 3}})
	f.member("busy", "orders")

	equal(t, "list", f.group("list"), ""+
		"GROUP  STATE   PROTOCOL-TYPE\n"+
		"busy   Stable  consumer\n"+
		"idle   Empty   -\n")
	equal(t, "list --state (any case)", f.group("list", "--state", "empty"), ""+
		"GROUP  STATE  PROTOCOL-TYPE\n"+
		"idle   Empty  -\n")
	equal(t, "list two states", f.group("list", "--state", "Stable,Empty"), ""+
		"GROUP  STATE   PROTOCOL-TYPE\n"+
		"busy   Stable  consumer\n"+
		"idle   Empty   -\n")
	f.fail(`--state "asleep": want one of PreparingRebalance, CompletingRebalance, Stable, Empty, Dead`, "list", "--state", "asleep")

	// Offsets of a topic the members consume cannot be deleted (KIP-496).
	r := mustFail(t, `delete offset of group "busy" for orders[0]: GROUP_SUBSCRIBED_TO_TOPIC`, "",
		"group", "--brokers", f.addr, "delete-offsets", "busy", "--topic", "orders:0")
	equal(t, "subscribed", cells(r.stdout), ""+
		"TOPIC | PARTITION | STATUS\n"+
		"orders | 0 | error: "+kerr.GroupSubscribedToTopic.Error()+"\n")
	equal(t, "delete-offsets one partition", f.group("delete-offsets", "idle", "--topic", "orders:1"), ""+
		"TOPIC   PARTITION  STATUS\n"+
		"orders  1          deleted\n")
	equal(t, "committed after delete-offsets", f.committed("idle"), "orders/0=1")
	equal(t, "delete-offsets a whole topic", f.group("delete-offsets", "idle", "--topic", "orders"), ""+
		"TOPIC   PARTITION  STATUS\n"+
		"orders  0          deleted\n"+
		"orders  1          deleted\n")
	equal(t, "nothing committed", f.committed("idle"), "")
	f.fail(`required flag(s) "topic" not set`, "delete-offsets", "idle")
	f.fail(`topic "nope": UNKNOWN_TOPIC_OR_PARTITION`, "delete-offsets", "idle", "--topic", "nope")

	f.fail(`delete group "busy": NON_EMPTY_GROUP`, "delete", "busy")
	equal(t, "delete", f.group("delete", "idle"), "Deleted group idle.\n")
	f.fail(`delete group "idle": GROUP_ID_NOT_FOUND`, "delete", "idle")
	equal(t, "list after delete", f.group("list"), ""+
		"GROUP  STATE   PROTOCOL-TYPE\n"+
		"busy   Stable  consumer\n")
}

// TestCommitPlanInChunks: a reset over many partitions commits them
// resetCommitChunk at a time, in plan order, reports every partition's
// error, stops at a failed request, and draws its bar only on a terminal.
func TestCommitPlanInChunks(t *testing.T) {
	var plan []resetRow
	for i := range 2*resetCommitChunk + 5 {
		plan = append(plan, resetRow{topic: fmt.Sprintf("t%d", i%3), partition: int32(i), newOffset: int64(i)})
	}
	var sizes []int
	var next int32
	commit := func(_ context.Context, os kadm.Offsets) (kadm.OffsetResponses, error) {
		sizes = append(sizes, len(os.Sorted()))
		resps := make(kadm.OffsetResponses)
		for _, o := range os.Sorted() {
			// Each chunk is the plan's next partitions.
			if o.Partition < next || o.Partition >= next+int32(len(os.Sorted())) {
				t.Fatalf("partition %d in the chunk after %d", o.Partition, next)
			}
			if int64(o.Partition) != o.At {
				t.Fatalf("partition %d committed at %d", o.Partition, o.At)
			}
			var err error
			if o.Partition == 7 || o.Partition == resetCommitChunk+1 {
				err = kerr.UnknownMemberID
			}
			resps.Add(kadm.OffsetResponse{Offset: o, Err: err})
		}
		next += int32(len(os.Sorted()))
		return resps, nil
	}
	var out strings.Builder
	err := commitPlan(context.Background(), commit, plan, newProgressBar(&out, true, "commit", int64(len(plan))))
	if want := []int{resetCommitChunk, resetCommitChunk, 5}; !slices.Equal(sizes, want) {
		t.Fatalf("chunks of %v, want %v", sizes, want)
	}
	if err == nil || !strings.Contains(err.Error(), "t1[7]: ") || !strings.Contains(err.Error(), fmt.Sprintf("t0[%d]: ", resetCommitChunk+1)) ||
		!errors.Is(err, kerr.UnknownMemberID) || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("errors: %v", err)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("%d/%d  partitions", len(plan), len(plan))) {
		t.Fatalf("bar: %q", out.String())
	}

	// A failed request stops the commit there.
	sizes = nil
	failing := func(context.Context, kadm.Offsets) (kadm.OffsetResponses, error) {
		sizes = append(sizes, 0)
		return nil, errors.New("broker gone")
	}
	out.Reset()
	if err := commitPlan(context.Background(), failing, plan, newProgressBar(&out, false, "commit", int64(len(plan)))); err == nil ||
		err.Error() != "broker gone" || len(sizes) != 1 {
		t.Fatalf("failed request: %v after %d requests", err, len(sizes))
	}
	if out.Len() != 0 {
		t.Fatalf("a bar drawn off a terminal: %q", out.String())
	}
}
