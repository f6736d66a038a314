package config

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
)

// Broker is a loaded, validated broker configuration: typed fields for what
// the rest of samsa reads, and the resolved value of every supported config
// with its source (Get, Values). It is immutable; share it freely.
type Broker struct {
	// Identity.
	NodeID       int32
	ProcessRoles []string // "broker", "controller"
	ClusterID    string   // "" when unset: the controller generates one
	Rack         string   // "" when unset

	// Listeners, in the order configured, controller listeners included.
	Listeners []Listener
	// ListenAddr and AdvertisedAddr are the first client (non-controller)
	// listener's bind and advertised addresses; "" on a controller-only node.
	ListenAddr     string
	AdvertisedAddr string
	// InterBrokerListener names the listener followers fetch through.
	InterBrokerListener    string
	QuorumVoters           []Voter  // empty: this node alone is the quorum
	QuorumBootstrapServers []string // host:port

	DataDir     string // log.dirs, else log.dir
	MetadataDir string // metadata.log.dir, else DataDir

	// Topic creation.
	NumPartitions            int32
	DefaultReplicationFactor int16
	AutoCreateTopics         bool
	DeleteTopicEnable        bool

	// Requests and connections.
	MessageMaxBytes        int32
	SocketRequestMaxBytes  int32
	FetchMaxBytes          int32
	FetchSessionCacheSlots int32
	ConnectionsMaxIdleMs   int64 // negative: never close idle connections
	// FailedAuthenticationDelayMs delays the answer to, and the close of,
	// a SASL connection whose authentication failed.
	FailedAuthenticationDelayMs int32

	// The HTTP listener (samsa.http.listen; "" for none), whether its
	// console may change anything, and whether /metrics has
	// per-partition series.
	HTTPListen        string
	HTTPListenDefault bool // HTTPListen is the default, not set by the operator
	ConsoleReadOnly   bool
	PartitionSeries   bool
	// ConsoleSampleMs is how often the console samples its plots.
	ConsoleSampleMs int64

	// Log management.
	LogRetentionCheckIntervalMs int64
	LogFlushSchedulerIntervalMs int64
	CleanerEnable               bool
	CleanerThreads              int32
	CleanerBackoffMs            int64
	// TopicDefaults is what a topic without overrides gets: ResolveTopic(nil).
	TopicDefaults Topic

	// The cluster.
	BrokerHeartbeatIntervalMs int32
	BrokerSessionTimeoutMs    int32
	MetadataSnapshotBytes     int64

	// Replication.
	ReplicaLagTimeMaxMs          int64
	ReplicaFetchMaxBytes         int32
	ReplicaFetchMinBytes         int32
	ReplicaFetchWaitMaxMs        int32
	ReplicaFetchResponseMaxBytes int32
	ReplicaFetchBackoffMs        int32
	NumReplicaFetchers           int32
	// NumRecoveryThreads is num.recovery.threads.per.data.dir: the
	// replicas opened, given a role or closed at once.
	NumRecoveryThreads    int32
	ReplicaHWCheckpointMs int64

	// Leader balancing on the active controller: 0 when
	// auto.leader.rebalance.enable is false.
	LeaderImbalanceCheckIntervalSeconds int64

	// Consumer groups and __consumer_offsets.
	GroupInitialRebalanceDelayMs    int32
	GroupMinSessionTimeoutMs        int32
	GroupMaxSessionTimeoutMs        int32
	GroupMaxSize                    int32
	OffsetsTopicNumPartitions       int32
	OffsetsTopicReplicationFactor   int16
	OffsetsTopicSegmentBytes        int32
	OffsetsRetentionMs              int64 // offsets.retention.minutes in ms
	OffsetsRetentionCheckIntervalMs int64
	OffsetsCommitTimeoutMs          int32
	OffsetMetadataMaxBytes          int32

	// Transactions and idempotent producers.
	TransactionStateLogNumPartitions     int32
	TransactionStateLogReplicationFactor int16
	TransactionStateLogMinISR            int32
	TransactionStateLogSegmentBytes      int32
	TransactionMaxTimeoutMs              int32
	TransactionalIDExpirationMs          int32
	// The transaction coordinator's sweeps: transactions past their
	// timeout are aborted, idle transactional ids forgotten.
	TransactionAbortTimedOutCleanupIntervalMs int32
	TransactionRemoveExpiredCleanupIntervalMs int32
	// A partition leader's retries of KIP-890's implicit addition.
	AddPartitionsToTxnRetryBackoffMs    int32
	AddPartitionsToTxnRetryBackoffMaxMs int32
	ProducerIDExpirationMs              int32

	// Authorization: samsa has no authorizer (authorizer.class.name is
	// refused), so these are read and have no effect, as in Kafka without
	// one.
	SuperUsers                []string // "User:alice"
	AllowEveryoneIfNoACLFound bool

	// Ignored are the keys given that samsa accepts and ignores, sorted.
	Ignored []string
	// Warnings are problems that do not stop the broker (a deprecated key,
	// a combination that will refuse some requests), for the start-up log.
	Warnings []string

	// The layers of values, most specific first: dynBroker, dynDefault,
	// static. derived holds defaults computed from other configs (see
	// deriveDefaults); a config found nowhere takes its Def's Default.
	dynBroker  map[string]Value
	dynDefault map[string]Value
	static     map[string]Value
	derived    map[string]string
	hostname   func() (string, error)
}

