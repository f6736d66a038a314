// Package groups holds black-box tests of samsa's group coordinator: real
// brokers (test/cluster) driven by the consumer groups of sarama, kafka-go
// and franz-go, through rebalances under load, static membership, expired
// sessions and broker restarts. The package has no non-test code.
package groups
