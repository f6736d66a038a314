package main

import (
	"fmt"
	"strings"

	"github.com/magiconair/properties"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/samsa-kafka/samsa/internal/auth"
)

// commandConfig reads a Kafka client properties file (--command-config, as
// Kafka's tools take it) into client options: security.protocol,
// sasl.mechanism and sasl.jaas.config (PlainLoginModule or ScramLoginModule
// with username and password). samsa has no TLS, so SSL and SASL_SSL are
// refused, as are ssl.* settings; other client settings are not read.
func commandConfig(path string) ([]kgo.Opt, error) {
	l := &properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	p, err := l.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--command-config: %w", err)
	}
	for _, k := range p.Keys() {
		if strings.HasPrefix(k, "ssl.") {
			return nil, fmt.Errorf("--command-config %s: %s: samsa has no TLS", path, k)
		}
	}
	protocol := strings.ToUpper(strings.TrimSpace(p.GetString("security.protocol", "PLAINTEXT")))
	switch protocol {
	case "PLAINTEXT":
		return nil, nil
	case "SASL_PLAINTEXT":
	default:
		return nil, fmt.Errorf("--command-config %s: security.protocol %s: samsa has no TLS (PLAINTEXT or SASL_PLAINTEXT)", path, protocol)
	}
	mechanism := strings.TrimSpace(p.GetString("sasl.mechanism", "GSSAPI"))
	raw, ok := p.Get("sasl.jaas.config")
	if !ok {
		return nil, fmt.Errorf("--command-config %s: SASL_PLAINTEXT needs sasl.jaas.config (username and password)", path)
	}
	jaas, err := auth.ParseJAAS(raw)
	if err != nil {
		return nil, fmt.Errorf("--command-config %s: sasl.jaas.config: %w", path, err)
	}
	user, pass := jaas.Options["username"], jaas.Options["password"]
	if user == "" || pass == "" {
		return nil, fmt.Errorf("--command-config %s: sasl.jaas.config needs username and password", path)
	}
	var want string
	var opt kgo.Opt
	switch mechanism {
	case "PLAIN":
		want = "org.apache.kafka.common.security.plain.PlainLoginModule"
		opt = kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		want = "org.apache.kafka.common.security.scram.ScramLoginModule"
		a := scram.Auth{User: user, Pass: pass}
		opt = kgo.SASL(a.AsSha256Mechanism())
		if mechanism == "SCRAM-SHA-512" {
			opt = kgo.SASL(a.AsSha512Mechanism())
		}
	default:
		return nil, fmt.Errorf("--command-config %s: sasl.mechanism %s: samsa's tools speak PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512", path, mechanism)
	}
	if jaas.LoginModule != want {
		return nil, fmt.Errorf("--command-config %s: sasl.mechanism %s needs %s in sasl.jaas.config", path, mechanism, want)
	}
	return []kgo.Opt{opt}, nil
}
