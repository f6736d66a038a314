package configs

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/test/cluster"
)

// valid is a valid value, other than the default, for every supported topic
// config (remote.storage.enable accepts only its default). A config added
// to config.TopicDefs without an entry here fails TestTopicConfigRoundTrip.
var valid = map[string]string{
	"cleanup.policy":                          "compact,delete",
	"compression.gzip.level":                  "5",
	"compression.lz4.level":                   "12",
	"compression.type":                        "zstd",
	"compression.zstd.level":                  "7",
	"delete.retention.ms":                     "1000",
	"file.delete.delay.ms":                    "500",
	"flush.messages":                          "1000",
	"flush.ms":                                "2000",
	"follower.replication.throttled.replicas": "*",
	"index.interval.bytes":                    "8192",
	"leader.replication.throttled.replicas":   "0:1",
	"local.retention.bytes":                   "1048576",
	"local.retention.ms":                      "60000",
	"max.compaction.lag.ms":                   "3600000",
	"max.message.bytes":                       "65536",
	"message.downconversion.enable":           "false",
	"message.timestamp.after.max.ms":          "60000",
	"message.timestamp.before.max.ms":         "120000",
	"message.timestamp.difference.max.ms":     "180000",
	"message.timestamp.type":                  "LogAppendTime",
	"min.cleanable.dirty.ratio":               "0.25",
	"min.compaction.lag.ms":                   "1000",
	"min.insync.replicas":                     "2",
	"preallocate":                             "true",
	"remote.storage.enable":                   "false",
	"retention.bytes":                         "104857600",
	"retention.ms":                            "86400000",
	"segment.bytes":                           "16777216",
	"segment.index.bytes":                     "1048576",
	"segment.jitter.ms":                       "100",
	"segment.ms":                              "3600000",
	"unclean.leader.election.enable":          "true",
}

// staticSets are set as if in server.properties, so some topic configs
// take a STATIC_BROKER_CONFIG default.
var staticSets = []string{"log.retention.bytes=123456789"}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t testing.TB, b *cluster.Broker) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

func describeTopic(t testing.TB, adm *kadm.Client, topic string) map[string]kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe %s: %v %v %s", topic, err, rc.Err, rc.ErrMessage)
	}
	return byKey(rc.Configs)
}

func describeBroker(t testing.TB, adm *kadm.Client, brokers ...int32) map[string]kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeBrokerConfigs(testCtx(t), brokers...)
	if err != nil {
		t.Fatal(err)
	}
	if len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe broker %v: %+v", brokers, rcs)
	}
	return byKey(rcs[0].Configs)
}

func byKey(cs []kadm.Config) map[string]kadm.Config {
	out := map[string]kadm.Config{}
	for _, c := range cs {
		out[c.Key] = c
	}
	return out
}

// wantConfig checks a described config's value and source.
func wantConfig(t testing.TB, cs map[string]kadm.Config, name, value string, source kmsg.ConfigSource) {
	t.Helper()
	c, ok := cs[name]
	if !ok {
		t.Errorf("%s: not described", name)
		return
	}
	if c.MaybeValue() != value || c.Source != source {
		t.Errorf("%s = %q (%v), want %q (%v)", name, c.MaybeValue(), c.Source, value, source)
	}
}

// defaultSource is where a topic config without an override takes its
// value from on a broker started with staticSets.
func defaultSource(def *config.Def) (string, kmsg.ConfigSource) {
	if def.Name == "retention.bytes" {
		return "123456789", kmsg.ConfigSourceStaticBrokerConfig
	}
	return def.Default, kmsg.ConfigSourceDefaultConfig
}

// wantRefused checks that the one response failed with code, naming name.
func wantRefused(t testing.TB, resps kadm.AlterConfigsResponses, err error, code *kerr.Error, name string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(resps) != 1 {
		t.Fatalf("%d responses, want 1", len(resps))
	}
	r := resps[0]
	if !errors.Is(r.Err, code) || !strings.Contains(r.ErrMessage, name) {
		t.Errorf("%s: got %v %q, want %v naming it", name, r.Err, r.ErrMessage, code)
	}
}

