package main

import (
	"strings"
	"testing"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestUserSCRAM: set-scram, describe and delete-scram against a samsa
// broker, with the password from a flag and from standard input, and the
// broker's refusals reported as errors.
func TestUserSCRAM(t *testing.T) {
	t.Parallel()
	b := cluster.Start(t)
	br := "--brokers=" + b.Addr()
	equal(t, "describe none", mustRun(t, "", "user", "describe", br), "USER  MECHANISM  ITERATIONS\n")
	equal(t, "set alice", mustRun(t, "", "user", "set-scram", "alice", "--password", "a-secret", br),
		"Set SCRAM-SHA-256 for user alice (4096 iterations).\n")
	equal(t, "set bob", mustRun(t, "bob-secret\n", "user", "set-scram", "bob", "--mechanism", "scram-sha-512",
		"--iterations", "8192", "--password-file", "-", br),
		"Set SCRAM-SHA-512 for user bob (8192 iterations).\n")
	equal(t, "describe all", mustRun(t, "", "user", "describe", br),
		"USER   MECHANISM      ITERATIONS\n"+
			"alice  SCRAM-SHA-256  4096\n"+
			"bob    SCRAM-SHA-512  8192\n")
	equal(t, "delete", mustRun(t, "", "user", "delete-scram", "bob", "--mechanism", "SCRAM-SHA-512", br),
		"Deleted SCRAM-SHA-512 of user bob.\n")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "describe", "bob"}, "RESOURCE_NOT_FOUND"},
		{[]string{"user", "delete-scram", "bob", "--mechanism", "SCRAM-SHA-512"}, "RESOURCE_NOT_FOUND"},
		{[]string{"user", "set-scram", "carol", "--password", "x", "--iterations", "100"}, "outside the allowed 4096 to 16384"},
		{[]string{"user", "set-scram", "carol", "--password", "x", "--mechanism", "SCRAM-SHA-1"}, "want SCRAM-SHA-256 or SCRAM-SHA-512"},
		{[]string{"user", "set-scram", "carol"}, "give the password"},
	} {
		r := samsa(t, "", append(c.args, br)...)
		if r.err == nil || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("samsa %s: %v, want an error with %q", strings.Join(c.args, " "), r.err, c.want)
		}
	}
	equal(t, "describe after", mustRun(t, "", "user", "describe", br),
		"USER   MECHANISM      ITERATIONS\nalice  SCRAM-SHA-256  4096\n")
}
