package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTopicCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, alter and delete topics",
	}
	cf := addClientFlags(cmd.PersistentFlags(), "deadline for the whole command, and the time the broker may take to apply a change")
	cmd.AddCommand(
		newTopicCreateCmd(cf),
		newTopicListCmd(cf),
		newTopicDescribeCmd(cf),
		newTopicDeleteCmd(cf),
		newTopicAddPartitionsCmd(cf),
		newTopicAlterConfigCmd(cf),
		newTopicReassignCmd(cf),
	)
	return cmd
}

func newTopicCreateCmd(cf *clientFlags) *cobra.Command {
	var (
		partitions   int32
		replication  int16
		configs      []string
		ifNotExists  bool
		validateOnly bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME...",
		Short: "Create topics",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			cfg, err := parseConfigFlags("--config", configs)
			if err != nil {
				return err
			}
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()

			create := adm.CreateTopics
			if validateOnly {
				create = adm.ValidateCreateTopics
			}
			resps, err := create(ctx, partitions, replication, cfg, names...)
			if err != nil {
				return fmt.Errorf("create topics: %w", err)
			}
			out := cmd.OutOrStdout()
			var errs []error
			// Report in argument order, the order the user reads.
			for _, name := range names {
				r, ok := resps[name]
				switch {
				case !ok:
					errs = append(errs, fmt.Errorf("create topic %q: no response from the broker", name))
				case r.Err == nil && validateOnly:
					fmt.Fprintf(out, "Topic %s is valid (validate only: not created).\n", name)
				case r.Err == nil:
					fmt.Fprintf(out, "Created topic %s.\n", name)
				case ifNotExists && errors.Is(r.Err, kerr.TopicAlreadyExists):
					fmt.Fprintf(out, "Topic %s already exists.\n", name)
				default:
					errs = append(errs, kafkaError(fmt.Sprintf("create topic %q", name), r.Err, r.ErrMessage))
				}
			}
			return errors.Join(errs...)
		},
	}
	fs := cmd.Flags()
	// -1 asks the broker for its defaults (num.partitions and
	// default.replication.factor), as kafka-topics does (KIP-464).
	fs.Int32Var(&partitions, "partitions", -1, "number of partitions (-1: the broker's num.partitions)")
	fs.Int16Var(&replication, "replication-factor", -1, "replicas per partition (-1: the broker's default.replication.factor)")
	fs.StringArrayVar(&configs, "config", nil, "topic config override key=value (repeatable)")
	fs.BoolVar(&ifNotExists, "if-not-exists", false, "succeed if a topic already exists")
	fs.BoolVar(&validateOnly, "validate-only", false, "ask the broker to validate the request without creating anything")
	return cmd
}

