package config

import "strings"

// brokerDefs are the broker configs samsa reads. A key in server.properties
// that is neither here nor in the ignored list below stops the broker at
// start: a misspelt key silently doing nothing is how a cluster ends up with
// retention or replication nobody asked for.
var brokerDefs = []*Def{
	// Identity and roles.
	{
		Name: "node.id", Type: TypeInt, Default: "1", Importance: High, Rule: atLeast(0),
		Doc:          "This node's id, unique in the cluster, used both as broker id and as controller (voter) id.",
		KafkaDefault: "none, required",
		Note:         "Defaults to 1 so that `samsa broker` alone starts a single-node cluster.",
	},
	{
		Name: "broker.id", Type: TypeInt, Null: true, Importance: High, Rule: atLeast(0),
		Doc:  "Older name of node.id.",
		Note: "An alias: when both are set they must be equal.",
	},
	{
		Name: "process.roles", Type: TypeList, Default: "broker,controller", Importance: High,
		Rule:         nonEmptyListOf("broker", "controller"),
		Doc:          "The roles this node plays: broker (serves clients), controller (a metadata quorum voter), or both.",
		KafkaDefault: "none, required",
	},
	{
		Name: "cluster.id", Type: TypeString, Null: true, Importance: High, Rule: clusterIDRule,
		Doc:  "The cluster id. When unset, the first controller of a new cluster generates one and stores it in the data directory.",
		Note: "samsa-specific: Kafka takes it only from `kafka-storage format --cluster-id`; samsa also from `samsa storage format --cluster-id`, which writes it to meta.properties as Kafka's tool does.",
	},
	{
		Name: "broker.rack", Type: TypeString, Null: true, Importance: Medium,
		Doc: "Rack (or zone) of this broker, reported in Metadata.",
	},

	// SASL (the listeners whose protocol is SASL_PLAINTEXT).
	{
		Name: "sasl.enabled.mechanisms", Type: TypeList, Default: "GSSAPI", Importance: Medium,
		Doc: "The SASL mechanisms a SASL_PLAINTEXT listener enables, unless listener.name.<listener>.sasl.enabled.mechanisms " +
			"overrides it for that listener. PLAIN takes its users from listener.name.<listener>.plain.sasl.jaas.config " +
			"(user_<name>=\"<password>\" options of PlainLoginModule); SCRAM-SHA-256 and SCRAM-SHA-512 from the credentials " +
			"AlterUserScramCredentials stores (samsa user set-scram, kafka-configs --entity-type users).",
		Note: "samsa implements PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512: a SASL listener left with another mechanism " +
			"(GSSAPI is the default) is refused at start. Unused when no listener is SASL_PLAINTEXT. Read-only in samsa.",
	},
	{
		Name: "connection.failed.authentication.delay.ms", Type: TypeInt, Default: "100", Importance: Low, Rule: atLeast(0),
		Doc: "How long a SASL connection whose authentication failed waits before its answer is sent and it is closed, " +
			"which slows a client guessing passwords.",
	},
	{
		Name: "connections.max.reauth.ms", Type: TypeLong, Default: "0", Importance: Medium,
		Rule: custom("0", func(p parsed) string {
			if p.i != 0 {
				return "samsa does not re-authenticate SASL connections (KIP-368) yet; a session would outlive a changed or deleted credential: set 0"
			}
			return ""
		}),
		Doc: "When positive, the longest an authenticated SASL connection may live before it must re-authenticate (KIP-368). 0: never.",
	},
	// Listeners.
	{
		Name: "listeners", Type: TypeString, Default: "PLAINTEXT://127.0.0.1:9092", Importance: High,
		Rule: listenersRule,
		Doc: "Where to listen: comma-separated NAME://host:port. An empty host binds every interface; port 0 an ephemeral port. " +
			"Every client listener is served, and a client is answered with the addresses of the listener it connected to " +
			"(Metadata, FindCoordinator, DescribeCluster); a broker without that listener is left out.",
		KafkaDefault: "PLAINTEXT://:9092",
		Note: "Binds loopback by default, so a fresh broker is not reachable from the network. A bare host:port " +
			"(as the --listen flag gives) means PLAINTEXT://host:port. Read-only in samsa (per-broker in Kafka).",
	},
	{
		Name: "advertised.listeners", Type: TypeString, Null: true, Importance: High,
		Rule: listenersRule,
		Doc: "What Metadata tells clients for each listener, when it differs from listeners. Unset: the " +
			"listener's own address, with an empty host replaced by the host name.",
		Note: "A bare host:port applies to the first client listener. Read-only in samsa (per-broker in Kafka).",
	},
	{
		Name: "listener.security.protocol.map", Type: TypeString, Importance: Low,
		Default: "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
		Rule:    protocolMapRule,
		Doc:     "Security protocol of each listener name. A controller listener missing from it is PLAINTEXT.",
		Note: "samsa serves PLAINTEXT and SASL_PLAINTEXT (no TLS): a listener the map gives SSL or SASL_SSL is refused, " +
			"and so is a SASL_PLAINTEXT controller or inter-broker listener. " +
			"Entries no listener uses are accepted, so that Kafka's stock server.properties starts samsa. Read-only in samsa.",
	},
	{
		Name: "controller.listener.names", Type: TypeString, Default: "CONTROLLER", Importance: High,
		Rule:         namesRule,
		Doc:          "Listener names used by the metadata quorum rather than by clients.",
		KafkaDefault: "none, required",
	},
	{
		Name: "inter.broker.listener.name", Type: TypeString, Null: true, Importance: Medium, Rule: nameRule,
		Doc: "Listener other brokers use to replicate from this one. Unset: the first client listener.",
	},
	{
		Name: "controller.quorum.voters", Type: TypeList, Default: "", Importance: High, Rule: votersRule,
		Doc: "The metadata quorum: id@host:port of every controller. Empty: this node alone is the quorum.",
		Note: "Naming a quorum also makes the internal topics default to 3 replicas (see offsets.topic.replication.factor). " +
			"samsa's controllers speak their own Raft protocol at these addresses, not KRaft's.",
	},
	{
		Name: "controller.quorum.bootstrap.servers", Type: TypeList, Default: "", Importance: High, Rule: hostPortsRule,
		Doc:  "Controllers to contact to join a dynamic quorum (KIP-853), as host:port.",
		Note: "Naming a quorum also makes the internal topics default to 3 replicas (see offsets.topic.replication.factor).",
	},

	// Storage.
	{
		Name: "log.dirs", Type: TypeString, Null: true, Importance: High, Rule: dataDirRule,
		Doc:  "The data directory. Overrides log.dir.",
		Note: "One directory only: samsa refuses a list (JBOD) rather than ignore all but one.",
	},
	{
		Name: "log.dir", Type: TypeString, Default: "./samsa-data", Importance: High, Rule: dataDirRule,
		Doc:          "The data directory, when log.dirs is unset.",
		KafkaDefault: "/tmp/kafka-logs",
	},
	{
		Name: "metadata.log.dir", Type: TypeString, Null: true, Importance: High, Rule: dataDirRule,
		Doc: "Where the metadata quorum keeps its log. Unset: the data directory.",
	},

	// Topic creation.
	{
		Name: "num.partitions", Type: TypeInt, Default: "1", Importance: Medium, Rule: atLeast(1),
		Doc: "Partitions of an auto-created topic, and of a created one that asks for -1.",
	},
	{
		Name: "default.replication.factor", Type: TypeInt, Default: "1", Importance: Medium, Rule: between(1, 32767),
		Doc:  "Replicas of an auto-created topic, and of a created one that asks for -1.",
		Note: "Must fit a replication factor (1 to 32767); Kafka checks it only when a topic is created.",
	},
	{
		Name: "auto.create.topics.enable", Type: TypeBoolean, Default: "true", Importance: High,
		Doc: "Create a topic when a client asks for metadata of a topic that does not exist (and the request allows it). A produce to an unknown topic is refused with UNKNOWN_TOPIC_OR_PARTITION, as in Kafka.",
	},
	{
		Name: "delete.topic.enable", Type: TypeBoolean, Default: "true", Importance: High,
		Doc: "Allow DeleteTopics. When false, deletes are refused.",
	},

	// Log defaults: the broker synonyms of topic configs.
	{Name: "log.segment.bytes", Type: TypeInt, Default: "1073741824", Importance: High, Rule: atLeast(14), Mode: ClusterWide,
		Doc: "Default segment.bytes."},
	{Name: "log.roll.ms", Type: TypeLong, Null: true, Importance: High, Rule: atLeast(1), Mode: ClusterWide,
		Doc: "Default segment.ms. Unset: log.roll.hours.", Note: "Must be at least 1, the bound of segment.ms; Kafka has no bound here."},
	{Name: "log.roll.hours", Type: TypeInt, Default: "168", Importance: High, Rule: atLeast(1), Scale: 3600000,
		Doc: "Default segment.ms in hours, when log.roll.ms is unset."},
	{Name: "log.roll.jitter.ms", Type: TypeLong, Null: true, Importance: High, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Default segment.jitter.ms. Unset: log.roll.jitter.hours."},
	{Name: "log.roll.jitter.hours", Type: TypeInt, Default: "0", Importance: High, Rule: atLeast(0), Scale: 3600000,
		Doc: "Default segment.jitter.ms in hours, when log.roll.jitter.ms is unset."},
	{Name: "log.index.interval.bytes", Type: TypeInt, Default: "4096", Importance: Medium, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Default index.interval.bytes."},
	{Name: "log.index.size.max.bytes", Type: TypeInt, Default: "10485760", Importance: Medium, Rule: atLeast(4), Mode: ClusterWide,
		Doc: "Default segment.index.bytes."},
	{Name: "log.flush.interval.messages", Type: TypeLong, Default: longMax, Importance: High, Rule: atLeast(1), Mode: ClusterWide,
		Doc: "Default flush.messages.", Note: durabilityNote},
	{Name: "log.flush.interval.ms", Type: TypeLong, Null: true, Importance: High, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Default flush.ms. Unset: log.flush.scheduler.interval.ms.", Note: durabilityNote},
	{Name: "log.flush.scheduler.interval.ms", Type: TypeLong, Default: longMax, Importance: High, Rule: atLeast(0),
		Doc: "How often to check whether a partition is due an fsync by time; also flush.ms when log.flush.interval.ms is unset."},
	{Name: "message.max.bytes", Type: TypeInt, Default: "1048588", Importance: High, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Default max.message.bytes: the largest record batch a topic accepts."},
	{Name: "log.retention.ms", Type: TypeLong, Null: true, Importance: High, Mode: ClusterWide,
		Doc: "Default retention.ms. Unset: log.retention.minutes. Negative: forever."},
	{Name: "log.retention.minutes", Type: TypeInt, Null: true, Importance: High, Scale: 60000,
		Doc: "Default retention.ms in minutes, when log.retention.ms is unset."},
	{Name: "log.retention.hours", Type: TypeInt, Default: "168", Importance: High, Scale: 3600000,
		Doc: "Default retention.ms in hours, when log.retention.ms and log.retention.minutes are unset."},
	{Name: "log.retention.bytes", Type: TypeLong, Default: "-1", Importance: High, Mode: ClusterWide,
		Doc: "Default retention.bytes. Negative: no limit."},
	{Name: "log.cleanup.policy", Type: TypeList, Default: "delete", Importance: Medium, Rule: listOf("compact", "delete"), Mode: ClusterWide,
		Doc: "Default cleanup.policy."},
	{Name: "log.message.timestamp.type", Type: TypeString, Default: "CreateTime", Importance: Medium,
		Rule: oneOf("CreateTime", "LogAppendTime"), Mode: ClusterWide, Doc: "Default message.timestamp.type."},
	{Name: "log.message.timestamp.before.max.ms", Type: TypeLong, Default: longMax, Importance: Medium, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Default message.timestamp.before.max.ms."},
	{Name: "log.message.timestamp.after.max.ms", Type: TypeLong, Default: "3600000", Importance: Medium, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Default message.timestamp.after.max.ms.", Note: "Default as in Kafka 4.0 (KIP-1030); Kafka 3.6-3.9 defaulted to 9223372036854775807."},
	{Name: "log.message.timestamp.difference.max.ms", Type: TypeLong, Default: longMax, Importance: Low, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Default message.timestamp.difference.max.ms (deprecated).", Note: "Deprecated (KIP-937), removed in Kafka 4.0."},
	{Name: "log.message.downconversion.enable", Type: TypeBoolean, Default: "true", Importance: Low, Mode: ClusterWide,
		Doc: "Default message.downconversion.enable.", Note: "Accepted (removed in Kafka 4.0); has no effect."},
	{Name: "compression.type", Type: TypeString, Default: "producer", Importance: High,
		Rule: oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"), Mode: ClusterWide, Doc: "Default compression.type."},
	{Name: "compression.gzip.level", Type: TypeInt, Default: "-1", Importance: Medium, Rule: betweenOr(1, 9, -1), Mode: ClusterWide,
		Doc: "Default compression.gzip.level."},
	{Name: "compression.lz4.level", Type: TypeInt, Default: "9", Importance: Medium, Rule: between(1, 17), Mode: ClusterWide,
		Doc: "Default compression.lz4.level."},
	{Name: "compression.zstd.level", Type: TypeInt, Default: "3", Importance: Medium, Rule: between(-131072, 22), Mode: ClusterWide,
		Doc: "Default compression.zstd.level."},
	{Name: "min.insync.replicas", Type: TypeInt, Default: "1", Importance: High, Rule: atLeast(1), Mode: ClusterWide,
		Doc: "Default min.insync.replicas."},
	{Name: "unclean.leader.election.enable", Type: TypeBoolean, Default: "false", Importance: High, Mode: ClusterWide,
		Doc: "Default unclean.leader.election.enable.",
		Note: "The active controller resolves it as KRaft's does: the topic's override, its own dynamic config, the cluster-wide " +
			"dynamic default, then its own server.properties. Turned on dynamically, it elects leaders for partitions " +
			"without one at once; Kafka's controller waits for its next periodic check (every 5 minutes)."},
	{Name: "log.preallocate", Type: TypeBoolean, Default: "false", Importance: Medium, Mode: ClusterWide,
		Doc: "Default preallocate."},
	{Name: "log.segment.delete.delay.ms", Type: TypeLong, Default: "60000", Importance: High, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Default file.delete.delay.ms."},
	{Name: "log.local.retention.ms", Type: TypeLong, Default: "-2", Importance: Medium, Rule: atLeast(-2), Mode: ClusterWide,
		Doc: "Default local.retention.ms.", Note: "Accepted; samsa has no tiered storage."},
	{Name: "log.local.retention.bytes", Type: TypeLong, Default: "-2", Importance: Medium, Rule: atLeast(-2), Mode: ClusterWide,
		Doc: "Default local.retention.bytes.", Note: "Accepted; samsa has no tiered storage."},
	{Name: "remote.log.storage.system.enable", Type: TypeBoolean, Default: "false", Importance: Medium,
		Rule: onlyFalse("samsa has no tiered storage"), Doc: "Tiered storage on this broker.", Note: "Only false is accepted."},

	// Retention and cleaning.
	{Name: "log.retention.check.interval.ms", Type: TypeLong, Default: "300000", Importance: Medium, Rule: atLeast(1),
		Doc: "How often to look for segments past retention."},
	{Name: "log.cleaner.enable", Type: TypeBoolean, Default: "true", Importance: Medium,
		Doc: "Run the log cleaner, which compacts topics with cleanup.policy compact. Off, compacted topics grow forever."},
	{Name: "log.cleaner.threads", Type: TypeInt, Default: "1", Importance: Medium, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Logs compacted at once."},
	{Name: "log.cleaner.backoff.ms", Type: TypeLong, Default: "15000", Importance: Medium, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Pause of the cleaner when no log needs compacting."},
	{Name: "log.cleaner.min.cleanable.ratio", Type: TypeDouble, Default: "0.5", Importance: Medium, Rule: ratio(0, 1), Mode: ClusterWide,
		Doc: "Default min.cleanable.dirty.ratio."},
	{Name: "log.cleaner.delete.retention.ms", Type: TypeLong, Default: "86400000", Importance: Medium, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Default delete.retention.ms."},
	{Name: "log.cleaner.min.compaction.lag.ms", Type: TypeLong, Default: "0", Importance: Medium, Rule: atLeast(0), Mode: ClusterWide,
		Doc: "Default min.compaction.lag.ms."},
	{Name: "log.cleaner.max.compaction.lag.ms", Type: TypeLong, Default: longMax, Importance: Medium, Rule: atLeast(1), Mode: ClusterWide,
		Doc: "Default max.compaction.lag.ms."},

	// samsa's HTTP listener: metrics, health and the web console.
	{
		Name: "samsa.http.listen", Type: TypeString, Default: "127.0.0.1:9080", Importance: Medium, Rule: httpListenRule,
		Doc:          "HOST:PORT of the HTTP listener serving /metrics (Prometheus), /healthz, /readyz and the web console. Empty: no HTTP listener.",
		KafkaDefault: "none (Kafka exposes JMX)",
		Note:         "samsa-specific. When the default port is taken (another samsa on the machine), the broker starts without the listener and says so; an address set explicitly must bind.",
	},
	{
		Name: "samsa.console.read.only", Type: TypeBoolean, Default: "false", Importance: Medium,
		Doc: "Refuse every change made through the web console (topic and config edits, produce, offset resets). " +
			"The console is read-only anyway when the HTTP listener is not on a loopback address, because samsa has no authentication yet.",
		KafkaDefault: "none",
		Note:         "samsa-specific.",
	},
	{
		Name: "samsa.console.sample.interval.ms", Type: TypeLong, Default: "10000", Importance: Low, Rule: atLeast(100),
		Doc:          "How often the web console samples the traffic and consumer-lag plots; each plot keeps its last 360 samples (an hour at the default).",
		KafkaDefault: "none",
		Note:         "samsa-specific.",
	},
	{
		Name: "samsa.metrics.partition.series", Type: TypeBoolean, Default: "true", Importance: Low,
		Doc: "Export the per-partition series (log start, high watermark, log end, size, segments, bytes in) on /metrics. " +
			"Off: only per-topic and per-broker series, for brokers with very many partitions.",
		KafkaDefault: "none",
		Note:         "samsa-specific.",
	},

	// Requests and connections.
	{Name: "socket.request.max.bytes", Type: TypeInt, Default: "104857600", Importance: High, Rule: atLeast(1),
		Doc: "Largest request frame; a bigger one closes the connection."},
	{Name: "connections.max.idle.ms", Type: TypeLong, Default: "600000", Importance: Medium,
		Doc: "Close a connection idle this long. Negative: never."},
	{Name: "fetch.max.bytes", Type: TypeInt, Default: "57671680", Importance: Medium, Rule: atLeast(1024),
		Doc: "Most bytes one fetch response carries, whatever the request asks."},
	{Name: "max.incremental.fetch.session.cache.slots", Type: TypeInt, Default: "1000", Importance: Medium, Rule: atLeast(0),
		Doc: "Incremental fetch sessions (KIP-227) kept per broker."},

	// Replication.
	{Name: "broker.heartbeat.interval.ms", Type: TypeInt, Default: "2000", Importance: Medium, Rule: atLeast(1),
		Doc: "How often a broker heartbeats to the active controller."},
	{Name: "broker.session.timeout.ms", Type: TypeInt, Default: "9000", Importance: Medium, Rule: atLeast(1),
		Doc: "A broker whose heartbeats stop for this long is fenced, and its partitions get new leaders."},
	{Name: "metadata.log.max.record.bytes.between.snapshots", Type: TypeLong, Default: "20971520", Importance: High, Rule: atLeast(1),
		Doc: "Metadata log bytes applied after the latest snapshot that trigger a new snapshot."},
	{Name: "replica.lag.time.max.ms", Type: TypeLong, Default: "30000", Importance: High, Rule: atLeast(0),
		Doc: "A follower that has not caught up with the leader's log end for this long leaves the ISR."},
	{Name: "replica.fetch.max.bytes", Type: TypeInt, Default: "1048576", Importance: Medium, Rule: atLeast(0),
		Doc: "Bytes a follower asks for per partition per fetch (at least one batch is always returned)."},
	{Name: "replica.fetch.min.bytes", Type: TypeInt, Default: "1", Importance: High,
		Doc: "Bytes a follower's fetch waits for, up to replica.fetch.wait.max.ms."},
	{Name: "replica.fetch.wait.max.ms", Type: TypeInt, Default: "500", Importance: High,
		Doc: "Longest a follower's fetch waits for data. At most replica.lag.time.max.ms."},
	{Name: "replica.fetch.response.max.bytes", Type: TypeInt, Default: "10485760", Importance: Medium, Rule: atLeast(0),
		Doc: "Bytes a follower asks for per fetch, all partitions together."},
	{Name: "replica.fetch.backoff.ms", Type: TypeInt, Default: "1000", Importance: Medium, Rule: atLeast(0),
		Doc: "Pause after a follower's fetch fails."},
	{Name: "replica.high.watermark.checkpoint.interval.ms", Type: TypeLong, Default: "5000", Importance: High, Rule: atLeast(1),
		Doc: "How often each replica's high watermark is written to the data directory's replication-offset-checkpoint (and at shutdown)."},
	{Name: "num.recovery.threads.per.data.dir", Type: TypeInt, Default: "16", Importance: High, Rule: atLeast(1),
		Doc: "How many partitions the broker opens (recovering any whose shutdown was unclean), gives a role or closes at once, " +
			"at start, on metadata changes and at shutdown.",
		Note: "Kafka's default is 2 threads. samsa's workers are goroutines that mostly wait on fsyncs of small files " +
			"(leader-epoch checkpoints, producer snapshots), which the file system commits together when many wait at once: " +
			"at 10,000 partitions one at a time took 10 s to start and 13 s to stop, 16 at a time 8 s and 8.5 s " +
			"(docs/benchmarks.md). Kafka's sample server.properties sets 1, which samsa honours."},
	{Name: "num.replica.fetchers", Type: TypeInt, Default: "1", Importance: High, Rule: atLeast(1), Mode: ClusterWide,
		Doc: "Fetcher connections a follower opens to each leader."},
	{Name: "auto.leader.rebalance.enable", Type: TypeBoolean, Default: "true", Importance: High,
		Doc: "The active controller moves leadership back to each partition's preferred replica (its first) every " +
			"leader.imbalance.check.interval.seconds, where that replica is in the ISR and live.",
		Note: "Read from the server.properties of the node that is the active controller, as in KRaft."},
	{Name: "leader.imbalance.check.interval.seconds", Type: TypeLong, Default: "300", Importance: High, Rule: atLeast(1),
		Doc: "How often the active controller looks for partitions not led by their preferred replica."},
	{Name: "leader.imbalance.per.broker.percentage", Type: TypeInt, Default: "10", Importance: High,
		Doc:  "The share of a broker's partitions that ZooKeeper-era Kafka let other brokers lead before it rebalanced them.",
		Note: "Accepted and, as in KRaft (Kafka 3.x and 4.x), without effect: every partition not led by its preferred replica is moved back."},

	// Consumer groups and committed offsets.
	{Name: "group.initial.rebalance.delay.ms", Type: TypeInt, Default: "3000", Importance: Medium, Rule: atLeast(0),
		Doc: "Wait after the first member joins an empty group before its first rebalance, so that members starting together land in one."},
	{Name: "group.min.session.timeout.ms", Type: TypeInt, Default: "6000", Importance: Medium, Rule: atLeast(0),
		Doc: "Shortest session timeout a group member may ask for."},
	{Name: "group.max.session.timeout.ms", Type: TypeInt, Default: "1800000", Importance: Medium, Rule: atLeast(0),
		Doc: "Longest session timeout a group member may ask for. At least group.min.session.timeout.ms."},
	{Name: "group.max.size", Type: TypeInt, Default: intMax, Importance: Medium, Rule: atLeast(1),
		Doc: "Most members of one group."},
	{Name: "offsets.topic.num.partitions", Type: TypeInt, Default: "50", Importance: High, Rule: atLeast(1),
		Doc: "Partitions of __consumer_offsets. Fixed once the topic exists."},
	{Name: "offsets.topic.replication.factor", Type: TypeShort, Default: "3", Importance: High, Rule: atLeast(1),
		Doc:  "Replicas of __consumer_offsets. Fixed once the topic exists.",
		Note: internalRFNote},
	{Name: "offsets.topic.segment.bytes", Type: TypeInt, Default: "104857600", Importance: High, Rule: atLeast(1),
		Doc: "segment.bytes of __consumer_offsets."},
	{Name: "offsets.retention.minutes", Type: TypeInt, Default: "10080", Importance: High, Rule: atLeast(1),
		Doc: "How long committed offsets of an empty group are kept."},
	{Name: "offsets.retention.check.interval.ms", Type: TypeLong, Default: "600000", Importance: High, Rule: atLeast(1),
		Doc: "How often to look for expired offsets."},
	{Name: "offsets.commit.timeout.ms", Type: TypeInt, Default: "5000", Importance: High, Rule: atLeast(1),
		Doc: "How long an offset commit waits for the __consumer_offsets write to be replicated."},
	{Name: "offset.metadata.max.bytes", Type: TypeInt, Default: "4096", Importance: High, Rule: atLeast(0),
		Doc: "Largest metadata string of a committed offset."},

	// Transactions and idempotent producers.
	{Name: "transaction.state.log.num.partitions", Type: TypeInt, Default: "50", Importance: High, Rule: atLeast(1),
		Doc: "Partitions of __transaction_state. Fixed once the topic exists."},
	{Name: "transaction.state.log.replication.factor", Type: TypeShort, Default: "3", Importance: High, Rule: atLeast(1),
		Doc: "Replicas of __transaction_state. Fixed once the topic exists.", Note: internalRFNote},
	{Name: "transaction.state.log.min.isr", Type: TypeInt, Default: "2", Importance: High, Rule: atLeast(1),
		Doc:  "min.insync.replicas of __transaction_state.",
		Note: "Left unset, samsa uses min(2, the topic's replication factor), so that a single node can run transactions."},
	{Name: "transaction.state.log.segment.bytes", Type: TypeInt, Default: "104857600", Importance: High, Rule: atLeast(1),
		Doc: "segment.bytes of __transaction_state."},
	{Name: "transaction.max.timeout.ms", Type: TypeInt, Default: "900000", Importance: High, Rule: atLeast(1),
		Doc: "Longest transaction timeout a producer may ask for."},
	{Name: "transactional.id.expiration.ms", Type: TypeInt, Default: "604800000", Importance: High, Rule: atLeast(1),
		Doc: "Forget a transactional id unused for this long."},
	{Name: "add.partitions.to.txn.retry.backoff.ms", Type: TypeInt, Default: "20", Importance: High, Rule: atLeast(1),
		Doc: "Pause between a partition leader's retries of adding a partition to a transaction (Produce v12+) while the transaction coordinator answers CONCURRENT_TRANSACTIONS."},
	{Name: "add.partitions.to.txn.retry.backoff.max.ms", Type: TypeInt, Default: "100", Importance: High, Rule: atLeast(0),
		Doc: "How long a partition leader retries adding a partition to a transaction before the produce is answered with the coordinator's error (as NOT_ENOUGH_REPLICAS)."},
	{Name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", Type: TypeInt, Default: "10000", Importance: Low, Rule: atLeast(1),
		Doc: "How often the transaction coordinator aborts transactions that ran past their timeout."},
	{Name: "transaction.remove.expired.transaction.cleanup.interval.ms", Type: TypeInt, Default: "3600000", Importance: Low, Rule: atLeast(1),
		Doc: "How often the transaction coordinator forgets transactional ids idle past transactional.id.expiration.ms."},
	{Name: "producer.id.expiration.ms", Type: TypeInt, Default: "86400000", Importance: Low, Rule: atLeast(1), Mode: ClusterWide,
		Doc: "Forget an idempotent producer's sequence state after this long without a write."},

	// Authorization. authorizer.class.name is not in the ignored list on
	// purpose: ignoring an authorizer would turn a locked cluster into an
	// open one. samsa has none yet, so any value is refused.
	{Name: "authorizer.class.name", Type: TypeString, Default: "", Importance: Low,
		Rule: noAuthorizerRule,
		Doc:  "Turns on ACL authorization. Empty: every request is allowed.",
		Note: "samsa has no authorizer (no ACLs): any value stops the broker at start, rather than run open when a locked cluster was asked for."},
	{Name: "super.users", Type: TypeString, Null: true, Importance: Medium, Rule: superUsersRule,
		Doc:  "Principals allowed everything, e.g. User:admin;User:ops.",
		Note: "No effect: samsa has no authorizer (see authorizer.class.name)."},
	{Name: "allow.everyone.if.no.acl.found", Type: TypeBoolean, Default: "false", Importance: Medium,
		Doc:  "With an authorizer, allow access to a resource that has no ACL at all.",
		Note: "No effect: samsa has no authorizer (see authorizer.class.name)."},
}

// internalRFNote describes samsa's default for the internal topics' replication.
const internalRFNote = "Left unset on a node that names no quorum (neither controller.quorum.voters nor " +
	"controller.quorum.bootstrap.servers, as `samsa broker` without flags), samsa uses 1: no other broker can join " +
	"that node's cluster. Otherwise Kafka's 3, and the topic is created once that many brokers are registered and unfenced."

var brokerByName = indexDefs(brokerDefs)

// ignoredBroker are Kafka broker configs that samsa accepts and ignores, so
// that a Kafka server.properties starts samsa unchanged. Each one is logged
// once at start. They tune machinery samsa does not have (thread pools,
// ZooKeeper, JMX) or does differently (Raft timing), and none of them can
// make data less safe by being ignored.
var ignoredBroker = []string{
	// Threads, sockets and request queues: samsa uses goroutines per
	// connection and the kernel's socket buffers.
	"background.threads", "num.io.threads", "num.network.threads",
	"num.replica.alter.log.dirs.threads", "queued.max.requests", "queued.max.request.bytes",
	"socket.send.buffer.bytes", "socket.receive.buffer.bytes", "socket.listen.backlog.size",
	"socket.connection.setup.timeout.ms", "socket.connection.setup.timeout.max.ms",
	"max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides", "max.connection.creation.rate",
	"request.timeout.ms",
	"replica.socket.timeout.ms", "replica.socket.receive.buffer.bytes",
	// Log internals samsa does differently (a clean-shutdown marker instead
	// of recovery-point checkpoints; its own cleaner buffers).
	"log.flush.offset.checkpoint.interval.ms", "log.flush.start.offset.checkpoint.interval.ms",
	"log.dir.failure.timeout.ms",
	"log.cleaner.dedupe.buffer.size", "log.cleaner.io.buffer.size", "log.cleaner.io.buffer.load.factor",
	"log.cleaner.io.max.bytes.per.second", "log.message.format.version", "inter.broker.protocol.version",
	// The metadata quorum: samsa's controller is hashicorp/raft with its own
	// timing; only the membership (controller.quorum.voters) is read.
	"controller.quorum.election.timeout.ms", "controller.quorum.fetch.timeout.ms",
	"controller.quorum.election.backoff.max.ms", "controller.quorum.append.linger.ms",
	"controller.quorum.request.timeout.ms", "controller.quorum.retry.backoff.ms", "controller.quorum.auto.join.enable",
	"controller.socket.timeout.ms", "metadata.log.segment.bytes", "metadata.log.segment.ms",
	"metadata.max.retention.bytes", "metadata.max.retention.ms",
	"metadata.log.max.snapshot.interval.ms", "metadata.max.idle.interval.ms",
	"initial.broker.registration.timeout.ms", "early.start.listeners",
	"security.inter.broker.protocol", "control.plane.listener.name",
	// Shutdown choreography. unclean.leader.election.interval.ms (KRaft's
	// internal period for unclean elections) has nothing to tune: samsa's
	// controller elects as soon as a change allows it.
	"unclean.leader.election.interval.ms", "controlled.shutdown.enable", "controlled.shutdown.max.retries", "controlled.shutdown.retry.backoff.ms",
	"reserved.broker.max.id", "broker.id.generation.enable", "replica.selector.class", "eligible.leader.replicas.enable",
	// Purgatories, coordinator internals, producer-state housekeeping.
	"fetch.purgatory.purge.interval.requests", "producer.purgatory.purge.interval.requests",
	"delete.records.purgatory.purge.interval.requests", "offsets.load.buffer.size", "offsets.topic.compression.codec",
	"transaction.state.log.load.buffer.size", "transaction.partition.verification.enable",
	"producer.id.expiration.check.interval.ms", "group.coordinator.rebalance.protocols", "group.coordinator.threads",
	// Metrics and quotas windows (samsa exports Prometheus metrics).
	"metric.reporters", "auto.include.jmx.reporter", "telemetry.max.bytes", "quota.window.num", "quota.window.size.seconds",
	"replication.quota.window.num", "replication.quota.window.size.seconds", "alter.log.dirs.replication.quota.window.num",
	"alter.log.dirs.replication.quota.window.size.seconds", "controller.quota.window.num", "controller.quota.window.size.seconds",
	"client.quota.callback.class", "leader.replication.throttled.rate", "follower.replication.throttled.rate",
	"principal.builder.class", "security.providers", "unstable.api.versions.enable", "unstable.feature.versions.enable",
}

// ignoredPrefixes are families of Kafka configs ignored as a whole. A family
// is listed here only when its keys are open-ended (listener.name.<name>.*)
// or all belong to machinery samsa lacks (ZooKeeper, TLS): a prefix swallows
// typos, so it is never used for a family samsa reads part of.
var ignoredPrefixes = []string{
	"zookeeper.",         // samsa has a Raft quorum, no ZooKeeper
	"listener.name.",     // per-listener overrides (their ssl.* and sasl.* are refused)
	"delegation.token.",  // no delegation tokens
	"password.encoder.",  // encrypts dynamic passwords; samsa stores none
	"kafka.metrics.",     // JMX reporters
	"metrics.",           // JMX metric sampling
	"remote.log.",        // tiered storage (remote.log.storage.system.enable is checked)
	"group.consumer.",    // KIP-848 group protocol tuning
	"group.share.",       // KIP-932 share groups
	"share.coordinator.", // KIP-932 share groups
}

// refusedPrefixes are families of Kafka broker configs for security samsa
// does not provide. Ignoring them would leave a cluster less safe than its
// operator believes (TLS that is not there, SASL that authenticates
// nobody), so setting any of them, also per listener
// (listener.name.<name>.ssl.*), stops the broker.
var refusedPrefixes = []struct{ prefix, reason string }{
	{"ssl.", "samsa has no TLS: its listeners are PLAINTEXT only; remove the ssl.* settings"},
	{"sasl.", "samsa's SASL is PLAIN and SCRAM on SASL_PLAINTEXT client listeners, configured by sasl.enabled.mechanisms " +
		"and listener.name.<listener>.[<mechanism>.]sasl.* only; brokers and controllers talk to each other over PLAINTEXT"},
}

// listenerSASL reports whether name is a per-listener SASL config samsa
// reads: listener.name.<listener>.sasl.enabled.mechanisms, or
// listener.name.<listener>.<mechanism>.sasl.jaas.config for PLAIN and
// SCRAM (Kafka's names, listener and mechanism in lower case).
func listenerSASL(name string) bool {
	rest, ok := strings.CutPrefix(name, "listener.name.")
	if !ok {
		return false
	}
	_, key, ok := strings.Cut(rest, ".")
	if !ok {
		return false
	}
	switch key {
	case "sasl.enabled.mechanisms", "plain.sasl.jaas.config", "scram-sha-256.sasl.jaas.config", "scram-sha-512.sasl.jaas.config":
		return true
	}
	return false
}

// refusedReason says why setting the broker config name to value stops the
// broker, or "". secret is set when the value may be a secret (a keystore
// password, a JAAS config) and must not be shown.
func refusedReason(name, value string) (reason string, secret bool) {
	key := name
	if rest, ok := strings.CutPrefix(name, "listener.name."); ok {
		// listener.name.<listener>.<config>, and for SASL also
		// listener.name.<listener>.<mechanism>.sasl.jaas.config.
		_, key, _ = strings.Cut(rest, ".")
		if i := strings.Index(key, ".sasl."); i >= 0 {
			key = key[i+1:]
		}
	}
	for _, r := range refusedPrefixes {
		if strings.HasPrefix(key, r.prefix) {
			return r.reason, true
		}
	}
	if name == "security.inter.broker.protocol" && value != "PLAINTEXT" {
		return "samsa's brokers talk to each other over PLAINTEXT only (it has no TLS and no SASL authentication)", false
	}
	return "", false
}

var ignoredByName = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range ignoredBroker {
		if brokerByName[n] != nil || m[n] {
			panic("config: " + n + " is both ignored and defined, or listed twice")
		}
		m[n] = true
	}
	return m
}()

// isIgnored reports whether name is a Kafka broker config samsa ignores.
// Supported configs are looked up first, so a prefix never hides one.
func isIgnored(name string) bool {
	if ignoredByName[name] {
		return true
	}
	for _, p := range ignoredPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// IgnoredBrokerConfigs returns the names and the name prefixes (ending in
// '.') of the Kafka broker configs samsa accepts and ignores.
func IgnoredBrokerConfigs() (names, prefixes []string) {
	return append([]string(nil), ignoredBroker...), append([]string(nil), ignoredPrefixes...)
}
