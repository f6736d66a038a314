package txn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/group"
)

// verifyTimeout bounds a verification sent to another broker's
// coordinator (Kafka's request.timeout.ms).
const verifyTimeout = 30 * time.Second

// Verify is a partition leader's side of KIP-890 part 1 (Kafka's
// AddPartitionsToTxnManager): it asks the coordinator of id whether each
// of parts is in the ongoing transaction of producerID at epoch, in
// process when this node leads the id's partition of __transaction_state,
// else with AddPartitionsToTxn v4+ (VerifyOnly unless add) to that
// partition's leader. With add (KIP-890 part 2's implicit addition from a
// produce or a TxnOffsetCommit) the partitions are added rather than
// checked.
//
// The answer maps each partition to nil (verified) or its error, as
// Kafka's manager translates the coordinator's: PRODUCER_FENCED becomes
// INVALID_PRODUCER_EPOCH (which producers expect from a partition);
// TRANSACTION_ABORTABLE is left for the caller, which answers it as
// INVALID_TXN_STATE to clients too old to know it; a coordinator that
// cannot be asked is COORDINATOR_NOT_AVAILABLE (or NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS), an answer that never came
// NETWORK_EXCEPTION.
func (c *Coordinator) Verify(ctx context.Context, id string, producerID int64, epoch int16, parts []TopicPartition, add bool) map[TopicPartition]error {
	var out map[TopicPartition]error
	if _, err := c.shardFor(id); err == nil {
		if add {
			err := c.AddPartitions(id, producerID, epoch, parts, 2)(ctx)
			out = make(map[TopicPartition]error, len(parts))
			for _, tp := range parts {
				out[tp] = err
			}
		} else {
			out = c.VerifyPartitions(id, producerID, epoch, parts)
		}
	} else {
		out = c.verifyRemote(ctx, id, producerID, epoch, parts, add)
	}
	for tp, err := range out {
		if errors.Is(err, kerr.ProducerFenced) {
			out[tp] = kerr.InvalidProducerEpoch
		}
	}
	return out
}

// verifyRemote sends the verification to the leader of id's partition of
// __transaction_state.
func (c *Coordinator) verifyRemote(ctx context.Context, id string, producerID int64, epoch int16, parts []TopicPartition, add bool) map[TopicPartition]error {
	all := func(err error) map[TopicPartition]error {
		out := make(map[TopicPartition]error, len(parts))
		for _, tp := range parts {
			out[tp] = err
		}
		return out
	}
	img := c.image()
	t := img.Topics[TopicName]
	if t == nil || len(t.Partitions) == 0 {
		return all(kerr.CoordinatorNotAvailable)
	}
	leader := t.Partitions[PartitionFor(id, int32(len(t.Partitions)))].Leader
	if b, ok := img.Brokers[leader]; leader < 0 || !ok || b.Fenced {
		return all(kerr.CoordinatorNotAvailable)
	}
	if leader == c.cfg.nodeID {
		// The image names this node, whose shard is not there yet.
		return all(kerr.NotCoordinator)
	}
	if c.peers == nil {
		return all(kerr.CoordinatorNotAvailable)
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = id, producerID, epoch, !add
	byTopic := map[string]int{}
	for _, tp := range parts {
		i, ok := byTopic[tp.Topic]
		if !ok {
			i = len(tx.Topics)
			byTopic[tp.Topic] = i
			tx.Topics = append(tx.Topics, kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: tp.Topic})
		}
		tx.Topics[i].Partitions = append(tx.Topics[i].Partitions, tp.Partition)
	}
	req.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{tx}
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	kresp, err := c.peers.Request(ctx, leader, req)
	if err != nil {
		c.log.Info("transaction verification got no answer", "transactional_id", id, "coordinator", leader, "err", err)
		return all(kerr.NetworkException)
	}
	resp, ok := kresp.(*kmsg.AddPartitionsToTxnResponse)
	if !ok {
		return all(fmt.Errorf("txn: AddPartitionsToTxn answered with %T: %w", kresp, kerr.NetworkException))
	}
	if resp.Version < 4 {
		// The coordinator cannot verify (Kafka before 3.6): Kafka's
		// manager skips the verification then.
		return all(nil)
	}
	if resp.ErrorCode != 0 {
		err := kerr.ErrorForCode(resp.ErrorCode)
		if err == kerr.ClusterAuthorizationFailed {
			// Not the client's to see: the verification did not
			// complete (Kafka answers INVALID_TXN_STATE).
			err = kerr.InvalidTxnState
		}
		return all(err)
	}
	out := all(kerr.NetworkException) // a partition left out of the answer is not verified
	for _, tr := range resp.Transactions {
		if tr.TransactionalID != id {
			continue
		}
		for _, rt := range tr.Topics {
			for _, rp := range rt.Partitions {
				tp := TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
				if _, asked := out[tp]; asked {
					out[tp] = kerr.ErrorForCode(rp.ErrorCode)
				}
			}
		}
	}
	return out
}

// VerifyTxn is the group coordinator's hook (group.Options.VerifyTxn) for
// TxnOffsetCommit: Verify for the group's partition of __consumer_offsets,
// added rather than checked with implicitAdd (TxnOffsetCommit v5+ under
// transaction version 2). The error is nil when verified, else a *kerr.Error
// as Verify describes.
func (c *Coordinator) VerifyTxn(ctx context.Context, transactionalID string, producerID int64, producerEpoch int16, offsetsPartition int32, implicitAdd bool) error {
	tp := TopicPartition{Topic: group.TopicName, Partition: offsetsPartition}
	return c.Verify(ctx, transactionalID, producerID, producerEpoch, []TopicPartition{tp}, implicitAdd)[tp]
}

// OffsetsPartition is the partition of __consumer_offsets that coordinates
// groupID: by the topic's partition count once it exists, else by
// offsets.topic.num.partitions, which it will be created with.
func (c *Coordinator) OffsetsPartition(groupID string) int32 {
	n := c.cfg.offsetsPartitions
	if t := c.image().Topics[group.TopicName]; t != nil && len(t.Partitions) > 0 {
		n = int32(len(t.Partitions))
	}
	return group.PartitionFor(groupID, n)
}

// AddOffsets is AddOffsetsToTxn: the group's partition of __consumer_offsets
// joins the transaction, so that the transaction's offset commits are
// completed by its markers.
func (c *Coordinator) AddOffsets(id string, producerID int64, epoch int16, groupID string) Pending[error] {
	return c.AddPartitions(id, producerID, epoch, []TopicPartition{{Topic: group.TopicName, Partition: c.OffsetsPartition(groupID)}}, 0)
}