// Get returns the resolved value of a supported broker config and where it
// came from. ok is false for an unknown name and for a config with a null
// default that nothing set.
func (b *Broker) Get(name string) (v Value, ok bool) {
	if brokerByName[name] == nil {
		return Value{}, false
	}
	return b.lookup(name)
}

// Values returns the resolved value of every supported broker config that
// has one, keyed by name.
func (b *Broker) Values() map[string]Value {
	out := make(map[string]Value, len(brokerDefs))
	for _, d := range brokerDefs {
		if v, ok := b.lookup(d.Name); ok {
			out[d.Name] = v
		}
	}
	return out
}

// lookup resolves name through the layers, then the derived and built-in
// defaults.
func (b *Broker) lookup(name string) (Value, bool) {
	for _, layer := range []map[string]Value{b.dynBroker, b.dynDefault, b.static} {
		if v, ok := layer[name]; ok {
			return v, true
		}
	}
	if v, ok := b.derived[name]; ok {
		return Value{Value: v, Source: SourceDefault, Origin: "default"}, true
	}
	if def := brokerByName[name]; def != nil {
		if v, ok := def.defaultValue(); ok {
			return Value{Value: v, Source: SourceDefault, Origin: "default"}, true
		}
	}
	return Value{}, false
}

// isSet reports whether name was given a value (anything but a default).
func (b *Broker) isSet(name string) bool {
	v, ok := b.lookup(name)
	return ok && v.Source != SourceDefault
}

// layer returns the values of one source, for describing synonyms.
func (b *Broker) layer(source int8) map[string]Value {
	switch source {
	case SourceDynamicBroker:
		return b.dynBroker
	case SourceDynamicDefault:
		return b.dynDefault
	case SourceStatic:
		return b.static
	}
	return nil
}

// defaultOf returns the default of a broker config, derived or built in.
func (b *Broker) defaultOf(name string) (string, bool) {
	if v, ok := b.derived[name]; ok {
		return v, true
	}
	if def := brokerByName[name]; def != nil {
		return def.defaultValue()
	}
	return "", false
}

// LogIgnored logs each ignored key once, and each warning. Values are not
// logged: ignored keys include secrets (ssl.keystore.password,
// sasl.jaas.config).
func (b *Broker) LogIgnored(l *slog.Logger) {
	for _, k := range b.Ignored {
		l.Info("config: ignoring Kafka config that samsa does not use", "key", k)
	}
	for _, w := range b.Warnings {
		l.Warn("config: " + w)
	}
}

// WithDynamic returns a copy of b with runtime changes applied: clusterDefault
// are the DYNAMIC_DEFAULT_BROKER_CONFIG values (set for every broker), and
// perBroker the DYNAMIC_BROKER_CONFIG values of this broker. They replace any
// dynamic values b had. Like Kafka, only configs whose Mode allows it are
// accepted: ClusterWide ones at either level, PerBroker ones per broker only.
func (b *Broker) WithDynamic(clusterDefault, perBroker map[string]string) (*Broker, error) {
	var errs []error
	check := func(m map[string]string, perBrokerLevel bool, origin string, source int8) map[string]Value {
		out := make(map[string]Value, len(m))
		for _, name := range sortedKeys(m) {
			raw := m[name]
			def := brokerByName[name]
			switch {
			case def == nil:
				errs = append(errs, &Error{Name: name, Unknown: true, Reason: "unknown broker config", Origin: origin})
				continue
			case def.Mode == ReadOnly:
				errs = append(errs, &Error{Name: name, Value: raw, Reason: "read-only: change it in server.properties and restart", Origin: origin})
				continue
			case def.Mode == PerBroker && !perBrokerLevel:
				errs = append(errs, &Error{Name: name, Value: raw, Reason: "per-broker: it cannot be set as a cluster default", Origin: origin})
				continue
			}
			if _, reason := parse(def, raw); reason != "" {
				errs = append(errs, &Error{Name: name, Value: raw, Reason: reason, Origin: origin})
				continue
			}
			out[name] = Value{Value: trim(raw), Source: source, Origin: origin}
		}
		return out
	}
	nb := &Broker{
		static:     b.static,
		dynDefault: check(clusterDefault, false, "dynamic cluster default", SourceDynamicDefault),
		dynBroker:  check(perBroker, true, "dynamic per-broker", SourceDynamicBroker),
		Ignored:    b.Ignored,
		hostname:   b.hostname,
	}
	if err := joinErrors(errs); err != nil {
		return nil, err
	}
	if err := nb.build(); err != nil {
		return nil, err
	}
	return nb, nil
}

// reader reads typed values of configs already validated; a parse failure
// here is a bug in the definitions, so it panics. A config with no value (a
// null default nothing set) reads as the zero value.
type reader struct{ b *Broker }

func (r reader) parsed(name string) parsed {
	def := brokerByName[name]
	v, ok := r.b.lookup(name)
	if !ok {
		return parsed{}
	}
	p, reason := parse(def, v.Value)
	if reason != "" {
		panic(fmt.Sprintf("config: %s=%q passed validation but does not parse: %s", name, v.Value, reason))
	}
	return p
}

func (r reader) i64(name string) int64     { return r.parsed(name).i }
func (r reader) i32(name string) int32     { return int32(r.parsed(name).i) }
func (r reader) i16(name string) int16     { return int16(r.parsed(name).i) }
func (r reader) bool(name string) bool     { return r.parsed(name).b }
func (r reader) str(name string) string    { return r.parsed(name).s }
func (r reader) list(name string) []string { return r.parsed(name).list }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
