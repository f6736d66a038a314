package config

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

func syn(name, value string, source int8) Synonym {
	return Synonym{Name: name, Value: &value, Source: source}
}

// entryView is an Entry with the value dereferenced, for comparisons.
type entryView struct {
	Name     string
	Value    string // "<nil>" for nil
	Source   int8
	ReadOnly bool
	Type     Type
	Synonyms []Synonym
}

func view(e Entry) entryView {
	v := "<nil>"
	if e.Value != nil {
		v = *e.Value
	}
	return entryView{e.Name, v, e.Source, e.ReadOnly, Type(e.Type), e.Synonyms}
}

func TestDescribeTopicSources(t *testing.T) {
	t.Parallel()
	names := []string{"segment.bytes", "retention.ms", "flush.ms"}
	defaults := mustLoad(t)
	static := mustLoad(t, "log.segment.bytes=2048", "log.retention.hours=24", "log.flush.interval.ms=100")
	dynamic, err := static.WithDynamic(
		map[string]string{"log.retention.ms": "5000", "log.segment.bytes": "4096"},
		map[string]string{"log.segment.bytes": "8192"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		b         *Broker
		overrides map[string]string
		want      []entryView
	}{
		{"defaults", defaults, nil, []entryView{
			{"segment.bytes", "1073741824", SourceDefault, false, TypeInt,
				[]Synonym{syn("log.segment.bytes", "1073741824", SourceDefault)}},
			{"retention.ms", "604800000", SourceDefault, false, TypeLong,
				[]Synonym{syn("log.retention.hours", "168", SourceDefault)}},
			{"flush.ms", "9223372036854775807", SourceDefault, false, TypeLong,
				[]Synonym{syn("log.flush.scheduler.interval.ms", "9223372036854775807", SourceDefault)}},
		}},
		{"static broker config", static, nil, []entryView{
			{"segment.bytes", "2048", SourceStatic, false, TypeInt, []Synonym{
				syn("log.segment.bytes", "2048", SourceStatic), syn("log.segment.bytes", "1073741824", SourceDefault)}},
			{"retention.ms", "86400000", SourceStatic, false, TypeLong, []Synonym{
				syn("log.retention.hours", "24", SourceStatic), syn("log.retention.hours", "168", SourceDefault)}},
			{"flush.ms", "100", SourceStatic, false, TypeLong, []Synonym{
				syn("log.flush.interval.ms", "100", SourceStatic),
				syn("log.flush.scheduler.interval.ms", "9223372036854775807", SourceDefault)}},
		}},
		{"topic override", static, map[string]string{"segment.bytes": " 04096", "retention.ms": "-1"}, []entryView{
			{"segment.bytes", "4096", SourceTopic, false, TypeInt, []Synonym{
				syn("segment.bytes", "4096", SourceTopic),
				syn("log.segment.bytes", "2048", SourceStatic), syn("log.segment.bytes", "1073741824", SourceDefault)}},
			{"retention.ms", "-1", SourceTopic, false, TypeLong, []Synonym{
				syn("retention.ms", "-1", SourceTopic),
				syn("log.retention.hours", "24", SourceStatic), syn("log.retention.hours", "168", SourceDefault)}},
			{"flush.ms", "100", SourceStatic, false, TypeLong, []Synonym{
				syn("log.flush.interval.ms", "100", SourceStatic),
				syn("log.flush.scheduler.interval.ms", "9223372036854775807", SourceDefault)}},
		}},
		// Synonyms are listed source by source, most specific first.
		{"dynamic", dynamic, nil, []entryView{
			{"segment.bytes", "8192", SourceDynamicBroker, false, TypeInt, []Synonym{
				syn("log.segment.bytes", "8192", SourceDynamicBroker),
				syn("log.segment.bytes", "4096", SourceDynamicDefault),
				syn("log.segment.bytes", "2048", SourceStatic), syn("log.segment.bytes", "1073741824", SourceDefault)}},
			{"retention.ms", "5000", SourceDynamicDefault, false, TypeLong, []Synonym{
				syn("log.retention.ms", "5000", SourceDynamicDefault),
				syn("log.retention.hours", "24", SourceStatic), syn("log.retention.hours", "168", SourceDefault)}},
			{"flush.ms", "100", SourceStatic, false, TypeLong, []Synonym{
				syn("log.flush.interval.ms", "100", SourceStatic),
				syn("log.flush.scheduler.interval.ms", "9223372036854775807", SourceDefault)}},
		}},
	}
	for _, tc := range tests {
		entries, err := tc.b.DescribeTopic(tc.overrides, names, true, false)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []entryView
		for _, e := range entries {
			got = append(got, view(e))
			if e.Doc != "" || e.Sensitive {
				t.Errorf("%s: %s: doc %q sensitive %v", tc.name, e.Name, e.Doc, e.Sensitive)
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	// The dynamic values changed the broker they were applied to only.
	if static.TopicDefaults.RetentionMs != 86400000 || dynamic.TopicDefaults.RetentionMs != 5000 {
		t.Errorf("retention: static %d, dynamic %d", static.TopicDefaults.RetentionMs, dynamic.TopicDefaults.RetentionMs)
	}
}

func TestDescribeTopicSelection(t *testing.T) {
	t.Parallel()
	b := mustLoad(t)
	all, err := b.DescribeTopic(nil, nil, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(topicDefs) || !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Name < all[j].Name }) {
		t.Errorf("all: %d entries, sorted %v", len(all), sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Name < all[j].Name }))
	}
	for _, e := range all {
		if e.Doc == "" || e.Synonyms != nil || e.Value == nil || e.ReadOnly {
			t.Errorf("%s: doc %q, synonyms %v, value %v, read-only %v", e.Name, e.Doc, e.Synonyms, e.Value, e.ReadOnly)
		}
	}
	some, _ := b.DescribeTopic(nil, []string{"retention.ms", "log.retention.ms", "nonsense", "retention.ms", "cleanup.policy"}, false, false)
	if len(some) != 2 || some[0].Name != "retention.ms" || some[1].Name != "cleanup.policy" {
		t.Errorf("selected: %+v", some)
	}
	if _, err := b.DescribeTopic(map[string]string{"segment.bytes": "1"}, nil, false, false); err == nil ||
		!strings.Contains(err.Error(), `stored topic overrides are invalid: config: segment.bytes="1": must be at least 14`) {
		t.Errorf("invalid stored override: %v", err)
	}
}

func TestDescribeBroker(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, "log.retention.hours=24", "auto.create.topics.enable=TRUE", "log.cleaner.min.cleanable.ratio=1")
	got := map[string]entryView{}
	for _, e := range b.DescribeBroker([]string{"log.retention.ms", "log.retention.hours", "auto.create.topics.enable",
		"offsets.topic.replication.factor", "log.cleaner.min.cleanable.ratio", "num.io.threads", "nonsense"}, true, false) {
		got[e.Name] = view(e)
	}
	want := map[string]entryView{
		// Unset with a null default: no value; the chain shows where the
		// effective retention comes from.
		"log.retention.ms": {"log.retention.ms", "<nil>", SourceDefault, false, TypeLong, []Synonym{
			syn("log.retention.hours", "24", SourceStatic), syn("log.retention.hours", "168", SourceDefault)}},
		"log.retention.hours": {"log.retention.hours", "24", SourceStatic, true, TypeInt, []Synonym{
			syn("log.retention.hours", "24", SourceStatic), syn("log.retention.hours", "168", SourceDefault)}},
		// Reported canonically; the synonym keeps the form given.
		"auto.create.topics.enable": {"auto.create.topics.enable", "true", SourceStatic, true, TypeBoolean, []Synonym{
			syn("auto.create.topics.enable", "TRUE", SourceStatic), syn("auto.create.topics.enable", "true", SourceDefault)}},
		// samsa's derived default on a single node.
		"offsets.topic.replication.factor": {"offsets.topic.replication.factor", "1", SourceDefault, true, TypeShort, []Synonym{
			syn("offsets.topic.replication.factor", "1", SourceDefault)}},
		"log.cleaner.min.cleanable.ratio": {"log.cleaner.min.cleanable.ratio", "1.0", SourceStatic, false, TypeDouble, []Synonym{
			syn("log.cleaner.min.cleanable.ratio", "1", SourceStatic), syn("log.cleaner.min.cleanable.ratio", "0.5", SourceDefault)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	all := b.DescribeBroker(nil, false, true)
	if len(all) != len(brokerDefs) {
		t.Errorf("all: %d entries, want %d", len(all), len(brokerDefs))
	}
	for _, e := range all {
		if e.Doc == "" || e.Synonyms != nil {
			t.Errorf("%s: doc %q synonyms %v", e.Name, e.Doc, e.Synonyms)
		}
	}
}

func TestWithDynamic(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, "message.max.bytes=1000")
	nb, err := b.WithDynamic(map[string]string{"message.max.bytes": "2000"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := nb.Get("message.max.bytes"); nb.MessageMaxBytes != 2000 || v.Source != SourceDynamicDefault {
		t.Errorf("cluster default: %d %+v", nb.MessageMaxBytes, v)
	}
	nb, err = b.WithDynamic(map[string]string{"message.max.bytes": "2000"}, map[string]string{"message.max.bytes": "3000"})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := nb.Get("message.max.bytes"); nb.MessageMaxBytes != 3000 || v.Source != SourceDynamicBroker || nb.TopicDefaults.MaxMessageBytes != 3000 {
		t.Errorf("per broker: %d %+v", nb.MessageMaxBytes, v)
	}
	if b.MessageMaxBytes != 1000 {
		t.Errorf("the original changed: %d", b.MessageMaxBytes)
	}
	_, err = b.WithDynamic(map[string]string{"log.retention.hours": "1", "nonsense": "1"}, map[string]string{"log.segment.bytes": "1"})
	want := "config: log.retention.hours=\"1\" (from dynamic cluster default): read-only: change it in server.properties and restart\n" +
		"config: nonsense (from dynamic cluster default): unknown broker config\n" +
		"config: log.segment.bytes=\"1\" (from dynamic per-broker): must be at least 14"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	// Rules between configs hold across layers.
	_, err = b.WithDynamic(map[string]string{"log.cleaner.min.compaction.lag.ms": "10", "log.cleaner.max.compaction.lag.ms": "5"}, nil)
	if err == nil || !strings.Contains(err.Error(), "must not exceed log.cleaner.max.compaction.lag.ms (5)") {
		t.Errorf("cross-layer rule: %v", err)
	}
}
