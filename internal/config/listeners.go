package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Listener is one socket the broker listens on, with the address it tells
// clients (and other brokers) to use for it.
type Listener struct {
	// Name is the listener name, upper-cased as Kafka normalises it
	// ("PLAINTEXT", "CONTROLLER", "INTERNAL").
	Name string
	// Protocol is its security protocol, from listener.security.protocol.map:
	// PLAINTEXT, or SASL_PLAINTEXT for a client listener that is not the
	// inter-broker one; samsa refuses the others at load.
	Protocol string
	// Host and Port are where to bind. An empty Host binds every interface;
	// Port 0 binds an ephemeral port.
	Host string
	Port int
	// AdvertisedHost and AdvertisedPort are what Metadata returns for this
	// listener: from advertised.listeners, else Host and Port, with an empty
	// Host replaced by the machine's host name. AdvertisedPort is 0 when Port
	// is 0 and nothing was advertised: the server fills in the bound port.
	AdvertisedHost string
	AdvertisedPort int
	// Controller is set for listeners named in controller.listener.names:
	// they carry the metadata quorum's traffic, not clients'.
	Controller bool
	// SASLMechanisms are the mechanisms a SASL_PLAINTEXT listener
	// enables (nil on others), PlainUsers PLAIN's users and passwords.
	SASLMechanisms []string
	PlainUsers     Secrets
}

// Addr is the address to bind, for net.Listen.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// AdvertisedAddr is the address clients are told to connect to.
func (l Listener) AdvertisedAddr() string {
	return net.JoinHostPort(l.AdvertisedHost, strconv.Itoa(l.AdvertisedPort))
}

// Voter is one member of the metadata quorum, from controller.quorum.voters.
type Voter struct {
	ID   int32
	Host string
	Port int
}

// Addr is the voter's controller address.
func (v Voter) Addr() string { return net.JoinHostPort(v.Host, strconv.Itoa(v.Port)) }

// endpoint is one parsed "NAME://host:port".
type endpoint struct {
	name string
	host string
	port int
}

// hostChars is what Kafka's listener regex accepts in a host (IPv6 zones
// included, via '%').
var hostChars = regexp.MustCompile(`^[0-9A-Za-z\-%._:]*$`)

// parseEndpoints parses a listeners-style list. An element without "://"
// is a bare host:port and takes bareName: the --listen flag gives
// "127.0.0.1:9092" rather than "PLAINTEXT://127.0.0.1:9092".
func parseEndpoints(v, bareName string) ([]endpoint, string) {
	var out []endpoint
	seen := map[string]bool{}
	for _, e := range splitList(v) {
		name, hostport := bareName, e
		if i := strings.Index(e, "://"); i >= 0 {
			name, hostport = strings.ToUpper(e[:i]), e[i+3:]
		}
		if !validName(name) {
			return nil, fmt.Sprintf("listener %q: name must be letters, digits, '_' or '-'", e)
		}
		host, port, reason := parseHostPort(hostport)
		if reason != "" {
			return nil, fmt.Sprintf("listener %q: %s", e, reason)
		}
		if seen[name] {
			return nil, fmt.Sprintf("listener name %s appears twice", name)
		}
		seen[name] = true
		out = append(out, endpoint{name, host, port})
	}
	return out, ""
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// parseHostPort parses "host:port", "[v6]:port" or ":port".
func parseHostPort(s string) (string, int, string) {
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, "must be host:port"
	}
	if !hostChars.MatchString(host) {
		return "", 0, fmt.Sprintf("bad host %q", host)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Sprintf("port %q must be 0 to 65535", ps)
	}
	return host, port, ""
}

var listenersRule = custom("NAME://host:port,... (or host:port)", func(p parsed) string {
	_, reason := parseEndpoints(p.s, "PLAINTEXT")
	return reason
})

// securityProtocols are Kafka's. The map may name them all (Kafka's
// default does), but samsa serves PLAINTEXT only: see noSecurity.
var securityProtocols = map[string]bool{"PLAINTEXT": true, "SSL": true, "SASL_PLAINTEXT": true, "SASL_SSL": true}

// noSecurity says why a listener cannot use protocol, one of Kafka's other
// than PLAINTEXT (SASL_PLAINTEXT is served on client listeners).
func noSecurity(protocol string, controller bool) string {
	switch {
	case protocol == "SASL_PLAINTEXT" && controller:
		return "samsa's controllers talk to brokers and each other over PLAINTEXT only (SASL_PLAINTEXT is for client listeners)"
	case protocol == "SSL":
		return "samsa has no TLS: its listeners are PLAINTEXT or SASL_PLAINTEXT"
	}
	return "samsa has no TLS: its listeners are PLAINTEXT or SASL_PLAINTEXT (SASL without TLS)"
}

