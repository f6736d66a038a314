package main

import (
	"strings"
	"testing"
)

// Not parallel: it sets the environment.
func TestBrokersFromEnvironment(t *testing.T) {
	b := newCluster(t, 1, "from-env")
	t.Setenv("SAMSA_BROKERS", " "+b+" , ")
	equal(t, "list via SAMSA_BROKERS", mustRun(t, "", "topic", "list"), "from-env\n")
	// An explicit flag wins over the environment.
	mustFail(t, "connection refused", "", "topic", "list", "--brokers", "127.0.0.1:1", "--timeout", "5s")
}

func TestVersionAndLogLevel(t *testing.T) {
	t.Parallel()
	if out := mustRun(t, "", "version"); !strings.HasPrefix(out, "samsa ") || !strings.Contains(out, " (go1.") {
		t.Errorf("version = %q", out)
	}
	mustFail(t, `--log-level "loud": want debug, info, warn or error`, "", "--log-level", "loud", "version")
	mustRun(t, "", "--log-level", "debug", "version")
}

func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	var out, errOut strings.Builder
	if code := run(t.Context(), []string{"version"}, strings.NewReader(""), &out, &errOut); code != 0 || errOut.Len() != 0 {
		t.Errorf("version: exit %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	code := run(t.Context(), []string{"topic", "create"}, strings.NewReader(""), &out, &errOut)
	equal(t, "stderr", errOut.String(), "samsa: requires at least 1 arg(s), only received 0\n")
	if code != 1 || out.Len() != 0 {
		t.Errorf("topic create without a name: exit %d, stdout %q", code, out.String())
	}
}
