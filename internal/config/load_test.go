package config

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func fixedHost() (string, error) { return "host.example", nil }

// loadSets loads with --set values only and a fixed host name.
func loadSets(sets ...string) (*Broker, error) { return load(fixedHost, "", sets, nil) }

func mustLoad(t *testing.T, sets ...string) *Broker {
	t.Helper()
	b, err := loadSets(sets...)
	if err != nil {
		t.Fatalf("load %v: %v", sets, err)
	}
	return b
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefault(t *testing.T) {
	t.Parallel()
	b := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"NodeID", b.NodeID, int32(1)},
		{"ProcessRoles", b.ProcessRoles, []string{"broker", "controller"}},
		{"ListenAddr", b.ListenAddr, "127.0.0.1:9092"},
		{"AdvertisedAddr", b.AdvertisedAddr, "127.0.0.1:9092"},
		{"InterBrokerListener", b.InterBrokerListener, "PLAINTEXT"},
		{"Listeners", b.Listeners, []Listener{{Name: "PLAINTEXT", Protocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9092,
			AdvertisedHost: "127.0.0.1", AdvertisedPort: 9092}}},
		{"DataDir", b.DataDir, "./samsa-data"},
		{"MetadataDir", b.MetadataDir, "./samsa-data"},
		{"NumPartitions", b.NumPartitions, int32(1)},
		{"DefaultReplicationFactor", b.DefaultReplicationFactor, int16(1)},
		{"AutoCreateTopics", b.AutoCreateTopics, true},
		{"MessageMaxBytes", b.MessageMaxBytes, int32(1048588)},
		{"SocketRequestMaxBytes", b.SocketRequestMaxBytes, int32(104857600)},
		{"ConnectionsMaxIdleMs", b.ConnectionsMaxIdleMs, int64(600000)},
		{"LogRetentionCheckIntervalMs", b.LogRetentionCheckIntervalMs, int64(300000)},
		{"GroupInitialRebalanceDelayMs", b.GroupInitialRebalanceDelayMs, int32(3000)},
		{"GroupMinSessionTimeoutMs", b.GroupMinSessionTimeoutMs, int32(6000)},
		{"GroupMaxSessionTimeoutMs", b.GroupMaxSessionTimeoutMs, int32(1800000)},
		{"GroupMaxSize", b.GroupMaxSize, int32(math.MaxInt32)},
		{"LeaderImbalanceCheckIntervalSeconds", b.LeaderImbalanceCheckIntervalSeconds, int64(300)},
		{"UncleanLeaderElection", b.TopicDefaults.UncleanLeaderElection, false},
		{"OffsetsTopicNumPartitions", b.OffsetsTopicNumPartitions, int32(50)},
		{"OffsetsTopicReplicationFactor", b.OffsetsTopicReplicationFactor, int16(1)},
		{"OffsetsRetentionMs", b.OffsetsRetentionMs, int64(10080 * 60000)},
		{"TransactionStateLogReplicationFactor", b.TransactionStateLogReplicationFactor, int16(1)},
		{"TransactionStateLogMinISR", b.TransactionStateLogMinISR, int32(1)},
		{"CleanerEnable", b.CleanerEnable, true},
		{"ReplicaLagTimeMaxMs", b.ReplicaLagTimeMaxMs, int64(30000)},
		{"Ignored", len(b.Ignored), 0},
		{"Warnings", len(b.Warnings), 0},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	want := Topic{
		CleanupPolicy: []string{"delete"}, CompressionType: "producer",
		CompressionGzipLevel: -1, CompressionLz4Level: 9, CompressionZstdLevel: 3,
		MaxMessageBytes: 1048588, SegmentBytes: 1 << 30, SegmentMs: 604800000, SegmentIndexBytes: 10485760,
		IndexIntervalBytes: 4096, FlushMessages: math.MaxInt64, FlushMs: math.MaxInt64, FileDeleteDelayMs: 60000,
		RetentionMs: 604800000, RetentionBytes: -1, LocalRetentionMs: -2, LocalRetentionBytes: -2,
		TimestampType: "CreateTime", TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: 3600000,
		MinInsyncReplicas: 1, DeleteRetentionMs: 86400000, MaxCompactionLagMs: math.MaxInt64,
		MinCleanableDirtyRatio: 0.5, MessageDownconversion: true,
	}
	if !reflect.DeepEqual(b.TopicDefaults, want) {
		t.Errorf("TopicDefaults =\n%+v\nwant\n%+v", b.TopicDefaults, want)
	}
	for name, v := range b.Values() {
		if v.Source != SourceDefault || v.Origin != "default" {
			t.Errorf("%s: %+v, want a default", name, v)
		}
	}
	if _, ok := b.Get("log.retention.ms"); ok {
		t.Error("log.retention.ms has a value; its default is null")
	}
	if _, ok := b.Get("num.io.threads"); ok {
		t.Error("Get of an ignored config found a value")
	}
}

