package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/magiconair/properties"

	"github.com/samsa-kafka/samsa/internal/auth"
)

// Load reads a broker configuration: the built-in defaults, then the
// properties file (skipped when file is ""), then each "key=value" of sets
// (the --set flag), then overrides (dedicated flags such as --listen, keyed
// by config name, e.g. "listeners": "0.0.0.0:9092"). A later source wins.
//
// Every key must be a supported broker config or one samsa knowingly
// ignores (listed in Broker.Ignored); anything else, and any value that
// breaks its config's rule, is an error naming the key, the value and the
// rule. All problems are reported at once.
func Load(file string, sets []string, overrides map[string]string) (*Broker, error) {
	return load(os.Hostname, file, sets, overrides)
}

// Default is the configuration of `samsa broker` with no flags: node 1, a
// single-node cluster listening on 127.0.0.1:9092, data under ./samsa-data.
func Default() *Broker {
	b, err := Load("", nil, nil)
	if err != nil {
		panic("config: the built-in defaults are invalid: " + err.Error())
	}
	return b
}

func load(hostname func() (string, error), file string, sets []string, overrides map[string]string) (*Broker, error) {
	static := map[string]Value{}
	var errs []error
	if file != "" {
		// Expansion stays off: with it, "${x}" in a value silently becomes
		// "" when x is undefined, and a reference cycle makes the library
		// exit the process.
		l := &properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
		p, err := l.LoadFile(file)
		if err != nil {
			return nil, fmt.Errorf("config: read %s: %w", file, err)
		}
		for _, k := range p.Keys() {
			v, _ := p.Get(k)
			static[k] = Value{Value: trim(v), Source: SourceStatic, Origin: file}
		}
	}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("config: --set %q: must be key=value", s))
			continue
		}
		static[k] = Value{Value: trim(v), Source: SourceStatic, Origin: "--set"}
	}
	for k, v := range overrides {
		static[k] = Value{Value: trim(v), Source: SourceStatic, Origin: "flag"}
	}

	b := &Broker{static: static, hostname: hostname}
	for _, k := range sortedKeys(static) {
		v := static[k]
		if def := brokerByName[k]; def != nil {
			if _, reason := parse(def, v.Value); reason != "" {
				errs = append(errs, &Error{Name: k, Value: v.Value, Reason: reason, Origin: v.Origin})
			}
			continue
		}
		if listenerSASL(k) {
			continue // read with its listener (saslListeners)
		}
		if reason, secret := refusedReason(k, v.Value); reason != "" {
			e := &Error{Name: k, Value: v.Value, Reason: reason, Origin: v.Origin}
			if secret {
				e.Value, e.nameOnly = "", true
			}
			errs = append(errs, e)
			continue
		}
		if isIgnored(k) {
			b.Ignored = append(b.Ignored, k)
			delete(static, k)
			continue
		}
		reason := "unknown broker config"
		if topicByName[k] != nil {
			reason += " (it is a topic config: set it per topic, or set its broker default " +
				strings.Join(topicByName[k].Synonyms, " / ") + ")"
		}
		errs = append(errs, &Error{Name: k, Unknown: true, Reason: reason, Origin: v.Origin})
	}
	if err := joinErrors(errs); err != nil {
		return nil, err
	}
	if err := b.build(); err != nil {
		return nil, err
	}
	return b, nil
}