// SASLMechanisms are the SASL mechanisms samsa implements.
var SASLMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Secrets maps names to secrets (PLAIN's passwords); it never prints them.
type Secrets map[string]string

func (Secrets) String() string   { return "[hidden]" }
func (Secrets) GoString() string { return "[hidden]" }

// parseProtocolMap parses listener.security.protocol.map: "NAME:PROTOCOL,...".
func parseProtocolMap(v string) (map[string]string, string) {
	m := map[string]string{}
	for _, e := range splitList(v) {
		name, proto, ok := strings.Cut(e, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || !validName(name) {
			return nil, fmt.Sprintf("element %q must be NAME:PROTOCOL", e)
		}
		if !securityProtocols[proto] {
			return nil, fmt.Sprintf("element %q: unknown security protocol %s", e, proto)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Sprintf("listener name %s appears twice", name)
		}
		m[name] = proto
	}
	return m, ""
}

var protocolMapRule = custom("NAME:PROTOCOL,...", func(p parsed) string {
	_, reason := parseProtocolMap(p.s)
	return reason
})

// namesRule accepts a comma-separated list of listener names.
var namesRule = custom("NAME,...", func(p parsed) string {
	for _, n := range splitList(p.s) {
		if !validName(n) {
			return fmt.Sprintf("listener name %q must be letters, digits, '_' or '-'", n)
		}
	}
	return ""
})

var nameRule = custom("NAME", func(p parsed) string {
	if p.s != "" && !validName(p.s) {
		return "must be a listener name: letters, digits, '_' or '-'"
	}
	return ""
})

// parseVoters parses controller.quorum.voters: "id@host:port,...".
func parseVoters(list []string) ([]Voter, string) {
	var out []Voter
	seen := map[int32]bool{}
	for _, e := range list {
		ids, hostport, ok := strings.Cut(e, "@")
		id, err := strconv.ParseInt(ids, 10, 32)
		if !ok || err != nil || id < 0 {
			return nil, fmt.Sprintf("element %q must be id@host:port with id >= 0", e)
		}
		host, port, reason := parseHostPort(hostport)
		if reason == "" && (host == "" || port == 0) {
			reason = "needs a host and a non-zero port"
		}
		if reason != "" {
			return nil, fmt.Sprintf("element %q: %s", e, reason)
		}
		if seen[int32(id)] {
			return nil, fmt.Sprintf("voter id %d appears twice", id)
		}
		seen[int32(id)] = true
		out = append(out, Voter{ID: int32(id), Host: host, Port: port})
	}
	return out, ""
}

var votersRule = custom("id@host:port,...", func(p parsed) string {
	_, reason := parseVoters(p.list)
	return reason
})

var hostPortsRule = custom("host:port,...", func(p parsed) string {
	for _, e := range p.list {
		host, port, reason := parseHostPort(e)
		if reason == "" && (host == "" || port == 0) {
			reason = "needs a host and a non-zero port"
		}
		if reason != "" {
			return fmt.Sprintf("element %q: %s", e, reason)
		}
	}
	return ""
})

// clusterIDRule accepts what Kafka's storage tool accepts as a cluster id: a
// UUID in URL-safe base64 without padding (22 characters, 16 bytes).
var clusterIDRule = custom("22-character base64url UUID", func(p parsed) string {
	b, err := base64.RawURLEncoding.DecodeString(p.s)
	if err != nil || len(b) != 16 {
		return "must be a UUID in base64url without padding (22 characters), as kafka-storage random-uuid prints"
	}
	return ""
})

var dataDirRule = custom("one directory", func(p parsed) string {
	dirs := splitList(p.s)
	switch {
	case len(dirs) == 0:
		return "must name a directory"
	case len(dirs) > 1:
		return "samsa stores data in one directory: several (JBOD) are not supported"
	case dirs[0] == "":
		return "must name a directory"
	}
	return ""
})

// noAuthorizerRule refuses every authorizer: samsa has none, and running
// open when one was asked for is worse than not starting.
var noAuthorizerRule = custom(`""`, func(p parsed) string {
	if p.s != "" {
		return "samsa has no authorizer (ACLs are not implemented), and ignoring it would leave every resource " +
			"open to every client: remove it to run without authorization"
	}
	return ""
})

// superUsersRule accepts Kafka's "User:alice;User:bob".
var superUsersRule = custom("Type:name;...", func(p parsed) string {
	for _, u := range strings.Split(p.s, ";") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if typ, name, ok := strings.Cut(u, ":"); !ok || typ == "" || name == "" {
			return fmt.Sprintf("principal %q must be Type:name, e.g. User:alice", u)
		}
	}
	return ""
})

// CheckClusterID says why id is not a cluster id (the cluster.id rule, for
// `samsa storage format --cluster-id`), or returns nil.
func CheckClusterID(id string) error {
	if reason := clusterIDRule.check(parsed{s: id}); reason != "" {
		return fmt.Errorf("cluster id %q %s", id, reason)
	}
	return nil
}

// httpListenRule is samsa.http.listen's: empty (off) or one host:port.
var httpListenRule = custom("host:port, or empty for none", func(p parsed) string {
	if p.s == "" {
		return ""
	}
	_, _, reason := parseHostPort(p.s)
	return reason
})