// A server.properties laid out like Kafka's own KRaft example starts samsa.
func TestLoadKafkaServerProperties(t *testing.T) {
	t.Parallel()
	const file = "testdata/kafka-kraft-combined.properties"
	b, err := load(fixedHost, file, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantListeners := []Listener{
		{Name: "PLAINTEXT", Protocol: "PLAINTEXT", Port: 9092, AdvertisedHost: "localhost", AdvertisedPort: 9092},
		{Name: "CONTROLLER", Protocol: "PLAINTEXT", Port: 9093, AdvertisedHost: "localhost", AdvertisedPort: 9093, Controller: true},
	}
	if !reflect.DeepEqual(b.Listeners, wantListeners) {
		t.Errorf("Listeners = %+v", b.Listeners)
	}
	if b.ListenAddr != ":9092" || b.AdvertisedAddr != "localhost:9092" || b.InterBrokerListener != "PLAINTEXT" {
		t.Errorf("ListenAddr %q, AdvertisedAddr %q, InterBrokerListener %q", b.ListenAddr, b.AdvertisedAddr, b.InterBrokerListener)
	}
	if b.DataDir != "/tmp/kraft-combined-logs" || b.OffsetsTopicReplicationFactor != 1 || b.TransactionStateLogMinISR != 1 {
		t.Errorf("DataDir %q, offsets RF %d, txn min ISR %d", b.DataDir, b.OffsetsTopicReplicationFactor, b.TransactionStateLogMinISR)
	}
	if !reflect.DeepEqual(b.QuorumBootstrapServers, []string{"localhost:9093"}) {
		t.Errorf("QuorumBootstrapServers = %v", b.QuorumBootstrapServers)
	}
	wantIgnored := []string{
		"num.io.threads", "num.network.threads",
		"share.coordinator.state.topic.min.isr", "share.coordinator.state.topic.replication.factor",
		"socket.receive.buffer.bytes", "socket.send.buffer.bytes",
	}
	if !reflect.DeepEqual(b.Ignored, wantIgnored) {
		t.Errorf("Ignored = %q", b.Ignored)
	}
	// Kafka's sample file asks for one recovery thread; samsa honours it.
	if b.NumRecoveryThreads != 1 {
		t.Errorf("NumRecoveryThreads = %d, want the file's 1", b.NumRecoveryThreads)
	}
	if v, _ := b.Get("log.retention.hours"); v != (Value{Value: "168", Source: SourceStatic, Origin: file}) {
		t.Errorf("log.retention.hours = %+v", v)
	}
}

// Expansion is off: "${...}" stays literal and a reference cycle is just
// two strings, not a process exit.
func TestPropertiesExpansionDisabled(t *testing.T) {
	t.Parallel()
	base := "broker.rack=${rack}\nzookeeper.a=${zookeeper.b}\nzookeeper.b=${zookeeper.a}\n"
	b, err := load(fixedHost, writeFile(t, base), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Rack != "${rack}" {
		t.Errorf("Rack = %q, want the literal ${rack}", b.Rack)
	}
	// A numeric key with a reference is refused for what it is.
	path := writeFile(t, base+"log.retention.ms=${retention}\n")
	_, err = load(fixedHost, path, nil, nil)
	want := `config: log.retention.ms="${retention}" (from ` + path + `): not a valid long`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "num.partitions=2\nbroker.rack=r1\n")
	tests := []struct {
		sets      []string
		overrides map[string]string
		want      Value
	}{
		{nil, nil, Value{"2", SourceStatic, file}},
		{[]string{" num.partitions = 3 "}, nil, Value{"3", SourceStatic, "--set"}},
		{[]string{"num.partitions=3", "num.partitions=5"}, nil, Value{"5", SourceStatic, "--set"}},
		{[]string{"num.partitions=3"}, map[string]string{"num.partitions": "4"}, Value{"4", SourceStatic, "flag"}},
	}
	for _, tc := range tests {
		b, err := load(fixedHost, file, tc.sets, tc.overrides)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := b.Get("num.partitions"); v != tc.want {
			t.Errorf("sets %q overrides %v: num.partitions = %+v, want %+v", tc.sets, tc.overrides, v, tc.want)
		}
		if b.NumPartitions != int32(tc.want.Value[0]-'0') {
			t.Errorf("NumPartitions = %d, want %s", b.NumPartitions, tc.want.Value)
		}
		if b.Rack != "r1" {
			t.Errorf("Rack = %q: the file's other keys must survive overrides", b.Rack)
		}
	}
}

func TestUnknownKeysRefused(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "log.retention.hour=24\nretention.ms=1\nnum.io.threads=8\n")
	_, err := load(fixedHost, path, []string{"foo=bar"}, nil)
	want := strings.Join([]string{
		`config: foo (from --set): unknown broker config`,
		`config: log.retention.hour (from ` + path + `): unknown broker config`,
		`config: retention.ms (from ` + path + `): unknown broker config (it is a topic config: set it per topic, ` +
			`or set its broker default log.retention.ms / log.retention.minutes / log.retention.hours)`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
	var ce *Error
	if !errors.As(err, &ce) || !ce.Unknown || ce.Name != "foo" {
		t.Errorf("errors.As: %+v", ce)
	}
}

func TestIgnoredKeys(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, "password.encoder.secret=hunter2", "listener.name.internal.max.connections=100",
		"num.io.threads=8", "zookeeper.connect=zk:2181")
	want := []string{"listener.name.internal.max.connections", "num.io.threads", "password.encoder.secret", "zookeeper.connect"}
	if !reflect.DeepEqual(b.Ignored, want) {
		t.Errorf("Ignored = %q", b.Ignored)
	}
	if _, ok := b.Values()["num.io.threads"]; ok {
		t.Error("an ignored key is among the values")
	}
	var buf bytes.Buffer
	b.LogIgnored(slog.New(slog.NewTextHandler(&buf, nil)))
	out := buf.String()
	if strings.Count(out, "ignoring Kafka config") != 4 || !strings.Contains(out, "key=password.encoder.secret") {
		t.Errorf("log:\n%s", out)
	}
	if strings.Contains(out, "hunter2") {
		t.Error("an ignored secret's value was logged")
	}
}

// TestLeaderBalancingConfigs: the controller's leader balancing runs every
// leader.imbalance.check.interval.seconds unless auto.leader.rebalance.enable
// is false; leader.imbalance.per.broker.percentage is accepted (KRaft does
// not use it either), and any int, as in Kafka.
func TestLeaderBalancingConfigs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sets []string
		want int64
	}{
		{nil, 300},
		{[]string{"leader.imbalance.check.interval.seconds=7"}, 7},
		{[]string{"auto.leader.rebalance.enable=false", "leader.imbalance.check.interval.seconds=7"}, 0},
		{[]string{"leader.imbalance.per.broker.percentage=-5"}, 300},
	} {
		b := mustLoad(t, tc.sets...)
		if got := b.LeaderImbalanceCheckIntervalSeconds; got != tc.want {
			t.Errorf("%v: interval %d, want %d", tc.sets, got, tc.want)
		}
		if len(b.Ignored) != 0 {
			t.Errorf("%v: ignored %v", tc.sets, b.Ignored)
		}
	}
	if b := mustLoad(t, "unclean.leader.election.interval.ms=1000"); !reflect.DeepEqual(b.Ignored, []string{"unclean.leader.election.interval.ms"}) {
		t.Errorf("unclean.leader.election.interval.ms: ignored %v", b.Ignored)
	}
}

