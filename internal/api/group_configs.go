package api

// Group config resources: resource type 32 (GROUP, KIP-848) in
// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.
//
// Kafka's group configs (GroupConfig.java) all tune group types samsa does
// not serve: consumer.* the KIP-848 consumer groups, share.* share groups
// (KIP-932), streams.* streams groups (KIP-1071). samsa's groups are
// classic groups, which take their session and rebalance timeouts from each
// JoinGroup (bounded by the broker's group.min/max.session.timeout.ms) and
// have no group config. So a group describes with no configs (a Kafka 4.1
// broker lists all ten, as DEFAULT_CONFIG from its group.* settings; with
// none set dynamically, `kafka-configs --describe` prints the same empty
// list for both), and an alteration that would set one is INVALID_CONFIG,
// the code Kafka gives a config it cannot take. One that leaves nothing set
// (DELETE, or AlterConfigs with no values) succeeds, as in Kafka. As in
// Kafka, the group need not exist.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
)

const resourceGroup = 32

// kafkaGroupConfigs are the group config names of Kafka 4.1 (GroupConfig).
var kafkaGroupConfigs = []string{
	"consumer.session.timeout.ms", "consumer.heartbeat.interval.ms",
	"share.session.timeout.ms", "share.heartbeat.interval.ms", "share.record.lock.duration.ms",
	"share.auto.offset.reset", "share.isolation.level",
	"streams.session.timeout.ms", "streams.heartbeat.interval.ms", "streams.num.standby.replicas",
}

// checkGroupResource refuses the empty group name, with Kafka's messages:
// DescribeConfigs names no group, and an alteration may not target group
// defaults (Kafka has none to alter).
func checkGroupResource(name string, alter bool) error {
	switch {
	case name != "":
		return nil
	case alter:
		return &controller.Error{Code: kerr.InvalidRequest, Message: "Default group resources are not allowed."}
	default:
		return &controller.Error{Code: kerr.InvalidRequest, Message: "Group name must not be empty"}
	}
}

// refuseGroupConfig is the answer to setting a group config.
func refuseGroupConfig(name string) error {
	if slices.Contains(kafkaGroupConfigs, name) {
		return &controller.Error{Code: kerr.InvalidConfig, Message: "group config " + name +
			" tunes KIP-848 consumer, share or streams groups, which samsa does not serve: its classic groups have no group configs"}
	}
	return &controller.Error{Code: kerr.InvalidConfig, Message: "Unknown group config name: " + name}
}

// alterGroupConfigs applies IncrementalAlterConfigs operations to a group's
// configs, which are always empty: removing one (DELETE, or SET to null)
// changes nothing; anything else would set one and is refused.
func alterGroupConfigs(group string, ops []config.AlterOp) error {
	if err := checkGroupResource(group, true); err != nil {
		return err
	}
	for _, op := range ops {
		switch {
		case op.Op < config.OpSet || op.Op > config.OpSubtract:
			return &controller.Error{Code: kerr.InvalidRequest, Message: "config " + op.Name + ": unknown operation"}
		case op.Op == config.OpDelete, op.Op == config.OpSet && op.Value == nil:
		default:
			return refuseGroupConfig(op.Name)
		}
	}
	return nil
}

// replaceGroupConfigs makes given (null values already dropped) a group's
// whole set of configs, as AlterConfigs does.
func replaceGroupConfigs(group string, given map[string]string) error {
	if err := checkGroupResource(group, true); err != nil {
		return err
	}
	if names := sortedNames(given); len(names) > 0 {
		return refuseGroupConfig(names[0])
	}
	return nil
}
