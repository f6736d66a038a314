// Package configs holds black-box tests of samsa's configuration model
// through real clients: topic configs through CreateTopics, DescribeConfigs,
// IncrementalAlterConfigs and the legacy AlterConfigs; dynamic broker
// configs at the cluster-default and per-broker levels; and that a change
// takes effect on live partitions and survives a restart.
package configs
