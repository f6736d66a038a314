//go:build external

package external

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
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

// Apache Kafka's Java client (kafka-clients) and CLI tools (kafka-tools),
// both at the version pinned in test/external/java/pom.xml, against samsa.
// Our own programs live in test/external/java/src; Kafka's tools run by
// the main class their bin/ script runs.
const (
	ourPrograms          = "samsa.external.Main"
	kafkaTopics          = "org.apache.kafka.tools.TopicCommand"                        // kafka-topics.sh
	kafkaConsoleProducer = "org.apache.kafka.tools.ConsoleProducer"                     // kafka-console-producer.sh
	kafkaConsoleConsumer = "org.apache.kafka.tools.consumer.ConsoleConsumer"            // kafka-console-consumer.sh
	kafkaConsumerGroups  = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand" // kafka-consumer-groups.sh
	kafkaProducerPerf    = "org.apache.kafka.tools.ProducerPerformance"                 // kafka-producer-perf-test.sh
	kafkaConsumerPerf    = "org.apache.kafka.tools.ConsumerPerformance"                 // kafka-consumer-perf-test.sh
	kafkaGetOffsets      = "org.apache.kafka.tools.GetOffsetShell"                      // kafka-get-offsets.sh
	kafkaFeatures        = "org.apache.kafka.tools.FeatureCommand"                      // kafka-features.sh
	kafkaClientCompat    = "org.apache.kafka.tools.ClientCompatibilityTest"             // Kafka's system tests' client check
	kafkaConfigs         = "kafka.admin.ConfigCommand"                                  // kafka-configs.sh (kafka_2.13)
)

// javaCluster starts the samsa cluster the Java tests share and returns its
// bootstrap address. It is the one place that knows how the cluster is
// started (today a single in-process broker): every test takes the
// cluster's shape (brokers, replication factor, coordinators) from the
// cluster itself.
func javaCluster(t *testing.T) (bootstrap string) {
	t.Helper()
	// No initial rebalance delay: the groups here have one member, and
	// would otherwise wait Kafka's 3 s for more to join.
	return startBroker(t, "group.initial.rebalance.delay.ms=0").Addr()
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
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID(clientID), kgo.ConsumerGroup(group),
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
	if md := metadata(t, addr, ""); slices.Contains(md.Topics.Names(), topic) {
		t.Errorf("franz-go still sees %s after the Admin client deleted it", topic)
	}
}