func ok(t testing.TB, resps kadm.AlterConfigsResponses, err error) {
	t.Helper()
	if err == nil {
		for _, r := range resps {
			if r.Err != nil {
				err = errors.Join(err, errors.New(r.Name+": "+r.Err.Error()+": "+r.ErrMessage))
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestTopicConfigRoundTrip: every supported topic config goes through
// CreateTopics, DescribeConfigs and IncrementalAlterConfigs with the right
// source, an invalid value is refused with INVALID_CONFIG naming the config,
// and the overrides survive a restart.
func TestTopicConfigRoundTrip(t *testing.T) {
	t.Parallel()
	b := cluster.Start(t, staticSets...)
	_, adm := newClient(t, b)
	ctx := testCtx(t)

	defs := config.TopicDefs()
	all := map[string]*string{}
	for _, d := range defs {
		v, ok := valid[d.Name]
		if !ok {
			t.Fatalf("no valid value for topic config %s: add one to the table", d.Name)
		}
		if v == d.Default && d.Name != "remote.storage.enable" {
			t.Fatalf("%s: table value %q is the default", d.Name, v)
		}
		all[d.Name] = &v
	}

	// CreateTopics with every config at once.
	if _, err := adm.CreateTopic(ctx, 1, 1, all, "created"); err != nil {
		t.Fatal(err)
	}
	// IncrementalAlterConfigs SET of every config on a plain topic.
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "altered"); err != nil {
		t.Fatal(err)
	}
	plain := describeTopic(t, adm, "altered")
	for _, d := range defs {
		v, src := defaultSource(d)
		wantConfig(t, plain, d.Name, v, src)
	}
	var sets []kadm.AlterConfig
	for _, d := range defs {
		sets = append(sets, kadm.AlterConfig{Op: kadm.SetConfig, Name: d.Name, Value: all[d.Name]})
	}
	resps, err := adm.AlterTopicConfigs(ctx, sets, "altered")
	ok(t, resps, err)

	check := func(b *cluster.Broker) {
		t.Helper()
		_, adm := newClient(t, b)
		for _, topic := range []string{"created", "altered"} {
			cs := describeTopic(t, adm, topic)
			for _, d := range defs {
				wantConfig(t, cs, d.Name, valid[d.Name], kmsg.ConfigSourceDynamicTopicConfig)
			}
		}
	}
	check(b)
	b = b.Restart()
	check(b)
	_, adm = newClient(t, b)

	// DELETE of every config brings back the broker's values.
	var dels []kadm.AlterConfig
	for _, d := range defs {
		dels = append(dels, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: d.Name})
	}
	resps, err = adm.AlterTopicConfigs(ctx, dels, "altered")
	ok(t, resps, err)
	cs := describeTopic(t, adm, "altered")
	for _, d := range defs {
		v, src := defaultSource(d)
		wantConfig(t, cs, d.Name, v, src)
	}

	// An invalid value is refused, by CreateTopics and by both alters,
	// naming the config, and changes nothing.
	bad := "not-a-valid-value"
	for _, d := range defs {
		cr, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{d.Name: &bad}, "bad-"+strings.ReplaceAll(d.Name, ".", "-"))
		if !errors.Is(err, kerr.InvalidConfig) || !strings.Contains(cr.ErrMessage, d.Name) {
			t.Errorf("CreateTopics %s=%s: got %v %q, want INVALID_CONFIG naming it", d.Name, bad, err, cr.ErrMessage)
		}
		resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: d.Name, Value: &bad}}, "altered")
		wantRefused(t, resps, err, kerr.InvalidConfig, d.Name)
		resps, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: d.Name, Value: &bad}}, "altered")
		wantRefused(t, resps, err, kerr.InvalidConfig, d.Name)
	}
	cs = describeTopic(t, adm, "altered")
	for _, d := range defs {
		v, src := defaultSource(d)
		wantConfig(t, cs, d.Name, v, src)
	}
}

