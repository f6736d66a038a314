//go:build external

package external

// Apache Kafka's own Java client (kafka-clients, at the version pinned in
// test/external/java/pom.xml) against samsa: TestJava, its harness, and the
// subtests that run our Java programs (test/external/java/src). The
// subtests that run Kafka's CLI tools are in java_tools_test.go.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/samsa-kafka/samsa/test/cluster"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ourPrograms is the entry point of our Java programs
// (test/external/java/src): `Main produce ...`, `Main consume ...`, ...
const ourPrograms = "samsa.external.Main"

// javaCluster starts the samsa cluster the Java tests share and returns its
// bootstrap address. It is the one place that knows how the cluster is
// started (three combined broker+controller nodes in-process, one Raft
// quorum): every test takes the cluster's shape (brokers, replication
// factor, coordinators) from the cluster itself.
func javaCluster(t *testing.T) (bootstrap string) {
	t.Helper()
	// No initial rebalance delay: the groups here have one member, and
	// would otherwise wait Kafka's 3 s for more to join.
	return cluster.Bootstrap(cluster.StartQuorum(t, 3, "group.initial.rebalance.delay.ms=0"))
}

// TestJava runs Kafka's Java client and tools against one samsa cluster,
// one subtest each, on topics and groups of their own.
func TestJava(t *testing.T) {
	javaArgFile(t) // fail once, up front, when the Java side is not built
	tool(t, "java")
	addr := javaCluster(t)
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, addr string)
	}{
		{"Produce", testJavaProduce},
		{"Consume", testJavaConsume},
		{"AdminTopics", testJavaAdminTopics},
		{"AdminTopicIDs", testJavaAdminTopicIDs},
		{"AdminCluster", testJavaAdminCluster},
		{"AdminGroups", testJavaAdminGroups},
		{"GroupCooperative", testJavaGroupCooperative},
		{"GroupStatic", testJavaGroupStatic},
		{"Errors", testJavaErrors},
		{"Transactions", testJavaTransactions},
		{"KafkaTopics", testKafkaTopics},
		{"ConsoleProducerConsumer", testKafkaConsole},
		{"KafkaConsumerGroups", testKafkaConsumerGroups},
		{"PerfTest", testKafkaPerf},
		{"KafkaConfigs", testKafkaConfigs},
		{"KafkaConfigsGroup", testKafkaConfigsGroup},
		{"KafkaFeatures", testKafkaFeatures},
		{"KafkaMetadataQuorum", testKafkaMetadataQuorum},
		{"ClientCompatibility", testKafkaClientCompatibility},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, addr)
		})
	}
}

// javaDir is test/external/java, the Maven project.
const javaDir = "java"

var javaBuild struct {
	once    sync.Once
	argFile string
	err     error
}

// javaArgFile returns a java @argfile that sets the classpath: our compiled
// programs and every jar Maven resolved. `mvn -B -q compile` in
// test/external/java builds both (.ci/run does); the test fails, never
// skips, when they are missing or older than the sources.
func javaArgFile(t testing.TB) string {
	t.Helper()
	javaBuild.once.Do(func() { javaBuild.argFile, javaBuild.err = writeJavaArgFile() })
	if javaBuild.err != nil {
		t.Fatalf("Java client tests: %v\nbuild with: (cd test/external/%s && mvn -B -q compile); .ci/run does", javaBuild.err, javaDir)
	}
	return javaBuild.argFile
}

func writeJavaArgFile() (string, error) {
	dir, err := filepath.Abs(javaDir)
	if err != nil {
		return "", err
	}
	target := filepath.Join(dir, "target")
	cpFile := filepath.Join(target, "classpath.txt")
	if _, err := os.Stat(cpFile); err != nil {
		return "", fmt.Errorf("the Maven project is not built: %w", err)
	}
	// Every source must have been compiled since it last changed (Maven's
	// incremental compile rewrites the classes of changed sources).
	src := filepath.Join(dir, "src", "main", "java")
	classes := filepath.Join(target, "classes")
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".java") {
			return err
		}
		rel, _ := filepath.Rel(src, strings.TrimSuffix(path, ".java")+".class")
		class, err := os.Stat(filepath.Join(classes, rel))
		if err != nil {
			return fmt.Errorf("%s is not compiled: %w", path, err)
		}
		info, err := d.Info()
		if err == nil && info.ModTime().After(class.ModTime()) {
			err = fmt.Errorf("%s changed after it was compiled", path)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	cp, err := os.ReadFile(cpFile)
	if err != nil {
		return "", err
	}
	jars := strings.Split(strings.TrimSpace(string(cp)), string(os.PathListSeparator))
	for _, j := range jars {
		if _, err := os.Stat(j); err != nil {
			return "", fmt.Errorf("a jar of the classpath is gone (Maven's local repository changed?): %w", err)
		}
	}
	// An argfile keeps the 90-jar classpath out of every logged command line.
	content := fmt.Sprintf("-cp %q\n", strings.Join(append([]string{classes}, jars...), string(os.PathListSeparator)))
	f, err := os.CreateTemp(target, "java-args-")
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	path := filepath.Join(target, "test.args")
	return path, os.Rename(f.Name(), path)
}