// testJavaAdminTopicIDs: the Admin client names topics by id (KIP-516):
// describeTopics and deleteTopics of the topic's id and of a random one.
func testJavaAdminTopicIDs(t *testing.T, addr string) {
	topic := uniqueName(t, "topic")
	stdout, stderr, code := javaExit(t, ourPrograms, "admin", "topic-ids", addr, topic)
	if code != 0 && strings.Contains(string(stderr), "IllegalStateException: Use errors() when managing topic using topic name") {
		t.Skip("samsa: Metadata v12 naming a topic by id: the Java client (Admin.describeTopics(TopicCollection.ofTopicIds), " +
			"after DescribeTopicPartitions is found unsupported) sends MetadataRequestTopic{TopicId: <id>, Name: \"\"} " +
			"(an empty, not a null, name); samsa takes the name, answers INVALID_TOPIC_EXCEPTION (17) with name \"\" and " +
			"a zero topic id, and the client fails with IllegalStateException. Kafka uses the ids whenever a request " +
			"carries a non-zero one (KafkaApis: useTopicId = topicIds.nonEmpty) and answers the topic's name, id and " +
			"partitions, or UNKNOWN_TOPIC_ID (100) with the id for an unknown one")
	}
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

// kafkaTopicIDString is how Kafka prints a topic id (Uuid.toString).
func kafkaTopicIDString(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// describedTopic is what kafka-topics --describe prints for topic, built
// from franz-go's Metadata. ELR (KIP-966) comes from DescribeTopicPartitions
// (API 75), which samsa does not serve: the tool then prints N/A, as it does
// against any broker without that API.
func describedTopic(t testing.TB, addr, topic, configs string) string {
	t.Helper()
	td := metadata(t, addr, topic).Topics[topic]
	if td.Err != nil {
		t.Fatalf("metadata of %s: %v", topic, td.Err)
	}
	ps := td.Partitions.Sorted()
	out := []string{fmt.Sprintf("Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s",
		topic, kafkaTopicIDString(td.ID), len(ps), len(ps[0].Replicas), configs)}
	for _, p := range ps {
		out = append(out, fmt.Sprintf("\tTopic: %s\tPartition: %d\tLeader: %d\tReplicas: %s\tIsr: %s\tElr: N/A\tLastKnownElr: N/A",
			topic, p.Partition, p.Leader, joinInts(p.Replicas, ","), joinInts(p.ISR, ",")))
	}
	return textLines(out...)
}

// testKafkaTopics: kafka-topics --create, --describe, --list, --alter,
// --delete, and --describe of a topic that does not exist.
func testKafkaTopics(t *testing.T, addr string) {
	topic := uniqueName(t, "topic")
	bs := []string{"--bootstrap-server", addr}
	out := java(t, nil, kafkaTopics, append(bs, "--create", "--topic", topic, "--partitions", "3", "--config", "retention.ms=3600000")...)
	equalText(t, "kafka-topics --create", out, textLines("Created topic "+topic+"."))
	waitTopic(t, addr, topic, 3)
	rf := defaultReplicationFactor(t, addr)
	if got := len(metadata(t, addr, topic).Topics[topic].Partitions[0].Replicas); got != rf {
		t.Errorf("%s has %d replicas, want the default replication factor %d", topic, got, rf)
	}

	out = java(t, nil, kafkaTopics, append(bs, "--describe", "--topic", topic)...)
	equalText(t, "kafka-topics --describe", out, describedTopic(t, addr, topic, "retention.ms=3600000"))

	out = java(t, nil, kafkaTopics, append(bs, "--list", "--exclude-internal")...)
	listed := strings.Split(strings.TrimSpace(string(out)), "\n")
	if !slices.Contains(listed, topic) || slices.ContainsFunc(listed, func(s string) bool { return strings.HasPrefix(s, "__") }) {
		t.Errorf("kafka-topics --list --exclude-internal: %q, want %s and no internal topic", listed, topic)
	}

	out = java(t, nil, kafkaTopics, append(bs, "--alter", "--topic", topic, "--partitions", "5")...)
	equalText(t, "kafka-topics --alter", out, "")
	waitTopic(t, addr, topic, 5)
	out = java(t, nil, kafkaTopics, append(bs, "--describe", "--topic", topic)...)
	equalText(t, "kafka-topics --describe after --alter --partitions 5", out, describedTopic(t, addr, topic, "retention.ms=3600000"))

	out = java(t, nil, kafkaTopics, append(bs, "--delete", "--topic", topic)...)
	equalText(t, "kafka-topics --delete", out, "")
	ctx := pollCtx(t)
	for slices.Contains(metadata(t, addr, "").Topics.Names(), topic) {
		if ctx.Err() != nil {
			t.Fatalf("%s still listed %v after kafka-topics --delete", topic, pollTimeout)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, bounded by ctx
	}
	stdout, _, code := javaExit(t, kafkaTopics, append(bs, "--describe", "--topic", topic)...)
	if want := fmt.Sprintf("Error while executing topic command : Topic '%s' does not exist as expected\n", topic); code != 1 || string(stdout) != want {
		t.Errorf("kafka-topics --describe of a deleted topic: exit %d, stdout %q; want exit 1, %q", code, stdout, want)
	}
}

// testKafkaConsole: the console producer writes N lines with keys and
// headers; franz-go finds exactly them; the console consumer reads them
// back (in a group, which commits; and from one partition, in order), and
// kafka-get-offsets reports the offsets.
func testKafkaConsole(t *testing.T, addr string) {
	const partitions, n = 3, 40
	topic, group := javaTopic(t, addr, partitions), uniqueName(t, "group")
	bs := []string{"--bootstrap-server", addr}
	var in []string
	for i := range n {
		in = append(in, fmt.Sprintf("h-i:%d,dup:a,dup:b\tkey-%d|value %d ünïcödé", i, i, i))
	}
	out := java(t, []byte(textLines(in...)), kafkaConsoleProducer, append(bs, "--topic", topic,
		"--producer-property", "acks=all", "--producer-property", "enable.idempotence=true",
		"--property", "parse.key=true", "--property", "key.separator=|", "--property", "parse.headers=true")...)
	equalText(t, "console producer", out, "")

	recs := consumeAll(t, addr, topic)
	seen := map[string]bool{}
	var want []string // what the console consumer prints, by partition and offset
	for _, r := range recs {
		i := atoi(t, strings.TrimPrefix(string(r.Key), "key-"))
		wantHeaders := []header{{"h-i", str(strconv.Itoa(i))}, {"dup", str("a")}, {"dup", str("b")}}
		if seen[string(r.Key)] || string(r.Value) != fmt.Sprintf("value %d ünïcödé", i) || !slices.EqualFunc(headersOf(r), wantHeaders, eqHeader) {
			t.Errorf("%d/%d: key %q value %q headers %s: not line %d as typed (or read twice)", r.Partition, r.Offset, r.Key, r.Value, showHeaders(headersOf(r)), i)
		}
		seen[string(r.Key)] = true
		want = append(want, fmt.Sprintf("Partition:%d|Offset:%d|h-i:%d,dup:a,dup:b|%s|%s", r.Partition, r.Offset, i, r.Key, r.Value))
	}
	if len(recs) != n {
		t.Fatalf("topic holds %d records, want the %d lines typed", len(recs), n)
	}

	format := []string{"--property", "print.partition=true", "--property", "print.offset=true",
		"--property", "print.headers=true", "--property", "print.key=true", "--property", "key.separator=|"}
	out = java(t, nil, kafkaConsoleConsumer, append(append(bs, "--topic", topic, "--group", group, "--from-beginning",
		"--max-messages", strconv.Itoa(n), "--timeout-ms", "30000"), format...)...)
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	slices.SortStableFunc(got, func(a, b string) int { return slices.Index(want, a) - slices.Index(want, b) })
	equalText(t, "console consumer --group (sorted by partition, offset)", []byte(textLines(got...)), textLines(want...))
	ends := endOffsets(t, addr, topic)
	if c := committed(t, addr, group, topic); fmt.Sprint(c) != fmt.Sprint(ends) {
		t.Errorf("console consumer committed %v, want the end offsets %v", c, ends)
	}

	var p1 []string
	for _, l := range want {
		if strings.HasPrefix(l, "Partition:1|") {
			p1 = append(p1, l)
		}
	}
	out = java(t, nil, kafkaConsoleConsumer, append(append(bs, "--topic", topic, "--partition", "1", "--offset", "earliest",
		"--max-messages", strconv.Itoa(len(p1)), "--timeout-ms", "30000"), format...)...)
	equalText(t, "console consumer --partition 1 --offset earliest", out, textLines(p1...))

	var offs, zeros []string
	for p := range int32(partitions) {
		offs = append(offs, fmt.Sprintf("%s:%d:%d", topic, p, ends[p]))
		zeros = append(zeros, fmt.Sprintf("%s:%d:0", topic, p))
	}
	out = java(t, nil, kafkaGetOffsets, append(bs, "--topic", topic)...)
	equalText(t, "kafka-get-offsets (latest)", out, textLines(offs...))
	out = java(t, nil, kafkaGetOffsets, append(bs, "--topic", topic, "--time", "-2")...)
	equalText(t, "kafka-get-offsets --time -2 (earliest)", out, textLines(zeros...))
}

// consumerGroupRows runs kafka-consumer-groups with args and returns the
// whitespace-separated fields of each row of its table, sorted, without
// the header (which must start with header).
func consumerGroupRows(t *testing.T, addr, header string, args ...string) [][]string {
	t.Helper()
	out := java(t, nil, kafkaConsumerGroups, append([]string{"--bootstrap-server", addr}, args...)...)
	var rows [][]string
	sawHeader := false
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
		case f[0] == header:
			sawHeader = true
		default:
			rows = append(rows, f)
		}
	}
	if !sawHeader {
		t.Errorf("kafka-consumer-groups %s: no %s header in\n%s", quoteArgs(args), header, out)
	}
	slices.SortFunc(rows, func(a, b []string) int { return slices.Compare(a, b) })
	return rows
}

func equalRows(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

// testKafkaConsumerGroups: kafka-consumer-groups --list and --describe
// (offsets, --members, --state) of a group with a franz-go member;
// --reset-offsets refused while it is active; after it leaves, a dry run
// that changes nothing, --reset-offsets --to-earliest --execute (the
// committed offsets are then 0), --to-datetime, --shift-by,
// --delete-offsets of one partition, and --delete.
func testKafkaConsumerGroups(t *testing.T, addr string) {
	const partitions, n = 3, 30
	topic, group := javaTopic(t, addr, partitions), uniqueName(t, "group")
	produceSpread(t, addr, topic, partitions, n)
	const clientID = "samsa-franz-member"
	member := groupMember(t, addr, topic, group, clientID, n)
	memberClosed := false
	defer func() {
		if !memberClosed {
			member.Close()
		}
	}()
	memberID, _ := member.GroupMetadata()
	described := groupState(t, addr, group, "Stable")
	coordinators := adminClient(t, addr).FindGroupCoordinators(pollCtx(t), group)
	co, ok := coordinators[group]
	if err := coordinators.Error(); err != nil || !ok {
		t.Fatalf("coordinator of %s: %+v %v", group, coordinators, err)
	}

	out := java(t, nil, kafkaConsumerGroups, "--bootstrap-server", addr, "--list")
	if !slices.Contains(strings.Split(string(out), "\n"), group) {
		t.Errorf("kafka-consumer-groups --list:\n%s\nlacks %s", out, group)
	}
	host := "/127.0.0.1" // Kafka's member host: the client's address, as InetAddress.toString prints it
	var active, earliest, after, dryRun [][]string
	for p := range partitions {
		ps := strconv.Itoa(p)
		active = append(active, []string{group, topic, ps, "10", "10", "0", memberID, host, clientID})
		dryRun = append(dryRun, []string{group, topic, ps, "3"})
		earliest = append(earliest, []string{group, topic, ps, "0"})
		after = append(after, []string{group, topic, ps, "0", "10", "10", "-", "-", "-"})
	}
	equalRows(t, "--describe", consumerGroupRows(t, addr, "GROUP", "--describe", "--group", group), active)
	equalRows(t, "--describe --members", consumerGroupRows(t, addr, "GROUP", "--describe", "--group", group, "--members"),
		[][]string{{group, memberID, host, clientID, "3"}})
	equalRows(t, "--describe --state", consumerGroupRows(t, addr, "GROUP", "--describe", "--group", group, "--state"),
		[][]string{{group, fmt.Sprintf("%s:%d", co.Host, co.Port), fmt.Sprintf("(%d)", co.NodeID), described.Protocol, "Stable", "1"}})

	// Kafka refuses to reset the offsets of a group with members: the tool
	// says so, prints an empty table and exits 0.
	stdout, stderr, code := javaExit(t, kafkaConsumerGroups, "--bootstrap-server", addr, "--group", group,
		"--reset-offsets", "--to-earliest", "--topic", topic, "--execute")
	wantErr := fmt.Sprintf("Error: Assignments can only be reset if the group '%s' is inactive, but the current state is Stable.", group)
	var got []string
	for _, l := range strings.Split(string(stdout), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "GROUP ") {
			got = append(got, l)
		}
	}
	if code != 0 || !slices.Equal(got, []string{wantErr}) {
		t.Errorf("--reset-offsets of an active group: exit %d, stdout %q, stderr %q; want exit 0, %q and no row", code, stdout, stderr, wantErr)
	}
	if c := committed(t, addr, group, topic); fmt.Sprint(c) != "map[0:10 1:10 2:10]" {
		t.Errorf("committed offsets after a refused reset: %v, want 10 each", c)
	}

	member.Close()
	memberClosed = true
	groupState(t, addr, group, "Empty")
	equalRows(t, "--reset-offsets --to-offset 3 (dry run)", consumerGroupRows(t, addr, "GROUP",
		"--group", group, "--reset-offsets", "--to-offset", "3", "--topic", topic, "--dry-run"), dryRun)
	if c := committed(t, addr, group, topic); fmt.Sprint(c) != "map[0:10 1:10 2:10]" {
		t.Errorf("committed offsets after a dry run: %v, want 10 each", c)
	}
	equalRows(t, "--reset-offsets --to-earliest --execute", consumerGroupRows(t, addr, "GROUP",
		"--group", group, "--reset-offsets", "--to-earliest", "--topic", topic, "--execute"), earliest)
	if c := committed(t, addr, group, topic); fmt.Sprint(c) != "map[0:0 1:0 2:0]" {
		t.Errorf("committed offsets after --reset-offsets --to-earliest: %v, want 0 each", c)
	}
	equalRows(t, "--describe after the reset", consumerGroupRows(t, addr, "GROUP", "--describe", "--group", group), after)

	// Record i of partition p has offset i/3 and timestamp javaBaseTimestamp+i:
	// the first at or after +15 ms is offset 5 on each partition.
	at := time.UnixMilli(javaBaseTimestamp + 15).UTC().Format("2006-01-02T15:04:05.000Z")
	var byTime, shifted, remaining [][]string
	for p := range partitions {
		byTime = append(byTime, []string{group, topic, strconv.Itoa(p), "5"})
		shifted = append(shifted, []string{group, topic, strconv.Itoa(p), "3"})
		if p != 1 {
			remaining = append(remaining, []string{group, topic, strconv.Itoa(p), "3", "10", "7", "-", "-", "-"})
		}
	}
	equalRows(t, "--reset-offsets --to-datetime "+at, consumerGroupRows(t, addr, "GROUP",
		"--group", group, "--reset-offsets", "--to-datetime", at, "--topic", topic, "--execute"), byTime)
	if c := committed(t, addr, group, topic); fmt.Sprint(c) != "map[0:5 1:5 2:5]" {
		t.Errorf("committed offsets after --reset-offsets --to-datetime: %v, want 5 each", c)
	}
	equalRows(t, "--reset-offsets --shift-by -2", consumerGroupRows(t, addr, "GROUP",
		"--group", group, "--reset-offsets", "--shift-by", "-2", "--topic", topic, "--execute"), shifted)
	if c := committed(t, addr, group, topic); fmt.Sprint(c) != "map[0:3 1:3 2:3]" {
		t.Errorf("committed offsets after --reset-offsets --shift-by -2: %v, want 3 each", c)
	}
	out = java(t, nil, kafkaConsumerGroups, "--bootstrap-server", addr, "--group", group, "--delete-offsets", "--topic", topic+":1")
	if !strings.HasPrefix(string(out), fmt.Sprintf("Request succeeded for deleting offsets from group %s.\n", group)) ||
		!regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(topic)+` +1 +Successful *$`).Match(out) {
		t.Errorf("--delete-offsets --topic %s:1:\n%s\nwant success, and partition 1 Successful", topic, out)
	}
	if c := committed(t, addr, group, topic); fmt.Sprint(c) != "map[0:3 2:3]" {
		t.Errorf("committed offsets after --delete-offsets of partition 1: %v, want 3 on 0 and 2", c)
	}
	equalRows(t, "--describe after --delete-offsets", consumerGroupRows(t, addr, "GROUP", "--describe", "--group", group), remaining)

	out = java(t, nil, kafkaConsumerGroups, "--bootstrap-server", addr, "--delete", "--group", group)
	equalText(t, "--delete", out, textLines(fmt.Sprintf("Deletion of requested consumer groups ('%s') was successful.", group)))
	out = java(t, nil, kafkaConsumerGroups, "--bootstrap-server", addr, "--list")
	if slices.Contains(strings.Split(string(out), "\n"), group) {
		t.Errorf("kafka-consumer-groups --list after --delete:\n%s\nstill has %s", out, group)
	}
}

