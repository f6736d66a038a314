package auth

import (
	"errors"
	"slices"
	"testing"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

func noScram(string, metadata.ScramMechanism) (metadata.ScramCredential, bool) {
	return metadata.ScramCredential{}, false
}

// TestNewMechanismsRefusals: each configuration NewMechanisms refuses, with
// its message.
func TestNewMechanismsRefusals(t *testing.T) {
	t.Parallel()
	users := map[string]string{"alice": "pw"}
	unsupported := func(name string) string {
		return `sasl: unsupported SASL mechanism "` + name + `": samsa supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512`
	}
	for _, tc := range []struct {
		name    string
		enabled []string
		plain   map[string]string
		scram   ScramLookup
		want    string
	}{
		{"none", nil, users, noScram, "sasl: no SASL mechanism enabled (samsa supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512)"},
		{"empty", []string{}, users, noScram, "sasl: no SASL mechanism enabled (samsa supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512)"},
		{"gssapi", []string{"GSSAPI"}, users, noScram, unsupported("GSSAPI")},
		{"oauthbearer after plain", []string{"PLAIN", "OAUTHBEARER"}, users, noScram, unsupported("OAUTHBEARER")},
		{"lower case", []string{"plain"}, users, noScram, unsupported("plain")},
		{"scram-sha-1", []string{"SCRAM-SHA-1"}, users, noScram, unsupported("SCRAM-SHA-1")},
		{"spaces", []string{" PLAIN"}, users, noScram, unsupported(" PLAIN")},
		{"plain without users", []string{"PLAIN"}, nil, noScram,
			`sasl: PLAIN is enabled but no PLAIN user is configured (user_<name>="<password>" options of the PlainLoginModule)`},
		{"plain with empty users", []string{"SCRAM-SHA-256", "PLAIN"}, map[string]string{}, noScram,
			`sasl: PLAIN is enabled but no PLAIN user is configured (user_<name>="<password>" options of the PlainLoginModule)`},
		{"scram-sha-256 without lookup", []string{"SCRAM-SHA-256"}, users, nil, "sasl: SCRAM-SHA-256 is enabled without a SCRAM credential store"},
		{"scram-sha-512 without lookup", []string{"PLAIN", "SCRAM-SHA-512"}, users, nil, "sasl: SCRAM-SHA-512 is enabled without a SCRAM credential store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := NewMechanisms(tc.enabled, tc.plain, tc.scram)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("NewMechanisms(%q) = %v, %v; want error %q", tc.enabled, m, err, tc.want)
			}
		})
	}
}

// TestMechanismsEnabled: Enabled is the config order, a repeated name
// once; Start takes exactly the enabled names.
func TestMechanismsEnabled(t *testing.T) {
	t.Parallel()
	m, err := NewMechanisms([]string{"SCRAM-SHA-512", "PLAIN", "SCRAM-SHA-512"}, map[string]string{"a": "b"}, noScram)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Enabled(); !slices.Equal(got, []string{"SCRAM-SHA-512", "PLAIN"}) {
		t.Fatalf("Enabled = %q", got)
	}
	m.Enabled()[0] = "changed"
	if got := m.Enabled(); got[0] != "SCRAM-SHA-512" {
		t.Fatalf("Enabled shares its slice: %q", got)
	}
	for _, name := range []string{"SCRAM-SHA-512", "PLAIN"} {
		if s, ok := m.Start(name); !ok || s == nil || s.User() != "" {
			t.Fatalf("Start(%s) = %v, %v", name, s, ok)
		}
	}
	for _, name := range []string{"SCRAM-SHA-256", "plain", "scram-sha-512", "GSSAPI", ""} {
		if s, ok := m.Start(name); ok || s != nil {
			t.Fatalf("Start(%q) = %v, %v; want not enabled", name, s, ok)
		}
	}
	// Users are optional where PLAIN is not enabled, the lookup where no
	// SCRAM mechanism is.
	if _, err := NewMechanisms([]string{"SCRAM-SHA-256"}, nil, noScram); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMechanisms([]string{"PLAIN"}, map[string]string{"a": "b"}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestFailureError: a Failure's error text is its message, found by
// errors.As.
func TestFailureError(t *testing.T) {
	t.Parallel()
	var err error = &Failure{Message: "Authentication failed: x"}
	var f *Failure
	if !errors.As(err, &f) || f.Message != "Authentication failed: x" || err.Error() != "Authentication failed: x" {
		t.Fatalf("%v", err)
	}
}
