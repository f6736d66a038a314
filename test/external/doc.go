// Package external drives samsa with Kafka clients that are not written in
// Go: kcat (librdkafka) and KafkaJS. Its tests carry the build tag
// "external" and need kcat, node and test/external/kafkajs/node_modules;
// .ci/run installs them and then runs
//
//	go test -tags external ./test/external/
//
// Without the tag this package is empty, so `go test ./...` on a machine
// without those tools stays green. With the tag, a missing tool is a test
// failure, not a skip.
package external