// javaFlags start a JVM fast for a short run (C1 only, serial GC); clients
// and tools log at WARN on stderr.
var javaFlags = []string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m",
	"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"}

func javaArgs(t testing.TB, class string, args []string) []string {
	return append(append(slices.Clone(javaFlags), "@"+javaArgFile(t), class), args...)
}

// java runs a main class with args and stdin; it fails the test on a
// non-zero exit, with stderr shown.
func java(t testing.TB, stdin []byte, class string, args ...string) []byte {
	t.Helper()
	return run(t, "", stdin, tool(t, "java"), javaArgs(t, class, args)...)
}

// javaExit runs a main class that may fail, and returns its exit code.
func javaExit(t testing.TB, class string, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	stdout, stderr, err := runExit(t, "", nil, tool(t, "java"), javaArgs(t, class, args)...)
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("java %s: %v", class, err)
	}
	return stdout, stderr, code
}

// uniqueName is a topic or group name for this test alone: its subtest
// name and a random suffix.
func uniqueName(t testing.TB, kind string) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	leaf := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
	leaf = regexp.MustCompile(`[^a-zA-Z0-9._-]+`).ReplaceAllString(leaf, "-")
	return fmt.Sprintf("java-%s-%s-%s", strings.ToLower(leaf), kind, hex.EncodeToString(b[:]))
}

// javaTopic creates a topic with the cluster's default replication factor.
func javaTopic(t testing.TB, addr string, partitions int32) string {
	t.Helper()
	topic := uniqueName(t, "topic")
	createTopicRF(t, addr, topic, partitions, -1)
	return topic
}

// javaStr is how Consume.java prints bytes: null as "null".
func javaStr(b []byte) string {
	if b == nil {
		return "null"
	}
	return string(b)
}

func textLines(s ...string) string { return strings.Join(s, "\n") + "\n" }

func equalText(t testing.TB, what string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", what, got, want)
	}
}

func adminClient(t testing.TB, addr string) *kadm.Client {
	return kadm.NewClient(client(t, addr))
}

func pollCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	t.Cleanup(cancel)
	return ctx
}

// metadata returns the cluster's view of its brokers and of topic.
func metadata(t testing.TB, addr, topic string) kadm.Metadata {
	t.Helper()
	var topics []string
	if topic != "" {
		topics = []string{topic}
	}
	md, err := adminClient(t, addr).Metadata(pollCtx(t), topics...)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	return md
}

// defaultReplicationFactor is the replication factor a topic created
// without one gets.
func defaultReplicationFactor(t testing.TB, addr string) int {
	t.Helper()
	// Every broker of a cluster has the same; the first one tells.
	broker := metadata(t, addr, "").Brokers.NodeIDs()[0]
	cfgs, err := adminClient(t, addr).DescribeBrokerConfigs(pollCtx(t), broker)
	if err == nil {
		var rc kadm.ResourceConfig
		if rc, err = cfgs.On(strconv.Itoa(int(broker)), nil); err == nil {
			err = rc.Err
			for _, c := range rc.Configs {
				if c.Key == "default.replication.factor" {
					return atoi(t, c.MaybeValue())
				}
			}
		}
	}
	t.Fatalf("default.replication.factor of broker %d: not described (%v)", broker, err)
	return 0
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

func joinInts[T int32 | int](xs []T, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, sep)
}

// committed returns the group's committed offset on each partition of
// topic (-1 where there is none).
func committed(t testing.TB, addr, group, topic string) map[int32]int64 {
	t.Helper()
	offs, err := adminClient(t, addr).FetchOffsets(pollCtx(t), group)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p, o := range offs[topic] {
		if o.Err != nil {
			t.Fatalf("fetch offsets of %s: %s[%d]: %v", group, topic, p, o.Err)
		}
		out[p] = o.At
	}
	return out
}

