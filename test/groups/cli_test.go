package groups

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestGroupCLI runs `samsa group` (the binary) against a samsa broker: the
// admin requests behind it (ListGroups with a state filter, DescribeGroups,
// OffsetFetch, OffsetCommit outside a generation, OffsetDelete,
// DeleteGroups) answered as Kafka answers them.
func TestGroupCLI(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	bin := cluster.Binary(t)
	ctx := testCtx(t, 60*time.Second)
	adm := newAdmin(t, b.Addr())
	createTopic(ctx, t, adm, "cli", 2)
	prod := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for i := range 14 {
		recs = append(recs, &kgo.Record{Topic: "cli", Partition: int32(i / 10), Value: []byte("v")})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := adm.CommitAllOffsets(ctx, "cli-app", kadm.Offsets{"cli": {0: {Topic: "cli", Partition: 0, At: 3, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) (stdout, stderr string, err error) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, append([]string{"group", "--brokers", b.Addr()}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		return out.String(), errOut.String(), err
	}
	ok := func(want string, args ...string) {
		t.Helper()
		out, stderr, err := run(args...)
		if err != nil {
			t.Fatalf("samsa group %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		if out != want {
			t.Errorf("samsa group %s:\ngot:\n%s\nwant:\n%s", strings.Join(args, " "), out, want)
		}
	}
	fail := func(want string, args ...string) {
		t.Helper()
		_, stderr, err := run(args...)
		if err == nil || !strings.Contains(stderr, want) {
			t.Errorf("samsa group %s: exit %v, stderr %q; want a failure with %q", strings.Join(args, " "), err, stderr, want)
		}
	}

	ok("GROUP    STATE  PROTOCOL-TYPE\ncli-app  Empty  -\n", "list")
	ok(""+
		"Group: cli-app  State: Empty  ProtocolType: -  Protocol: -  Members: 0\n"+
		"\n"+
		"TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  MEMBER-ID\n"+
		"cli    0          3               10              7    -\n"+
		"cli    1          -               4               -    -\n",
		"describe", "cli-app")
	ok(""+
		"TOPIC  PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"cli    0          3               1\n"+
		"cli    1          -               1\n"+
		"Committed new offsets of group cli-app.\n",
		"reset-offsets", "cli-app", "--topic", "cli", "--to-offset", "1", "--execute")
	ok(""+
		"TOPIC  PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"+
		"cli    0          1               10\n"+
		"cli    1          1               4\n"+
		"Dry run: nothing committed; run with --execute to commit these offsets.\n",
		"reset-offsets", "cli-app", "--all-topics", "--to-latest")

	// With a member the group is Stable: resets, group deletion and
	// deleting offsets of the subscribed topic are refused.
	member := newKgo(t, b.Addr(), kgo.ConsumerGroup("cli-app"), kgo.ConsumeTopics("cli"), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(sessionTimeout), kgo.HeartbeatInterval(heartbeatInterval), kgo.ClientID("cli-member"))
	g := waitStable(ctx, t, adm, "cli-app", "cli", 1, 2)
	out, _, err := run("describe", "cli-app")
	if err != nil {
		t.Fatal(err)
	}
	m := g.Members[0]
	out = strings.NewReplacer(m.MemberID, "MEMBER", m.ClientHost, "HOST").Replace(out)
	if want := "" +
		"Group: cli-app | State: Stable | ProtocolType: consumer | Protocol: " + g.Protocol + " | Members: 1\n" +
		"\n" +
		"MEMBER-ID | INSTANCE-ID | CLIENT-ID | HOST | ASSIGNMENT\n" +
		"MEMBER | - | cli-member | HOST | cli:0,1\n" +
		"\n" +
		"TOPIC | PARTITION | CURRENT-OFFSET | LOG-END-OFFSET | LAG | MEMBER-ID\n" +
		"cli | 0 | 1 | 10 | 9 | MEMBER\n" +
		"cli | 1 | 1 | 4 | 3 | MEMBER\n"; regexp.MustCompile(` {2,}`).ReplaceAllString(out, " | ") != want {
		t.Errorf("describe with a member:\n%s\nwant (columns):\n%s", out, want)
	}
	fail(`cannot reset offsets of group "cli-app": it is Stable with 1 member(s)`, "reset-offsets", "cli-app", "--all-topics", "--to-earliest", "--execute")
	fail(`delete group "cli-app": NON_EMPTY_GROUP`, "delete", "cli-app")
	fail(`delete offset of group "cli-app" for cli[0]: GROUP_SUBSCRIBED_TO_TOPIC`, "delete-offsets", "cli-app", "--topic", "cli:0")
	ok("GROUP    STATE   PROTOCOL-TYPE\ncli-app  Stable  consumer\n", "list", "--state", "stable")
	ok("GROUP  STATE  PROTOCOL-TYPE\n", "list", "--state", "Empty")

	member.Close()
	waitFor(ctx, t, "the group to be Empty", func() bool { return describe(ctx, adm, "cli-app").State == "Empty" }, nil)
	ok("TOPIC  PARTITION  STATUS\ncli    0          deleted\n", "delete-offsets", "cli-app", "--topic", "cli:0")
	ok(""+
		"Group: cli-app  State: Empty  ProtocolType: consumer  Protocol: -  Members: 0\n"+
		"\n"+
		"TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  MEMBER-ID\n"+
		"cli    0          -               10              -    -\n"+
		"cli    1          1               4               3    -\n",
		"describe", "cli-app")
	ok("Deleted group cli-app.\n", "delete", "cli-app")
	fail(`describe group "cli-app": GROUP_ID_NOT_FOUND`, "describe", "cli-app")
	fail(`delete group "cli-app": GROUP_ID_NOT_FOUND`, "delete", "cli-app")
	ok("GROUP  STATE  PROTOCOL-TYPE\n", "list")
}