func TestLoadInputErrors(t *testing.T) {
	t.Parallel()
	if _, err := loadSets("novalue"); err == nil || err.Error() != `config: --set "novalue": must be key=value` {
		t.Errorf("--set without '=': %v", err)
	}
	if _, err := loadSets("=x"); err == nil || err.Error() != `config: --set "=x": must be key=value` {
		t.Errorf("--set without key: %v", err)
	}
	if _, err := load(fixedHost, filepath.Join(t.TempDir(), "missing.properties"), nil, nil); err == nil ||
		!strings.HasPrefix(err.Error(), "config: read ") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := load(fixedHost, writeFile(t, "a=\\u12"), nil, nil); err == nil || !strings.Contains(err.Error(), "invalid unicode literal") {
		t.Errorf("malformed file: %v", err)
	}
	// Every problem is reported at once.
	_, err := loadSets("log.segment.bytes=10", "num.partitions=0")
	want := "config: log.segment.bytes=\"10\" (from --set): must be at least 14\n" +
		"config: num.partitions=\"0\" (from --set): must be at least 1"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

// The time-based topic defaults follow Kafka's chains: ms beats minutes
// beats hours, and any negative retention means forever (-1).
func TestDurationChains(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sets  []string
		field func(Topic) int64
		want  int64
	}{
		{nil, func(t Topic) int64 { return t.RetentionMs }, 7 * 24 * 3600000},
		{[]string{"log.retention.hours=1"}, func(t Topic) int64 { return t.RetentionMs }, 3600000},
		{[]string{"log.retention.hours=1", "log.retention.minutes=2"}, func(t Topic) int64 { return t.RetentionMs }, 120000},
		{[]string{"log.retention.hours=1", "log.retention.minutes=2", "log.retention.ms=5"}, func(t Topic) int64 { return t.RetentionMs }, 5},
		{[]string{"log.retention.ms=0"}, func(t Topic) int64 { return t.RetentionMs }, 0},
		{[]string{"log.retention.ms=-5"}, func(t Topic) int64 { return t.RetentionMs }, -1},
		{[]string{"log.retention.minutes=-3"}, func(t Topic) int64 { return t.RetentionMs }, -1},
		{[]string{"log.retention.hours=-1", "log.retention.minutes=10"}, func(t Topic) int64 { return t.RetentionMs }, 600000},
		{[]string{"log.roll.hours=2"}, func(t Topic) int64 { return t.SegmentMs }, 7200000},
		{[]string{"log.roll.hours=2", "log.roll.ms=99"}, func(t Topic) int64 { return t.SegmentMs }, 99},
		{[]string{"log.roll.jitter.hours=1"}, func(t Topic) int64 { return t.SegmentJitterMs }, 3600000},
		{[]string{"log.roll.jitter.hours=1", "log.roll.jitter.ms=7"}, func(t Topic) int64 { return t.SegmentJitterMs }, 7},
		{[]string{"log.flush.scheduler.interval.ms=1000"}, func(t Topic) int64 { return t.FlushMs }, 1000},
		{[]string{"log.flush.scheduler.interval.ms=1000", "log.flush.interval.ms=50"}, func(t Topic) int64 { return t.FlushMs }, 50},
		{[]string{"log.flush.interval.messages=1"}, func(t Topic) int64 { return t.FlushMessages }, 1},
		{[]string{"log.segment.bytes=1024"}, func(t Topic) int64 { return t.SegmentBytes }, 1024},
	}
	for _, tc := range tests {
		b := mustLoad(t, tc.sets...)
		if got := tc.field(b.TopicDefaults); got != tc.want {
			t.Errorf("%q: %d, want %d", tc.sets, got, tc.want)
		}
	}
}

