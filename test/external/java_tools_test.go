//go:build external

package external

// Apache Kafka's own CLI tools against samsa: the subtests of TestJava
// (java_test.go) that run them.

import (
	"encoding/base64"
	"fmt"
	"github.com/twmb/franz-go/pkg/kadm"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	samsameta "github.com/samsa-kafka/samsa/internal/metadata"
)

// Kafka's CLI tools (kafka-tools; kafka_2.13 for kafka-configs), at the
// version pinned in test/external/java/pom.xml, run by the main class
// their bin/ script runs.
const (
	kafkaTopics          = "org.apache.kafka.tools.TopicCommand"                        // kafka-topics.sh
	kafkaConsoleProducer = "org.apache.kafka.tools.ConsoleProducer"                     // kafka-console-producer.sh
	kafkaConsoleConsumer = "org.apache.kafka.tools.consumer.ConsoleConsumer"            // kafka-console-consumer.sh
	kafkaConsumerGroups  = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand" // kafka-consumer-groups.sh
	kafkaProducerPerf    = "org.apache.kafka.tools.ProducerPerformance"                 // kafka-producer-perf-test.sh
	kafkaConsumerPerf    = "org.apache.kafka.tools.ConsumerPerformance"                 // kafka-consumer-perf-test.sh
	kafkaGetOffsets      = "org.apache.kafka.tools.GetOffsetShell"                      // kafka-get-offsets.sh
	kafkaFeatures        = "org.apache.kafka.tools.FeatureCommand"                      // kafka-features.sh
	kafkaClientCompat    = "org.apache.kafka.tools.ClientCompatibilityTest"             // Kafka's system tests' client check
	kafkaMetadataQuorum  = "org.apache.kafka.tools.MetadataQuorumCommand"               // kafka-metadata-quorum.sh
	kafkaConfigs         = "kafka.admin.ConfigCommand"                                  // kafka-configs.sh (kafka_2.13)
)

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
// (resource type GROUP, 32, KIP-848) exits 0 with the empty list of dynamic
// configs, as against a Kafka 4.1 broker with none set (samsa's classic
// groups have no group configs, so --all lists none either, where Kafka
// lists its ten defaults); --alter of one is refused with INVALID_CONFIG.
// The group exists (the tool finds it with ListGroups; for a name
// ListGroups does not have, it asks ListConfigResources, API 74, which
// samsa does not serve: the client then fails with
// UnsupportedVersionException, as it would against an older Kafka).
func testKafkaConfigsGroup(t *testing.T, addr string) {
	topic, group := javaTopic(t, addr, 1), uniqueName(t, "group")
	produceSpread(t, addr, topic, 1, 1)
	groupMember(t, addr, topic, group, "samsa-franz-member", 1).Close()
	bs := []string{"--bootstrap-server", addr, "--entity-type", "groups", "--entity-name", group}
	out := java(t, nil, kafkaConfigs, append(bs, "--describe")...)
	equalText(t, "kafka-configs --describe group", out, textLines("Dynamic configs for group "+group+" are:"))
	out = java(t, nil, kafkaConfigs, append(bs, "--describe", "--all")...)
	equalText(t, "kafka-configs --describe --all group", out, textLines("All configs for group "+group+" are:"))

	stdout, stderr, code := javaExit(t, kafkaConfigs, append(bs, "--alter", "--add-config", "consumer.session.timeout.ms=50000")...)
	const want = "group config consumer.session.timeout.ms tunes KIP-848 consumer, share or streams groups, " +
		"which samsa does not serve: its classic groups have no group configs"
	if code != 1 || !strings.Contains(string(stdout)+string(stderr), "InvalidConfigurationException: "+want) {
		t.Errorf("kafka-configs --alter --add-config of a group: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1 and InvalidConfigurationException: %s",
			code, stdout, stderr, want)
	}
}

