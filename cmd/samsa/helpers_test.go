package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// newCluster starts a one-broker kfake cluster on 127.0.0.1 with the
// given topics (each with partitions partitions) and returns its address.
func newCluster(t *testing.T, partitions int32, topics ...string) string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// result is what one in-process samsa invocation printed and returned.
type result struct {
	stdout, stderr string
	err            error
}

// samsa runs one command line in-process with stdin and captures its output.
// The deadline only keeps a broken test from hanging the suite.
func samsa(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(ctx)
	return result{out.String(), errOut.String(), err}
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := samsa(t, stdin, args...)
	if r.err != nil {
		t.Fatalf("samsa %s: %v\nstderr: %s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r.stdout
}

// mustFail runs a command that must fail with an error containing want.
func mustFail(t *testing.T, want, stdin string, args ...string) result {
	t.Helper()
	r := samsa(t, stdin, args...)
	if r.err == nil {
		t.Fatalf("samsa %s succeeded, want an error containing %q\nstdout: %s", strings.Join(args, " "), want, r.stdout)
	}
	if !strings.Contains(r.err.Error(), want) {
		t.Fatalf("samsa %s: error %q, want it to contain %q", strings.Join(args, " "), r.err, want)
	}
	return r
}

func equal(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", what, got, want)
	}
}
