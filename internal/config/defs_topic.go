package config

import "sort"

// longMax is Java's Long.MAX_VALUE, Kafka's "never" for sizes and times.
const longMax = "9223372036854775807"

// intMax is Java's Integer.MAX_VALUE.
const intMax = "2147483647"

// topicDefs are the per-topic configs. A topic without an override takes the
// value of the first broker synonym that has one (see Broker.ResolveTopic);
// Default is used only by a topic config that has no synonym, and by
// ApplyIncremental, which like Kafka's controller knows nothing of brokers.
var topicDefs = []*Def{
	{
		Name: "cleanup.policy", Type: TypeList, Default: "delete", Importance: Medium,
		Rule:     listOf("compact", "delete"),
		Synonyms: []string{"log.cleanup.policy"},
		Doc: `What happens to old segments: "delete" removes them once past retention.ms or retention.bytes; ` +
			`"compact" keeps only the latest record per key; both may be given.`,
		Note: "An empty list (neither policy) keeps every segment forever, as in Kafka.",
	},
	{
		Name: "compression.type", Type: TypeString, Default: "producer", Importance: Medium,
		Rule:     oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
		Synonyms: []string{"compression.type"},
		Doc:      `Codec batches are stored with. "producer" keeps each batch as the producer compressed it; any other value recompresses on append.`,
	},
	{
		Name: "compression.gzip.level", Type: TypeInt, Default: "-1", Importance: Medium,
		Rule:     betweenOr(1, 9, -1),
		Synonyms: []string{"compression.gzip.level"},
		Doc:      "gzip level used when compression.type=gzip; -1 is the codec's default.",
	},
	{
		Name: "compression.lz4.level", Type: TypeInt, Default: "9", Importance: Medium,
		Rule:     between(1, 17),
		Synonyms: []string{"compression.lz4.level"},
		Doc:      "lz4 level used when compression.type=lz4.",
	},
	{
		Name: "compression.zstd.level", Type: TypeInt, Default: "3", Importance: Medium,
		Rule:     between(-131072, 22),
		Synonyms: []string{"compression.zstd.level"},
		Doc:      "zstd level used when compression.type=zstd.",
	},
	{
		Name: "delete.retention.ms", Type: TypeLong, Default: "86400000", Importance: Medium,
		Rule:     atLeast(0),
		Synonyms: []string{"log.cleaner.delete.retention.ms"},
		Doc: "How long a compacted topic keeps a tombstone (a null-value record), so that a consumer " +
			"reading from the start sees the delete if it finishes within this time.",
	},
	{
		Name: "file.delete.delay.ms", Type: TypeLong, Default: "60000", Importance: Medium,
		Rule:     atLeast(0),
		Synonyms: []string{"log.segment.delete.delay.ms"},
		Doc:      "How long a deleted segment's files stay on disk, so that reads already under way can finish.",
		Note:     "The files, renamed with a .deleted suffix at once, also stay until the last read of them has finished, however long it takes.",
	},
	{
		Name: "flush.messages", Type: TypeLong, Default: longMax, Importance: Medium,
		Rule:     atLeast(1),
		Synonyms: []string{"log.flush.interval.messages"},
		Doc:      "fsync the partition after this many records. The default never syncs by count.",
		Note:     durabilityNote,
	},
	{
		Name: "flush.ms", Type: TypeLong, Default: longMax, Importance: Medium,
		Rule:     atLeast(0),
		Synonyms: []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"},
		Doc:      "fsync the partition when its oldest unsynced record is this old. The default never syncs by time.",
		Note:     durabilityNote,
	},
	{
		Name: "follower.replication.throttled.replicas", Type: TypeList, Default: "", Importance: Medium,
		Rule: throttledReplicas,
		Doc:  "Replicas whose follower-side replication traffic is throttled.",
		Note: "Accepted and reported; samsa does not throttle replication.",
	},
	{
		Name: "index.interval.bytes", Type: TypeInt, Default: "4096", Importance: Medium,
		Rule:     atLeast(0),
		Synonyms: []string{"log.index.interval.bytes"},
		Doc:      "Bytes of batches between two entries of the sparse offset index.",
	},
	{
		Name: "leader.replication.throttled.replicas", Type: TypeList, Default: "", Importance: Medium,
		Rule: throttledReplicas,
		Doc:  "Replicas whose leader-side replication traffic is throttled.",
		Note: "Accepted and reported; samsa does not throttle replication.",
	},
	{
		Name: "local.retention.bytes", Type: TypeLong, Default: "-2", Importance: Medium,
		Rule:     atLeast(-2),
		Synonyms: []string{"log.local.retention.bytes"},
		Doc:      "Tiered storage: bytes kept on local disk (-2: retention.bytes).",
		Note:     "Accepted; samsa has no tiered storage, so it has no effect.",
	},
	{
		Name: "local.retention.ms", Type: TypeLong, Default: "-2", Importance: Medium,
		Rule:     atLeast(-2),
		Synonyms: []string{"log.local.retention.ms"},
		Doc:      "Tiered storage: time data is kept on local disk (-2: retention.ms).",
		Note:     "Accepted; samsa has no tiered storage, so it has no effect.",
	},
	{
		Name: "max.compaction.lag.ms", Type: TypeLong, Default: longMax, Importance: Medium,
		Rule:     atLeast(1),
		Synonyms: []string{"log.cleaner.max.compaction.lag.ms"},
		Doc:      "Longest time a record may stay uncompacted in a compacted topic.",
	},
	{
		Name: "max.message.bytes", Type: TypeInt, Default: "1048588", Importance: Medium,
		Rule:     atLeast(0),
		Synonyms: []string{"message.max.bytes"},
		Doc:      "Largest record batch (after compression) the topic accepts.",
	},
	{
		Name: "message.downconversion.enable", Type: TypeBoolean, Default: "true", Importance: Low,
		Synonyms: []string{"log.message.downconversion.enable"},
		Doc:      "Whether fetches by old clients may convert batches to an older format.",
		Note:     "Accepted (removed in Kafka 4.0); samsa stores and serves only the v2 batch format.",
	},
	{
		Name: "message.timestamp.after.max.ms", Type: TypeLong, Default: "3600000", Importance: Medium,
		Rule:     atLeast(0),
		Synonyms: []string{"log.message.timestamp.after.max.ms"},
		Doc:      "With CreateTime, refuse a batch whose timestamp is more than this far ahead of the broker's clock.",
		Note:     "Default as in Kafka 4.0 (KIP-1030); Kafka 3.6-3.9 defaulted to 9223372036854775807.",
	},
	{
		Name: "message.timestamp.before.max.ms", Type: TypeLong, Default: longMax, Importance: Medium,
		Rule:     atLeast(0),
		Synonyms: []string{"log.message.timestamp.before.max.ms"},
		Doc:      "With CreateTime, refuse a batch whose timestamp is more than this far behind the broker's clock.",
	},
	{
		Name: "message.timestamp.difference.max.ms", Type: TypeLong, Default: longMax, Importance: Low,
		Rule:     atLeast(0),
		Synonyms: []string{"log.message.timestamp.difference.max.ms"},
		Doc:      "Deprecated bound on the timestamp difference either way.",
		Note: "Deprecated (KIP-937), removed in Kafka 4.0. When set and the matching before/after config is not, " +
			"it bounds that side, as in Kafka 3.6-3.9.",
	},
	{
		Name: "message.timestamp.type", Type: TypeString, Default: "CreateTime", Importance: Medium,
		Rule:     oneOf("CreateTime", "LogAppendTime"),
		Synonyms: []string{"log.message.timestamp.type"},
		Doc:      "CreateTime keeps the producer's timestamps; LogAppendTime replaces them with the broker's clock.",
	},
	{
		Name: "min.cleanable.dirty.ratio", Type: TypeDouble, Default: "0.5", Importance: Medium,
		Rule:     ratio(0, 1),
		Synonyms: []string{"log.cleaner.min.cleanable.ratio"},
		Doc:      "Compact a log once this fraction of it has not been compacted yet.",
	},
	{
		Name: "min.compaction.lag.ms", Type: TypeLong, Default: "0", Importance: Medium,
		Rule:     atLeast(0),
		Synonyms: []string{"log.cleaner.min.compaction.lag.ms"},
		Doc:      "Shortest time a record stays uncompacted. Must not exceed max.compaction.lag.ms.",
	},
	{
		Name: "min.insync.replicas", Type: TypeInt, Default: "1", Importance: Medium,
		Rule:     atLeast(1),
		Synonyms: []string{"min.insync.replicas"},
		Doc: "Replicas that must be in sync for an acks=all produce to succeed; with fewer, producers " +
			"get NOT_ENOUGH_REPLICAS.",
	},
	{
		Name: "preallocate", Type: TypeBoolean, Default: "false", Importance: Medium,
		Synonyms: []string{"log.preallocate"},
		Doc: "Reserve a new segment's full segment.bytes on disk when its first batch arrives " +
			"(beyond the file's end, so readers see only written bytes; given back when the segment " +
			"rolls). Without it samsa still reserves ahead of appends in steps of up to 8 MiB.",
	},
	{
		Name: "remote.storage.enable", Type: TypeBoolean, Default: "false", Importance: Medium,
		Rule: onlyFalse("samsa has no tiered storage"),
		Doc:  "Tiered storage for this topic.",
		Note: "Only false is accepted: samsa has no tiered storage (Kafka also refuses true while the broker's is off).",
	},
	{
		Name: "retention.bytes", Type: TypeLong, Default: "-1", Importance: Medium,
		Synonyms: []string{"log.retention.bytes"},
		Doc:      `With cleanup.policy "delete", the largest a partition may grow before its oldest segments go; -1 is no limit.`,
	},
	{
		Name: "retention.ms", Type: TypeLong, Default: "604800000", Importance: Medium,
		Rule:     atLeast(-1),
		Synonyms: []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
		Doc:      `With cleanup.policy "delete", how long a segment is kept after its newest record; -1 is forever. When every record of a partition is past it, the active segment is rolled and deleted too, so the log start moves to the log end.`,
	},
	{
		Name: "segment.bytes", Type: TypeInt, Default: "1073741824", Importance: Medium,
		Rule:     atLeast(14),
		Synonyms: []string{"log.segment.bytes"},
		Doc:      "Size at which the active segment is closed and a new one started.",
		Note:     "Minimum 14 as in Kafka 3.x; Kafka 4.0 raised it to 1048576. Small segments are useful in tests.",
	},
	{
		Name: "segment.index.bytes", Type: TypeInt, Default: "10485760", Importance: Medium,
		Rule:     atLeast(4),
		Synonyms: []string{"log.index.size.max.bytes"},
		Doc:      "Largest offset index of a segment; a full index rolls the segment.",
	},
	{
		Name: "segment.jitter.ms", Type: TypeLong, Default: "0", Importance: Medium,
		Rule:     atLeast(0),
		Synonyms: []string{"log.roll.jitter.ms", "log.roll.jitter.hours"},
		Doc:      "Random time subtracted from segment.ms per segment, so that partitions do not all roll at once.",
	},
	{
		Name: "segment.ms", Type: TypeLong, Default: "604800000", Importance: Medium,
		Rule:     atLeast(1),
		Synonyms: []string{"log.roll.ms", "log.roll.hours"},
		Doc:      "Age at which the active segment is closed even if not full, so that retention and compaction can reach it.",
	},
	{
		Name: "unclean.leader.election.enable", Type: TypeBoolean, Default: "false", Importance: Medium,
		Synonyms: []string{"unclean.leader.election.enable"},
		Doc:      "Allow a replica outside the ISR to become leader when no in-sync replica is left: available, but acknowledged records can be lost.",
	},
}

// durabilityNote is what the flush defaults promise; see docs/configuration.md.
const durabilityNote = "With the defaults samsa, like Kafka, never fsyncs by count or time: an acknowledged record " +
	"survives a broker process crash (it is in the OS page cache) but not a power loss of a single node; " +
	"replication to other brokers is what protects it."

var topicByName = indexDefs(topicDefs)

func indexDefs(defs []*Def) map[string]*Def {
	m := make(map[string]*Def, len(defs))
	for _, d := range defs {
		if m[d.Name] != nil {
			panic("config: duplicate definition of " + d.Name)
		}
		m[d.Name] = d
	}
	return m
}

// TopicDefs returns the topic config definitions, sorted by name. The
// definitions are shared: do not modify them.
func TopicDefs() []*Def { return sortedDefs(topicDefs) }

// BrokerDefs returns the supported broker config definitions, sorted by
// name. The definitions are shared: do not modify them.
func BrokerDefs() []*Def { return sortedDefs(brokerDefs) }

func sortedDefs(defs []*Def) []*Def {
	out := append([]*Def(nil), defs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