// Each broker rule, just inside and just outside its bound.
func TestBrokerConfigBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, good, bad, reason string
		with                    []string // other configs the good value needs
	}{
		{"node.id", "0", "-1", "must be at least 0", nil},
		{"broker.id", "1", "-1", "must be at least 0", nil},
		{"process.roles", "broker,controller", "broker,leader", `element "leader" must be one of broker, controller`, nil},
		{"cluster.id", "MkU3OEVBNTcwNTJENDM2Qg", "my-cluster", "must be a UUID in base64url", nil},
		{"listeners", "PLAINTEXT://127.0.0.1:0", "PLAINTEXT://127.0.0.1", "must be host:port", nil},
		{"advertised.listeners", "PLAINTEXT://a.example:9092", "PLAINTEXT://a.example", "must be host:port", nil},
		{"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT", "PLAINTEXT:QUIC", "unknown security protocol QUIC", nil},
		{"controller.listener.names", "CONTROLLER", "CONT ROLLER", "must be letters", []string{"listeners=PLAINTEXT://:9092,CONTROLLER://:9093"}},
		{"inter.broker.listener.name", "PLAINTEXT", "PLAIN TEXT", "must be a listener name", nil},
		{"controller.quorum.voters", "1@a:9093", "1@a", "must be host:port", nil},
		{"controller.quorum.bootstrap.servers", "a:9093", "a", "must be host:port", nil},
		{"log.dirs", "/data", "/d1,/d2", "several (JBOD) are not supported", nil},
		{"log.dir", "/data", "", "must name a directory", nil},
		{"metadata.log.dir", "/meta", "/m1,/m2", "several (JBOD) are not supported", nil},
		{"num.partitions", "1", "0", "must be at least 1", nil},
		{"default.replication.factor", "32767", "0", "must be between 1 and 32767", nil},
		{"log.segment.bytes", "14", "13", "must be at least 14", nil},
		{"log.roll.ms", "1", "0", "must be at least 1", nil},
		{"log.roll.hours", "1", "0", "must be at least 1", nil},
		{"log.roll.jitter.ms", "0", "-1", "must be at least 0", nil},
		{"log.roll.jitter.hours", "0", "-1", "must be at least 0", nil},
		{"log.index.interval.bytes", "0", "-1", "must be at least 0", nil},
		{"log.index.size.max.bytes", "4", "3", "must be at least 4", nil},
		{"log.flush.interval.messages", "1", "0", "must be at least 1", nil},
		{"log.flush.interval.ms", "0", "-1", "must be at least 0", nil},
		{"log.flush.scheduler.interval.ms", "0", "-1", "must be at least 0", nil},
		{"message.max.bytes", "0", "-1", "must be at least 0", nil},
		{"log.cleanup.policy", "compact", "compact,", `element "" must be one of compact, delete`, nil},
		{"log.message.timestamp.type", "CreateTime", "createtime", "must be one of CreateTime, LogAppendTime", nil},
		{"log.message.timestamp.before.max.ms", "0", "-1", "must be at least 0", nil},
		{"log.message.timestamp.after.max.ms", "0", "-1", "must be at least 0", nil},
		{"log.message.timestamp.difference.max.ms", "0", "-1", "must be at least 0", nil},
		{"compression.type", "lz4", "lz5", "must be one of", nil},
		{"compression.gzip.level", "1", "0", "must be between 1 and 9, or -1", nil},
		{"compression.lz4.level", "1", "0", "must be between 1 and 17", nil},
		{"compression.zstd.level", "-131072", "-131073", "must be between -131072 and 22", nil},
		{"min.insync.replicas", "1", "0", "must be at least 1", nil},
		{"log.segment.delete.delay.ms", "0", "-1", "must be at least 0", nil},
		{"log.local.retention.ms", "-2", "-3", "must be at least -2", nil},
		{"log.local.retention.bytes", "-2", "-3", "must be at least -2", nil},
		{"remote.log.storage.system.enable", "false", "true", "must be false: samsa has no tiered storage", nil},
		{"log.retention.check.interval.ms", "1", "0", "must be at least 1", nil},
		{"log.cleaner.threads", "0", "-1", "must be at least 0", nil},
		{"log.cleaner.backoff.ms", "0", "-1", "must be at least 0", nil},
		{"log.cleaner.min.cleanable.ratio", "1", "2", "must be between 0 and 1", nil},
		{"log.cleaner.delete.retention.ms", "0", "-1", "must be at least 0", nil},
		{"log.cleaner.min.compaction.lag.ms", "0", "-1", "must be at least 0", nil},
		{"log.cleaner.max.compaction.lag.ms", "1", "0", "must be at least 1", nil},
		{"socket.request.max.bytes", "1048588", "0", "must be at least 1", nil},
		{"fetch.max.bytes", "1024", "1023", "must be at least 1024", nil},
		{"max.incremental.fetch.session.cache.slots", "0", "-1", "must be at least 0", nil},
		{"replica.lag.time.max.ms", "500", "-1", "must be at least 0", nil},
		{"broker.heartbeat.interval.ms", "500", "0", "must be at least 1", nil},
		{"broker.session.timeout.ms", "20000", "0", "must be at least 1", nil},
		{"metadata.log.max.record.bytes.between.snapshots", "1048576", "0", "must be at least 1", nil},
		{"replica.fetch.max.bytes", "0", "-1", "must be at least 0", nil},
		{"replica.fetch.response.max.bytes", "0", "-1", "must be at least 0", nil},
		{"replica.fetch.backoff.ms", "0", "-1", "must be at least 0", nil},
		{"num.replica.fetchers", "1", "0", "must be at least 1", nil},
		{"num.recovery.threads.per.data.dir", "4", "0", "must be at least 1", nil},
		{"samsa.console.sample.interval.ms", "100", "99", "must be at least 100", nil},
		{"replica.high.watermark.checkpoint.interval.ms", "1", "0", "must be at least 1", nil},
		{"leader.imbalance.check.interval.seconds", "1", "0", "must be at least 1", nil},
		{"group.initial.rebalance.delay.ms", "0", "-1", "must be at least 0", nil},
		{"group.min.session.timeout.ms", "0", "-1", "must be at least 0", nil},
		{"group.max.session.timeout.ms", "6000", "-1", "must be at least 0", nil},
		{"group.max.size", "1", "0", "must be at least 1", nil},
		{"offsets.topic.num.partitions", "1", "0", "must be at least 1", nil},
		{"offsets.topic.replication.factor", "1", "0", "must be at least 1", nil},
		{"offsets.topic.segment.bytes", "1", "0", "must be at least 1", nil},
		{"offsets.retention.minutes", "1", "0", "must be at least 1", nil},
		{"offsets.retention.check.interval.ms", "1", "0", "must be at least 1", nil},
		{"offsets.commit.timeout.ms", "1", "0", "must be at least 1", nil},
		{"offset.metadata.max.bytes", "0", "-1", "must be at least 0", nil},
		{"transaction.state.log.num.partitions", "1", "0", "must be at least 1", nil},
		{"transaction.state.log.replication.factor", "1", "0", "must be at least 1", nil},
		{"transaction.state.log.min.isr", "1", "0", "must be at least 1", nil},
		{"transaction.state.log.segment.bytes", "1", "0", "must be at least 1", nil},
		{"transaction.max.timeout.ms", "1", "0", "must be at least 1", nil},
		{"transactional.id.expiration.ms", "1", "0", "must be at least 1", nil},
		{"transaction.abort.timed.out.transaction.cleanup.interval.ms", "1", "0", "must be at least 1", nil},
		{"add.partitions.to.txn.retry.backoff.ms", "1", "0", "must be at least 1", nil},
		{"add.partitions.to.txn.retry.backoff.max.ms", "0", "-1", "must be at least 0", nil},
		{"transaction.remove.expired.transaction.cleanup.interval.ms", "1", "0", "must be at least 1", nil},
		{"producer.id.expiration.ms", "1", "0", "must be at least 1", nil},
		{"authorizer.class.name", "", "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "samsa has no authorizer", nil},
		{"super.users", "User:admin", "admin", `principal "admin" must be Type:name`, nil},
		{"samsa.http.listen", "0.0.0.0:0", "localhost", "must be host:port", nil},
		{"connections.max.reauth.ms", "0", "3600000", "samsa does not re-authenticate SASL connections (KIP-368) yet", nil},
		{"connection.failed.authentication.delay.ms", "0", "-1", "must be at least 0", nil},
	}
	tested := map[string]bool{}
	for _, tc := range tests {
		tested[tc.name] = true
		if _, err := loadSets(append(tc.with, tc.name+"="+tc.good)...); err != nil {
			t.Errorf("%s=%q: %v", tc.name, tc.good, err)
		}
		_, err := loadSets(append(tc.with, tc.name+"="+tc.bad)...)
		prefix := "config: " + tc.name + "=" + quote(tc.bad) + " (from --set): "
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s=%q: error %v, want %q...%q", tc.name, tc.bad, err, prefix, tc.reason)
		}
	}
	for _, d := range brokerDefs {
		if d.Rule != nil && !tested[d.Name] {
			t.Errorf("broker config %s has a rule but no bounds test", d.Name)
		}
	}
}

