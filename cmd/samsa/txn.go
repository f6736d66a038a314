package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// `samsa txn` is Kafka's kafka-transactions.sh: list and describe
// transactions at their coordinators, show the producers a partition
// keeps state for, and abort a hanging transaction (one whose coordinator
// will never send its markers) by writing the abort marker to the
// partition directly.

func newTxnCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "txn",
		Short: "List, describe and abort transactions (as kafka-transactions.sh)",
	}
	cf := addClientFlags(cmd.PersistentFlags(), "deadline for the whole command")
	cmd.AddCommand(
		newTxnListCmd(cf),
		newTxnDescribeCmd(cf),
		newTxnProducersCmd(cf),
		newTxnAbortCmd(cf),
	)
	return cmd
}

// txnStates are the transaction coordinator's states, as the broker names
// them (ListTransactions filters by them exactly).
var txnStates = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

func newTxnListCmd(cf *clientFlags) *cobra.Command {
	var states []string
	var pids []int64
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the transactional ids every coordinator knows: id, coordinator, producer id, state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var filter []string
			for _, s := range states {
				i := slices.IndexFunc(txnStates, func(t string) bool { return strings.EqualFold(t, s) })
				if i < 0 {
					return fmt.Errorf("--state %q: want one of %s", s, strings.Join(txnStates, ", "))
				}
				filter = append(filter, txnStates[i])
			}
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()
			listed, err := adm.ListTransactions(ctx, pids, filter)
			if err != nil {
				// Every broker coordinates some ids: a partial list
				// would hide transactions, so it is an error.
				return fmt.Errorf("list transactions: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TRANSACTIONAL-ID\tCOORDINATOR\tPRODUCER-ID\tSTATE")
			for _, t := range listed.Sorted() {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", t.TxnID, t.Coordinator, t.ProducerID, t.State)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil,
		"only transactions in this state (repeatable or comma-separated): "+strings.Join(txnStates, ", "))
	cmd.Flags().Int64SliceVar(&pids, "producer-id", nil, "only transactions of this producer id (repeatable)")
	return cmd
}

func newTxnDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe TRANSACTIONAL-ID...",
		Short: "Describe transactions at their coordinator: producer, state, timeout, start, partitions",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()
			described, descErr := adm.DescribeTransactions(ctx, ids...)
			if descErr != nil && described == nil {
				return fmt.Errorf("describe transactions: %w", descErr)
			}
			now := time.Now().UnixMilli()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "COORDINATOR\tTRANSACTIONAL-ID\tPRODUCER-ID\tPRODUCER-EPOCH\tSTATE\tTIMEOUT-MS\tSTART-TIME-MS\tDURATION-MS\tPARTITIONS")
			var errs []error
			for _, id := range ids {
				d, ok := described[id]
				switch {
				case !ok && descErr != nil:
					errs = append(errs, fmt.Errorf("describe transaction %q: %w", id, descErr))
					continue
				case !ok:
					errs = append(errs, fmt.Errorf("describe transaction %q: no response from the broker", id))
					continue
				case d.Err != nil:
					errs = append(errs, fmt.Errorf("describe transaction %q: %w", id, d.Err))
					continue
				}
				start, duration := "-", "-"
				if d.StartTimestamp >= 0 {
					start = strconv.FormatInt(d.StartTimestamp, 10)
					duration = strconv.FormatInt(max(0, now-d.StartTimestamp), 10)
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n", d.Coordinator, d.TxnID, d.ProducerID, d.ProducerEpoch,
					d.State, d.TimeoutMillis, start, duration, orDash(formatTopicsSet(d.Topics)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
}

// formatTopicsSet lists a set's partitions as topic-partition, sorted.
func formatTopicsSet(s kadm.TopicsSet) string {
	var out []string
	for _, tp := range s.Sorted() {
		for _, p := range tp.Partitions {
			out = append(out, fmt.Sprintf("%s-%d", tp.Topic, p))
		}
	}
	return strings.Join(out, ",")
}

func newTxnProducersCmd(cf *clientFlags) *cobra.Command {
	var topic string
	var part int32
	cmd := &cobra.Command{
		Use:   "describe-producers --topic T --partition P",
		Short: "Show the producers a partition's leader keeps state for, with their open transaction's start offset",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()
			producers, err := describePartitionProducers(ctx, adm, topic, part)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PRODUCER-ID\tPRODUCER-EPOCH\tLATEST-COORDINATOR-EPOCH\tLAST-SEQUENCE\tLAST-TIMESTAMP\tCURRENT-TRANSACTION-START-OFFSET")
			for _, p := range producers {
				start := "None"
				if p.CurrentTxnStartOffset >= 0 {
					start = strconv.FormatInt(p.CurrentTxnStartOffset, 10)
				}
				fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%s\n", p.ProducerID, p.ProducerEpoch, p.CoordinatorEpoch, p.LastSequence, p.LastTimestamp, start)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&topic, "topic", "", "the partition's topic")
	cmd.Flags().Int32Var(&part, "partition", -1, "the partition")
	_ = cmd.MarkFlagRequired("topic")
	_ = cmd.MarkFlagRequired("partition")
	return cmd
}

// describePartitionProducers asks the partition's leader for its
// producers, sorted by producer id.
func describePartitionProducers(ctx context.Context, adm *kadm.Client, topic string, part int32) ([]kadm.DescribedProducer, error) {
	if part < 0 {
		return nil, fmt.Errorf("--partition %d: want a partition number", part)
	}
	described, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {part: {}}})
	if err != nil && described == nil {
		return nil, fmt.Errorf("describe producers of %s-%d: %w", topic, part, err)
	}
	dp, ok := described[topic].Partitions[part]
	switch {
	case !ok && err != nil:
		return nil, fmt.Errorf("describe producers of %s-%d: %w", topic, part, err)
	case !ok:
		return nil, fmt.Errorf("describe producers of %s-%d: no response from the broker", topic, part)
	case dp.Err != nil:
		return nil, kafkaError(fmt.Sprintf("describe producers of %s-%d", topic, part), dp.Err, dp.ErrMessage)
	}
	return dp.ActiveProducers.Sorted(), nil // one partition: by producer id
}

func newTxnAbortCmd(cf *clientFlags) *cobra.Command {
	var (
		topic            string
		part             int32
		startOffset      int64
		producerID       int64
		producerEpoch    int32
		coordinatorEpoch int32
	)
	cmd := &cobra.Command{
		Use:   "abort --topic T --partition P (--start-offset O | --producer-id ID --producer-epoch E --coordinator-epoch C)",
		Short: "Abort a hanging transaction in one partition by writing its abort marker there",
		Long: "Abort a hanging transaction in one partition, as kafka-transactions.sh abort does:\n" +
			"the abort marker is written to the partition's leader directly, so the partition's\n" +
			"last stable offset moves past the transaction even though its coordinator will\n" +
			"never finish it. Name the transaction by the offset it started at (see\n" +
			"describe-producers), or by its producer id, epoch and coordinator epoch.\n" +
			"Aborting a transaction its coordinator still tracks breaks its atomicity: use\n" +
			"this only for a transaction `txn describe` no longer knows.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			byOffset := cmd.Flags().Changed("start-offset")
			byProducer := cmd.Flags().Changed("producer-id")
			if byOffset == byProducer {
				return errors.New("name the transaction by --start-offset or by --producer-id, --producer-epoch and --coordinator-epoch")
			}
			if byProducer && (!cmd.Flags().Changed("producer-epoch") || !cmd.Flags().Changed("coordinator-epoch")) {
				return errors.New("--producer-id needs --producer-epoch and --coordinator-epoch")
			}
			if byProducer && (producerEpoch < 0 || producerEpoch > 1<<15-1) {
				return fmt.Errorf("--producer-epoch %d: want 0 to 32767", producerEpoch)
			}
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()
			m := kadm.TxnMarkers{ProducerID: producerID, ProducerEpoch: int16(producerEpoch), CoordinatorEpoch: coordinatorEpoch}
			if byOffset {
				producers, err := describePartitionProducers(ctx, adm, topic, part)
				if err != nil {
					return err
				}
				i := slices.IndexFunc(producers, func(p kadm.DescribedProducer) bool { return p.CurrentTxnStartOffset == startOffset })
				if i < 0 {
					return fmt.Errorf("no open transaction in %s-%d starts at offset %d (see describe-producers)", topic, part, startOffset)
				}
				p := producers[i]
				m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch = p.ProducerID, p.ProducerEpoch, p.CoordinatorEpoch
			}
			m.Topics = kadm.TopicsSet{topic: {part: {}}}
			resps, err := adm.WriteTxnMarkers(ctx, m)
			if err != nil && resps == nil {
				return fmt.Errorf("write abort marker: %w", err)
			}
			r, ok := resps[m.ProducerID].Topics[topic].Partitions[part]
			switch {
			case !ok && err != nil:
				return fmt.Errorf("write abort marker to %s-%d: %w", topic, part, err)
			case !ok:
				return fmt.Errorf("write abort marker to %s-%d: no response from the broker", topic, part)
			case r.Err != nil:
				return fmt.Errorf("write abort marker to %s-%d: %w", topic, part, r.Err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "aborted the transaction of producer %d (epoch %d) in %s-%d\n", m.ProducerID, m.ProducerEpoch, topic, part)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&topic, "topic", "", "the partition's topic")
	fs.Int32Var(&part, "partition", -1, "the partition")
	fs.Int64Var(&startOffset, "start-offset", -1, "the offset the hanging transaction started at")
	fs.Int64Var(&producerID, "producer-id", -1, "the transaction's producer id")
	fs.Int32Var(&producerEpoch, "producer-epoch", -1, "the transaction's producer epoch")
	fs.Int32Var(&coordinatorEpoch, "coordinator-epoch", -1, "the coordinator epoch of the producer's last marker (describe-producers)")
	_ = cmd.MarkFlagRequired("topic")
	_ = cmd.MarkFlagRequired("partition")
	return cmd
}