// TestDynamicBrokerConfigs: broker configs set at runtime, at the cluster
// default and per broker, become the topics' defaults with the matching
// source, are refused where Kafka refuses them, and survive a restart.
func TestDynamicBrokerConfigs(t *testing.T) {
	t.Parallel()
	b := cluster.Start(t, staticSets...)
	_, adm := newClient(t, b)
	ctx := testCtx(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	day, hour := "86400000", "3600000"
	resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "log.retention.ms", Value: &day},
		{Op: kadm.AppendConfig, Name: "log.cleanup.policy", Value: kadm.StringPtr("compact")},
		{Op: kadm.SetConfig, Name: "log.roll.ms", Value: &day},
	})
	ok(t, resps, err)
	resps, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.roll.ms", Value: &hour}}, 1)
	ok(t, resps, err)

	check := func(b *cluster.Broker) {
		t.Helper()
		_, adm := newClient(t, b)
		cs := describeTopic(t, adm, "t")
		wantConfig(t, cs, "retention.ms", day, kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		wantConfig(t, cs, "cleanup.policy", "delete,compact", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		wantConfig(t, cs, "segment.ms", hour, kmsg.ConfigSourceDynamicBrokerConfig)
		wantConfig(t, cs, "retention.bytes", "123456789", kmsg.ConfigSourceStaticBrokerConfig)

		// The cluster-default resource lists only what is set there.
		def := describeBroker(t, adm)
		if len(def) != 3 {
			t.Errorf("cluster defaults: %d configs, want 3: %v", len(def), def)
		}
		wantConfig(t, def, "log.retention.ms", day, kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		wantConfig(t, def, "log.roll.ms", day, kmsg.ConfigSourceDynamicDefaultBrokerConfig)

		own := describeBroker(t, adm, 1)
		wantConfig(t, own, "log.roll.ms", hour, kmsg.ConfigSourceDynamicBrokerConfig)
		wantConfig(t, own, "log.retention.ms", day, kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		wantConfig(t, own, "log.retention.bytes", "123456789", kmsg.ConfigSourceStaticBrokerConfig)
		var got []string
		for _, s := range own["log.roll.ms"].Synonyms {
			got = append(got, s.Key+"="+deref(s.Value)+"/"+s.Source.String())
		}
		want := []string{"log.roll.ms=" + hour + "/DYNAMIC_BROKER_CONFIG", "log.roll.ms=" + day + "/DYNAMIC_DEFAULT_BROKER_CONFIG",
			"log.roll.hours=168/DEFAULT_CONFIG"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("log.roll.ms synonyms:\n got %v\nwant %v", got, want)
		}
	}
	check(b)
	b = b.Restart()
	check(b)
	_, adm = newClient(t, b)

	// Refusals: INVALID_REQUEST naming the config, as Kafka answers a
	// ConfigException about a broker config.
	for _, c := range []struct {
		name, value string
		brokers     []int32
	}{
		{"log.dirs", "/tmp/x", []int32{1}},              // read-only
		{"node.id", "2", nil},                           // read-only
		{"log.segment.bytes", "abc", nil},               // not an int
		{"log.segment.bytes", "10", []int32{1}},         // below the minimum
		{"no.such.config", "1", nil},                    // unknown
		{"log.cleanup.policy", "sometimes", []int32{1}}, // not a policy
	} {
		resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: c.name, Value: &c.value}}, c.brokers...)
		wantRefused(t, resps, err, kerr.InvalidRequest, c.name)
		resps, err = adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{{Name: c.name, Value: &c.value}}, c.brokers...)
		wantRefused(t, resps, err, kerr.InvalidRequest, c.name)
	}
	// Another broker's id is not this broker's to alter.
	resps, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.roll.ms", Value: &hour}}, 7)
	if err == nil && (len(resps) != 1 || resps[0].Err == nil) {
		t.Errorf("altering broker 7 on broker 1: %+v, want an error", resps)
	}

	// DELETE removes a level's value; validate-only changes nothing.
	resps, err = adm.ValidateAlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "log.roll.ms"}}, 1)
	ok(t, resps, err)
	wantConfig(t, describeTopic(t, adm, "t"), "segment.ms", hour, kmsg.ConfigSourceDynamicBrokerConfig)
	resps, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "log.roll.ms"}}, 1)
	ok(t, resps, err)
	wantConfig(t, describeTopic(t, adm, "t"), "segment.ms", day, kmsg.ConfigSourceDynamicDefaultBrokerConfig)

	// The legacy AlterConfigs replaces the whole level.
	resps, err = adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: &hour}})
	ok(t, resps, err)
	cs := describeTopic(t, adm, "t")
	wantConfig(t, cs, "retention.ms", hour, kmsg.ConfigSourceDynamicDefaultBrokerConfig)
	wantConfig(t, cs, "cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, cs, "segment.ms", "604800000", kmsg.ConfigSourceDefaultConfig)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestLegacyAlterConfigsTopic: AlterConfigs replaces a topic's overrides,
// honours validate_only, and refuses a resource named twice.
func TestLegacyAlterConfigsTopic(t *testing.T) {
	t.Parallel()
	b := cluster.Start(t)
	cl, adm := newClient(t, b)
	ctx := testCtx(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"segment.ms": kadm.StringPtr("3600000")}, "t"); err != nil {
		t.Fatal(err)
	}
	resps, err := adm.ValidateAlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("1000")}}, "t")
	ok(t, resps, err)
	cs := describeTopic(t, adm, "t")
	wantConfig(t, cs, "segment.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, cs, "retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig)

	resps, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("1000")}}, "t")
	ok(t, resps, err)
	cs = describeTopic(t, adm, "t")
	wantConfig(t, cs, "segment.ms", "604800000", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, cs, "retention.ms", "1000", kmsg.ConfigSourceDynamicTopicConfig)

	resps, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.mss", Value: kadm.StringPtr("1000")}}, "t")
	wantRefused(t, resps, err, kerr.InvalidConfig, "retention.mss")
	resps, err = adm.AlterTopicConfigsState(ctx, nil, "nope")
	wantRefused(t, resps, err, kerr.UnknownTopicOrPartition, "nope")

	req := kmsg.NewPtrAlterConfigsRequest()
	for range 2 {
		r := kmsg.NewAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
		req.Resources = append(req.Resources, r)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Resources) != 2 {
		t.Fatalf("%d resources answered, want 2", len(resp.Resources))
	}
	for _, r := range resp.Resources {
		if r.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("duplicate resource: code %d, want INVALID_REQUEST", r.ErrorCode)
		}
	}
	wantConfig(t, describeTopic(t, adm, "t"), "retention.ms", "1000", kmsg.ConfigSourceDynamicTopicConfig)
}