// Rules that span several configs, each failing with the config to change.
func TestCrossConfigRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sets []string
		want string // the whole error
	}{
		{[]string{"node.id=1", "broker.id=2"}, `config: broker.id="2" (from --set): must equal node.id (1) when both are set`},
		{[]string{"group.min.session.timeout.ms=10", "group.max.session.timeout.ms=5"},
			`config: group.min.session.timeout.ms="10" (from --set): must not exceed group.max.session.timeout.ms (5): no session timeout would be accepted`},
		{[]string{"log.cleaner.min.compaction.lag.ms=10", "log.cleaner.max.compaction.lag.ms=5"},
			`config: log.cleaner.min.compaction.lag.ms="10" (from --set): must not exceed log.cleaner.max.compaction.lag.ms (5)`},
		{[]string{"replica.fetch.wait.max.ms=40000"},
			`config: replica.fetch.wait.max.ms="40000" (from --set): must not exceed replica.lag.time.max.ms (30000), or idle followers leave the ISR`},
		{[]string{"controller.quorum.voters=2@a:9093"},
			`config: controller.quorum.voters="2@a:9093" (from --set): must include node.id 1: process.roles includes controller`},
		{[]string{"process.roles=broker", "controller.quorum.voters=1@a:9093"},
			`config: controller.quorum.voters="1@a:9093" (from --set): must not include node.id 1: process.roles does not include controller`},
		{[]string{"process.roles=broker"}, `config: controller.quorum.voters="" (from default): must name the controllers ` +
			`(or set controller.quorum.bootstrap.servers): process.roles does not include controller, so this node has a quorum to join`},
		{[]string{"listeners=SSL://:9093"}, `config: listeners="SSL://:9093" (from --set): listener SSL uses SSL: samsa has no TLS: its listeners are PLAINTEXT or SASL_PLAINTEXT`},
		{[]string{"listeners=INTERNAL://:9092"},
			`config: listeners="INTERNAL://:9092" (from --set): listener INTERNAL has no security protocol in listener.security.protocol.map`},
		{[]string{"listeners=PLAINTEXT://0.0.0.0:9092"},
			`config: listeners="PLAINTEXT://0.0.0.0:9092" (from --set): listener PLAINTEXT binds 0.0.0.0, which clients cannot connect to: set advertised.listeners`},
		{[]string{"advertised.listeners=PLAINTEXT://0.0.0.0:9092"},
			`config: advertised.listeners="PLAINTEXT://0.0.0.0:9092" (from --set): listener PLAINTEXT: clients cannot connect to "0.0.0.0": give a routable host`},
		{[]string{"advertised.listeners=OTHER://a:1"}, `config: advertised.listeners="OTHER://a:1" (from --set): listener OTHER is not in listeners`},
		{[]string{"advertised.listeners=a:0"}, `config: advertised.listeners="a:0" (from --set): listener PLAINTEXT: port 0 cannot be advertised`},
		{[]string{"listeners=PLAINTEXT://:9092,CONTROLLER://:9092"},
			`config: listeners="PLAINTEXT://:9092,CONTROLLER://:9092" (from --set): listeners PLAINTEXT and CONTROLLER both bind port 9092`},
		{[]string{"controller.listener.names=CTRL"},
			`config: controller.listener.names="CTRL" (from --set): names no listener in listeners, but process.roles includes controller`},
		{[]string{"listeners=CONTROLLER://:9093"},
			`config: listeners="CONTROLLER://:9093" (from --set): has no client listener: every listener is named in controller.listener.names`},
		{[]string{"listeners=PLAINTEXT://:9092,CONTROLLER://:9093", "inter.broker.listener.name=CONTROLLER"},
			`config: inter.broker.listener.name="CONTROLLER" (from --set): must name a client listener in listeners`},
	}
	for _, tc := range tests {
		_, err := loadSets(tc.sets...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.sets, err, tc.want)
		}
	}
	// Two listeners may share a port on distinct hosts.
	mustLoad(t, "listeners=PLAINTEXT://10.0.0.1:9092,CONTROLLER://10.0.0.2:9092")
}

