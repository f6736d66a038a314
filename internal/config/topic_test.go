package config

import (
	"errors"
	"maps"
	"math"
	"reflect"
	"testing"
)

func TestResolveTopic(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, "log.segment.bytes=2048", "log.retention.hours=24", "log.cleanup.policy=compact",
		"message.max.bytes=5000", "min.insync.replicas=2")
	got := b.ResolveTopic(map[string]string{
		"segment.bytes": " 4096 ", "retention.ms": "1000", "compression.type": "zstd",
		"min.cleanable.dirty.ratio": "0.25", "unclean.leader.election.enable": "TRUE",
	})
	checks := []struct {
		name      string
		got, want any
	}{
		{"SegmentBytes (override)", got.SegmentBytes, int64(4096)},
		{"RetentionMs (override beats log.retention.hours)", got.RetentionMs, int64(1000)},
		{"CompressionType (override)", got.CompressionType, "zstd"},
		{"MinCleanableDirtyRatio (override)", got.MinCleanableDirtyRatio, 0.25},
		{"UncleanLeaderElection (override)", got.UncleanLeaderElection, true},
		{"CleanupPolicy (broker)", got.CleanupPolicy, []string{"compact"}},
		{"MaxMessageBytes (broker)", got.MaxMessageBytes, int32(5000)},
		{"MinInsyncReplicas (broker)", got.MinInsyncReplicas, int32(2)},
		{"SegmentMs (default)", got.SegmentMs, int64(604800000)},
		{"Compact", got.Compact(), true},
		{"Delete", got.Delete(), false},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	// A damaged override is skipped rather than trusted.
	if got := b.ResolveTopic(map[string]string{"segment.bytes": "big", "nonsense": "1"}); got.SegmentBytes != 2048 {
		t.Errorf("invalid override: SegmentBytes = %d, want the broker's 2048", got.SegmentBytes)
	}
	if got := b.ResolveTopic(map[string]string{"cleanup.policy": ""}); len(got.CleanupPolicy) != 0 || got.Compact() || got.Delete() {
		t.Errorf("empty cleanup.policy: %q", got.CleanupPolicy)
	}
}

// The deprecated message.timestamp.difference.max.ms bounds each side that
// is not itself configured.
func TestTimestampDifferenceFallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sets          []string
		overrides     map[string]string
		before, after int64
	}{
		{nil, nil, math.MaxInt64, 3600000},
		{nil, map[string]string{"message.timestamp.difference.max.ms": "1000"}, 1000, 1000},
		{nil, map[string]string{"message.timestamp.difference.max.ms": "1000", "message.timestamp.after.max.ms": "5"}, 1000, 5},
		{[]string{"log.message.timestamp.difference.max.ms=2000"}, nil, 2000, 2000},
		{[]string{"log.message.timestamp.difference.max.ms=2000", "log.message.timestamp.before.max.ms=7"}, nil, 7, 2000},
	}
	for _, tc := range tests {
		got := mustLoad(t, tc.sets...).ResolveTopic(tc.overrides)
		if got.TimestampBeforeMaxMs != tc.before || got.TimestampAfterMaxMs != tc.after {
			t.Errorf("%q %v: before %d after %d, want %d %d", tc.sets, tc.overrides,
				got.TimestampBeforeMaxMs, got.TimestampAfterMaxMs, tc.before, tc.after)
		}
	}
}

func TestValidateTopicOverrides(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, "log.cleaner.max.compaction.lag.ms=1000")
	if err := b.ValidateTopicOverrides(map[string]string{"retention.ms": "-1", "cleanup.policy": "compact,delete"}); err != nil {
		t.Error(err)
	}
	tests := []struct {
		overrides map[string]string
		want      string
	}{
		{map[string]string{"segment.bytes": "1", "retention.hours": "1"},
			"config: retention.hours: unknown topic config\nconfig: segment.bytes=\"1\": must be at least 14"},
		// The rule between configs uses the broker's effective defaults.
		{map[string]string{"min.compaction.lag.ms": "2000"},
			`config: min.compaction.lag.ms="2000": must not exceed max.compaction.lag.ms (1000)`},
	}
	for _, tc := range tests {
		err := b.ValidateTopicOverrides(tc.overrides)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v:\n got %v\nwant %s", tc.overrides, err, tc.want)
		}
	}
}

