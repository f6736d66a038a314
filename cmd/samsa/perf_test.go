package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// lastJSON decodes the single JSON line a --json run prints.
func lastJSON(t *testing.T, stdout string, v any) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("--json printed %d lines, want 1: %q", len(lines), stdout)
	}
	dec := json.NewDecoder(strings.NewReader(lines[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %q: %v", lines[0], err)
	}
}

func TestPerfProduceThenConsume(t *testing.T) {
	t.Parallel()
	b := newCluster(t, 3, "t")
	out := mustRun(t, "", "perf", "produce", "--brokers", b, "--topic", "t", "--num-records", "500",
		"--record-size", "10", "--throughput", "-1", "--json")
	var ps produceSummary
	lastJSON(t, out, &ps)
	if ps.Test != "produce" || ps.Records != 500 || ps.Errors != 0 || ps.Bytes != 5000 || ps.RecordSize != 10 || ps.Acks != "all" {
		t.Errorf("produce summary = %+v", ps)
	}
	if ps.P50 > ps.P99 || ps.P99 > ps.P999 || ps.P999 > ps.Max || ps.Max <= 0 {
		t.Errorf("latencies out of order: %+v", ps.latencyJSON)
	}

	// Text output, rate-limited and with other producer settings.
	out = mustRun(t, "", "perf", "produce", "--brokers", b, "--topic", "t", "--num-records", "20",
		"--record-size", "10", "--throughput", "100000", "--acks", "1", "--compression", "zstd", "--linger", "0s")
	if !strings.HasPrefix(out, "20 records sent, ") || !strings.Contains(out, " ms 99.9th.\n") {
		t.Errorf("text summary = %q", out)
	}

	out = mustRun(t, "", "perf", "consume", "--brokers", b, "--topic", "t", "--messages", "520", "--json")
	var cs consumeSummary
	lastJSON(t, out, &cs)
	if cs.Test != "consume" || cs.Records != 520 || cs.Bytes != 5200 || cs.FirstRecordMs <= 0 {
		t.Errorf("consume summary = %+v", cs)
	}
	out = mustRun(t, "", "perf", "consume", "--brokers", b, "--topic", "t", "--messages", "7", "--group", "perf")
	if !strings.HasPrefix(out, "7 records consumed in ") {
		t.Errorf("text consume summary = %q", out)
	}

	mustFail(t, `topic "nope": UNKNOWN_TOPIC_OR_PARTITION`, "", "perf", "produce", "--brokers", b, "--topic", "nope", "--num-records", "1")
	mustFail(t, `topic "nope": UNKNOWN_TOPIC_OR_PARTITION`, "", "perf", "consume", "--brokers", b, "--topic", "nope", "--messages", "1")
	mustFail(t, "no record for 100ms after 520 of 521 records", "", "perf", "consume", "--brokers", b, "--topic", "t",
		"--messages", "521", "--timeout", "100ms")
}

func TestPerfE2E(t *testing.T) {
	t.Parallel()
	b := newCluster(t, 2, "t")
	// Records already in the topic are before the consumer's start.
	mustRun(t, "old\nolder\n", "produce", "t", "--brokers", b)
	out := mustRun(t, "", "perf", "e2e", "--brokers", b, "--topic", "t", "--rate", "400", "--duration", "250ms",
		"--record-size", "64", "--json")
	var s e2eSummary
	lastJSON(t, out, &s)
	if s.Test != "e2e" || s.Sent != 100 || s.Acked != 100 || s.Received != 100 || s.Missing != 0 || s.Duplicates != 0 || s.SendErrors != 0 {
		t.Errorf("e2e summary = %+v", s)
	}
	if s.P50 > s.P99 || s.P99 > s.Max || s.Max <= 0 {
		t.Errorf("latencies out of order: %+v", s.latencyJSON)
	}
	mustFail(t, "--record-size must be at least 24", "", "perf", "e2e", "--brokers", b, "--topic", "t", "--record-size", "8")
}