var perfSummary = regexp.MustCompile(`^(\d+) records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99.9th\.$`)

// testKafkaPerf: kafka-producer-perf-test writes N records with acks=all
// (its summary line says N, the topic holds N), and
// kafka-consumer-perf-test reads N back.
func testKafkaPerf(t *testing.T, addr string) {
	const partitions, n = 3, 2000
	topic := javaTopic(t, addr, partitions)
	out := java(t, nil, kafkaProducerPerf, "--topic", topic, "--num-records", strconv.Itoa(n), "--record-size", "100",
		"--throughput", "-1", "--producer-props", "bootstrap.servers="+addr, "acks=all")
	outLines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	last := outLines[len(outLines)-1]
	if m := perfSummary.FindStringSubmatch(last); m == nil || m[1] != strconv.Itoa(n) {
		t.Errorf("kafka-producer-perf-test summary %q, want %d records sent", last, n)
	}
	total := int64(0)
	for _, o := range endOffsets(t, addr, topic) {
		total += o
	}
	if total != n {
		t.Errorf("topic holds %d records after kafka-producer-perf-test, want %d", total, n)
	}

	out = java(t, nil, kafkaConsumerPerf, "--bootstrap-server", addr, "--topic", topic, "--messages", strconv.Itoa(n),
		"--timeout", "30000", "--group", uniqueName(t, "group"))
	csv := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(csv) != 2 {
		t.Fatalf("kafka-consumer-perf-test printed %q, want a header and one row", out)
	}
	header, row := strings.Split(csv[0], ", "), strings.Split(csv[1], ", ")
	i := slices.Index(header, "data.consumed.in.nMsg")
	if i < 0 || len(row) != len(header) || row[i] != strconv.Itoa(n) {
		t.Errorf("kafka-consumer-perf-test: %q, want data.consumed.in.nMsg %d", out, n)
	}
}