func TestApplyIncremental(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	current := map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}
	tests := []struct {
		name    string
		current map[string]string
		ops     []AlterOp
		want    map[string]string
		err     string
		invalid bool // the error matches ErrInvalidRequest
	}{
		{"set", current, []AlterOp{{"segment.bytes", OpSet, s(" 2048 ")}},
			map[string]string{"retention.ms": "1000", "cleanup.policy": "compact", "segment.bytes": "2048"}, "", false},
		{"set replaces", current, []AlterOp{{"retention.ms", OpSet, s("-1")}},
			map[string]string{"retention.ms": "-1", "cleanup.policy": "compact"}, "", false},
		{"set nil value deletes", current, []AlterOp{{"retention.ms", OpSet, nil}},
			map[string]string{"cleanup.policy": "compact"}, "", false},
		{"delete", current, []AlterOp{{"retention.ms", OpDelete, nil}},
			map[string]string{"cleanup.policy": "compact"}, "", false},
		{"delete absent is a no-op", current, []AlterOp{{"segment.ms", OpDelete, nil}}, current, "", false},
		{"delete of a legacy name", map[string]string{"message.format.version": "2.8"},
			[]AlterOp{{"message.format.version", OpDelete, nil}}, map[string]string{}, "", false},
		{"append", current, []AlterOp{{"cleanup.policy", OpAppend, s("delete")}},
			map[string]string{"retention.ms": "1000", "cleanup.policy": "compact,delete"}, "", false},
		{"append present is a no-op", current, []AlterOp{{"cleanup.policy", OpAppend, s("compact")}}, current, "", false},
		{"append starts from the default", nil, []AlterOp{{"cleanup.policy", OpAppend, s("compact")}},
			map[string]string{"cleanup.policy": "delete,compact"}, "", false},
		{"subtract", map[string]string{"cleanup.policy": "compact,delete"}, []AlterOp{{"cleanup.policy", OpSubtract, s("compact")}},
			map[string]string{"cleanup.policy": "delete"}, "", false},
		{"subtract to empty", current, []AlterOp{{"cleanup.policy", OpSubtract, s("compact")}},
			map[string]string{"retention.ms": "1000", "cleanup.policy": ""}, "", false},
		{"subtract absent element", current, []AlterOp{{"cleanup.policy", OpSubtract, s("delete")}}, current, "", false},
		{"throttled replicas append", nil,
			[]AlterOp{{"leader.replication.throttled.replicas", OpAppend, s("0:1,1:2")}},
			map[string]string{"leader.replication.throttled.replicas": "0:1,1:2"}, "", false},
		{"several ops", current, []AlterOp{{"retention.ms", OpDelete, nil}, {"segment.ms", OpSet, s("60000")}},
			map[string]string{"cleanup.policy": "compact", "segment.ms": "60000"}, "", false},

		{"set invalid", current, []AlterOp{{"retention.ms", OpSet, s("-2")}}, nil,
			`config: retention.ms="-2": must be at least -1`, false},
		{"set unknown", current, []AlterOp{{"retention.hours", OpSet, s("1")}}, nil,
			"config: retention.hours: unknown topic config", false},
		{"append to non-list", current, []AlterOp{{"retention.ms", OpAppend, s("5")}}, nil,
			`config: retention.ms="5": cannot APPEND: the config is a long, not a list`, false},
		{"subtract from non-list", current, []AlterOp{{"compression.type", OpSubtract, s("gzip")}}, nil,
			`config: compression.type="gzip": cannot SUBTRACT: the config is a string, not a list`, false},
		{"append invalid element", current, []AlterOp{{"cleanup.policy", OpAppend, s("purge")}}, nil,
			`config: cleanup.policy="compact,purge": element "purge" must be one of compact, delete`, false},
		{"append without value", current, []AlterOp{{"cleanup.policy", OpAppend, nil}}, nil,
			"config: cleanup.policy: APPEND needs a value", false},
		{"named twice", current, []AlterOp{{"segment.ms", OpSet, s("1")}, {"segment.ms", OpDelete, nil}}, nil,
			"config: segment.ms: named twice in one request", true},
		{"unknown op", current, []AlterOp{{"segment.ms", 9, s("1")}}, nil,
			"config: segment.ms: unknown operation 9", true},
		{"unknown op on an unknown name", current, []AlterOp{{"nonsense", -1, s("1")}}, nil,
			"config: nonsense: unknown operation -1", true},
		{"lags cross", current, []AlterOp{{"min.compaction.lag.ms", OpSet, s("10")}, {"max.compaction.lag.ms", OpSet, s("5")}}, nil,
			`config: min.compaction.lag.ms="10": must not exceed max.compaction.lag.ms (5)`, false},
	}
	for _, tc := range tests {
		before := maps.Clone(tc.current)
		got, err := ApplyIncremental(tc.current, tc.ops)
		if !reflect.DeepEqual(tc.current, before) {
			t.Errorf("%s: current was modified: %v", tc.name, tc.current)
		}
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: error %v, want %s", tc.name, err, tc.err)
			}
			if errors.Is(err, ErrInvalidRequest) != tc.invalid {
				t.Errorf("%s: errors.Is(ErrInvalidRequest) = %v", tc.name, !tc.invalid)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("%s: not an *Error: %T", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
