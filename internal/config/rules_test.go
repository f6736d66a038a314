package config

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The wire numbering is copied, not imported, to keep kmsg out of this
// package; this test keeps the copies honest.
func TestNumberingMatchesKmsg(t *testing.T) {
	t.Parallel()
	pairs := []struct {
		name      string
		got, want int8
	}{
		{"SourceTopic", SourceTopic, int8(kmsg.ConfigSourceDynamicTopicConfig)},
		{"SourceDynamicBroker", SourceDynamicBroker, int8(kmsg.ConfigSourceDynamicBrokerConfig)},
		{"SourceDynamicDefault", SourceDynamicDefault, int8(kmsg.ConfigSourceDynamicDefaultBrokerConfig)},
		{"SourceStatic", SourceStatic, int8(kmsg.ConfigSourceStaticBrokerConfig)},
		{"SourceDefault", SourceDefault, int8(kmsg.ConfigSourceDefaultConfig)},
		{"TypeBoolean", int8(TypeBoolean), int8(kmsg.ConfigTypeBoolean)},
		{"TypeString", int8(TypeString), int8(kmsg.ConfigTypeString)},
		{"TypeInt", int8(TypeInt), int8(kmsg.ConfigTypeInt)},
		{"TypeShort", int8(TypeShort), int8(kmsg.ConfigTypeShort)},
		{"TypeLong", int8(TypeLong), int8(kmsg.ConfigTypeLong)},
		{"TypeDouble", int8(TypeDouble), int8(kmsg.ConfigTypeDouble)},
		{"TypeList", int8(TypeList), int8(kmsg.ConfigTypeList)},
		{"TypeClass", int8(TypeClass), int8(kmsg.ConfigTypeClass)},
		{"TypePassword", int8(TypePassword), int8(kmsg.ConfigTypePassword)},
		{"OpSet", OpSet, int8(kmsg.IncrementalAlterConfigOpSet)},
		{"OpDelete", OpDelete, int8(kmsg.IncrementalAlterConfigOpDelete)},
		{"OpAppend", OpAppend, int8(kmsg.IncrementalAlterConfigOpAppend)},
		{"OpSubtract", OpSubtract, int8(kmsg.IncrementalAlterConfigOpSubtract)},
	}
	for _, p := range pairs {
		if p.got != p.want {
			t.Errorf("%s = %d, kmsg says %d", p.name, p.got, p.want)
		}
	}
}

// Every definition must be self-consistent: its default parses and passes
// its own rule, a topic config's synonyms are broker configs of a
// compatible type, and only coarse duration synonyms have a Scale.
func TestDefinitionsConsistent(t *testing.T) {
	t.Parallel()
	for _, defs := range [][]*Def{brokerDefs, topicDefs} {
		for _, d := range defs {
			if d.Doc == "" {
				t.Errorf("%s: no doc", d.Name)
			}
			if v, ok := d.defaultValue(); ok {
				if _, reason := parse(d, v); reason != "" {
					t.Errorf("%s: default %q is invalid: %s", d.Name, v, reason)
				}
			}
			if d.Scale != 0 && !(strings.HasSuffix(d.Name, ".hours") || strings.HasSuffix(d.Name, ".minutes")) {
				t.Errorf("%s: Scale %d on a config that is not in hours or minutes", d.Name, d.Scale)
			}
		}
	}
	numeric := map[Type]bool{TypeShort: true, TypeInt: true, TypeLong: true}
	for _, td := range topicDefs {
		for i, s := range td.Synonyms {
			bd := brokerByName[s]
			if bd == nil {
				t.Errorf("%s: synonym %s is not a broker config", td.Name, s)
				continue
			}
			if bd.Type != td.Type && !(numeric[bd.Type] && numeric[td.Type]) {
				t.Errorf("%s (%s): synonym %s has type %s", td.Name, td.Type, s, bd.Type)
			}
			// Only the last synonym of a chain may have a default: an
			// earlier default would hide the later synonyms.
			if _, ok := bd.defaultValue(); ok && i < len(td.Synonyms)-1 {
				t.Errorf("%s: synonym %s has a default but is not last in the chain", td.Name, s)
			}
		}
	}
	for _, n := range ignoredBroker {
		if topicByName[n] != nil {
			t.Errorf("ignored %s is a topic config", n)
		}
	}
	for _, d := range brokerDefs {
		for _, p := range ignoredPrefixes {
			if strings.HasPrefix(d.Name, p) && d.Name != "remote.log.storage.system.enable" {
				t.Errorf("supported %s falls under ignored prefix %s", d.Name, p)
			}
		}
	}
}

func TestParseTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ    Type
		raw    string
		reason string // "" when accepted
		canon  string
	}{
		{TypeBoolean, "true", "", "true"},
		{TypeBoolean, " TRUE ", "", "true"},
		{TypeBoolean, "False", "", "false"},
		{TypeBoolean, "yes", "must be true or false", ""},
		{TypeBoolean, "", "must be true or false", ""},
		{TypeShort, "32767", "", "32767"},
		{TypeShort, "32768", "out of range for type short", ""},
		{TypeInt, "010", "", "10"},
		{TypeInt, "+7", "", "7"},
		{TypeInt, "2147483648", "out of range for type int", ""},
		{TypeInt, "1e3", "not a valid int", ""},
		{TypeInt, "1_000", "not a valid int", ""},
		{TypeInt, "", "not a valid int", ""},
		{TypeLong, "9223372036854775807", "", "9223372036854775807"},
		{TypeLong, "9223372036854775808", "out of range for type long", ""},
		{TypeLong, " -1 ", "", "-1"},
		{TypeLong, "${x}", "not a valid long", ""},
		{TypeDouble, "0.5", "", "0.5"},
		{TypeDouble, "1", "", "1.0"},
		{TypeDouble, "NaN", "not a valid double", ""},
		{TypeDouble, "Infinity", "not a valid double", ""},
		{TypeDouble, "half", "not a valid double", ""},
		{TypeList, "", "", ""},
		{TypeList, " a , b ", "", "a,b"},
		{TypeString, "  x y  ", "", "x y"},
	}
	for _, tc := range tests {
		def := &Def{Name: "x", Type: tc.typ}
		_, reason := parse(def, tc.raw)
		if reason != tc.reason {
			t.Errorf("parse(%s, %q) = %q, want %q", tc.typ, tc.raw, reason, tc.reason)
			continue
		}
		if reason == "" {
			if got := canonical(def, tc.raw); got != tc.canon {
				t.Errorf("canonical(%s, %q) = %q, want %q", tc.typ, tc.raw, got, tc.canon)
			}
		}
	}
}

func TestRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		typ    Type
		rule   Rule
		raw    string
		reason string // "" when accepted
	}{
		{"atLeast ok", TypeInt, atLeast(14), "14", ""},
		{"atLeast low", TypeInt, atLeast(14), "13", "must be at least 14"},
		{"atLeast negative", TypeLong, atLeast(-1), "-2", "must be at least -1"},
		{"between low", TypeInt, between(1, 17), "0", "must be between 1 and 17"},
		{"between high", TypeInt, between(1, 17), "18", "must be between 1 and 17"},
		{"between ok", TypeInt, between(-131072, 22), "-131072", ""},
		{"betweenOr extra", TypeInt, betweenOr(1, 9, -1), "-1", ""},
		{"betweenOr in", TypeInt, betweenOr(1, 9, -1), "9", ""},
		{"betweenOr zero", TypeInt, betweenOr(1, 9, -1), "0", "must be between 1 and 9, or -1"},
		{"ratio ok", TypeDouble, ratio(0, 1), "1.0", ""},
		{"ratio high", TypeDouble, ratio(0, 1), "1.01", "must be between 0 and 1"},
		{"ratio negative", TypeDouble, ratio(0, 1), "-0.1", "must be between 0 and 1"},
		{"oneOf ok", TypeString, oneOf("lz4", "zstd"), "lz4", ""},
		{"oneOf is case-sensitive", TypeString, oneOf("lz4", "zstd"), "LZ4", "must be one of lz4, zstd"},
		{"oneOf empty shown", TypeString, oneOf("", "a"), "b", `must be one of "", a`},
		{"listOf ok", TypeList, listOf("compact", "delete"), "compact, delete", ""},
		{"listOf empty ok", TypeList, listOf("compact", "delete"), "", ""},
		{"listOf bad element", TypeList, listOf("compact", "delete"), "delete,purge", `element "purge" must be one of compact, delete`},
		{"listOf trailing comma", TypeList, listOf("compact", "delete"), "delete,", `element "" must be one of compact, delete`},
		{"listOf twice", TypeList, listOf("compact", "delete"), "delete,delete", `element "delete" appears twice`},
		{"nonEmptyListOf empty", TypeList, nonEmptyListOf("broker", "controller"), " ", "must not be empty"},
		{"onlyFalse", TypeBoolean, onlyFalse("no tiered storage"), "true", "must be false: no tiered storage"},
		{"onlyFalse ok", TypeBoolean, onlyFalse("no tiered storage"), "false", ""},
		{"throttled star", TypeList, throttledReplicas, "*", ""},
		{"throttled pairs", TypeList, throttledReplicas, "0:1, 1:2", ""},
		{"throttled bad", TypeList, throttledReplicas, "0:1,*", `element "*" must be "partition:broker"`},
		{"listeners ok", TypeString, listenersRule, "PLAINTEXT://:9092,CONTROLLER://[::1]:9093", ""},
		{"listeners bare", TypeString, listenersRule, "127.0.0.1:9092", ""},
		{"listeners no port", TypeString, listenersRule, "PLAINTEXT://localhost", `listener "PLAINTEXT://localhost": must be host:port`},
		{"listeners port range", TypeString, listenersRule, "PLAINTEXT://:70000", `port "70000" must be 0 to 65535`},
		{"listeners twice", TypeString, listenersRule, "plaintext://:1,PLAINTEXT://:2", "listener name PLAINTEXT appears twice"},
		{"listeners bad name", TypeString, listenersRule, "PLAIN TEXT://:1", "name must be letters"},
		{"listeners bad host", TypeString, listenersRule, "PLAINTEXT://a/b:1", `bad host "a/b"`},
		{"protocol map ok", TypeString, protocolMapRule, "INTERNAL:PLAINTEXT, external:sasl_plaintext", ""},
		{"protocol map unknown", TypeString, protocolMapRule, "X:TLS", "unknown security protocol TLS"},
		{"protocol map shape", TypeString, protocolMapRule, "PLAINTEXT", `element "PLAINTEXT" must be NAME:PROTOCOL`},
		{"voters ok", TypeList, votersRule, "1@a:9093,2@[::1]:9093", ""},
		{"voters no id", TypeList, votersRule, "a:9093", `element "a:9093" must be id@host:port`},
		{"voters no host", TypeList, votersRule, "1@:9093", "needs a host and a non-zero port"},
		{"voters twice", TypeList, votersRule, "1@a:1,1@b:1", "voter id 1 appears twice"},
		{"bootstrap ok", TypeList, hostPortsRule, "a:1,b:2", ""},
		{"bootstrap port 0", TypeList, hostPortsRule, "a:0", "needs a host and a non-zero port"},
		{"cluster id ok", TypeString, clusterIDRule, "MkU3OEVBNTcwNTJENDM2Qg", ""},
		{"cluster id short", TypeString, clusterIDRule, "abc", "must be a UUID in base64url"},
		{"data dir ok", TypeString, dataDirRule, "/var/lib/samsa", ""},
		{"data dir jbod", TypeString, dataDirRule, "/a,/b", "several (JBOD) are not supported"},
		{"data dir empty", TypeString, dataDirRule, "", "must name a directory"},
		{"super users ok", TypeString, superUsersRule, "User:alice; User:bob;", ""},
		{"super users bad", TypeString, superUsersRule, "alice", `principal "alice" must be Type:name`},
		{"name ok", TypeString, nameRule, "INTERNAL", ""},
		{"name bad", TypeString, nameRule, "IN TERNAL", "must be a listener name"},
	}
	for _, tc := range tests {
		def := &Def{Name: "x", Type: tc.typ, Rule: tc.rule}
		_, reason := parse(def, tc.raw)
		if tc.reason == "" && reason != "" || tc.reason != "" && !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: parse(%q) = %q, want %q", tc.name, tc.raw, reason, tc.reason)
		}
	}
}

