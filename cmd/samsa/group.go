package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newGroupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "List, describe and delete consumer groups; reset and delete their offsets",
	}
	cf := addClientFlags(cmd.PersistentFlags(), "deadline for the whole command")
	cmd.AddCommand(
		newGroupListCmd(cf),
		newGroupDescribeCmd(cf),
		newGroupDeleteCmd(cf),
		newGroupResetOffsetsCmd(cf),
		newGroupDeleteOffsetsCmd(cf),
	)
	return cmd
}

// groupStates are the classic group protocol's states, as the broker names
// them; --state takes them in any case, as kafka-consumer-groups does.
var groupStates = []string{"PreparingRebalance", "CompletingRebalance", "Stable", "Empty", "Dead"}

func newGroupListCmd(cf *clientFlags) *cobra.Command {
	var states []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List groups: id, state and protocol type, sorted by id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The broker filters (ListGroups v4+, KIP-518); names are
			// canonicalised because Kafka compares them exactly.
			var filter []string
			for _, s := range states {
				i := slices.IndexFunc(groupStates, func(g string) bool { return strings.EqualFold(g, s) })
				if i < 0 {
					return fmt.Errorf("--state %q: want one of %s", s, strings.Join(groupStates, ", "))
				}
				filter = append(filter, groupStates[i])
			}
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()

			groups, err := adm.ListGroups(ctx, filter...)
			if err != nil {
				// A partial answer (one broker failed) is still
				// an error: a missing group would look deleted.
				return fmt.Errorf("list groups: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL-TYPE")
			for _, g := range groups.Sorted() {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Group, orDash(g.State), orDash(g.ProtocolType))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil,
		"only groups in this state (repeatable or comma-separated): "+strings.Join(groupStates, ", "))
	return cmd
}

func newGroupDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe GROUP...",
		Short: "Describe groups: state, members and their assignments, committed offsets and lag",
		Long: "Describe groups as kafka-consumer-groups --describe does: the group's state and\n" +
			"protocol, each member with its assigned partitions, and for every partition of\n" +
			"every topic the group has committed offsets for or is assigned, the committed\n" +
			"offset, the log end offset (high watermark), the lag between them and the member\n" +
			"that owns the partition. \"-\" marks a partition without a commit or an owner.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, groups []string) error {
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()

			// A partial answer (some coordinators failed) still
			// describes the groups of the others.
			described, descErr := adm.DescribeGroups(ctx, groups...)
			if descErr != nil && described == nil {
				return fmt.Errorf("describe groups: %w", descErr)
			}
			out := cmd.OutOrStdout()
			var errs []error
			printed := 0
			for _, name := range groups {
				g, ok := described[name]
				switch {
				case !ok && descErr != nil:
					errs = append(errs, fmt.Errorf("describe group %q: %w", name, descErr))
					continue
				case !ok:
					errs = append(errs, fmt.Errorf("describe group %q: no response from the broker", name))
					continue
				case g.Err != nil:
					errs = append(errs, kafkaError(fmt.Sprintf("describe group %q", name), g.Err, g.ErrMessage))
					continue
				}
				offsets, err := describeOffsets(ctx, adm, &g)
				if err != nil {
					errs = append(errs, fmt.Errorf("describe group %q: %w", name, err))
					continue
				}
				// Before DescribeGroups v6 Kafka answers an unknown
				// group as Dead without an error; a Dead group with
				// nothing committed is one that does not exist.
				if g.State == "Dead" && len(g.Members) == 0 && len(offsets) == 0 {
					errs = append(errs, fmt.Errorf("describe group %q: %w", name, kerr.GroupIDNotFound))
					continue
				}
				if printed > 0 {
					fmt.Fprintln(out)
				}
				printed++
				writeGroupDescription(out, &g, offsets)
			}
			return errors.Join(errs...)
		},
	}
}

// partitionLag is one row of a group's offsets table.
type partitionLag struct {
	topic     string
	partition int32
	committed int64 // -1: no commit
	end       string
	lag       string
	owner     string // member id, or "" when no member is assigned it
}

