package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type consumeOptions struct {
	client        *clientFlags
	fromBeginning bool
	offset        int64
	timestamp     string
	partitions    []int32
	format        string
	maxMessages   int
	exit          bool
	group         string
	isolation     string
}

func newConsumeCmd() *cobra.Command {
	o := &consumeOptions{}
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records of a topic",
		Long: "Print records of a topic, by default only records produced from now on (as\n" +
			"kafka-console-consumer). Runs until interrupted, --max-messages are printed, or\n" +
			"with --exit until every partition is read up to its end at start.\n\n" +
			"Without --group the command reads the chosen partitions directly, from offsets\n" +
			"it resolves before consuming; partitions added later are not read. With\n" +
			"--group it joins the consumer group and commits the offsets of printed records;\n" +
			"the start flags then apply only to partitions without a committed offset.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args[0])
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.fromBeginning, "from-beginning", false, "start at each partition's log start offset")
	fs.Int64Var(&o.offset, "offset", 0, "start at this offset in every partition; negative: that many records before the end")
	fs.StringVar(&o.timestamp, "timestamp", "", "start at the first record at or after T (ms since epoch, or RFC3339)")
	cmd.MarkFlagsMutuallyExclusive("from-beginning", "offset", "timestamp")
	fs.Int32SliceVar(&o.partitions, "partition", nil, "read only this partition (repeatable; default: all)")
	fs.StringVar(&o.format, "format", `%v\n`, formatHelp)
	fs.IntVar(&o.maxMessages, "max-messages", 0, "exit after printing N records (0: no limit)")
	fs.BoolVar(&o.exit, "exit", false,
		"exit once every partition is read up to its end offset at start (high watermark, or last stable offset with read_committed)")
	fs.StringVar(&o.group, "group", "", "consume as a member of consumer group G, committing printed records")
	cmd.MarkFlagsMutuallyExclusive("group", "partition")
	cmd.MarkFlagsMutuallyExclusive("group", "offset")
	fs.StringVar(&o.isolation, "isolation", "read_uncommitted",
		"read_committed hides records of open and aborted transactions; read_uncommitted shows all")
	o.client = addClientFlags(fs,
		"deadline for resolving the topic and its offsets before consuming; while consuming, fail if no broker answers for this long")
	return cmd
}

// startMode is where reading starts, before it is resolved per partition.
type startMode int

const (
	startLatest startMode = iota
	startBeginning
	startOffset
	startTimestamp
)

func (o *consumeOptions) run(cmd *cobra.Command, topic string) error {
	format, err := parseFormat(o.format)
	if err != nil {
		return err
	}
	if o.maxMessages < 0 {
		return fmt.Errorf("--max-messages must not be negative, got %d", o.maxMessages)
	}
	readCommitted := false
	switch o.isolation {
	case "read_committed":
		readCommitted = true
	case "read_uncommitted":
	default:
		return fmt.Errorf("--isolation %q: want read_committed or read_uncommitted", o.isolation)
	}
	mode, millis := startLatest, int64(0)
	switch f := cmd.Flags(); {
	case o.fromBeginning:
		mode = startBeginning
	case f.Changed("offset"):
		mode = startOffset
	case f.Changed("timestamp"):
		mode = startTimestamp
		if millis, err = parseTimestamp(o.timestamp); err != nil {
			return err
		}
	}

	plan, err := o.resolve(cmd, topic, mode, millis, readCommitted)
	if err != nil {
		return err
	}
	if o.exit && len(plan.open) == 0 {
		return nil // every partition is empty from where we would start
	}

	watch := newAnswerWatch()
	opts := []kgo.Opt{
		// Control records (transaction markers) are never printed, but
		// seeing them is how --exit knows a partition whose last entry
		// is a marker has been read to its end.
		kgo.KeepControlRecords(),
		kgo.WithHooks(watch),
		// An idle partition's fetch is answered after fetch.max.wait:
		// well within --timeout, so that silence means a dead broker.
		kgo.FetchMaxWait(min(5*time.Second, o.client.timeout/3)),
	}
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if o.group != "" {
		opts = append(opts,
			kgo.ConsumerGroup(o.group),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(plan.reset),
			// Commit only what was printed: with autocommit of all
			// polled records, stopping at --max-messages (or an
			// interrupt) would commit records nobody saw.
			kgo.AutoCommitMarks(),
		)
	} else {
		offsets := make(map[int32]kgo.Offset, len(plan.start))
		for p, off := range plan.start {
			if _, open := plan.open[p]; o.exit && !open {
				continue // nothing to read before its end
			}
			offsets[p] = kgo.NewOffset().At(off)
		}
		opts = append(opts,
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
			kgo.ConsumeResetOffset(plan.reset),
		)
	}
	cl, err := o.client.newClient(cmd, opts...)
	if err != nil {
		return err
	}
	ctx, stop := watch.guard(cmd.Context(), o.client.timeout)
	defer stop()
	printed, err := o.consume(ctx, cl, format, plan, bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10))
	var silent noAnswerError
	if errors.As(context.Cause(ctx), &silent) {
		// No broker answers: leaving the group would only wait for
		// another timeout.
		closeClient(cl, 0)
		return fmt.Errorf("%w; %d records printed", silent, printed)
	}
	// Closing leaves the group, committing marked records.
	closeClient(cl, o.client.timeout)
	return err
}

