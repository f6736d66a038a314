// Package crash holds fault tests for samsa's durability promises: a broker
// process killed with SIGKILL under acks=all load, a segment torn on disk,
// write errors injected under the log, a clean SIGTERM shutdown, and
// concurrent zero-copy reads. They check that no acknowledged record is
// lost or duplicated and that offsets stay dense.
package crash