// describeOffsets returns a row for every partition of every topic the
// group has a commit for or a member is assigned, sorted by topic and
// partition.
func describeOffsets(ctx context.Context, adm *kadm.Client, g *kadm.DescribedGroup) ([]partitionLag, error) {
	committed, err := fetchCommitted(ctx, adm, g.Group)
	if err != nil {
		return nil, err
	}
	owners := make(map[string]map[int32]string)
	topics := make(map[string]bool)
	for _, m := range g.Members {
		a, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, t := range a.Topics {
			topics[t.Topic] = true
			if owners[t.Topic] == nil {
				owners[t.Topic] = make(map[int32]string)
			}
			for _, p := range t.Partitions {
				owners[t.Topic][p] = m.MemberID
			}
		}
	}
	for t, ps := range committed {
		for _, c := range ps {
			if c.Err == nil && c.At >= 0 {
				topics[t] = true
			}
		}
	}
	if len(topics) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	slices.Sort(names)
	// The end offsets list every partition of each topic (from metadata),
	// so partitions nobody committed to still get a row.
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil && ends == nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}

	seen := make(map[string]map[int32]bool)
	add := func(t string, p int32) {
		if seen[t] == nil {
			seen[t] = make(map[int32]bool)
		}
		seen[t][p] = true
	}
	for _, t := range names {
		for p := range ends[t] {
			if p >= 0 { // -1 carries a topic-level error
				add(t, p)
			}
		}
		for p := range owners[t] {
			add(t, p)
		}
		for p, c := range committed[t] {
			if c.Err == nil && c.At >= 0 {
				add(t, p)
			}
		}
	}

	var rows []partitionLag
	for _, t := range names {
		ps := make([]int32, 0, len(seen[t]))
		for p := range seen[t] {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		for _, p := range ps {
			r := partitionLag{topic: t, partition: p, committed: -1, end: "-", lag: "-", owner: owners[t][p]}
			if c, ok := committed.Lookup(t, p); ok && c.Err == nil && c.At >= 0 {
				r.committed = c.At
			}
			switch e, ok := ends.Lookup(t, p); {
			case ok && e.Err == nil:
				r.end = strconv.FormatInt(e.Offset, 10)
				if r.committed >= 0 {
					r.lag = strconv.FormatInt(e.Offset-r.committed, 10)
				}
			case ok:
				r.end = "error: " + e.Err.Error()
			default:
				if e, ok := ends.Lookup(t, -1); ok && e.Err != nil {
					r.end = "error: " + e.Err.Error()
				}
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// writeGroupDescription prints one group:
//
//	Group: orders-app  State: Stable  ProtocolType: consumer  Protocol: range  Members: 2
//
//	MEMBER-ID     INSTANCE-ID  CLIENT-ID  HOST        ASSIGNMENT
//	app-1a2b...   -            app        /10.0.0.7   orders:0,1
//
//	TOPIC   PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  MEMBER-ID
//	orders  0          40              52              12   app-1a2b...
//
// A table is left out when it would be empty.
func writeGroupDescription(w io.Writer, g *kadm.DescribedGroup, rows []partitionLag) {
	fmt.Fprintf(w, "Group: %s  State: %s  ProtocolType: %s  Protocol: %s  Members: %d\n",
		g.Group, orDash(g.State), orDash(g.ProtocolType), orDash(g.Protocol), len(g.Members))
	if len(g.Members) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER-ID\tINSTANCE-ID\tCLIENT-ID\tHOST\tASSIGNMENT")
		for _, m := range g.Members {
			instance := "-"
			if m.InstanceID != nil {
				instance = *m.InstanceID
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, instance, orDash(m.ClientID), orDash(m.ClientHost), assignment(m))
		}
		tw.Flush()
	}
	if len(rows) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER-ID")
		for _, r := range rows {
			cur := "-"
			if r.committed >= 0 {
				cur = strconv.FormatInt(r.committed, 10)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.topic, r.partition, cur, r.end, r.lag, orDash(r.owner))
		}
		tw.Flush()
	}
}

// assignment renders a member's assigned partitions decoded from the
// consumer protocol (kmsg.ConsumerMemberAssignment), as
// "orders:0,1 payments:3", topics sorted. Members of groups of another
// protocol type (Kafka Connect, a custom one) show the size of the opaque
// assignment.
func assignment(m kadm.DescribedGroupMember) string {
	a, ok := m.Assigned.AsConsumer()
	if !ok {
		if raw, ok := m.Assigned.Raw(); ok && len(raw) > 0 {
			return fmt.Sprintf("(%d bytes, not the consumer protocol)", len(raw))
		}
		return "-"
	}
	var parts []string
	topics := slices.Clone(a.Topics)
	slices.SortFunc(topics, func(x, y kmsg.ConsumerMemberAssignmentTopic) int { return strings.Compare(x.Topic, y.Topic) })
	for _, t := range topics {
		ps := slices.Clone(t.Partitions)
		slices.Sort(ps)
		ids := make([]string, len(ps))
		for i, p := range ps {
			ids[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, t.Topic+":"+strings.Join(ids, ","))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func newGroupDeleteCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete groups and their committed offsets",
		Long: "Delete groups with their committed offsets. Kafka refuses to delete a group that\n" +
			"has members (NON_EMPTY_GROUP): stop its consumers first.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, groups []string) error {
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()

			resps, err := adm.DeleteGroups(ctx, groups...)
			if err != nil && resps == nil {
				return fmt.Errorf("delete groups: %w", err)
			}
			out := cmd.OutOrStdout()
			var errs []error
			for _, name := range groups {
				r, ok := resps[name]
				switch {
				case !ok && err != nil:
					errs = append(errs, fmt.Errorf("delete group %q: %w", name, err))
				case !ok:
					errs = append(errs, fmt.Errorf("delete group %q: no response from the broker", name))
				case r.Err == nil:
					fmt.Fprintf(out, "Deleted group %s.\n", name)
				default:
					errs = append(errs, kafkaError(fmt.Sprintf("delete group %q", name), r.Err, r.ErrMessage))
				}
			}
			return errors.Join(errs...)
		},
	}
}

// topicSpec is what one --topic flag names: a topic and either some of
// its partitions or (nil) all of them.
type topicSpec struct {
	topic      string
	partitions []int32
}

// parseTopicSpecs parses --topic T and --topic T:P,P,... flags; a topic
// given twice has the union of its partitions, and "all" wins.
func parseTopicSpecs(flags []string) ([]topicSpec, error) {
	var specs []topicSpec
	index := make(map[string]int)
	for _, f := range flags {
		// Kafka topic names cannot hold ':'.
		topic, list, hasList := strings.Cut(f, ":")
		if topic == "" || (hasList && list == "") {
			return nil, fmt.Errorf("--topic %q: want TOPIC or TOPIC:PARTITION[,PARTITION]", f)
		}
		var ps []int32
		if hasList {
			for _, s := range strings.Split(list, ",") {
				p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
				if err != nil || p < 0 {
					return nil, fmt.Errorf("--topic %q: partition %q is not a partition number", f, s)
				}
				ps = append(ps, int32(p))
			}
		}
		i, ok := index[topic]
		if !ok {
			index[topic] = len(specs)
			specs = append(specs, topicSpec{topic: topic, partitions: ps})
			continue
		}
		if specs[i].partitions == nil || ps == nil {
			specs[i].partitions = nil
		} else {
			specs[i].partitions = append(specs[i].partitions, ps...)
		}
	}
	for i := range specs {
		slices.Sort(specs[i].partitions)
		specs[i].partitions = slices.Compact(specs[i].partitions)
	}
	return specs, nil
}

// resetTarget is where --to-* and --shift-by move each partition.
type resetTarget struct {
	kind   string // "earliest", "latest", "offset", "datetime", "shift"
	offset int64  // --to-offset, or --shift-by's delta
	millis int64  // --to-datetime
}

type resetOptions struct {
	topics    []string
	allTopics bool
	earliest  bool
	latest    bool
	toOffset  int64
	datetime  string
	shiftBy   int64
	dryRun    bool
	execute   bool
}

func newGroupResetOffsetsCmd(cf *clientFlags) *cobra.Command {
	o := &resetOptions{}
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP (--topic T[:P,...]... | --all-topics) (--to-earliest | --to-latest | --to-offset N | --to-datetime T | --shift-by N)",
		Short: "Move a group's committed offsets (dry run unless --execute)",
		Long: "Compute new committed offsets for a group and print the plan: topic, partition,\n" +
			"current committed offset (\"-\" for none) and the new offset. Nothing is\n" +
			"committed unless --execute is given. New offsets are clamped to each\n" +
			"partition's [log start, log end]; --to-datetime picks the first record at or\n" +
			"after the time (the log end when there is none). --all-topics takes every\n" +
			"partition the group has a committed offset for.\n\n" +
			"As in Kafka, offsets can only be reset while the group has no members (state\n" +
			"Empty, or Dead for a group that does not exist yet): a member would overwrite\n" +
			"the reset with its next commit. Stop the group's consumers first.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, cf, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&o.topics, "topic", nil, "reset this topic, or only the listed partitions with T:P,P (repeatable)")
	fs.BoolVar(&o.allTopics, "all-topics", false, "reset every partition the group has committed offsets for")
	fs.BoolVar(&o.earliest, "to-earliest", false, "move to each partition's log start offset")
	fs.BoolVar(&o.latest, "to-latest", false, "move to each partition's log end offset")
	fs.Int64Var(&o.toOffset, "to-offset", 0, "move to offset N")
	fs.StringVar(&o.datetime, "to-datetime", "", "move to the first record at or after T (RFC3339 or ms since the epoch)")
	fs.Int64Var(&o.shiftBy, "shift-by", 0, "move the committed offset by N (negative: back)")
	fs.BoolVar(&o.dryRun, "dry-run", true, "only print the plan (the default)")
	fs.BoolVar(&o.execute, "execute", false, "commit the new offsets")
	cmd.MarkFlagsMutuallyExclusive("topic", "all-topics")
	cmd.MarkFlagsOneRequired("topic", "all-topics")
	cmd.MarkFlagsMutuallyExclusive("to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by")
	cmd.MarkFlagsOneRequired("to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by")
	cmd.MarkFlagsMutuallyExclusive("dry-run", "execute")
	return cmd
}

// resetRow is one partition of a reset plan.
type resetRow struct {
	topic     string
	partition int32
	current   int64 // -1: no commit
	newOffset int64
}

func (o *resetOptions) target(cmd *cobra.Command) (resetTarget, error) {
	f := cmd.Flags()
	switch {
	case o.earliest:
		return resetTarget{kind: "earliest"}, nil
	case o.latest:
		return resetTarget{kind: "latest"}, nil
	case f.Changed("to-offset"):
		if o.toOffset < 0 {
			return resetTarget{}, fmt.Errorf("--to-offset must not be negative, got %d", o.toOffset)
		}
		return resetTarget{kind: "offset", offset: o.toOffset}, nil
	case f.Changed("to-datetime"):
		ms, err := parseTimestamp(o.datetime)
		if err != nil {
			return resetTarget{}, fmt.Errorf("--to-datetime %q: want RFC3339 (2006-01-02T15:04:05Z) or milliseconds since the epoch", o.datetime)
		}
		return resetTarget{kind: "datetime", millis: ms}, nil
	default:
		return resetTarget{kind: "shift", offset: o.shiftBy}, nil
	}
}

func (o *resetOptions) run(cmd *cobra.Command, cf *clientFlags, group string) error {
	target, err := o.target(cmd)
	if err != nil {
		return err
	}
	specs, err := parseTopicSpecs(o.topics)
	if err != nil {
		return err
	}
	adm, ctx, done, err := cf.admin(cmd)
	if err != nil {
		return err
	}
	defer done()

	if err := requireInactive(ctx, adm, group, "reset offsets of"); err != nil {
		return err
	}
	committed, err := fetchCommitted(ctx, adm, group)
	if err != nil {
		return fmt.Errorf("reset offsets of group %q: %w", group, err)
	}
	if o.allTopics {
		specs = committedSpecs(committed)
		if len(specs) == 0 {
			return fmt.Errorf("reset offsets of group %q: the group has no committed offsets (--all-topics resets those); name topics with --topic", group)
		}
	}
	plan, err := resetPlan(ctx, adm, specs, committed, target)
	if err != nil {
		return fmt.Errorf("reset offsets of group %q: %w", group, err)
	}

	out := cmd.OutOrStdout()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET")
	for _, r := range plan {
		cur := "-"
		if r.current >= 0 {
			cur = strconv.FormatInt(r.current, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", r.topic, r.partition, cur, r.newOffset)
	}
	tw.Flush()
	if !o.execute {
		fmt.Fprintln(out, "Dry run: nothing committed; run with --execute to commit these offsets.")
		return nil
	}

	// The state check above and these commits are separate requests; a
	// member joining between them makes the coordinator refuse the commit
	// (a commit without a generation is only accepted by an Empty group).
	bar := newProgressBar(cmd.ErrOrStderr(), isTerminal(cmd.ErrOrStderr()), "commit", int64(len(plan)))
	err = commitPlan(ctx, func(ctx context.Context, os kadm.Offsets) (kadm.OffsetResponses, error) {
		return adm.CommitOffsets(ctx, group, os)
	}, plan, bar)
	bar.Done()
	if err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", group, err)
	}
	fmt.Fprintf(out, "Committed new offsets of group %s.\n", group)
	return nil
}

// resetCommitChunk bounds the partitions one OffsetCommit of a reset
// carries (about 70 KB of request): a group over tens of thousands of
// partitions would otherwise send one request above what brokers accept
// for anything but Produce, and the progress bar moves as chunks land.
// Kafka's own tool sends one request; an OffsetCommit is not atomic
// across partitions anyway (each has its own error code), so chunks
// change no outcome.
const resetCommitChunk = 2000

// commitPlan commits the plan's offsets resetCommitChunk partitions at a
// time, in plan order, showing progress on bar. Every partition's error
// is reported; a failed request stops the commit.
func commitPlan(ctx context.Context, commit func(context.Context, kadm.Offsets) (kadm.OffsetResponses, error), plan []resetRow, bar *progressBar) error {
	var errs []error
	for start := 0; start < len(plan); start += resetCommitChunk {
		chunk := plan[start:min(start+resetCommitChunk, len(plan))]
		offsets := make(kadm.Offsets)
		for _, r := range chunk {
			offsets.Add(kadm.Offset{Topic: r.topic, Partition: r.partition, At: r.newOffset, LeaderEpoch: -1})
		}
		resps, err := commit(ctx, offsets)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		for _, r := range resps.Sorted() {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %w", r.Topic, r.Partition, r.Err))
			}
		}
		bar.Set(int64(start+len(chunk)), "partitions")
	}
	return errors.Join(errs...)
}

// requireInactive refuses unless the group has no members: Empty, or Dead
// (Kafka's answer for a group that does not exist). Kafka's tool refuses
// the same way, dry run included, since a plan for an active group would
// be wrong by the time it was executed.
func requireInactive(ctx context.Context, adm *kadm.Client, group, what string) error {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil && described == nil {
		return fmt.Errorf("describe group %q: %w", group, err)
	}
	g, ok := described[group]
	switch {
	case !ok && err != nil:
		return fmt.Errorf("describe group %q: %w", group, err)
	case !ok:
		return fmt.Errorf("describe group %q: no response from the broker", group)
	case errors.Is(g.Err, kerr.GroupIDNotFound):
		return nil // DescribeGroups v6+: the group does not exist
	case g.Err != nil:
		return kafkaError(fmt.Sprintf("describe group %q", group), g.Err, g.ErrMessage)
	case g.State == "Empty" || g.State == "Dead":
		return nil
	}
	return fmt.Errorf("cannot %s group %q: it is %s with %d member(s); offsets can only be changed while the group is inactive (Empty): stop its consumers first",
		what, group, g.State, len(g.Members))
}

// fetchCommitted returns the group's committed offsets. A group that does
// not exist has none; brokers answer it either with no offsets or with
// GROUP_ID_NOT_FOUND.
func fetchCommitted(ctx context.Context, adm *kadm.Client, group string) (kadm.OffsetResponses, error) {
	committed, err := adm.FetchOffsets(ctx, group)
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		return kadm.OffsetResponses{}, nil
	case err != nil:
		return nil, fmt.Errorf("fetch committed offsets: %w", err)
	}
	return committed, nil
}

// committedSpecs names every partition with a committed offset.
func committedSpecs(committed kadm.OffsetResponses) []topicSpec {
	var specs []topicSpec
	for _, t := range committed.Partitions().Sorted() {
		var ps []int32
		for _, p := range t.Partitions {
			if c, _ := committed.Lookup(t.Topic, p); c.Err == nil && c.At >= 0 {
				ps = append(ps, p)
			}
		}
		if len(ps) > 0 {
			slices.Sort(ps)
			specs = append(specs, topicSpec{topic: t.Topic, partitions: ps})
		}
	}
	return specs
}

// resetPlan computes the new offset of every partition the specs name,
// sorted by topic and partition.
func resetPlan(ctx context.Context, adm *kadm.Client, specs []topicSpec, committed kadm.OffsetResponses, target resetTarget) ([]resetRow, error) {
	topics := make([]string, len(specs))
	for i, s := range specs {
		topics[i] = s.topic
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil && starts == nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil && ends == nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	var byTime kadm.ListedOffsets
	if target.kind == "datetime" {
		// kadm answers the end offset for a partition with no record
		// at or after the time, as Kafka's tool resets to the end.
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, target.millis, topics...); err != nil && byTime == nil {
			return nil, fmt.Errorf("list offsets by time: %w", err)
		}
	}

	lookup := func(l kadm.ListedOffsets, what, t string, p int32) (int64, error) {
		o, ok := l.Lookup(t, p)
		switch {
		case !ok:
			return 0, fmt.Errorf("%s of %s[%d]: not listed", what, t, p)
		case o.Err != nil:
			return 0, fmt.Errorf("%s of %s[%d]: %w", what, t, p, o.Err)
		}
		return o.Offset, nil
	}
	var plan []resetRow
	for _, s := range specs {
		if e, ok := ends.Lookup(s.topic, -1); ok && e.Err != nil {
			return nil, fmt.Errorf("topic %q: %w", s.topic, e.Err)
		}
		all := make([]int32, 0, len(ends[s.topic]))
		for p := range ends[s.topic] {
			all = append(all, p)
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("topic %q: %w", s.topic, kerr.UnknownTopicOrPartition)
		}
		slices.Sort(all)
		ps := s.partitions
		if ps == nil {
			ps = all
		}
		for _, p := range ps {
			if !slices.Contains(all, p) {
				return nil, fmt.Errorf("topic %q has no partition %d (it has %d)", s.topic, p, len(all))
			}
			start, err := lookup(starts, "log start offset", s.topic, p)
			if err != nil {
				return nil, err
			}
			end, err := lookup(ends, "log end offset", s.topic, p)
			if err != nil {
				return nil, err
			}
			current := int64(-1)
			if c, ok := committed.Lookup(s.topic, p); ok && c.Err == nil && c.At >= 0 {
				current = c.At
			}
			var want int64
			switch target.kind {
			case "earliest":
				want = start
			case "latest":
				want = end
			case "offset":
				want = target.offset
			case "datetime":
				if want, err = lookup(byTime, "offset by time", s.topic, p); err != nil {
					return nil, err
				}
			case "shift":
				if current < 0 {
					return nil, fmt.Errorf("cannot shift %s[%d]: the group has no committed offset for it", s.topic, p)
				}
				want = current + target.offset
			}
			plan = append(plan, resetRow{topic: s.topic, partition: p, current: current, newOffset: min(max(want, start), end)})
		}
	}
	slices.SortFunc(plan, func(a, b resetRow) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	return plan, nil
}

func newGroupDeleteOffsetsCmd(cf *clientFlags) *cobra.Command {
	var topicFlags []string
	cmd := &cobra.Command{
		Use:   "delete-offsets GROUP --topic T[:P,...]...",
		Short: "Delete a group's committed offsets for topics or partitions",
		Long: "Delete committed offsets of a group (OffsetDelete, KIP-496). A topic without a\n" +
			"partition list means all its partitions. Kafka refuses for a topic that members\n" +
			"of the group are subscribed to (GROUP_SUBSCRIBED_TO_TOPIC).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			group := args[0]
			specs, err := parseTopicSpecs(topicFlags)
			if err != nil {
				return err
			}
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()

			set := make(kadm.TopicsSet)
			var whole []string
			for _, s := range specs {
				if s.partitions != nil {
					// Explicit partitions are sent as given: offsets
					// of a deleted topic can still be removed.
					set.Add(s.topic, s.partitions...)
				} else {
					whole = append(whole, s.topic)
				}
			}
			if len(whole) > 0 {
				tds, err := adm.ListTopics(ctx, whole...)
				if err != nil {
					return fmt.Errorf("metadata: %w", err)
				}
				for _, t := range whole {
					td, ok := tds[t]
					if !ok {
						td.Err = kerr.UnknownTopicOrPartition
					}
					if td.Err != nil {
						return fmt.Errorf("topic %q: %w", t, td.Err)
					}
					set.Add(t, td.Partitions.Numbers()...)
				}
			}
			resps, err := adm.DeleteOffsets(ctx, group, set)
			if err != nil {
				return fmt.Errorf("delete offsets of group %q: %w", group, err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TOPIC\tPARTITION\tSTATUS")
			var errs []error
			for _, tp := range set.Sorted() {
				for _, p := range tp.Partitions {
					status := "deleted"
					err, ok := resps.Lookup(tp.Topic, p)
					if !ok {
						err = errors.New("no response from the broker")
					}
					if err != nil {
						status = "error: " + err.Error()
						errs = append(errs, fmt.Errorf("delete offset of group %q for %s[%d]: %w", group, tp.Topic, p, err))
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\n", tp.Topic, p, status)
				}
			}
			tw.Flush()
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringArrayVar(&topicFlags, "topic", nil, "delete offsets of this topic, or only of the listed partitions with T:P,P (repeatable)")
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