// build fills the typed fields from the layered values (each already valid
// on its own) and checks the rules that span several configs.
func (b *Broker) build() error {
	var errs []error
	fail := func(name, reason string) {
		v, _ := b.lookup(name)
		errs = append(errs, &Error{Name: name, Value: v.Value, Reason: reason, Origin: v.Origin})
	}
	b.Warnings = nil
	r := reader{b}

	// node.id and its older name broker.id: either may be given, both only
	// if equal. The alias is resolved into the layer that set it so that
	// DescribeConfigs reports node.id with its true source.
	if b.isSet("broker.id") {
		bid, _ := b.lookup("broker.id")
		if b.isSet("node.id") {
			if r.i32("node.id") != r.i32("broker.id") {
				fail("broker.id", fmt.Sprintf("must equal node.id (%d) when both are set", r.i32("node.id")))
			}
		} else {
			b.setAlias("node.id", bid)
		}
	}
	b.NodeID = r.i32("node.id")
	b.ProcessRoles = r.list("process.roles")
	b.ClusterID = r.str("cluster.id")
	b.Rack = r.str("broker.rack")

	voters, _ := parseVoters(r.list("controller.quorum.voters"))
	b.QuorumVoters = voters
	b.QuorumBootstrapServers = r.list("controller.quorum.bootstrap.servers")
	isController := slices.Contains(b.ProcessRoles, "controller")
	inVoters := slices.ContainsFunc(voters, func(v Voter) bool { return v.ID == b.NodeID })
	switch {
	case len(voters) > 0 && isController && !inVoters:
		fail("controller.quorum.voters", fmt.Sprintf("must include node.id %d: process.roles includes controller", b.NodeID))
	case len(voters) > 0 && !isController && inVoters:
		fail("controller.quorum.voters", fmt.Sprintf("must not include node.id %d: process.roles does not include controller", b.NodeID))
	case !isController && len(voters) == 0 && len(b.QuorumBootstrapServers) == 0:
		fail("controller.quorum.voters", "must name the controllers (or set controller.quorum.bootstrap.servers): "+
			"process.roles does not include controller, so this node has a quorum to join")
	}
	b.deriveDefaults()

	errs = append(errs, b.buildListeners()...)

	b.DataDir = r.str("log.dir")
	if b.isSet("log.dirs") {
		b.DataDir = r.str("log.dirs")
	}
	b.MetadataDir = b.DataDir
	if b.isSet("metadata.log.dir") {
		b.MetadataDir = r.str("metadata.log.dir")
	}

	b.NumPartitions = r.i32("num.partitions")
	b.DefaultReplicationFactor = int16(r.i32("default.replication.factor"))
	b.AutoCreateTopics = r.bool("auto.create.topics.enable")
	b.DeleteTopicEnable = r.bool("delete.topic.enable")

	b.HTTPListen = r.str("samsa.http.listen")
	b.HTTPListenDefault = !b.isSet("samsa.http.listen")
	b.ConsoleReadOnly = r.bool("samsa.console.read.only")
	b.ConsoleSampleMs = r.i64("samsa.console.sample.interval.ms")
	b.PartitionSeries = r.bool("samsa.metrics.partition.series")

	b.MessageMaxBytes = r.i32("message.max.bytes")
	b.SocketRequestMaxBytes = r.i32("socket.request.max.bytes")
	b.FetchMaxBytes = r.i32("fetch.max.bytes")
	b.FetchSessionCacheSlots = r.i32("max.incremental.fetch.session.cache.slots")
	b.ConnectionsMaxIdleMs = r.i64("connections.max.idle.ms")
	b.FailedAuthenticationDelayMs = r.i32("connection.failed.authentication.delay.ms")
	if b.MessageMaxBytes > b.SocketRequestMaxBytes {
		b.Warnings = append(b.Warnings, fmt.Sprintf("message.max.bytes (%d) exceeds socket.request.max.bytes (%d): "+
			"produce requests carrying the largest batches will be refused at the socket", b.MessageMaxBytes, b.SocketRequestMaxBytes))
	}

	b.LogRetentionCheckIntervalMs = r.i64("log.retention.check.interval.ms")
	b.LogFlushSchedulerIntervalMs = r.i64("log.flush.scheduler.interval.ms")
	b.CleanerEnable = r.bool("log.cleaner.enable")
	b.CleanerThreads = r.i32("log.cleaner.threads")
	b.CleanerBackoffMs = r.i64("log.cleaner.backoff.ms")
	if r.i64("log.cleaner.min.compaction.lag.ms") > r.i64("log.cleaner.max.compaction.lag.ms") {
		fail("log.cleaner.min.compaction.lag.ms", fmt.Sprintf("must not exceed log.cleaner.max.compaction.lag.ms (%d)",
			r.i64("log.cleaner.max.compaction.lag.ms")))
	}

	b.ReplicaLagTimeMaxMs = r.i64("replica.lag.time.max.ms")
	b.BrokerHeartbeatIntervalMs = r.i32("broker.heartbeat.interval.ms")
	b.BrokerSessionTimeoutMs = r.i32("broker.session.timeout.ms")
	b.MetadataSnapshotBytes = r.i64("metadata.log.max.record.bytes.between.snapshots")
	if b.BrokerHeartbeatIntervalMs >= b.BrokerSessionTimeoutMs {
		fail("broker.heartbeat.interval.ms", fmt.Sprintf("must be less than broker.session.timeout.ms (%d), or every broker is fenced between heartbeats", b.BrokerSessionTimeoutMs))
	}
	b.ReplicaFetchMaxBytes = r.i32("replica.fetch.max.bytes")
	b.ReplicaFetchMinBytes = r.i32("replica.fetch.min.bytes")
	b.ReplicaFetchWaitMaxMs = r.i32("replica.fetch.wait.max.ms")
	b.ReplicaFetchResponseMaxBytes = r.i32("replica.fetch.response.max.bytes")
	b.ReplicaFetchBackoffMs = r.i32("replica.fetch.backoff.ms")
	b.NumReplicaFetchers = r.i32("num.replica.fetchers")
	b.NumRecoveryThreads = r.i32("num.recovery.threads.per.data.dir")
	b.ReplicaHWCheckpointMs = r.i64("replica.high.watermark.checkpoint.interval.ms")
	if r.bool("auto.leader.rebalance.enable") {
		b.LeaderImbalanceCheckIntervalSeconds = r.i64("leader.imbalance.check.interval.seconds")
	}
	// A follower whose fetch may wait longer than the lag limit drops out of
	// the ISR while merely waiting; Kafka refuses this combination too.
	if int64(b.ReplicaFetchWaitMaxMs) > b.ReplicaLagTimeMaxMs {
		fail("replica.fetch.wait.max.ms", fmt.Sprintf("must not exceed replica.lag.time.max.ms (%d), or idle followers leave the ISR", b.ReplicaLagTimeMaxMs))
	}

	b.GroupInitialRebalanceDelayMs = r.i32("group.initial.rebalance.delay.ms")
	b.GroupMinSessionTimeoutMs = r.i32("group.min.session.timeout.ms")
	b.GroupMaxSessionTimeoutMs = r.i32("group.max.session.timeout.ms")
	b.GroupMaxSize = r.i32("group.max.size")
	if b.GroupMinSessionTimeoutMs > b.GroupMaxSessionTimeoutMs {
		fail("group.min.session.timeout.ms", fmt.Sprintf("must not exceed group.max.session.timeout.ms (%d): no session timeout would be accepted", b.GroupMaxSessionTimeoutMs))
	}
	b.OffsetsTopicNumPartitions = r.i32("offsets.topic.num.partitions")
	b.OffsetsTopicReplicationFactor = r.i16("offsets.topic.replication.factor")
	b.OffsetsTopicSegmentBytes = r.i32("offsets.topic.segment.bytes")
	b.OffsetsRetentionMs = r.i64("offsets.retention.minutes") * 60000
	b.OffsetsRetentionCheckIntervalMs = r.i64("offsets.retention.check.interval.ms")
	b.OffsetsCommitTimeoutMs = r.i32("offsets.commit.timeout.ms")
	b.OffsetMetadataMaxBytes = r.i32("offset.metadata.max.bytes")

	b.TransactionStateLogNumPartitions = r.i32("transaction.state.log.num.partitions")
	b.TransactionStateLogReplicationFactor = r.i16("transaction.state.log.replication.factor")
	b.TransactionStateLogMinISR = r.i32("transaction.state.log.min.isr")
	b.TransactionStateLogSegmentBytes = r.i32("transaction.state.log.segment.bytes")
	b.TransactionMaxTimeoutMs = r.i32("transaction.max.timeout.ms")
	b.TransactionalIDExpirationMs = r.i32("transactional.id.expiration.ms")
	b.TransactionAbortTimedOutCleanupIntervalMs = r.i32("transaction.abort.timed.out.transaction.cleanup.interval.ms")
	b.TransactionRemoveExpiredCleanupIntervalMs = r.i32("transaction.remove.expired.transaction.cleanup.interval.ms")
	b.AddPartitionsToTxnRetryBackoffMs = r.i32("add.partitions.to.txn.retry.backoff.ms")
	b.AddPartitionsToTxnRetryBackoffMaxMs = r.i32("add.partitions.to.txn.retry.backoff.max.ms")
	b.ProducerIDExpirationMs = r.i32("producer.id.expiration.ms")

	b.SuperUsers = nil
	for _, u := range strings.Split(r.str("super.users"), ";") {
		if u = strings.TrimSpace(u); u != "" {
			b.SuperUsers = append(b.SuperUsers, u)
		}
	}
	b.AllowEveryoneIfNoACLFound = r.bool("allow.everyone.if.no.acl.found")

	for _, name := range []string{"log.message.timestamp.difference.max.ms", "log.message.downconversion.enable"} {
		if b.isSet(name) {
			b.Warnings = append(b.Warnings, name+" is deprecated and was removed in Kafka 4.0")
		}
	}

	// The topic-level rules between configs (min.compaction.lag.ms <=
	// max.compaction.lag.ms) hold for the defaults through the broker
	// checks above.
	b.TopicDefaults = b.ResolveTopic(nil)
	return joinErrors(errs)
}