// testKafkaConfigs: kafka-configs --alter (--add-config, --delete-config)
// and --describe of a topic's configs, with their synonyms, and
// --describe of a broker's and the cluster's broker defaults.
func testKafkaConfigs(t *testing.T, addr string) {
	topic := javaTopic(t, addr, 1)
	bs := []string{"--bootstrap-server", addr}
	entity := append(bs, "--entity-type", "topics", "--entity-name", topic)
	out := java(t, nil, kafkaConfigs, append(entity, "--alter", "--add-config", "retention.ms=1000000,segment.bytes=10485760")...)
	equalText(t, "kafka-configs --alter --add-config", out, textLines("Completed updating config for topic "+topic+"."))
	segment := "  segment.bytes=10485760 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:segment.bytes=10485760, DEFAULT_CONFIG:log.segment.bytes=1073741824}"
	out = java(t, nil, kafkaConfigs, append(entity, "--describe")...)
	equalText(t, "kafka-configs --describe", out, textLines("Dynamic configs for topic "+topic+" are:",
		"  retention.ms=1000000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000000, DEFAULT_CONFIG:log.retention.hours=168}",
		segment))
	out = java(t, nil, kafkaConfigs, append(entity, "--alter", "--delete-config", "retention.ms")...)
	equalText(t, "kafka-configs --alter --delete-config", out, textLines("Completed updating config for topic "+topic+"."))
	out = java(t, nil, kafkaConfigs, append(entity, "--describe")...)
	equalText(t, "kafka-configs --describe after --delete-config", out, textLines("Dynamic configs for topic "+topic+" are:", segment))

	broker := metadata(t, addr, "").Brokers.NodeIDs()[0]
	out = java(t, nil, kafkaConfigs, append(bs, "--describe", "--entity-type", "brokers", "--entity-name", strconv.Itoa(int(broker)), "--all")...)
	want := fmt.Sprintf("\n  default.replication.factor=%d sensitive=false synonyms={", defaultReplicationFactor(t, addr))
	if !strings.HasPrefix(string(out), fmt.Sprintf("All configs for broker %d are:\n", broker)) || !strings.Contains(string(out), want) {
		t.Errorf("kafka-configs --describe broker %d --all:\n%s\nwant its heading and a line starting %q", broker, out, want[1:])
	}
	out = java(t, nil, kafkaConfigs, append(bs, "--describe", "--entity-type", "brokers", "--entity-default")...)
	equalText(t, "kafka-configs --describe --entity-default (brokers)", out, textLines("Default configs for brokers in the cluster are:"))
}