func newTopicListCmd(cf *clientFlags) *cobra.Command {
	var internal bool
	var f partitionFilter
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List topic names, one per line, sorted; or the partitions in a given state",
		Long: `List topic names, one per line, sorted.

With --under-replicated, --unavailable or --under-min-isr, list instead the
partitions in that state (any of them, when several are given), as
kafka-topics --describe does with --under-replicated-partitions,
--unavailable-partitions and --under-min-isr-partitions: one line per
partition, in topic describe's partition format, sorted by topic and
partition.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()

			if f.any() {
				return listPartitions(ctx, cmd.OutOrStdout(), adm, internal, f)
			}
			list := adm.ListTopics
			if internal {
				list = adm.ListTopicsWithInternal
			}
			tds, err := list(ctx)
			if err != nil {
				return fmt.Errorf("list topics: %w", err)
			}
			names := tds.Names() // sorted
			out := cmd.OutOrStdout()
			for _, n := range names {
				fmt.Fprintln(out, n)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&internal, "internal", false, "include internal topics (__consumer_offsets, __transaction_state)")
	fs.BoolVar(&f.underReplicated, "under-replicated", false, "list the partitions whose ISR is smaller than their replica set")
	fs.BoolVar(&f.unavailable, "unavailable", false, "list the partitions without a leader, or whose leader is not a live broker")
	fs.BoolVar(&f.underMinISR, "under-min-isr", false, "list the partitions without a leader or whose ISR is smaller than the topic's min.insync.replicas")
	return cmd
}

// partitionFilter selects partitions by state, as kafka-topics' describe
// filters do; a partition matching any selected state is listed.
type partitionFilter struct {
	underReplicated, unavailable, underMinISR bool
}

func (f partitionFilter) any() bool { return f.underReplicated || f.unavailable || f.underMinISR }

// match applies kafka-topics' tests (TopicCommand.PartitionDescription):
// under-replicated is fewer ISR members than replicas; unavailable is no
// leader or a leader that is not a live broker; under min ISR is no leader
// or fewer ISR members than minISR.
func (f partitionFilter) match(p kadm.PartitionDetail, live map[int32]bool, minISR int) bool {
	return f.underReplicated && underReplicated(p) ||
		f.unavailable && (p.Leader < 0 || !live[p.Leader]) ||
		f.underMinISR && (p.Leader < 0 || len(p.ISR) < minISR)
}

// listPartitions prints the partitions of every topic (internal ones too
// when internal) that f selects.
func listPartitions(ctx context.Context, out io.Writer, adm *kadm.Client, internal bool, f partitionFilter) error {
	m, err := adm.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	live := make(map[int32]bool, len(m.Brokers))
	for _, b := range m.Brokers {
		live[b.NodeID] = true
	}
	var names []string
	for _, name := range m.Topics.Names() { // sorted
		if internal || !m.Topics[name].IsInternal {
			names = append(names, name)
		}
	}
	var errs []error
	minISR := map[string]int{}
	if f.underMinISR && len(names) > 0 {
		rcs, err := adm.DescribeTopicConfigs(ctx, names...)
		if err != nil {
			return fmt.Errorf("describe topic configs: %w", err)
		}
		for _, name := range names {
			n, err := topicMinISR(rcs, name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			minISR[name] = n
		}
	}
	for _, name := range names {
		td := m.Topics[name]
		if td.Err != nil {
			errs = append(errs, fmt.Errorf("describe topic %q: %w", name, td.Err))
			continue
		}
		n, ok := minISR[name]
		if f.underMinISR && !ok {
			continue // its configs failed: reported above
		}
		for _, p := range td.Partitions.Sorted() {
			if f.match(p, live, n) {
				fmt.Fprintln(out, partitionLine(p, nil)+partitionErr(p))
			}
		}
	}
	return errors.Join(errs...)
}

// topicMinISR is the topic's min.insync.replicas (its override, else the
// broker's value) from a DescribeConfigs answer.
func topicMinISR(rcs kadm.ResourceConfigs, topic string) (int, error) {
	rc, err := rcs.On(topic, nil)
	if err == nil && rc.Err != nil {
		err = kafkaError("configs", rc.Err, rc.ErrMessage)
	}
	if err != nil {
		return 0, fmt.Errorf("min.insync.replicas of %q: %w", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key == "min.insync.replicas" {
			n, err := strconv.Atoi(c.MaybeValue())
			if err != nil {
				return 0, fmt.Errorf("min.insync.replicas of %q: %w", topic, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("min.insync.replicas of %q: not in the broker's answer", topic)
}

func newTopicDescribeCmd(cf *clientFlags) *cobra.Command {
	var excludeInternal bool
	cmd := &cobra.Command{
		Use:   "describe [NAME...]",
		Short: "Describe topics: partitions, leaders, replicas, ISR, offsets, sizes and config overrides",
		Long: `Describe the named topics, or with no name every topic, sorted by name.

As kafka-topics --describe, describing every topic includes the internal
ones (__consumer_offsets, __transaction_state) unless --exclude-internal.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, names []string) error {
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()

			all := len(names) == 0
			list := adm.ListTopicsWithInternal
			if all && excludeInternal {
				list = adm.ListTopics
			}
			tds, err := list(ctx, names...)
			if err != nil {
				return fmt.Errorf("describe topics: %w", err)
			}
			if all {
				names = tds.Names() // sorted
			}
			var known []string
			var errs []error
			for _, name := range names {
				td, ok := tds[name]
				switch {
				case !ok:
					errs = append(errs, fmt.Errorf("describe topic %q: %w", name, kerr.UnknownTopicOrPartition))
				case td.Err != nil:
					errs = append(errs, fmt.Errorf("describe topic %q: %w", name, td.Err))
				default:
					known = append(known, name)
				}
			}
			if len(known) == 0 {
				return errors.Join(errs...)
			}

			// Offsets and configs come from other brokers than metadata
			// (each partition's leader; any broker): a partial failure
			// is shown per partition rather than failing the command.
			starts, err := listOffsets(ctx, adm.ListStartOffsets, tds, known)
			if err != nil {
				return fmt.Errorf("list start offsets: %w", err)
			}
			ends, err := listOffsets(ctx, adm.ListEndOffsets, tds, known)
			if err != nil {
				return fmt.Errorf("list end offsets: %w", err)
			}
			rcs, err := adm.DescribeTopicConfigs(ctx, known...)
			if err != nil {
				return fmt.Errorf("describe topic configs: %w", err)
			}
			// Sizes need DESCRIBE on the cluster, which a user allowed
			// to describe topics may lack, and a broker may not serve
			// DescribeLogDirs: a failure is shown, not fatal, and
			// brokers that did answer still fill in their partitions.
			// Only leaders are asked, as only their sizes are shown: a
			// follower that is down or stalled does not hold this up.
			byLeader := map[int32]kadm.TopicsSet{}
			set := kadm.TopicsSet{}
			for _, name := range known {
				for p, pd := range tds[name].Partitions {
					set.Add(name, p)
					if pd.Leader >= 0 {
						ls := byLeader[pd.Leader]
						if ls == nil {
							ls = kadm.TopicsSet{}
							byLeader[pd.Leader] = ls
						}
						ls.Add(name, p)
					}
				}
			}
			sizes, sizesErr := leaderSizes(ctx, adm, byLeader)
			// Reassignments in progress come from the controller, which
			// a user may not be allowed to ask (ALTER on the cluster is
			// not needed, DESCRIBE is): shown, not fatal, as sizes.
			var moves kadm.ListPartitionReassignmentsResponses
			var movesErr error
			if len(set) > 0 { // an empty set would ask for every partition
				moves, movesErr = adm.ListPartitionReassignments(ctx, set)
			}

			out := cmd.OutOrStdout()
			for i, name := range known {
				if i > 0 {
					fmt.Fprintln(out)
				}
				rc, err := rcs.On(name, nil)
				if err == nil && rc.Err != nil {
					err = kafkaError("configs", rc.Err, rc.ErrMessage)
				}
				writeTopicDescription(out, tds[name], starts, ends, sizes, sizesErr, moves[name], movesErr, rc.Configs, err)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&excludeInternal, "exclude-internal", false, "with no NAME, leave out the internal topics (as kafka-topics --exclude-internal)")
	return cmd
}