// Each definition's rule, exercised through the public topic validator and
// broker loading: a value just inside and just outside the bound.
func TestTopicConfigBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, good, bad, reason string
	}{
		{"cleanup.policy", "compact,delete", "compacted", `element "compacted" must be one of compact, delete`},
		{"compression.type", "zstd", "brotli", "must be one of uncompressed, zstd, lz4, snappy, gzip, producer"},
		{"compression.gzip.level", "9", "10", "must be between 1 and 9, or -1"},
		{"compression.lz4.level", "17", "18", "must be between 1 and 17"},
		{"compression.zstd.level", "22", "23", "must be between -131072 and 22"},
		{"delete.retention.ms", "0", "-1", "must be at least 0"},
		{"file.delete.delay.ms", "0", "-1", "must be at least 0"},
		{"flush.messages", "1", "0", "must be at least 1"},
		{"flush.ms", "0", "-1", "must be at least 0"},
		{"follower.replication.throttled.replicas", "*", "x", `element "x" must be "partition:broker"`},
		{"index.interval.bytes", "0", "-1", "must be at least 0"},
		{"leader.replication.throttled.replicas", "0:1", "0:", `element "0:" must be "partition:broker"`},
		{"local.retention.bytes", "-2", "-3", "must be at least -2"},
		{"local.retention.ms", "-2", "-3", "must be at least -2"},
		{"max.compaction.lag.ms", "1", "0", "must be at least 1"},
		{"max.message.bytes", "0", "-1", "must be at least 0"},
		{"message.downconversion.enable", "false", "no", "must be true or false"},
		{"message.timestamp.after.max.ms", "0", "-1", "must be at least 0"},
		{"message.timestamp.before.max.ms", "0", "-1", "must be at least 0"},
		{"message.timestamp.difference.max.ms", "0", "-1", "must be at least 0"},
		{"message.timestamp.type", "LogAppendTime", "logappendtime", "must be one of CreateTime, LogAppendTime"},
		{"min.cleanable.dirty.ratio", "0", "1.5", "must be between 0 and 1"},
		{"min.compaction.lag.ms", "0", "-1", "must be at least 0"},
		{"min.insync.replicas", "1", "0", "must be at least 1"},
		{"preallocate", "true", "1", "must be true or false"},
		{"remote.storage.enable", "false", "true", "must be false: samsa has no tiered storage"},
		{"retention.bytes", "-1", "lots", "not a valid long"},
		{"retention.ms", "-1", "-2", "must be at least -1"},
		{"segment.bytes", "14", "13", "must be at least 14"},
		{"segment.index.bytes", "4", "3", "must be at least 4"},
		{"segment.jitter.ms", "0", "-1", "must be at least 0"},
		{"segment.ms", "1", "0", "must be at least 1"},
		{"unclean.leader.election.enable", "TRUE", "maybe", "must be true or false"},
	}
	tested := map[string]bool{}
	for _, tc := range tests {
		tested[tc.name] = true
		if err := ValidateTopicConfig(tc.name, tc.good); err != nil {
			t.Errorf("%s=%q: %v", tc.name, tc.good, err)
		}
		err := ValidateTopicConfig(tc.name, tc.bad)
		if err == nil {
			t.Errorf("%s=%q accepted", tc.name, tc.bad)
			continue
		}
		want := "config: " + tc.name + "=" + quote(tc.bad) + ": " + tc.reason
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s=%q: error %q, want prefix %q", tc.name, tc.bad, err, want)
		}
	}
	for _, d := range topicDefs {
		if !tested[d.Name] {
			t.Errorf("topic config %s has no bounds test", d.Name)
		}
	}
	if err := ValidateTopicConfig("retention.hours", "1"); err == nil || err.Error() != "config: retention.hours: unknown topic config" {
		t.Errorf("unknown topic config: %v", err)
	}
}

func quote(s string) string { return `"` + s + `"` }
