// Package retention holds black-box tests of a log's lifecycle on real
// brokers (test/cluster) driven by franz-go: retention by time and by
// size, reads racing segment deletion, DeleteRecords, and the sizes that
// DescribeLogDirs reports. The package has no non-test code.
package retention