// listOffsets lists offsets of topics with list, keeping the answers of
// the partitions whose leader did answer when others failed: a failed
// partition shows its error, and one without a leader (offline, which
// ListOffsets cannot reach) is left out, so its offsets show as "?".
func listOffsets(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error),
	tds kadm.TopicDetails, topics []string) (kadm.ListedOffsets, error) {
	l, err := list(ctx, topics...)
	var se *kadm.ShardErrors
	if !errors.As(err, &se) {
		return l, err
	}
	for _, e := range se.Errs {
		req, ok := e.Req.(*kmsg.ListOffsetsRequest)
		if !ok {
			return l, err
		}
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				if p, ok := tds[rt.Topic].Partitions[rp.Partition]; ok && p.Leader < 0 {
					continue
				}
				if l[rt.Topic] == nil {
					l[rt.Topic] = map[int32]kadm.ListedOffset{}
				}
				l[rt.Topic][rp.Partition] = kadm.ListedOffset{Topic: rt.Topic, Partition: rp.Partition, Err: e.Err}
			}
		}
	}
	return l, nil
}

// leaderSizes asks each leader for the sizes of the partitions it leads,
// all at once; the brokers that answered fill in their partitions and the
// failures are joined into one error.
func leaderSizes(ctx context.Context, adm *kadm.Client, byLeader map[int32]kadm.TopicsSet) (kadm.DescribedAllLogDirs, error) {
	type answer struct {
		broker int32
		dirs   kadm.DescribedLogDirs
		err    error
	}
	answers := make(chan answer, len(byLeader))
	for b, set := range byLeader {
		go func() {
			dirs, err := adm.DescribeBrokerLogDirs(ctx, b, set)
			answers <- answer{b, dirs, err}
		}()
	}
	sizes := kadm.DescribedAllLogDirs{}
	var errs []error
	for range byLeader {
		a := <-answers
		if a.err != nil {
			errs = append(errs, fmt.Errorf("broker %d: %w", a.broker, a.err))
			continue
		}
		sizes[a.broker] = a.dirs
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return sizes, errors.Join(errs...)
}

// writeTopicDescription prints one topic as kafka-topics --describe does,
// tab-separated, with the leader epoch, offsets and size added:
//
//	Topic: orders	TopicId: 3qVEzL0cQwi1f8P1pKxk3g	PartitionCount: 2	ReplicationFactor: 3	Configs: cleanup.policy=compact
//		Topic: orders	Partition: 0	Leader: 1	LeaderEpoch: 4	Replicas: 1,2,3	Isr: 1,2,3	LogStartOffset: 0	HighWatermark: 1200	Size: 81234
//		Topic: orders	Partition: 1	Leader: 2	LeaderEpoch: 5	Replicas: 3,2,1	Isr: 2,1	Offline: 3	UnderReplicated: true	LogStartOffset: 0	HighWatermark: 7	Size: 512
//
// The ID is printed as Kafka prints Uuids (URL-safe base64 without
// padding), so it matches kafka-topics output and broker logs. Size is the
// bytes of the leader's segments; when DescribeLogDirs fails, a "Sizes:
// error: ..." line follows the header and the sizes missing are "?".
// Partitions being reassigned show "Adding Replicas:" and "Removing
// Replicas:" after the ISR, as kafka-topics prints them (moves, from
// ListPartitionReassignments; when that fails, a "Reassignments: error:
// ..." line follows the header).
func writeTopicDescription(w io.Writer, td kadm.TopicDetail, starts, ends kadm.ListedOffsets,
	sizes kadm.DescribedAllLogDirs, sizesErr error, moves map[int32]kadm.ListPartitionReassignmentsResponse, movesErr error,
	configs []kadm.Config, configErr error) {
	// kafka-topics' replication factor is partition 0's, without the
	// replicas a reassignment is adding (TopicCommand.getReplicationFactor).
	rf := td.Partitions.NumReplicas()
	if p0, ok := td.Partitions[0]; ok {
		rf = replicationFactor(p0, reassignmentOf(moves, 0))
	}
	fmt.Fprintf(w, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: ",
		td.Topic, base64.RawURLEncoding.EncodeToString(td.ID[:]), len(td.Partitions), rf)
	if configErr != nil {
		fmt.Fprintf(w, "error: %v", configErr)
	} else {
		fmt.Fprint(w, topicOverrides(configs))
	}
	if td.IsInternal {
		fmt.Fprint(w, "\tInternal: true")
	}
	fmt.Fprintln(w)
	if sizesErr != nil {
		fmt.Fprintf(w, "Sizes: error: %v\n", sizesErr)
	}
	if movesErr != nil {
		fmt.Fprintf(w, "Reassignments: error: %v\n", movesErr)
	}
	for _, p := range td.Partitions.Sorted() {
		fmt.Fprintf(w, "%s\tLogStartOffset: %s\tHighWatermark: %s\tSize: %s%s\n",
			partitionLine(p, reassignmentOf(moves, p.Partition)), listedOffset(starts, td.Topic, p.Partition), listedOffset(ends, td.Topic, p.Partition),
			partitionSize(sizes, td.Topic, p.Partition, p.Leader), partitionErr(p))
	}
}

// partitionLine is a partition as kafka-topics --describe prints it
// (a tab, then tab-separated fields), with the leader epoch added, the
// offline replicas where there are any, and marks for a partition whose
// ISR is smaller than its replica set (UnderReplicated) and for one
// without a leader (OfflinePartition, Kafka's OfflinePartitionsCount).
// With move, the partition's reassignment in progress, the replicas being
// added and removed follow the ISR, and the replication factor that
// UnderReplicated compares the ISR with leaves out the ones being added,
// as in kafka-topics.
func partitionLine(p kadm.PartitionDetail, move *kadm.ListPartitionReassignmentsResponse) string {
	leader := "none"
	if p.Leader >= 0 {
		leader = strconv.Itoa(int(p.Leader))
	}
	s := fmt.Sprintf("\tTopic: %s\tPartition: %d\tLeader: %s\tLeaderEpoch: %d\tReplicas: %s\tIsr: %s",
		p.Topic, p.Partition, leader, p.LeaderEpoch, joinIDs(p.Replicas), joinIDs(p.ISR))
	if move != nil {
		s += "\tAdding Replicas: " + joinIDs(move.AddingReplicas) + "\tRemoving Replicas: " + joinIDs(move.RemovingReplicas)
	}
	if len(p.OfflineReplicas) > 0 {
		s += "\tOffline: " + joinIDs(p.OfflineReplicas)
	}
	if len(p.ISR) < replicationFactor(p, move) {
		s += "\tUnderReplicated: true"
	}
	if p.Leader < 0 {
		s += "\tOfflinePartition: true"
	}
	return s
}

// partitionErr is the error Metadata gave for the partition, as a last
// field, or "". A partition without a leader has LEADER_NOT_AVAILABLE,
// which OfflinePartition already says.
func partitionErr(p kadm.PartitionDetail) string {
	if p.Err == nil || p.Leader < 0 && errors.Is(p.Err, kerr.LeaderNotAvailable) {
		return ""
	}
	return "\tError: " + p.Err.Error()
}

// underReplicated is kafka-topics' test: fewer in-sync replicas than
// replicas.
func underReplicated(p kadm.PartitionDetail) bool { return len(p.ISR) < len(p.Replicas) }

// replicationFactor is kafka-topics' replication factor of a partition:
// its replicas, less those a reassignment in progress (move) is adding.
func replicationFactor(p kadm.PartitionDetail, move *kadm.ListPartitionReassignmentsResponse) int {
	if move == nil {
		return len(p.Replicas)
	}
	return len(p.Replicas) - len(move.AddingReplicas)
}

// reassignmentOf is partition's reassignment in progress in moves, or nil.
func reassignmentOf(moves map[int32]kadm.ListPartitionReassignmentsResponse, partition int32) *kadm.ListPartitionReassignmentsResponse {
	m, ok := moves[partition]
	if !ok || len(m.AddingReplicas) == 0 && len(m.RemovingReplicas) == 0 {
		return nil
	}
	return &m
}

// topicOverrides renders the configs set on the topic itself, sorted by key.
// Broker-level values and defaults are left out: they are not properties of
// the topic, and listing every default would hide the overrides. (kafka-topics
// lists every non-default value, broker-level ones too.) None is "", as
// kafka-topics prints it.
func topicOverrides(configs []kadm.Config) string {
	var kv []string
	for _, c := range configs {
		if c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			continue
		}
		v := c.MaybeValue()
		if c.Sensitive {
			v = "(sensitive)"
		}
		kv = append(kv, c.Key+"="+v)
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

func listedOffset(l kadm.ListedOffsets, topic string, partition int32) string {
	o, ok := l.Lookup(topic, partition)
	switch {
	case !ok:
		return "?"
	case o.Err != nil:
		return "error: " + o.Err.Error()
	default:
		return strconv.FormatInt(o.Offset, 10)
	}
}

// partitionSize is the size of the leader's replica, or "?" where the
// leader did not report it.
func partitionSize(sizes kadm.DescribedAllLogDirs, topic string, partition, leader int32) string {
	if d, ok := sizes[leader].LookupPartition(topic, partition); ok {
		return strconv.FormatInt(d.Size, 10)
	}
	return "?"
}

func joinIDs(ids []int32) string {
	if len(ids) == 0 {
		return "-"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

func newTopicDeleteCmd(cf *clientFlags) *cobra.Command {
	var ifExists bool
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete topics",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()

			resps, err := adm.DeleteTopics(ctx, names...)
			if err != nil {
				return fmt.Errorf("delete topics: %w", err)
			}
			out := cmd.OutOrStdout()
			var errs []error
			for _, name := range names {
				r, ok := resps[name]
				switch {
				case !ok:
					errs = append(errs, fmt.Errorf("delete topic %q: no response from the broker", name))
				case r.Err == nil:
					fmt.Fprintf(out, "Deleted topic %s.\n", name)
				case ifExists && errors.Is(r.Err, kerr.UnknownTopicOrPartition):
					// Nothing to say: the requested end state holds.
				default:
					errs = append(errs, kafkaError(fmt.Sprintf("delete topic %q", name), r.Err, r.ErrMessage))
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "succeed if a topic does not exist")
	return cmd
}

func newTopicAddPartitionsCmd(cf *clientFlags) *cobra.Command {
	var total int
	cmd := &cobra.Command{
		Use:   "add-partitions NAME",
		Short: "Grow a topic to a total number of partitions",
		Long: "Grow a topic to --total partitions. Partitions can only be added: keyed records\n" +
			"then hash to different partitions than before, so per-key order is only kept\n" +
			"for records produced after the change.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if total <= 0 {
				return fmt.Errorf("--total must be positive, got %d", total)
			}
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()

			// Setting the total (not a delta) makes a retried command
			// safe: a second run cannot grow the topic twice (Kafka
			// answers it with INVALID_PARTITIONS, for an unchanged count).
			resps, err := adm.UpdatePartitions(ctx, total, name)
			if err != nil {
				return fmt.Errorf("add partitions: %w", err)
			}
			r, err := resps.On(name, nil)
			if err != nil {
				return fmt.Errorf("add partitions to %q: %w", name, err)
			}
			if r.Err != nil {
				return kafkaError(fmt.Sprintf("add partitions to %q", name), r.Err, r.ErrMessage)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Topic %s now has %d partitions.\n", name, total)
			return nil
		},
	}
	cmd.Flags().IntVar(&total, "total", 0, "the partition count the topic should have (required)")
	_ = cmd.MarkFlagRequired("total")
	return cmd
}

func newTopicAlterConfigCmd(cf *clientFlags) *cobra.Command {
	var sets, deletes, appends, subtracts []string
	cmd := &cobra.Command{
		Use:   "alter-config NAME",
		Short: "Set, delete, append to or subtract from topic config overrides",
		Long: "Change a topic's config overrides with IncrementalAlterConfigs (KIP-339): only\n" +
			"the named keys change. --delete removes an override, so the key falls back to\n" +
			"the broker's value. --append and --subtract edit list configs such as\n" +
			"cleanup.policy.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			var alters []kadm.AlterConfig
			for _, op := range []struct {
				flag string
				op   kadm.IncrementalOp
				kvs  []string
			}{
				{"--set", kadm.SetConfig, sets},
				{"--append", kadm.AppendConfig, appends},
				{"--subtract", kadm.SubtractConfig, subtracts},
			} {
				for _, kv := range op.kvs {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return fmt.Errorf("%s %q: want key=value", op.flag, kv)
					}
					alters = append(alters, kadm.AlterConfig{Op: op.op, Name: k, Value: &v})
				}
			}
			for _, k := range deletes {
				if k == "" || strings.Contains(k, "=") {
					return fmt.Errorf("--delete %q: want a config key", k)
				}
				alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
			if len(alters) == 0 {
				return errors.New("nothing to change: give --set, --delete, --append or --subtract")
			}

			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()

			resps, err := adm.AlterTopicConfigs(ctx, alters, name)
			if err != nil {
				return fmt.Errorf("alter configs: %w", err)
			}
			r, err := resps.On(name, nil)
			if err != nil {
				return fmt.Errorf("alter configs of %q: %w", name, err)
			}
			if r.Err != nil {
				return kafkaError(fmt.Sprintf("alter configs of %q", name), r.Err, r.ErrMessage)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Altered configs of topic %s.\n", name)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&sets, "set", nil, "set key=value (repeatable)")
	fs.StringArrayVar(&deletes, "delete", nil, "remove the override of key (repeatable)")
	fs.StringArrayVar(&appends, "append", nil, "append value to list config key=value (repeatable)")
	fs.StringArrayVar(&subtracts, "subtract", nil, "remove value from list config key=value (repeatable)")
	return cmd
}

// parseConfigFlags turns repeated key=value flags into the map kadm takes,
// rejecting a key given twice rather than silently keeping one of them.
func parseConfigFlags(flag string, kvs []string) (map[string]*string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]*string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", flag, kv)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%s: key %q given twice", flag, k)
		}
		m[k] = &v
	}
	return m, nil
}