// TestChangesApplyLive: lowering max.message.bytes (per topic, and through
// the broker's message.max.bytes cluster default) refuses a larger record
// at once and after a restart; lowering log.segment.bytes at the cluster
// level makes the next appends roll segments.
func TestChangesApplyLive(t *testing.T) {
	t.Parallel()
	b := cluster.Start(t)
	cl, adm := newClient(t, b)
	ctx := testCtx(t)
	for _, topic := range []string{"override", "inherit", "roll"} {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 4096)
	produce := func(cl *kgo.Client, topic string) error {
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: big}).FirstErr()
	}
	for _, topic := range []string{"override", "inherit"} {
		if err := produce(cl, topic); err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
	}
	resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("1024")}}, "override")
	ok(t, resps, err)
	resps, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "message.max.bytes", Value: kadm.StringPtr("2048")}})
	ok(t, resps, err)
	tooLarge := func(cl *kgo.Client) {
		t.Helper()
		for _, topic := range []string{"override", "inherit"} {
			if err := produce(cl, topic); !errors.Is(err, kerr.MessageTooLarge) {
				t.Errorf("%s: 4 KiB record: %v, want MESSAGE_TOO_LARGE", topic, err)
			}
		}
	}
	tooLarge(cl)

	segments := func(b *cluster.Broker) int {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(b.Dir, "roll-0", "*.log"))
		if err != nil {
			t.Fatal(err)
		}
		return len(m)
	}
	small := make([]byte, 200)
	for range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "roll", Value: small}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if n := segments(b); n != 1 {
		t.Fatalf("%d segments before lowering log.segment.bytes, want 1", n)
	}
	resps, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.segment.bytes", Value: kadm.StringPtr("1024")}})
	ok(t, resps, err)
	for range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "roll", Value: small}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	n := segments(b)
	if n < 2 {
		t.Fatalf("%d segments after lowering log.segment.bytes to 1024 and appending 10 x 200 bytes, want several", n)
	}

	b = b.Restart()
	cl, _ = newClient(t, b)
	tooLarge(cl)
	for range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "roll", Value: small}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if m := segments(b); m <= n {
		t.Errorf("%d segments after a restart and 10 more appends, want more than %d", m, n)
	}
}