// testKafkaConfigsGroup: kafka-configs --describe of a group's configs
// (resource type GROUP, 32, KIP-848): a Kafka 4.1 broker has none set. The
// group exists (the tool finds it with ListGroups; for a name ListGroups
// does not have, it asks ListConfigResources, API 74, which samsa does not
// serve: the client then fails with UnsupportedVersionException, as it
// would against an older Kafka).
func testKafkaConfigsGroup(t *testing.T, addr string) {
	topic, group := javaTopic(t, addr, 1), uniqueName(t, "group")
	produceSpread(t, addr, topic, 1, 1)
	groupMember(t, addr, topic, group, "samsa-franz-member", 1).Close()
	stdout, stderr, code := javaExit(t, kafkaConfigs, "--bootstrap-server", addr, "--describe", "--entity-type", "groups", "--entity-name", group)
	if code != 0 && strings.Contains(string(stdout)+string(stderr), "InvalidRequestException: unsupported resource type 32") {
		t.Skip("samsa: DescribeConfigs (v4) of resource type 32 (GROUP, KIP-848 group configs) answers INVALID_REQUEST " +
			"\"unsupported resource type 32\"; a Kafka 4.1 broker answers with the group's configs " +
			"(consumer.session.timeout.ms, consumer.heartbeat.interval.ms, ... as DEFAULT_CONFIG), so kafka-configs " +
			"--describe --entity-type groups prints the (empty) dynamic list and exits 0")
	}
	if code != 0 {
		t.Fatalf("kafka-configs --describe group: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	equalText(t, "kafka-configs --describe group", stdout, textLines("Dynamic configs for group "+group+" are:"))
}

// testKafkaFeatures: kafka-features describe lists the finalized
// metadata.version, as every Kafka 4 broker reports it in ApiVersions.
func testKafkaFeatures(t *testing.T, addr string) {
	out := java(t, nil, kafkaFeatures, "--bootstrap-server", addr, "describe")
	if len(out) == 0 {
		t.Skip("samsa: ApiVersions (v3+) carries no SupportedFeatures and no FinalizedFeatures, so `kafka-features describe` prints nothing; " +
			"a Kafka 4.1 broker reports metadata.version (and kraft.version, group.version, transaction.version, ...) " +
			"with its supported range, the finalized level and FinalizedFeaturesEpoch")
	}
	if !regexp.MustCompile(`(?m)^Feature: metadata\.version\tSupportedMinVersion: \S+\tSupportedMaxVersion: \S+\tFinalizedVersionLevel: \S+\tEpoch: \d+$`).Match(out) {
		t.Errorf("kafka-features describe:\n%s\nhas no finalized metadata.version", out)
	}
}

// testKafkaClientCompatibility: the client check Kafka's own system tests
// run against each broker version (produce, consume, offsetsForTimes,
// Admin calls, idempotence, KIP-74 fetch sizes) passes against samsa.
func testKafkaClientCompatibility(t *testing.T, addr string) {
	topic := javaTopic(t, addr, 1)
	out := java(t, nil, kafkaClientCompat, "--topic", topic, "--bootstrap-server", addr,
		"--offsets-for-times-supported", "true", "--cluster-id-supported", "true",
		"--expect-record-too-large-exception", "false",
		"--num-cluster-nodes", strconv.Itoa(len(metadata(t, addr, "").Brokers)),
		"--create-topics-supported", "true", "--describe-acls-supported", "false",
		"--describe-configs-supported", "true", "--idempotent-producer-supported", "true")
	equalText(t, "client-compatibility-test", out, textLines("SUCCESS."))
}