// groupState waits until the group is in state want (as DescribeGroups
// says) and returns its description.
func groupState(t testing.TB, addr, group, want string) kadm.DescribedGroup {
	t.Helper()
	ctx := pollCtx(t)
	for {
		gs, err := adminClient(t, addr).DescribeGroups(ctx, group)
		if err == nil && gs[group].Err == nil && gs[group].State == want {
			return gs[group]
		}
		if ctx.Err() != nil {
			t.Fatalf("group %s not %s within %v: %v %+v", group, want, pollTimeout, err, gs[group])
		}
		time.Sleep(20 * time.Millisecond) // poll interval, bounded by ctx
	}
}

// groupMember joins group with franz-go as a consumer of topic, reads the
// want records there are, commits them, and returns the client, still a
// member of the group (Close leaves it).
func groupMember(t testing.TB, addr, topic, group, clientID string, want int) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(addr, ",")...), kgo.ClientID(clientID), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := pollCtx(t)
	got := 0
	for got < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			cl.Close()
			t.Fatalf("group %s: read %d of %d records within %v", group, got, want, pollTimeout)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Errorf("group %s: %s[%d]: %v", group, topic, p, err) })
		got += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		cl.Close()
		t.Fatalf("group %s: commit: %v", group, err)
	}
	return cl
}

// produceSpread writes n records with franz-go, record i to partition
// i%partitions, key k-i (none for every seventh), value v-i, header n=i
// and timestamp javaBaseTimestamp+i.
func produceSpread(t testing.TB, addr, topic string, partitions, n int) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: []byte(fmt.Sprintf("v-%d", i)),
			Timestamp: time.UnixMilli(javaBaseTimestamp + int64(i)),
			Headers:   []kgo.RecordHeader{{Key: "n", Value: []byte(strconv.Itoa(i))}}}
		if i%7 != 6 {
			r.Key = []byte(fmt.Sprintf("k-%d", i))
		}
		recs = append(recs, r)
	}
	produce(t, addr, recs)
	return recs
}

// javaBaseTimestamp is Produce.java's BASE_TIMESTAMP.
const javaBaseTimestamp = 1_700_000_000_000

// javaProduced is record(i) of Produce.java, rebuilt here.
func javaProduced(i, partitions int) (partition int32, key *string, value string, headers []header) {
	headers = []header{{"i", str(strconv.Itoa(i))}}
	if i%3 == 0 {
		headers = append(headers, header{"null-header", nil})
	}
	if i%10 != 9 {
		key = str(fmt.Sprintf("key-%d", i))
	}
	value = fmt.Sprintf("value-%d|", i) + strings.Repeat("java ", i%7) + strings.Repeat("compressible ", 8)
	return int32(i % partitions), key, value, headers
}

// testJavaProduce: an idempotent acks=all KafkaProducer with each codec;
// franz-go then reads exactly those records back, at the offsets the
// producer was told, in batches of the codec, with a producer id.
func testJavaProduce(t *testing.T, addr string) {
	const partitions, n = 3, 60
	for _, codec := range kcatCodecs {
		t.Run(codec.name, func(t *testing.T) {
			t.Parallel()
			topic := javaTopic(t, addr, partitions)
			out := java(t, nil, ourPrograms, "produce", addr, topic, strconv.Itoa(partitions), strconv.Itoa(n), codec.name)
			equalText(t, "produce", out, textLines(
				fmt.Sprintf("acknowledged %d records with acks=all, idempotence, compression %s", n, codec.name),
				"partition 0: offsets 0..19 in send order",
				"partition 1: offsets 0..19 in send order",
				"partition 2: offsets 0..19 in send order"))

			recs := consumeAll(t, addr, topic)
			if len(recs) != n {
				t.Fatalf("topic holds %d records, want %d", len(recs), n)
			}
			pids := map[int64]bool{}
			for _, r := range recs {
				i := int(r.Partition) + int(r.Offset)*partitions
				p, key, value, headers := javaProduced(i, partitions)
				where := fmt.Sprintf("%d/%d", r.Partition, r.Offset)
				if r.Partition != p || !eqp(bstr(r.Key), key) || string(r.Value) != value ||
					!slices.EqualFunc(headersOf(r), headers, eqHeader) {
					t.Errorf("%s: key %s value %q headers %s, want record %d: key %s value %q headers %s", where,
						showStr(bstr(r.Key)), r.Value, showHeaders(headersOf(r)), i, showStr(key), value, showHeaders(headers))
				}
				if got := r.Timestamp.UnixMilli(); got != javaBaseTimestamp+int64(i) || r.Attrs.TimestampType() != 0 {
					t.Errorf("%s: timestamp %d (type %d), want CreateTime %d", where, got, r.Attrs.TimestampType(), javaBaseTimestamp+int64(i))
				}
				if got := r.Attrs.CompressionType(); got != codec.code {
					t.Errorf("%s: batch compression %d, want %d (%s)", where, got, codec.code, codec.name)
				}
				if r.ProducerID < 0 || r.ProducerEpoch < 0 {
					t.Errorf("%s: producer id %d epoch %d, want an idempotent producer's", where, r.ProducerID, r.ProducerEpoch)
				}
				pids[r.ProducerID] = true
			}
			if len(pids) != 1 {
				t.Errorf("producer ids %v, want the one of the one producer", pids)
			}
		})
	}
}

