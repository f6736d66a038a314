package config

import (
	"fmt"
	"slices"
)

// Topic is the effective configuration of one topic: its overrides on top of
// the broker's defaults. Durations are in milliseconds; sizes in bytes.
type Topic struct {
	CleanupPolicy        []string // "delete", "compact", both, or neither
	CompressionType      string   // "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"
	CompressionGzipLevel int32
	CompressionLz4Level  int32
	CompressionZstdLevel int32
	MaxMessageBytes      int32

	SegmentBytes       int64
	SegmentMs          int64
	SegmentJitterMs    int64
	SegmentIndexBytes  int64
	IndexIntervalBytes int64
	Preallocate        bool
	FlushMessages      int64 // math.MaxInt64: never fsync by count
	FlushMs            int64 // math.MaxInt64: never fsync by time
	FileDeleteDelayMs  int64

	RetentionMs         int64 // -1: forever
	RetentionBytes      int64 // negative: no limit
	LocalRetentionMs    int64 // accepted; no tiered storage
	LocalRetentionBytes int64

	TimestampType string // "CreateTime" or "LogAppendTime"
	// TimestampBeforeMaxMs and TimestampAfterMaxMs bound how far a CreateTime
	// timestamp may lie behind or ahead of the broker's clock; the deprecated
	// message.timestamp.difference.max.ms is already folded in.
	TimestampBeforeMaxMs int64
	TimestampAfterMaxMs  int64

	MinInsyncReplicas     int32
	UncleanLeaderElection bool

	DeleteRetentionMs      int64
	MinCompactionLagMs     int64
	MaxCompactionLagMs     int64
	MinCleanableDirtyRatio float64

	MessageDownconversion bool // accepted; samsa serves v2 batches only
}

// Compact reports whether the cleanup policy includes compaction.
func (t Topic) Compact() bool { return slices.Contains(t.CleanupPolicy, "compact") }

// Delete reports whether the cleanup policy includes deletion by retention.
func (t Topic) Delete() bool { return slices.Contains(t.CleanupPolicy, "delete") }

// ValidateTopicConfig checks one topic config: the name must be a topic
// config and the value valid for it. The error is an *Error naming the
// config; Kafka answers it with INVALID_CONFIG.
func ValidateTopicConfig(name, value string) error {
	def := topicByName[name]
	if def == nil {
		return &Error{Name: name, Unknown: true, Reason: "unknown topic config"}
	}
	if _, reason := parse(def, value); reason != "" {
		return &Error{Name: name, Value: value, Reason: reason}
	}
	return nil
}