func TestListenersAndAddresses(t *testing.T) {
	t.Parallel()
	// The flags give bare host:port for listeners and advertised.listeners.
	b, err := load(fixedHost, "", nil, map[string]string{"listeners": "0.0.0.0:19092", "advertised.listeners": "broker1:19092"})
	if err != nil {
		t.Fatal(err)
	}
	if b.ListenAddr != "0.0.0.0:19092" || b.AdvertisedAddr != "broker1:19092" {
		t.Errorf("ListenAddr %q AdvertisedAddr %q", b.ListenAddr, b.AdvertisedAddr)
	}
	// An empty host binds everything and advertises the host name.
	b = mustLoad(t, "listeners=PLAINTEXT://:9092")
	if b.ListenAddr != ":9092" || b.AdvertisedAddr != "host.example:9092" {
		t.Errorf("ListenAddr %q AdvertisedAddr %q", b.ListenAddr, b.AdvertisedAddr)
	}
	// Port 0 (tests): the server fills in the bound port.
	b = mustLoad(t, "listeners=127.0.0.1:0")
	if b.ListenAddr != "127.0.0.1:0" || b.Listeners[0].AdvertisedPort != 0 {
		t.Errorf("ListenAddr %q AdvertisedPort %d", b.ListenAddr, b.Listeners[0].AdvertisedPort)
	}
	// IPv6, lower-case names, an explicit map and inter-broker listener.
	b = mustLoad(t, "listeners=internal://[::1]:9092,external://[::1]:9094",
		"listener.security.protocol.map=internal:PLAINTEXT,EXTERNAL:PLAINTEXT",
		"advertised.listeners=EXTERNAL://kafka.example:443", "inter.broker.listener.name=internal")
	want := []Listener{
		{Name: "INTERNAL", Protocol: "PLAINTEXT", Host: "::1", Port: 9092, AdvertisedHost: "::1", AdvertisedPort: 9092},
		{Name: "EXTERNAL", Protocol: "PLAINTEXT", Host: "::1", Port: 9094, AdvertisedHost: "kafka.example", AdvertisedPort: 443},
	}
	if !reflect.DeepEqual(b.Listeners, want) || b.InterBrokerListener != "INTERNAL" || b.ListenAddr != "[::1]:9092" {
		t.Errorf("Listeners %+v, inter-broker %q, ListenAddr %q", b.Listeners, b.InterBrokerListener, b.ListenAddr)
	}
	if got := b.Listeners[1].AdvertisedAddr(); got != "kafka.example:443" {
		t.Errorf("AdvertisedAddr() = %q", got)
	}
	// Without a host name, an empty host cannot be advertised.
	_, err = load(func() (string, error) { return "", errors.New("no uts") }, "", []string{"listeners=:9092"}, nil)
	if err == nil || !strings.Contains(err.Error(), "listener PLAINTEXT has no host and the host name is unknown (no uts): set advertised.listeners") {
		t.Errorf("no host name: %v", err)
	}
	// A controller-only node has no client address.
	b = mustLoad(t, "process.roles=controller", "listeners=CONTROLLER://:9093")
	if b.ListenAddr != "" || b.AdvertisedAddr != "" || !b.Listeners[0].Controller {
		t.Errorf("controller-only: %q %q %+v", b.ListenAddr, b.AdvertisedAddr, b.Listeners)
	}
}

