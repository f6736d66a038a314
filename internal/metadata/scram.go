package metadata

import (
	"fmt"
	"maps"
	"slices"
)

// ScramMechanism is a SCRAM mechanism as Kafka numbers it in
// AlterUserScramCredentials, DescribeUserScramCredentials and its
// UserScramCredentialRecord.
type ScramMechanism int8

// The SCRAM mechanisms Kafka defines (KIP-554).
const (
	ScramSHA256 ScramMechanism = 1
	ScramSHA512 ScramMechanism = 2
)

// ScramMechanisms are the known mechanisms, in Kafka's order.
var ScramMechanisms = []ScramMechanism{ScramSHA256, ScramSHA512}

// Known reports whether m is a mechanism Kafka defines.
func (m ScramMechanism) Known() bool { return m == ScramSHA256 || m == ScramSHA512 }

// String is the mechanism's SASL name ("SCRAM-SHA-256"), or "UNKNOWN".
func (m ScramMechanism) String() string {
	switch m {
	case ScramSHA256:
		return "SCRAM-SHA-256"
	case ScramSHA512:
		return "SCRAM-SHA-512"
	}
	return "UNKNOWN"
}

// ScramMechanismNamed is the mechanism of a SASL name, as String gives it.
func ScramMechanismNamed(name string) (ScramMechanism, bool) {
	for _, m := range ScramMechanisms {
		if m.String() == name {
			return m, true
		}
	}
	return 0, false
}

// ScramCredential is what a broker keeps of a user's SCRAM password for one
// mechanism (RFC 5802): the salt and iteration count the client derives
// its salted password with, and the stored and server keys derived from
// that, never the password.
type ScramCredential struct {
	Salt       []byte `json:"salt"`
	StoredKey  []byte `json:"storedKey"`
	ServerKey  []byte `json:"serverKey"`
	Iterations int32  `json:"iterations"`
}

// UserScramCredential creates or replaces the credential of one user for
// one mechanism (Kafka's UserScramCredentialRecord). Needs metadata.version
// 5.
type UserScramCredential struct {
	Name      string         `json:"name"`
	Mechanism ScramMechanism `json:"mechanism"`
	ScramCredential
}

// RemoveUserScramCredential removes the credential of one user for one
// mechanism, which must exist (Kafka's RemoveUserScramCredentialRecord).
// Needs metadata.version 5.
type RemoveUserScramCredential struct {
	Name      string         `json:"name"`
	Mechanism ScramMechanism `json:"mechanism"`
}

// ScramCredential is user's credential for mechanism, if any.
func (im *Image) ScramCredential(user string, m ScramMechanism) (ScramCredential, bool) {
	c, ok := im.ScramCredentials[user][m]
	return c, ok
}

// ScramUsers are the users with a SCRAM credential, sorted.
func (im *Image) ScramUsers() []string {
	return slices.Sorted(maps.Keys(im.ScramCredentials))
}

func (im *Image) applyScram(r Record) (*Image, error) {
	next := im.shallowCopy()
	var user string
	var creds map[ScramMechanism]ScramCredential
	switch {
	case r.UserScramCredential != nil:
		c := r.UserScramCredential
		if c.Name == "" || !c.Mechanism.Known() {
			return im, fmt.Errorf("metadata: scram credential: user %q, mechanism %d", c.Name, c.Mechanism)
		}
		user, creds = c.Name, maps.Clone(im.ScramCredentials[c.Name])
		if creds == nil {
			creds = map[ScramMechanism]ScramCredential{}
		}
		creds[c.Mechanism] = ScramCredential{Salt: slices.Clone(c.Salt), StoredKey: slices.Clone(c.StoredKey),
			ServerKey: slices.Clone(c.ServerKey), Iterations: c.Iterations}
	default:
		c := r.RemoveUserScramCredential
		if _, ok := im.ScramCredentials[c.Name][c.Mechanism]; !ok {
			return im, fmt.Errorf("metadata: remove scram credential: user %q has none for %s", c.Name, c.Mechanism)
		}
		user, creds = c.Name, maps.Clone(im.ScramCredentials[c.Name])
		delete(creds, c.Mechanism)
	}
	next.ScramCredentials = maps.Clone(im.ScramCredentials)
	if next.ScramCredentials == nil {
		next.ScramCredentials = map[string]map[ScramMechanism]ScramCredential{}
	}
	if len(creds) == 0 {
		delete(next.ScramCredentials, user)
	} else {
		next.ScramCredentials[user] = creds
	}
	if len(next.ScramCredentials) == 0 {
		next.ScramCredentials = nil
	}
	return next, nil
}

// snapshotScram is one credential in a snapshot.
type snapshotScram struct {
	User      string         `json:"user"`
	Mechanism ScramMechanism `json:"mechanism"`
	ScramCredential
}

func (im *Image) snapshotScram() []snapshotScram {
	var out []snapshotScram
	for _, u := range im.ScramUsers() {
		for _, m := range ScramMechanisms {
			if c, ok := im.ScramCredentials[u][m]; ok {
				out = append(out, snapshotScram{User: u, Mechanism: m, ScramCredential: c})
			}
		}
	}
	return out
}

func (im *Image) restoreScram(creds []snapshotScram) error {
	for _, c := range creds {
		if c.User == "" || !c.Mechanism.Known() {
			return fmt.Errorf("metadata: snapshot: scram credential of user %q, mechanism %d", c.User, c.Mechanism)
		}
		if _, dup := im.ScramCredentials[c.User][c.Mechanism]; dup {
			return fmt.Errorf("metadata: snapshot: scram credential of user %q for %s twice", c.User, c.Mechanism)
		}
		if im.ScramCredentials == nil {
			im.ScramCredentials = map[string]map[ScramMechanism]ScramCredential{}
		}
		if im.ScramCredentials[c.User] == nil {
			im.ScramCredentials[c.User] = map[ScramMechanism]ScramCredential{}
		}
		im.ScramCredentials[c.User][c.Mechanism] = c.ScramCredential
	}
	return nil
}