// setAlias records that name takes the value given under another name, in
// the layer that gave it. The layers are copied, not shared, with the
// Broker this one may be derived from.
func (b *Broker) setAlias(name string, from Value) {
	from.Origin += " (as broker.id)"
	switch from.Source {
	case SourceDynamicBroker:
		b.dynBroker = withValue(b.dynBroker, name, from)
	case SourceDynamicDefault:
		b.dynDefault = withValue(b.dynDefault, name, from)
	default:
		b.static = withValue(b.static, name, from)
	}
}

func withValue(m map[string]Value, k string, v Value) map[string]Value {
	out := make(map[string]Value, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[k] = v
	return out
}

// deriveDefaults computes the defaults that depend on other configs.
//
// The internal topics default to Kafka's 3 replicas, and like Kafka's they
// are not created until that many brokers are registered and unfenced
// (FindCoordinator answers COORDINATOR_NOT_AVAILABLE meanwhile). The one
// exception is a node that names no quorum (neither controller.quorum.voters
// nor controller.quorum.bootstrap.servers), as `samsa broker` without flags:
// it runs a quorum of itself in memory, with no controller listener, so no
// other broker can ever join its cluster and 3 could never be met. There the
// default is 1, which Kafka's quickstart server.properties sets by hand. The
// rule reads configuration only, so every node of a cluster derives the same
// value, and not the brokers alive at the moment, which would pin the topic
// at the size of a cluster still starting. An explicit value is kept as
// given.
func (b *Broker) deriveDefaults() {
	r := reader{b}
	b.derived = map[string]string{}
	if b.alone() {
		for _, name := range []string{"offsets.topic.replication.factor", "transaction.state.log.replication.factor"} {
			b.derived[name] = "1"
		}
	}
	if !b.isSet("transaction.state.log.min.isr") {
		b.derived["transaction.state.log.min.isr"] = itoa(min(2, int64(r.i16("transaction.state.log.replication.factor"))))
	}
}

// alone reports whether the node names no quorum to join or form: it is
// its own one-node quorum, and the only broker its cluster can have.
func (b *Broker) alone() bool {
	return len(b.QuorumVoters) == 0 && len(b.QuorumBootstrapServers) == 0
}

// buildListeners resolves listeners, their protocols and advertised
// addresses, and the inter-broker listener.
func (b *Broker) buildListeners() []error {
	var errs []error
	fail := func(name, reason string) {
		v, _ := b.lookup(name)
		errs = append(errs, &Error{Name: name, Value: v.Value, Reason: reason, Origin: v.Origin})
	}
	r := reader{b}
	eps, _ := parseEndpoints(r.str("listeners"), "PLAINTEXT")
	// The map may name every protocol (Kafka's default and its stock
	// server.properties do): an entry no listener uses asks for nothing.
	// A listener that would use any protocol but PLAINTEXT is refused.
	protocols, _ := parseProtocolMap(r.str("listener.security.protocol.map"))
	controllerNames := map[string]bool{}
	for _, n := range splitList(r.str("controller.listener.names")) {
		controllerNames[strings.ToUpper(n)] = true
	}

	b.Listeners = nil
	var clients []int // indexes into b.Listeners
	for _, ep := range eps {
		l := Listener{Name: ep.name, Host: ep.host, Port: ep.port, Controller: controllerNames[ep.name]}
		l.Protocol = protocols[ep.name]
		switch {
		case l.Protocol == "" && l.Controller:
			l.Protocol = "PLAINTEXT" // as Kafka does for an unmapped controller listener
		case l.Protocol == "":
			fail("listeners", fmt.Sprintf("listener %s has no security protocol in listener.security.protocol.map", ep.name))
		case l.Protocol == "SASL_PLAINTEXT" && !l.Controller:
			// A client listener; saslListeners checks the rest.
		case l.Protocol != "PLAINTEXT":
			fail("listeners", fmt.Sprintf("listener %s uses %s: %s", ep.name, l.Protocol, noSecurity(l.Protocol, l.Controller)))
		}
		for _, o := range b.Listeners {
			// Two binds of one port conflict unless both name distinct hosts.
			if l.Port != 0 && o.Port == l.Port && (l.Host == "" || o.Host == "" || l.Host == o.Host) {
				fail("listeners", fmt.Sprintf("listeners %s and %s both bind port %d", o.Name, l.Name, l.Port))
			}
		}
		if !l.Controller {
			clients = append(clients, len(b.Listeners))
		}
		b.Listeners = append(b.Listeners, l)
	}
	if slices.Contains(b.ProcessRoles, "broker") && len(clients) == 0 {
		fail("listeners", "has no client listener: every listener is named in controller.listener.names")
	}
	if b.isSet("controller.listener.names") && slices.Contains(b.ProcessRoles, "controller") &&
		!slices.ContainsFunc(b.Listeners, func(l Listener) bool { return l.Controller }) {
		fail("controller.listener.names", "names no listener in listeners, but process.roles includes controller")
	}

	// Advertised addresses. A bare host:port is the first client listener's.
	firstClient := "PLAINTEXT"
	if len(clients) > 0 {
		firstClient = b.Listeners[clients[0]].Name
	}
	advertised := map[string]endpoint{}
	if b.isSet("advertised.listeners") {
		adv, _ := parseEndpoints(r.str("advertised.listeners"), firstClient)
		for _, a := range adv {
			switch {
			case !slices.ContainsFunc(b.Listeners, func(l Listener) bool { return l.Name == a.name }):
				fail("advertised.listeners", fmt.Sprintf("listener %s is not in listeners", a.name))
			case a.host == "" || isWildcard(a.host):
				fail("advertised.listeners", fmt.Sprintf("listener %s: clients cannot connect to %q: give a routable host", a.name, a.host))
			case a.port == 0:
				fail("advertised.listeners", fmt.Sprintf("listener %s: port 0 cannot be advertised", a.name))
			}
			advertised[a.name] = a
		}
	}
	for i := range b.Listeners {
		l := &b.Listeners[i]
		if a, ok := advertised[l.Name]; ok {
			l.AdvertisedHost, l.AdvertisedPort = a.host, a.port
			continue
		}
		l.AdvertisedHost, l.AdvertisedPort = l.Host, l.Port
		if l.Controller {
			continue // controllers reach each other through controller.quorum.voters
		}
		switch {
		case l.Host == "":
			h, err := b.hostname()
			if err != nil || h == "" {
				fail("listeners", fmt.Sprintf("listener %s has no host and the host name is unknown (%v): set advertised.listeners", l.Name, err))
			}
			l.AdvertisedHost = h
		case isWildcard(l.Host):
			fail("listeners", fmt.Sprintf("listener %s binds %s, which clients cannot connect to: set advertised.listeners", l.Name, l.Host))
		}
	}

	b.ListenAddr, b.AdvertisedAddr, b.InterBrokerListener = "", "", ""
	if len(clients) > 0 {
		first := b.Listeners[clients[0]]
		b.ListenAddr, b.AdvertisedAddr, b.InterBrokerListener = first.Addr(), first.AdvertisedAddr(), first.Name
	}
	if b.isSet("inter.broker.listener.name") {
		name := strings.ToUpper(r.str("inter.broker.listener.name"))
		if !slices.ContainsFunc(b.Listeners, func(l Listener) bool { return l.Name == name && !l.Controller }) {
			fail("inter.broker.listener.name", "must name a client listener in listeners")
		}
		b.InterBrokerListener = name
	}
	errs = append(errs, b.saslListeners(r)...)
	return errs
}

// saslListeners checks the SASL_PLAINTEXT listeners and fills in their
// mechanisms and PLAIN users: each enables only mechanisms samsa has, PLAIN
// with users, and none carries the brokers' own traffic. A per-listener SASL
// config for a listener that is not SASL_PLAINTEXT is refused, as a sign
// the operator believes a listener authenticates that does not.
func (b *Broker) saslListeners(r reader) []error {
	var errs []error
	fail := func(name, reason string) {
		v, _ := b.lookup(name)
		errs = append(errs, &Error{Name: name, Value: v.Value, Reason: reason, Origin: v.Origin})
	}
	// secretFail names the key only: a JAAS config holds passwords.
	secretFail := func(name, reason string) {
		v, _ := b.lookup(name)
		errs = append(errs, &Error{Name: name, Reason: reason, Origin: v.Origin, nameOnly: true})
	}
	prefix := func(l Listener) string { return "listener.name." + strings.ToLower(l.Name) + "." }
	sasl := map[string]bool{}
	for i := range b.Listeners {
		l := &b.Listeners[i]
		if l.Protocol != "SASL_PLAINTEXT" || l.Controller {
			continue // a SASL controller listener is refused above
		}
		sasl[prefix(*l)] = true
		if l.Name == b.InterBrokerListener {
			const why = "samsa's brokers replicate over PLAINTEXT only: add a PLAINTEXT listener for them (e.g. INTERNAL://...)"
			if b.isSet("inter.broker.listener.name") {
				fail("inter.broker.listener.name", fmt.Sprintf("listener %s is SASL_PLAINTEXT; %s", l.Name, why))
			} else {
				fail("listeners", fmt.Sprintf("listener %s is SASL_PLAINTEXT and the inter-broker listener (the first client listener, "+
					"as inter.broker.listener.name is unset); %s and name it in inter.broker.listener.name", l.Name, why))
			}
			continue
		}
		key := prefix(*l) + "sasl.enabled.mechanisms"
		mechs := r.list("sasl.enabled.mechanisms")
		if v, ok := b.static[key]; ok {
			mechs = splitList(v.Value)
		} else {
			key = "sasl.enabled.mechanisms"
		}
		if len(mechs) == 0 {
			fail(key, fmt.Sprintf("listener %s is SASL_PLAINTEXT but enables no mechanism", l.Name))
			continue
		}
		for _, m := range mechs {
			if !slices.Contains(SASLMechanisms, m) {
				fail(key, fmt.Sprintf("listener %s enables %s: samsa implements %s", l.Name, m, strings.Join(SASLMechanisms, ", ")))
			}
		}
		l.SASLMechanisms = mechs
		for _, m := range SASLMechanisms {
			jkey := prefix(*l) + strings.ToLower(m) + ".sasl.jaas.config"
			v, ok := b.static[jkey]
			if !ok {
				if m == "PLAIN" && slices.Contains(mechs, m) {
					secretFail(jkey, fmt.Sprintf("listener %s enables PLAIN, whose users (user_<name>=\"<password>\" options of "+
						"org.apache.kafka.common.security.plain.PlainLoginModule) this config gives: set it", l.Name))
				}
				continue
			}
			jaas, err := auth.ParseJAAS(v.Value)
			if err != nil {
				secretFail(jkey, err.Error())
				continue
			}
			if m != "PLAIN" {
				if jaas.LoginModule != "org.apache.kafka.common.security.scram.ScramLoginModule" {
					secretFail(jkey, "must use org.apache.kafka.common.security.scram.ScramLoginModule")
				}
				continue
			}
			users, err := jaas.PlainUsers()
			switch {
			case err != nil:
				secretFail(jkey, err.Error())
			case len(users) == 0 && slices.Contains(mechs, m):
				secretFail(jkey, "names no user: PLAIN's users are its user_<name>=\"<password>\" options")
			default:
				l.PlainUsers = users
			}
		}
	}
	for _, k := range sortedKeys(b.static) {
		if !listenerSASL(k) {
			continue
		}
		if p := k[:len("listener.name.")+strings.Index(k[len("listener.name."):], ".")+1]; !sasl[p] {
			secretFail(k, "names no SASL_PLAINTEXT listener: a SASL setting for a listener that does not authenticate is refused")
		}
	}
	return errs
}

func isWildcard(host string) bool { return host == "0.0.0.0" || host == "::" }

func trim(s string) string { return strings.TrimSpace(s) }

// joinErrors joins errs, or returns nil when there are none.
func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