func TestIdentityStorageAndDerivedDefaults(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, "broker.id=7")
	if v, _ := b.Get("node.id"); b.NodeID != 7 || v != (Value{"7", SourceStatic, "--set (as broker.id)"}) {
		t.Errorf("broker.id alias: NodeID %d, node.id %+v", b.NodeID, v)
	}
	mustLoad(t, "broker.id=3", "node.id=3")

	b = mustLoad(t, "log.dir=/y", "log.dirs=/x", "metadata.log.dir=/m")
	if b.DataDir != "/x" || b.MetadataDir != "/m" {
		t.Errorf("DataDir %q MetadataDir %q", b.DataDir, b.MetadataDir)
	}
	b = mustLoad(t, "log.dir=/y")
	if b.DataDir != "/y" || b.MetadataDir != "/y" {
		t.Errorf("DataDir %q MetadataDir %q", b.DataDir, b.MetadataDir)
	}

	tests := []struct {
		sets            []string
		offsetsRF, txRF int16
		txMinISR        int32
	}{
		// No quorum named: the node is its cluster's only broker.
		{nil, 1, 1, 1},
		{[]string{"offsets.topic.replication.factor=3", "transaction.state.log.replication.factor=2"}, 3, 2, 2},
		{[]string{"transaction.state.log.min.isr=3"}, 1, 1, 3},
		// A quorum named, even of this node alone: other brokers may
		// join, so Kafka's 3.
		{[]string{"controller.quorum.voters=1@a:9093"}, 3, 3, 2},
		{[]string{"controller.quorum.voters=1@a:9093,2@b:9093"}, 3, 3, 2},
		{[]string{"controller.quorum.voters=1@a:1,2@b:1,3@c:1,4@d:1,5@e:1"}, 3, 3, 2},
		{[]string{"controller.quorum.bootstrap.servers=a:1"}, 3, 3, 2},
		{[]string{"process.roles=broker", "node.id=4", "controller.quorum.voters=1@a:9093"}, 3, 3, 2},
		{[]string{"controller.quorum.voters=1@a:9093", "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1"}, 1, 1, 1},
	}
	for _, tc := range tests {
		b := mustLoad(t, tc.sets...)
		if b.OffsetsTopicReplicationFactor != tc.offsetsRF || b.TransactionStateLogReplicationFactor != tc.txRF ||
			b.TransactionStateLogMinISR != tc.txMinISR {
			t.Errorf("%q: offsets RF %d, txn RF %d, txn min ISR %d; want %d %d %d", tc.sets,
				b.OffsetsTopicReplicationFactor, b.TransactionStateLogReplicationFactor, b.TransactionStateLogMinISR,
				tc.offsetsRF, tc.txRF, tc.txMinISR)
		}
	}
	b = mustLoad(t, "controller.quorum.voters=1@a:9093,2@b:9093")
	if want := []Voter{{1, "a", 9093}, {2, "b", 9093}}; !reflect.DeepEqual(b.QuorumVoters, want) || b.QuorumVoters[1].Addr() != "b:9093" {
		t.Errorf("QuorumVoters = %+v", b.QuorumVoters)
	}
}

func TestAuthorizationAndWarnings(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, "authorizer.class.name=", "super.users=User:admin; User:ops", "allow.everyone.if.no.acl.found=true")
	if !reflect.DeepEqual(b.SuperUsers, []string{"User:admin", "User:ops"}) || !b.AllowEveryoneIfNoACLFound {
		t.Errorf("super users %q, allow everyone %v", b.SuperUsers, b.AllowEveryoneIfNoACLFound)
	}
	b = mustLoad(t, "message.max.bytes=200000000", "log.message.timestamp.difference.max.ms=1000")
	want := []string{
		"message.max.bytes (200000000) exceeds socket.request.max.bytes (104857600): produce requests carrying the largest batches will be refused at the socket",
		"log.message.timestamp.difference.max.ms is deprecated and was removed in Kafka 4.0",
	}
	if !reflect.DeepEqual(b.Warnings, want) {
		t.Errorf("Warnings = %q", b.Warnings)
	}
}