// testKafkaFeatures: kafka-features describe lists the features samsa
// implements with this build's ranges and finalized levels: metadata.version
// at samsa's own levels (1 to metadata.MaxMetadataVersion), for which Kafka's tool knows no release
// name ("UNKNOWN 1"), and transaction.version at Kafka's (0 to 2, finalized
// at 2 on a new cluster); the epoch is the metadata offset of the answering
// node's image, between what the nodes report before and after.
func testKafkaFeatures(t *testing.T, addr string) {
	before := slices.Min(featuresEpochs(t, addr))
	out := java(t, nil, kafkaFeatures, "--bootstrap-server", addr, "describe")
	after := slices.Max(featuresEpochs(t, addr))
	mv := samsameta.MaxMetadataVersion
	m := regexp.MustCompile(fmt.Sprintf(`^Feature: metadata\.version\tSupportedMinVersion: UNKNOWN 1\tSupportedMaxVersion: UNKNOWN %d\tFinalizedVersionLevel: UNKNOWN %d\tEpoch: (\d+)\n`, mv, mv) +
		`Feature: transaction\.version\tSupportedMinVersion: 0\tSupportedMaxVersion: 2\tFinalizedVersionLevel: 2\tEpoch: (\d+)\n$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("kafka-features describe:\n%s\nwant exactly two lines, metadata.version 1-%d finalized at %d and transaction.version 0-2 finalized at 2", out, mv, mv)
	}
	for _, e := range m[1:] {
		if epoch := int64(atoi(t, string(e))); epoch < before || epoch > after {
			t.Errorf("kafka-features describe: epoch %d, want one between %d and %d", epoch, before, after)
		}
	}
}

// featuresEpochs returns each node's FinalizedFeaturesEpoch (ApiVersions).
func featuresEpochs(t testing.TB, addr string) []int64 {
	t.Helper()
	cl := client(t, addr)
	var out []int64
	for _, id := range metadata(t, addr, "").Brokers.NodeIDs() {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = "samsa-test", "1" // KIP-511: v3+ needs both
		resp, err := cl.Broker(int(id)).Request(pollCtx(t), req)
		if err != nil {
			t.Fatalf("ApiVersions of node %d: %v", id, err)
		}
		if r := resp.(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 {
			t.Fatalf("ApiVersions of node %d: error %d", id, r.ErrorCode)
		} else {
			out = append(out, r.FinalizedFeaturesEpoch)
		}
	}
	return out
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

// testKafkaMetadataQuorum: kafka-metadata-quorum describe --status and
// --replication read samsa's DescribeQuorum (forwarded by the broker to
// the active controller): the cluster id, the leader (the controller
// Metadata names, on a cluster of combined nodes), and a row per voter with
// the leader's lag 0.
func testKafkaMetadataQuorum(t *testing.T, addr string) {
	// The leader may change between the Metadata request and the tool's
	// (an election under load): then the run is repeated, never more than
	// twice, and only when Metadata itself saw the change.
	for attempt := 1; ; attempt++ {
		md := metadata(t, addr, "")
		moved := func() bool { return attempt < 3 && metadata(t, addr, "").Controller != md.Controller }
		if checkMetadataQuorum(t, addr, md, moved) {
			return
		}
	}
}

// checkMetadataQuorum runs kafka-metadata-quorum against md's controller;
// a mismatch of the leader returns false unreported when moved says the
// leader moved meanwhile.
func checkMetadataQuorum(t *testing.T, addr string, md kadm.Metadata, moved func() bool) bool {
	status := java(t, nil, kafkaMetadataQuorum, "--bootstrap-server", addr, "describe", "--status")
	want := regexp.MustCompile(`^ClusterId:              ` + regexp.QuoteMeta(md.Cluster) + `
LeaderId:               ` + strconv.Itoa(int(md.Controller)) + `
LeaderEpoch:            [1-9]\d*
HighWatermark:          [1-9]\d*
MaxFollowerLag:         \d+
MaxFollowerLagTimeMs:   -?\d+
CurrentVoters:          \[\{"id": \d+, "endpoints": \["CONTROLLER://[0-9.]+:\d+"\]\}(, \{"id": \d+, "endpoints": \["CONTROLLER://[0-9.]+:\d+"\]\})*\]
CurrentObservers:       \[\]
$`)
	if !want.Match(status) {
		if moved() {
			return false
		}
		t.Errorf("kafka-metadata-quorum describe --status:\n%s\nwant it to match\n%s", status, want)
	}
	repl := java(t, nil, kafkaMetadataQuorum, "--bootstrap-server", addr, "describe", "--replication")
	lines := strings.Split(strings.TrimSuffix(string(repl), "\n"), "\n")
	if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"NodeId", "DirectoryId", "LogEndOffset", "Lag", "LastFetchTimestamp", "LastCaughtUpTimestamp", "Status"}) {
		t.Fatalf("kafka-metadata-quorum describe --replication header %q", lines[0])
	}
	leader := strings.Fields(lines[1])
	if len(leader) != 7 || leader[0] != strconv.Itoa(int(md.Controller)) || leader[3] != "0" || leader[6] != "Leader" {
		if moved() {
			return false
		}
		t.Errorf("kafka-metadata-quorum describe --replication: the leader's row is %q, want node %d, lag 0", lines[1], md.Controller)
	}
	if ts, err := strconv.ParseInt(leader[4], 10, 64); err != nil || time.Since(time.UnixMilli(ts)).Abs() > time.Minute {
		t.Errorf("the leader's last fetch %s is not the time of the answer", leader[4])
	}
	return true
}