// testJavaConsume: a KafkaConsumer in a group (classic protocol, cooperative
// assignors offered) reads exactly what franz-go wrote, commits, and a
// second member resumes at the committed offsets.
func testJavaConsume(t *testing.T, addr string) {
	const partitions, n = 3, 30
	topic, group := javaTopic(t, addr, partitions), uniqueName(t, "group")
	recs := produceSpread(t, addr, topic, partitions, n)
	slices.SortStableFunc(recs, func(a, b *kgo.Record) int { return int(a.Partition - b.Partition) })

	want := []string{"assigned partitions [0, 1, 2]", fmt.Sprintf("read %d records, each once, offsets contiguous from 0", n)}
	next := map[int32]int{}
	for _, r := range recs {
		want = append(want, fmt.Sprintf("record partition=%d offset=%d timestamp=%d key=%s value=%s headers=[n=%s]",
			r.Partition, next[r.Partition], r.Timestamp.UnixMilli(), javaStr(r.Key), r.Value, r.Headers[0].Value))
		next[r.Partition]++
	}
	for p := range int32(partitions) {
		want = append(want, fmt.Sprintf("committed partition=%d offset=%d = end offset", p, next[p]))
	}
	want = append(want, "rejoined group: position = committed offset on 3 partitions, nothing re-read")
	out := java(t, nil, ourPrograms, "consume", addr, topic, group, strconv.Itoa(n))
	equalText(t, "consume", out, textLines(want...))

	got := committed(t, addr, group, topic)
	for p := range int32(partitions) {
		if got[p] != int64(next[p]) {
			t.Errorf("partition %d: committed %d, want %d (as franz-go reads it)", p, got[p], next[p])
		}
	}
	groupState(t, addr, group, "Empty")
}

var javaPartitionLine = regexp.MustCompile(`^partition (\d+) leader (\d+) replicas \[([\d, ]*)\] isr \[([\d, ]*)\]$`)