// ValidateTopicOverrides checks a topic's whole set of overrides, as
// CreateTopics and AlterConfigs must before storing them: each one on its
// own, then the rules between configs, resolved against this broker's
// defaults (a topic's min.compaction.lag.ms must not exceed its effective
// max.compaction.lag.ms, wherever that comes from).
func (b *Broker) ValidateTopicOverrides(overrides map[string]string) error {
	var errs []error
	for _, name := range sortedKeys(overrides) {
		if err := ValidateTopicConfig(name, overrides[name]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := joinErrors(errs); err != nil {
		return err
	}
	return b.checkTopic(overrides)
}

// checkTopic checks the rules between topic configs.
func (b *Broker) checkTopic(overrides map[string]string) error {
	t := b.ResolveTopic(overrides)
	return checkCompactionLags(t.MinCompactionLagMs, t.MaxCompactionLagMs, overrides)
}

func checkCompactionLags(minLag, maxLag int64, overrides map[string]string) error {
	if minLag <= maxLag {
		return nil
	}
	return &Error{
		Name: "min.compaction.lag.ms", Value: overrides["min.compaction.lag.ms"],
		Reason: fmt.Sprintf("must not exceed max.compaction.lag.ms (%d)", maxLag),
	}
}

// ResolveTopic returns the effective configuration of a topic with the
// given overrides. A config the topic does not override takes the value of
// its first broker synonym that has one (set or default), as Kafka does: a
// topic's retention.ms is log.retention.ms if set, else log.retention.minutes,
// else log.retention.hours. Overrides should have passed
// ValidateTopicOverrides; an invalid or unknown one is skipped.
func (b *Broker) ResolveTopic(overrides map[string]string) Topic {
	get := func(name string) parsed {
		p, _ := b.topicParsed(topicByName[name], overrides)
		return p
	}
	i64 := func(name string) int64 { return get(name).i }
	i32 := func(name string) int32 { return int32(get(name).i) }

	t := Topic{
		CleanupPolicy:          get("cleanup.policy").list,
		CompressionType:        get("compression.type").s,
		CompressionGzipLevel:   i32("compression.gzip.level"),
		CompressionLz4Level:    i32("compression.lz4.level"),
		CompressionZstdLevel:   i32("compression.zstd.level"),
		MaxMessageBytes:        i32("max.message.bytes"),
		SegmentBytes:           i64("segment.bytes"),
		SegmentMs:              i64("segment.ms"),
		SegmentJitterMs:        i64("segment.jitter.ms"),
		SegmentIndexBytes:      i64("segment.index.bytes"),
		IndexIntervalBytes:     i64("index.interval.bytes"),
		Preallocate:            get("preallocate").b,
		FlushMessages:          i64("flush.messages"),
		FlushMs:                i64("flush.ms"),
		FileDeleteDelayMs:      i64("file.delete.delay.ms"),
		RetentionMs:            i64("retention.ms"),
		RetentionBytes:         i64("retention.bytes"),
		LocalRetentionMs:       i64("local.retention.ms"),
		LocalRetentionBytes:    i64("local.retention.bytes"),
		TimestampType:          get("message.timestamp.type").s,
		TimestampBeforeMaxMs:   i64("message.timestamp.before.max.ms"),
		TimestampAfterMaxMs:    i64("message.timestamp.after.max.ms"),
		MinInsyncReplicas:      i32("min.insync.replicas"),
		UncleanLeaderElection:  get("unclean.leader.election.enable").b,
		DeleteRetentionMs:      i64("delete.retention.ms"),
		MinCompactionLagMs:     i64("min.compaction.lag.ms"),
		MaxCompactionLagMs:     i64("max.compaction.lag.ms"),
		MinCleanableDirtyRatio: get("min.cleanable.dirty.ratio").f,
		MessageDownconversion:  get("message.downconversion.enable").b,
	}
	// KIP-937 split message.timestamp.difference.max.ms into a before and an
	// after bound. While the old config is accepted, it still bounds any
	// side that was not itself configured, as in Kafka 3.6-3.9.
	if diff, src := b.topicParsed(topicByName["message.timestamp.difference.max.ms"], overrides); src != SourceDefault {
		if _, s := b.topicParsed(topicByName["message.timestamp.before.max.ms"], overrides); s == SourceDefault {
			t.TimestampBeforeMaxMs = diff.i
		}
		if _, s := b.topicParsed(topicByName["message.timestamp.after.max.ms"], overrides); s == SourceDefault {
			t.TimestampAfterMaxMs = diff.i
		}
	}
	return t
}

// topicValue returns a topic config's effective value as a string and its
// source.
func (b *Broker) topicValue(def *Def, overrides map[string]string) (value string, source int8) {
	if v, ok := overrides[def.Name]; ok {
		if _, reason := parse(def, v); reason == "" {
			return trim(v), SourceTopic
		}
	}
	// Synonyms are tried in order, each with its default included: only the
	// last of a chain (log.retention.hours) has a default, so a set
	// log.retention.ms anywhere beats log.retention.hours set anywhere.
	for _, s := range def.Synonyms {
		if v, ok := b.lookup(s); ok {
			return fromSynonym(def, brokerByName[s], v.Value), v.Source
		}
	}
	return def.Default, SourceDefault
}

func (b *Broker) topicParsed(def *Def, overrides map[string]string) (parsed, int8) {
	v, src := b.topicValue(def, overrides)
	p, _ := parse(def, v)
	return p, src
}

// fromSynonym converts a broker synonym's value to the topic config's terms:
// hours and minutes become milliseconds, and a negative retention becomes
// -1 ("forever"), which is how Kafka reads any negative log.retention.*.
func fromSynonym(topic, broker *Def, raw string) string {
	if broker.Scale == 0 && topic.Name != "retention.ms" {
		return trim(raw)
	}
	p, reason := parse(broker, raw)
	if reason != "" {
		return trim(raw)
	}
	n := p.i
	if broker.Scale != 0 {
		n *= broker.Scale
	}
	if topic.Name == "retention.ms" && n < 0 {
		n = -1
	}
	return itoa(n)
}

func valueOr(overrides map[string]string, name string) string {
	if v, ok := overrides[name]; ok {
		return v
	}
	return topicByName[name].Default
}
