// Package robust holds black-box tests that feed a running samsa broker bad
// input: malformed frames, unsupported versions, corrupt and oversized
// record batches, out-of-order idempotent sequences and invalid admin
// requests. Each case asserts the exact Kafka error code (or a closed
// connection, where Kafka closes) and then that the broker still serves new
// connections and ordinary produce and fetch, and that nothing refused
// reached the log.
package robust