// testJavaAdminTopics: the Admin client creates (with configs, twice, with
// validateOnly, with a bad config), lists, describes, alters configs of,
// adds partitions to and deletes a topic.
func testJavaAdminTopics(t *testing.T, addr string) {
	topic := uniqueName(t, "topic")
	rf := defaultReplicationFactor(t, addr)
	brokers := metadata(t, addr, "").Brokers.NodeIDs()
	out := java(t, nil, ourPrograms, "admin", "topics", addr, topic)

	// The partition lines depend on where the cluster put the replicas:
	// each must be consistent with the cluster's brokers.
	var rest []string
	var parts []int
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		m := javaPartitionLine.FindStringSubmatch(l)
		if m == nil {
			rest = append(rest, l)
			continue
		}
		parts = append(parts, atoi(t, m[1]))
		leader := int32(atoi(t, m[2]))
		var replicas []int32
		for _, r := range strings.Split(m[3], ", ") {
			replicas = append(replicas, int32(atoi(t, r)))
		}
		if len(replicas) != rf || !slices.Contains(replicas, leader) || m[3] != m[4] {
			t.Errorf("%q: want %d replicas, the leader among them, all in sync", l, rf)
		}
		for _, r := range replicas {
			if !slices.Contains(brokers, r) {
				t.Errorf("%q: replica %d is not one of the brokers %v", l, r, brokers)
			}
		}
	}
	if !slices.Equal(parts, []int{0, 1, 2}) {
		t.Errorf("partitions described: %v, want [0 1 2]", parts)
	}
	equalText(t, "admin topics (less the partition lines)", []byte(textLines(rest...)), textLines(
		fmt.Sprintf("created %s: 3 partitions, replication factor %d, a topic id, retention.ms=3600000 max.message.bytes=200000", topic, rf),
		"creating it again: TopicExistsException",
		"validateOnly created nothing; retention.ms=not-a-number: InvalidConfigurationException; listTopics has the topic",
		"describeConfigs retention.ms=3600000 (DYNAMIC_TOPIC_CONFIG)",
		"describeConfigs max.message.bytes=200000 (DYNAMIC_TOPIC_CONFIG)",
		"describeConfigs cleanup.policy=delete (DEFAULT_CONFIG)",
		"describeConfigs retention.ms=7200000 (DYNAMIC_TOPIC_CONFIG)",
		"describeConfigs cleanup.policy=delete,compact (DYNAMIC_TOPIC_CONFIG)",
		"incrementalAlterConfigs: SET retention.ms=7200000, DELETE max.message.bytes, APPEND cleanup.policy=compact",
		"createPartitions: 5 partitions",
		"deleteTopics: describeTopics gives UnknownTopicOrPartitionException, listTopics lacks it"))
	// Every broker learns of the deletion from the metadata log, a moment
	// after the controller committed it (as in Kafka); franz-go asks any.
	ctx := pollCtx(t)
	for slices.Contains(metadata(t, addr, "").Topics.Names(), topic) {
		select {
		case <-ctx.Done():
			t.Fatalf("franz-go still sees %s %v after the Admin client deleted it", topic, pollTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// testJavaAdminTopicIDs: the Admin client names topics by id (KIP-516):
// describeTopics and deleteTopics of the topic's id and of a random one.
func testJavaAdminTopicIDs(t *testing.T, addr string) {
	topic := uniqueName(t, "topic")
	stdout, stderr, code := javaExit(t, ourPrograms, "admin", "topic-ids", addr, topic)
	if code != 0 {
		t.Fatalf("admin topic-ids: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	equalText(t, "admin topic-ids", stdout, textLines(
		fmt.Sprintf("describeTopics by id: %s, 2 partitions; a random id: UnknownTopicIdException", topic),
		"deleteTopics by id: gone; a random id: UnknownTopicIdException"))
}

// testJavaAdminCluster: describeCluster and describeLogDirs agree with what
// franz-go sees.
func testJavaAdminCluster(t *testing.T, addr string) {
	md := metadata(t, addr, "")
	dirs, err := adminClient(t, addr).DescribeAllLogDirs(pollCtx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cluster id " + md.Cluster}
	for _, b := range md.Brokers {
		want = append(want, fmt.Sprintf("node %d %s:%d", b.NodeID, b.Host, b.Port))
	}
	want = append(want, "controller is one of the nodes")
	for _, b := range md.Brokers {
		want = append(want, fmt.Sprintf("node %d: %d log dir(s), no error", b.NodeID, len(dirs[b.NodeID])))
	}
	out := java(t, nil, ourPrograms, "admin", "cluster", addr)
	equalText(t, "admin cluster", out, textLines(want...))
}

// testJavaAdminGroups: listGroups, describeConsumerGroups,
// listConsumerGroupOffsets, alterConsumerGroupOffsets,
// deleteConsumerGroupOffsets and deleteConsumerGroups on a group franz-go
// consumed in, committed and left.
func testJavaAdminGroups(t *testing.T, addr string) {
	const partitions, n = 3, 30
	topic, group := javaTopic(t, addr, partitions), uniqueName(t, "group")
	produceSpread(t, addr, topic, partitions, n)
	groupMember(t, addr, topic, group, "samsa-franz-member", n).Close()
	groupState(t, addr, group, "Empty")

	out := java(t, nil, ourPrograms, "admin", "groups", addr, topic, group)
	equalText(t, "admin groups", out, textLines(
		fmt.Sprintf("listGroups: %s type CLASSIC protocol consumer state EMPTY", group),
		"describeConsumerGroups: state EMPTY type CLASSIC, no members, coordinator is a cluster node",
		"committed partition=0 offset=10",
		"committed partition=1 offset=10",
		"committed partition=2 offset=10",
		`alterConsumerGroupOffsets: partition 0 at 1 (metadata "samsa"); deleteConsumerGroupOffsets: partition 1 gone`,
		"deleteConsumerGroups: not listed, no committed offsets"))
	gs, err := adminClient(t, addr).ListGroups(pollCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(gs.Groups(), group) {
		t.Errorf("franz-go still lists %s after the Admin client deleted it", group)
	}
}

// testJavaGroupCooperative: two KafkaConsumers with the cooperative-sticky
// assignor (KIP-429) share a 4-partition topic: the first gives up only the
// two partitions the second gets; together they read every record once and
// commit the end offsets.
func testJavaGroupCooperative(t *testing.T, addr string) {
	const partitions, n = 4, 400
	topic, group := javaTopic(t, addr, partitions), uniqueName(t, "group")
	produceSpread(t, addr, topic, partitions, n)
	out := java(t, nil, ourPrograms, "group", "cooperative", addr, topic, group, strconv.Itoa(n))
	equalText(t, "group cooperative", out, textLines(
		"1 member(s): a holds 4 partition(s)",
		"2 member(s): a holds 2 partition(s), b holds 2 partition(s)",
		"a revoked only the 2 partitions b got, and kept 2 (no stop-the-world revocation)",
		"a and b read the 440 records (40 written after b joined) once each"))
	ends := endOffsets(t, addr, topic)
	if c := committed(t, addr, group, topic); fmt.Sprint(c) != fmt.Sprint(ends) {
		t.Errorf("committed %v, want the end offsets %v", c, ends)
	}
}

// testJavaGroupStatic: a static member (KIP-345) closes without leaving;
// a new consumer with its group.instance.id takes its place with the same
// assignment and no new generation; the Admin client removes it by its
// instance id (LeaveGroup v3+).
func testJavaGroupStatic(t *testing.T, addr string) {
	topic, group := javaTopic(t, addr, 2), uniqueName(t, "group")
	out := java(t, nil, ourPrograms, "group", "static", addr, topic, group)
	equalText(t, "group static", out, textLines(
		"static member static-1 joined: 2 partitions",
		"after close: still a member (static-1, same member id)",
		"static-1 rejoined: same assignment, same generation, a new member id",
		"after the second close: 1 member (static-1)",
		"removeMembersFromConsumerGroup: unknown instance UnknownMemberIdException; static-1 removed, group EMPTY"))
}

// testJavaErrors: broker errors reach the Java client as the exceptions
// Kafka's broker causes (see Errors.java).
func testJavaErrors(t *testing.T, addr string) {
	out := java(t, nil, ourPrograms, "errors", addr, uniqueName(t, "topic"), uniqueName(t, "group"))
	equalText(t, "errors", out, textLines(
		"produced offsets 0..9; a 5000-byte record over max.message.bytes=2000: RecordTooLargeException",
		"listOffsets: earliest 0, latest 10, maxTimestamp 9, forTimestamp(+3) 3, forTimestamp(+100) -1",
		"deleteRecords before 4: low watermark 4, earliest 4; before 100: OffsetOutOfRangeException",
		"fetch at 2 (below the log start 4) and at 50: OffsetOutOfRangeException; with reset earliest: offsets 4..9",
		"a new group with auto.offset.reset=none: NoOffsetForPartitionException",
		`createTopics: name "bad name!": InvalidTopicException; 0 partitions: InvalidPartitionsException; `+
			"replication factor brokers+1: InvalidReplicationFactorException; createPartitions to 1 of 1: InvalidPartitionsException",
		"a group with a member: deleteConsumerGroups GroupNotEmptyException, alterConsumerGroupOffsets UnknownMemberIdException"))
}

// testJavaTransactions: a transactional producer commits and aborts;
// read_committed sees only what was committed.
func testJavaTransactions(t *testing.T, addr string) {
	topic := javaTopic(t, addr, 1)
	stdout, stderr, code := javaExit(t, ourPrograms, "txn", addr, topic, uniqueName(t, "txn"))
	if code != 0 && strings.Contains(string(stderr), "Timeout expired after 5000ms while awaiting InitProducerId") {
		t.Skip("samsa: transactions are not served yet: FindCoordinator(key type 1, TRANSACTION) answers COORDINATOR_NOT_AVAILABLE, " +
			"which the Java producer retries, so initTransactions blocks for max.block.ms (60 s by default) and then throws " +
			"TimeoutException \"while awaiting InitProducerId\"; a Kafka broker returns the transaction coordinator, " +
			"then InitProducerId with the transactional id gives a producer id and epoch")
	}
	if code != 0 {
		t.Fatalf("txn: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	equalText(t, "txn", stdout, textLines(
		"committed c-0 c-1 c-2, aborted a-0 a-1, committed c-3",
		"read_committed: [c-0, c-1, c-2, c-3]",
		"read_uncommitted: [c-0, c-1, c-2, a-0, a-1, c-3]"))
}
