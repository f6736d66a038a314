package controller

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/auth"
	"github.com/samsa-kafka/samsa/internal/metadata"
)

// ScramDeletion removes a user's credential for one mechanism.
type ScramDeletion struct {
	User      string
	Mechanism metadata.ScramMechanism
}

// ScramUpsertion sets a user's credential for one mechanism from the
// salted password the client derived (AlterUserScramCredentials carries
// it, never the password).
type ScramUpsertion struct {
	User           string
	Mechanism      metadata.ScramMechanism
	Iterations     int32
	Salt           []byte
	SaltedPassword []byte
}

// ScramResult is the outcome for one user named in the request.
type ScramResult struct {
	User string
	Err  error
}

// AlterScramCredentials applies deletions and upsertions of SCRAM
// credentials as Kafka's controller does (KIP-554): each user may be
// altered once per request (a second alteration fails the user with
// DUPLICATE_RESOURCE, and neither is applied); an empty user name is an
// UNACCEPTABLE_CREDENTIAL, an unknown mechanism UNSUPPORTED_SASL_MECHANISM,
// iterations outside 4096 to 16384 UNACCEPTABLE_CREDENTIAL, deleting what
// does not exist RESOURCE_NOT_FOUND. What is valid commits as one entry.
// There is one result per user named: the accepted ones first (deletions,
// then upsertions, each in request order), then the refused ones in the
// order they were first named.
func (c *Controller) AlterScramCredentials(ctx context.Context, dels []ScramDeletion, ups []ScramUpsertion) []ScramResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Active() {
		var results []ScramResult
		seen := map[string]bool{}
		for _, user := range scramUsers(dels, ups) {
			if !seen[user] {
				seen[user] = true
				results = append(results, ScramResult{User: user, Err: errNotController()})
			}
		}
		return results
	}
	img := c.Image()
	supported := img.Features[metadata.MetadataVersionFeature] >= metadata.ScramMetadataVersion
	var (
		order  []string // users in the order first named
		failed = map[string]error{}
		delOf  = map[string]int{} // user -> index in dels, while accepted
		upOf   = map[string]int{}
	)
	refuse := func(user string, err error) {
		if _, ok := failed[user]; !ok {
			order = append(order, user)
		}
		failed[user] = err
	}
	// claim reports whether an entry for user is to be checked: the user
	// is not refused already, and no earlier entry altered it (a second
	// one fails the user, and the first is not applied either).
	claim := func(user string) bool {
		if _, ok := failed[user]; ok {
			return false
		}
		_, del := delOf[user]
		_, up := upOf[user]
		if del || up {
			delete(delOf, user)
			delete(upOf, user)
			refuse(user, errorf(kerr.DuplicateResource, "A user credential cannot be altered twice in the same request"))
			return false
		}
		return true
	}
	unsupported := func() error {
		return errorf(kerr.UnsupportedVersion, "The current metadata.version does not support SCRAM")
	}
	for i, d := range dels {
		if !claim(d.User) {
			continue
		}
		switch err := validScramName(d.User, d.Mechanism); {
		case !supported:
			refuse(d.User, unsupported())
		case err != nil:
			refuse(d.User, err)
		default:
			if _, ok := img.ScramCredential(d.User, d.Mechanism); !ok {
				refuse(d.User, errorf(kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist"))
				continue
			}
			delOf[d.User] = i
		}
	}
	for i, u := range ups {
		if !claim(u.User) {
			continue
		}
		switch err := validScramName(u.User, u.Mechanism); {
		case !supported:
			refuse(u.User, unsupported())
		case err != nil:
			refuse(u.User, err)
		case u.Iterations < auth.MinScramIterations:
			refuse(u.User, errorf(kerr.UnacceptableCredential, "Too few iterations"))
		case u.Iterations > auth.MaxScramIterations:
			refuse(u.User, errorf(kerr.UnacceptableCredential, "Too many iterations"))
		default:
			upOf[u.User] = i
		}
	}
	var recs []metadata.Record
	var results []ScramResult
	for i, d := range dels {
		if j, ok := delOf[d.User]; ok && j == i {
			recs = append(recs, metadata.Record{RemoveUserScramCredential: &metadata.RemoveUserScramCredential{Name: d.User, Mechanism: d.Mechanism}})
			results = append(results, ScramResult{User: d.User})
		}
	}
	for i, u := range ups {
		if j, ok := upOf[u.User]; ok && j == i {
			stored, server := auth.ScramKeys(u.Mechanism, u.SaltedPassword)
			recs = append(recs, metadata.Record{UserScramCredential: &metadata.UserScramCredential{Name: u.User, Mechanism: u.Mechanism,
				ScramCredential: metadata.ScramCredential{Salt: u.Salt, StoredKey: stored, ServerKey: server, Iterations: u.Iterations}}})
			results = append(results, ScramResult{User: u.User})
		}
	}
	if len(recs) > 0 {
		if _, err := c.commit(recs); err != nil {
			for i := range results {
				results[i].Err = err
			}
		}
	}
	for _, user := range order {
		results = append(results, ScramResult{User: user, Err: failed[user]})
	}
	return results
}

// validScramName checks a credential's user and mechanism as Kafka does.
func validScramName(user string, m metadata.ScramMechanism) error {
	if user == "" {
		return errorf(kerr.UnacceptableCredential, "Username must not be empty")
	}
	if !m.Known() {
		return errorf(kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism")
	}
	return nil
}

// scramUsers are the users named, deletions first, with repeats.
func scramUsers(dels []ScramDeletion, ups []ScramUpsertion) []string {
	users := make([]string, 0, len(dels)+len(ups))
	for _, d := range dels {
		users = append(users, d.User)
	}
	for _, u := range ups {
		users = append(users, u.User)
	}
	return users
}