// consumePlan is what resolve decided before consuming.
type consumePlan struct {
	start map[int32]int64 // per partition; direct consumption only
	// reset is Kafka's auto.offset.reset: where a group member without a
	// commit starts, and where any consumer goes on OFFSET_OUT_OF_RANGE
	// (retention removed its position, or the log was truncated under
	// it).
	reset kgo.Offset
	// open holds, with --exit, each partition not yet read to its end,
	// with that end: the high watermark (read_committed: the last stable
	// offset) listed before consuming.
	open map[int32]int64
}

func (o *consumeOptions) resolve(cmd *cobra.Command, topic string, mode startMode, millis int64, readCommitted bool) (consumePlan, error) {
	var plan consumePlan
	switch mode {
	case startBeginning, startOffset:
		// An explicit offset asks for old records: losing the position
		// to retention should not skip the rest of them.
		plan.reset = kgo.NewOffset().AtStart()
	case startTimestamp:
		plan.reset = kgo.NewOffset().AfterMilli(millis)
	case startLatest:
		plan.reset = kgo.NewOffset().AtEnd()
	}
	adm, ctx, done, err := o.client.admin(cmd)
	if err != nil {
		return plan, err
	}
	defer done()

	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return plan, fmt.Errorf("metadata: %w", err)
	}
	td, ok := tds[topic]
	if !ok {
		td.Err = kerr.UnknownTopicOrPartition
	}
	if td.Err != nil {
		return plan, fmt.Errorf("topic %q: %w", topic, td.Err)
	}
	if o.group != "" && !o.exit {
		return plan, nil // the group's commits decide where to start
	}
	parts := o.partitions
	if len(parts) == 0 {
		parts = td.Partitions.Numbers()
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	for _, p := range parts {
		if _, ok := td.Partitions[p]; !ok {
			return plan, fmt.Errorf("topic %q has no partition %d (it has %d)", topic, p, len(td.Partitions))
		}
	}

	logStarts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return plan, fmt.Errorf("list start offsets: %w", err)
	}
	list := adm.ListEndOffsets
	if readCommitted {
		list = adm.ListCommittedOffsets // the last stable offset
	}
	ends, err := list(ctx, topic)
	if err != nil {
		return plan, fmt.Errorf("list end offsets: %w", err)
	}
	var byTime kadm.ListedOffsets
	if mode == startTimestamp {
		// kadm answers the end offset for a partition with nothing at or
		// after the timestamp, so such a partition starts at its end.
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, millis, topic); err != nil {
			return plan, fmt.Errorf("list offsets by time: %w", err)
		}
	}
	var committed kadm.OffsetResponses
	if o.group != "" {
		if committed, err = adm.FetchOffsets(ctx, o.group); err != nil {
			return plan, fmt.Errorf("fetch committed offsets of group %q: %w", o.group, err)
		}
	}

	lookup := func(l kadm.ListedOffsets, p int32) (int64, error) {
		lo, ok := l.Lookup(topic, p)
		if !ok {
			return 0, fmt.Errorf("partition %d: no offset listed", p)
		}
		if lo.Err != nil {
			return 0, fmt.Errorf("partition %d: %w", p, lo.Err)
		}
		return lo.Offset, nil
	}
	plan.start = make(map[int32]int64, len(parts))
	plan.open = make(map[int32]int64)
	for _, p := range parts {
		logStart, err := lookup(logStarts, p)
		if err != nil {
			return plan, err
		}
		end, err := lookup(ends, p)
		if err != nil {
			return plan, err
		}
		var start int64
		switch mode {
		case startBeginning:
			start = logStart
		case startLatest:
			start = end
		case startOffset:
			// Clamped into the log rather than left to an
			// OFFSET_OUT_OF_RANGE reset, so an offset past the end
			// waits for new records instead of jumping back to the
			// start.
			start = o.offset
			if start < 0 {
				start += end
			}
			start = min(max(start, logStart), end)
		case startTimestamp:
			if start, err = lookup(byTime, p); err != nil {
				return plan, err
			}
		}
		if c, ok := committed.Lookup(topic, p); ok && c.Err == nil && c.At >= 0 {
			start = c.At
		}
		plan.start[p] = start
		if o.exit && start < end {
			plan.open[p] = end
		}
	}
	return plan, nil
}

