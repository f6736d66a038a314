// Package external drives samsa with Kafka clients that are not written in
// Go: kcat (librdkafka), KafkaJS, and Apache Kafka's own Java client and
// CLI tools (the Maven project in test/external/java). Its tests carry the
// build tag "external" and need kcat, node, test/external/kafkajs/node_modules,
// java 17 and the Maven build of test/external/java (`mvn -B -q compile`
// there); .ci/run installs and builds them and then runs
//
//	go test -tags external ./test/external/
//
// Without the tag this package is empty, so `go test ./...` on a machine
// without those tools stays green. With the tag, a missing tool is a test
// failure, not a skip.
package external
