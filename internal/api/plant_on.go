//go:build samsa_planted_ackearly

package api

// plantedAckEarly plants a bug for test/chaos to find, only in a binary
// built with -tags samsa_planted_ackearly: acks=all is answered as soon as
// the leader has appended, before the high watermark passes the batch, so
// a leader that dies before its followers fetched loses acknowledged
// records. Never build a release with this tag.
const plantedAckEarly = true