// TestSecurityNotProvidedRefused: settings that ask for security samsa
// does not provide (an authorizer, TLS, SASL) stop the broker with an
// error naming the key, rather than being accepted and ignored; a value
// that may be a secret is not shown.
func TestSecurityNotProvidedRefused(t *testing.T) {
	t.Parallel()
	const (
		noTLS  = "samsa has no TLS: its listeners are PLAINTEXT only; remove the ssl.* settings"
		noSASL = "samsa's SASL is PLAIN and SCRAM on SASL_PLAINTEXT client listeners, configured by sasl.enabled.mechanisms " +
			"and listener.name.<listener>.[<mechanism>.]sasl.* only; brokers and controllers talk to each other over PLAINTEXT"
		noListener = "names no SASL_PLAINTEXT listener: a SASL setting for a listener that does not authenticate is refused"
	)
	tests := []struct {
		sets []string
		want string // the whole error
	}{
		{[]string{"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"},
			`config: authorizer.class.name="org.apache.kafka.metadata.authorizer.StandardAuthorizer" (from --set): samsa has no authorizer ` +
				`(ACLs are not implemented), and ignoring it would leave every resource open to every client: remove it to run without authorization`},
		{[]string{"authorizer.class.name=kafka.security.authorizer.AclAuthorizer"},
			`config: authorizer.class.name="kafka.security.authorizer.AclAuthorizer" (from --set): samsa has no authorizer ` +
				`(ACLs are not implemented), and ignoring it would leave every resource open to every client: remove it to run without authorization`},
		{[]string{"ssl.keystore.password=hunter2"}, `config: ssl.keystore.password (from --set): ` + noTLS},
		{[]string{"ssl.client.auth=required"}, `config: ssl.client.auth (from --set): ` + noTLS},
		{[]string{"sasl.mechanism.inter.broker.protocol=PLAIN"}, `config: sasl.mechanism.inter.broker.protocol (from --set): ` + noSASL},
		{[]string{"sasl.server.callback.handler.class=com.example.Handler"}, `config: sasl.server.callback.handler.class (from --set): ` + noSASL},
		{[]string{"listener.name.internal.ssl.keystore.location=/k.jks"}, `config: listener.name.internal.ssl.keystore.location (from --set): ` + noTLS},
		{[]string{"listener.name.external.plain.sasl.jaas.config=secret"}, `config: listener.name.external.plain.sasl.jaas.config (from --set): ` + noListener},
		{[]string{"listener.name.external.sasl.enabled.mechanisms=PLAIN"}, `config: listener.name.external.sasl.enabled.mechanisms (from --set): ` + noListener},
		{[]string{"listener.name.external.gssapi.sasl.jaas.config=secret"}, `config: listener.name.external.gssapi.sasl.jaas.config (from --set): ` + noSASL},
		{[]string{"security.inter.broker.protocol=SSL"},
			`config: security.inter.broker.protocol="SSL" (from --set): samsa's brokers talk to each other over PLAINTEXT only (it has no TLS and no SASL authentication)`},
		{[]string{"listeners=SASL_PLAINTEXT://127.0.0.1:9092", "sasl.enabled.mechanisms=SCRAM-SHA-256"},
			`config: listeners="SASL_PLAINTEXT://127.0.0.1:9092" (from --set): listener SASL_PLAINTEXT is SASL_PLAINTEXT and the inter-broker listener ` +
				`(the first client listener, as inter.broker.listener.name is unset); samsa's brokers replicate over PLAINTEXT only: ` +
				`add a PLAINTEXT listener for them (e.g. INTERNAL://...) and name it in inter.broker.listener.name`},
		{[]string{"listeners=SASL_SSL://127.0.0.1:9092"},
			`config: listeners="SASL_SSL://127.0.0.1:9092" (from --set): listener SASL_SSL uses SASL_SSL: samsa has no TLS: its listeners are PLAINTEXT or SASL_PLAINTEXT (SASL without TLS)`},
		// Whatever name the listener has, the map decides its protocol.
		{[]string{"listeners=EXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093", "listener.security.protocol.map=EXT:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"},
			`config: listeners="EXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093" (from --set): listener CONTROLLER uses SASL_PLAINTEXT: ` +
				`samsa's controllers talk to brokers and each other over PLAINTEXT only (SASL_PLAINTEXT is for client listeners)`},
	}
	for _, tc := range tests {
		_, err := loadSets(tc.sets...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.sets, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "=\"secret\"")) {
			t.Errorf("%q: a secret is in the error: %v", tc.sets, err)
		}
	}

	// From a file too, every refusal at once, sorted by key.
	path := writeFile(t, "ssl.truststore.password=hunter2\nsasl.mechanism.inter.broker.protocol=PLAIN\n")
	_, err := load(fixedHost, path, nil, nil)
	want := `config: sasl.mechanism.inter.broker.protocol (from ` + path + `): ` + noSASL + "\n" +
		`config: ssl.truststore.password (from ` + path + `): ` + noTLS
	if err == nil || err.Error() != want {
		t.Errorf("file:\n got %v\nwant %s", err, want)
	}

	// What stays accepted: no authorizer, a map naming other protocols
	// for listeners that do not exist (Kafka's default and its stock
	// server.properties, TestLoadKafkaServerProperties, name all four),
	// and the one inter-broker protocol samsa speaks (ignored: it is the
	// only one).
	b := mustLoad(t, "authorizer.class.name=", "security.inter.broker.protocol=PLAINTEXT")
	if !slices.Equal(b.Ignored, []string{"security.inter.broker.protocol"}) {
		t.Errorf("Ignored = %q", b.Ignored)
	}
	b = mustLoad(t, "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL")
	for _, l := range b.Listeners {
		if l.Protocol != "PLAINTEXT" {
			t.Errorf("listener %s: protocol %s", l.Name, l.Protocol)
		}
	}
}