// consume polls and prints until ctx ends (an interrupt, or no broker
// answering), --max-messages, or (--exit) every open partition is read to
// its end. It returns how many records it printed.
func (o *consumeOptions) consume(ctx context.Context, cl *kgo.Client, format recordFormat, plan consumePlan, w *bufio.Writer) (printed int, err error) {
	defer w.Flush()
	var buf []byte
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return printed, nil // an interrupt is how a console consumer normally ends
		}
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, kgo.ErrClientClosed) {
				continue
			}
			return printed, fmt.Errorf("fetch %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
		}
		for _, f := range fs {
			for _, t := range f.Topics {
				for _, p := range t.Partitions {
					for _, r := range p.Records {
						if o.exit {
							end, open := plan.open[r.Partition]
							if !open || r.Offset >= end {
								// Past the end fixed at start: --exit
								// prints a snapshot, not what arrived
								// while catching up.
								continue
							}
							if r.Offset >= end-1 {
								delete(plan.open, r.Partition)
								cl.PauseFetchPartitions(map[string][]int32{r.Topic: {r.Partition}})
							}
						}
						if r.Attrs.IsControl() {
							if o.group != "" {
								cl.MarkCommitRecords(r)
							}
							continue
						}
						buf = format.appendRecord(buf[:0], r)
						if _, err := w.Write(buf); err != nil {
							return printed, err
						}
						if o.group != "" {
							// Marked only once handed to the output,
							// so a commit never covers a record that
							// was polled but not printed.
							cl.MarkCommitRecords(r)
						}
						printed++
						if o.maxMessages > 0 && printed >= o.maxMessages {
							return printed, w.Flush()
						}
					}
				}
			}
		}
		// Flush per poll, not per record: one write per fetch keeps a
		// fast topic cheap, and a slow one still prints promptly.
		if err := w.Flush(); err != nil {
			return printed, err
		}
		if o.exit && len(plan.open) == 0 {
			return printed, nil
		}
	}
}

// parseTimestamp accepts milliseconds since the epoch or an RFC3339 time.
func parseTimestamp(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, fmt.Errorf("--timestamp %d: must not be negative", ms)
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("--timestamp %q: want milliseconds since the epoch or RFC3339 (2006-01-02T15:04:05Z)", s)
	}
	return t.UnixMilli(), nil
}
