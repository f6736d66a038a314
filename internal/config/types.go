// Package config is samsa's configuration model: the broker configs read from
// a Kafka-style server.properties file, the per-topic configs that clients
// set with CreateTopics and IncrementalAlterConfigs, and the way the two meet
// (a topic config left unset takes the value of its broker "synonym").
//
// Names, types, defaults and validation follow Apache Kafka, so that a real
// server.properties starts samsa and a Kafka admin tool sees the answers it
// expects from DescribeConfigs. Where samsa differs, the definition says so
// in its Note, and docs/configuration.md (generated from the definitions)
// lists every difference.
//
// A *Broker is immutable once built; every method is safe for concurrent
// use. A dynamic change (WithDynamic) returns a new *Broker.
package config

import (
	"errors"
	"fmt"
)

// Type is a config's value type, numbered as Kafka's DescribeConfigs
// ConfigType (kmsg.ConfigType) so that it goes on the wire unchanged.
type Type int8

// The value types, numbered as kmsg.ConfigType.
const (
	TypeBoolean  Type = 1
	TypeString   Type = 2
	TypeInt      Type = 3
	TypeShort    Type = 4
	TypeLong     Type = 5
	TypeDouble   Type = 6
	TypeList     Type = 7
	TypeClass    Type = 8
	TypePassword Type = 9
)

func (t Type) String() string {
	switch t {
	case TypeBoolean:
		return "boolean"
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeShort:
		return "short"
	case TypeLong:
		return "long"
	case TypeDouble:
		return "double"
	case TypeList:
		return "list"
	case TypeClass:
		return "class"
	case TypePassword:
		return "password"
	}
	return fmt.Sprintf("Type(%d)", int8(t))
}

// Where a value comes from, numbered as Kafka's DescribeConfigs ConfigSource
// (kmsg.ConfigSource). The numbers are also the precedence: a lower source
// overrides a higher one.
const (
	SourceTopic          int8 = 1 // DYNAMIC_TOPIC_CONFIG: a topic override
	SourceDynamicBroker  int8 = 2 // DYNAMIC_BROKER_CONFIG: set for this broker at runtime
	SourceDynamicDefault int8 = 3 // DYNAMIC_DEFAULT_BROKER_CONFIG: set for all brokers at runtime
	SourceStatic         int8 = 4 // STATIC_BROKER_CONFIG: server.properties, --set, flags
	SourceDefault        int8 = 5 // DEFAULT_CONFIG: the built-in default
)

// Mode says whether a broker config can change without a restart, in
// Kafka's terms (the "Update Mode" column of Kafka's broker config table).
type Mode uint8

const (
	// ReadOnly configs change only with a restart.
	ReadOnly Mode = iota
	// PerBroker configs may be changed at runtime for one broker.
	PerBroker
	// ClusterWide configs may be changed at runtime for all brokers (the
	// cluster default) or for one broker.
	ClusterWide
)

func (m Mode) String() string {
	switch m {
	case ReadOnly:
		return "read-only"
	case PerBroker:
		return "per-broker"
	case ClusterWide:
		return "cluster-wide"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Importance is Kafka's rough ranking of a config, kept for the docs.
type Importance uint8

// The importance levels, as Kafka names them.
const (
	High Importance = iota
	Medium
	Low
)

func (i Importance) String() string {
	switch i {
	case High:
		return "high"
	case Medium:
		return "medium"
	}
	return "low"
}

// Def defines one config: its name, type, default and rule, as Kafka has
// them, plus samsa's notes.
type Def struct {
	Name string
	Type Type
	// Default is the value used when nothing sets the config, as a string
	// in the config's own syntax. Null marks Kafka's "null" default: the
	// config then has no value at all (e.g. log.retention.ms, which falls
	// back to log.retention.minutes, then log.retention.hours).
	Default    string
	Null       bool
	Importance Importance
	Doc        string
	// Rule restricts values beyond their type; nil accepts every value of
	// the type.
	Rule Rule
	// Mode is how a broker config may change at runtime (broker configs
	// only; topic configs can always be altered).
	Mode Mode
	// Scale is the number of milliseconds in one unit of a coarse duration
	// synonym (60000 for log.retention.minutes, 3600000 for *.hours), 0 for
	// every other config. A topic config that falls back to such a synonym
	// takes its value multiplied by Scale.
	Scale int64
	// Synonyms (topic configs only) are the broker configs whose value the
	// topic config takes when the topic does not override it, most specific
	// first: retention.ms ← log.retention.ms, log.retention.minutes,
	// log.retention.hours.
	Synonyms []string
	// KafkaDefault is Kafka's default where samsa's Default differs; empty
	// when they agree.
	KafkaDefault string
	// Note says, for the docs, where samsa's handling differs from Kafka's
	// or what samsa does with an accepted-but-unused config.
	Note string
}

// defaultValue returns the default and whether there is one.
func (d *Def) defaultValue() (string, bool) {
	if d.Null {
		return "", false
	}
	return d.Default, true
}

// Value is one resolved broker config value and where it came from.
type Value struct {
	// Value is the value as given (surrounding whitespace removed), or the
	// default.
	Value string
	// Source is one of the Source* constants.
	Source int8
	// Origin names what set it, for error messages and logs: the properties
	// file's path, "--set", "flag", "dynamic", or "default".
	Origin string
}

// Entry is one config as DescribeConfigs reports it.
type Entry struct {
	Name string
	// Value is nil for a sensitive config and for one with no value (a
	// null default that nothing set).
	Value     *string
	Source    int8 // a Source* constant
	ReadOnly  bool
	Sensitive bool
	Type      int8 // a Type* constant
	Doc       string
	Synonyms  []Synonym
}

// Synonym is one place a config's value could come from, as DescribeConfigs
// lists them (KIP-226).
type Synonym struct {
	Name   string
	Value  *string
	Source int8
}

// IncrementalAlterConfigs operations, numbered as kmsg.IncrementalAlterConfigOp.
const (
	OpSet      int8 = 0
	OpDelete   int8 = 1
	OpAppend   int8 = 2
	OpSubtract int8 = 3
)

// AlterOp is one operation of an IncrementalAlterConfigs request.
type AlterOp struct {
	Name  string
	Op    int8 // an Op* constant
	Value *string
}

// Error is a config that was refused: an unknown name, or a value that
// breaks its type or rule. Every refusal a client can cause is an *Error;
// Kafka answers those with INVALID_CONFIG, except those that also match
// ErrInvalidRequest.
type Error struct {
	Name  string
	Value string
	// Reason is the rule that was broken, e.g. "must be at least 14".
	Reason string
	// Origin is what set the value ("" when it came from a request).
	Origin string
	// Unknown is set when the name itself is not a known config.
	Unknown bool
	// kind wraps a sentinel (ErrInvalidRequest) for errors.Is.
	kind error
	// nameOnly drops the value from the message (there is none to show,
	// or it may be a secret).
	nameOnly bool
}

// ErrInvalidRequest marks refusals that Kafka answers with INVALID_REQUEST
// rather than INVALID_CONFIG: a config named twice in one request, or an
// unknown operation.
var ErrInvalidRequest = errors.New("invalid request")

func (e *Error) Error() string {
	from := ""
	if e.Origin != "" {
		from = " (from " + e.Origin + ")"
	}
	if e.Unknown || e.nameOnly {
		return fmt.Sprintf("config: %s%s: %s", e.Name, from, e.Reason)
	}
	return fmt.Sprintf("config: %s=%q%s: %s", e.Name, e.Value, from, e.Reason)
}

func (e *Error) Unwrap() error { return e.kind }
