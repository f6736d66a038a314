// Package chaos is samsa's fault-injection suite, after Jepsen: a cluster
// of combined broker+controller processes on loopback, every link between
// them through a fault proxy of ours, takes acks=all writes from
// idempotent franz-go producers and reads from consumers while a seeded
// nemesis kills (-9), pauses (SIGSTOP) and partitions nodes; then the
// cluster heals, every partition is read from the start, and a checker
// compares the recorded history with that final read (no acknowledged
// record lost, none duplicated, no consumer saw data that was later
// truncated). See docs/reliability.md.
package chaos
