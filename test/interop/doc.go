// Package interop holds black-box tests that drive real samsa brokers with
// the three Go Kafka clients (franz-go, sarama, segmentio/kafka-go) and check
// the bytes, offsets and timestamps that come back. The package has no
// non-test code; everything lives in its _test.go files.
package interop
