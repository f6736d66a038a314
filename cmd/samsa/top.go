package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-kafka/samsa/internal/units"
)

type topOptions struct {
	client   *clientFlags
	interval time.Duration
	once     bool
	internal bool
}

func newTopCmd() *cobra.Command {
	o := &topOptions{}
	cmd := &cobra.Command{
		Use:   "top",
		Short: "A refreshing view of per-topic produce rates and consumer group lag",
		Long: `Show, every --interval, each topic's produce rate and each consumer group's
total lag and how fast it changes. It works against any Kafka-compatible
cluster: the rates come from the change of the topics' end offsets
(ListOffsets) and of their leaders' partition sizes (DescribeLogDirs, so
bytes/s counts batches as stored, headers and compression included), the
lags from the groups' committed offsets (OffsetFetch).

The first frame comes after one interval, since a rate needs two samples.
On a terminal the screen is redrawn in place; otherwise frames follow one
another. --once prints a single frame and exits (for scripts).

A size that shrank (retention, compaction) counts as no bytes produced.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	fs := cmd.Flags()
	fs.DurationVar(&o.interval, "interval", 2*time.Second, "time between samples, and between frames")
	fs.BoolVar(&o.once, "once", false, "print one frame and exit")
	fs.BoolVar(&o.internal, "internal", false, "include internal topics (__consumer_offsets, __transaction_state)")
	o.client = addClientFlags(fs, "deadline for each sample's requests")
	return cmd
}

func (o *topOptions) run(cmd *cobra.Command) error {
	if o.interval <= 0 {
		return fmt.Errorf("--interval must be positive, got %v", o.interval)
	}
	cl, err := o.client.newClient(cmd)
	if err != nil {
		return err
	}
	adm := kadm.NewClient(cl)
	defer adm.Close()

	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	tty := isTerminal(out)
	prev, err := o.sample(ctx, adm)
	if err != nil {
		return err
	}
	t := time.NewTicker(o.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil // an interrupt is how a live view ends
		case <-t.C:
		}
		cur, err := o.sample(ctx, adm)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		var b strings.Builder
		if tty && !o.once {
			// Home and clear, then the frame: one write, so the
			// screen does not flicker through a half-drawn frame.
			b.WriteString("\x1b[H\x1b[2J")
			fmt.Fprintf(&b, "samsa top  %s  every %v  (Ctrl-C to quit)\n\n", cur.at.Format("15:04:05"), o.interval)
		} else if !o.once {
			b.WriteString("\n") // frames apart
		}
		writeTopFrame(&b, prev, cur)
		if _, err := io.WriteString(out, b.String()); err != nil {
			return err
		}
		if o.once {
			return nil
		}
		prev = cur
	}
}

// topSample is the cluster's state at one moment.
type topSample struct {
	at      time.Time
	brokers int
	topics  map[string]topicSample
	groups  map[string]groupSample
}

type topicSample struct {
	partitions int
	end        int64 // the sum of the partitions' end offsets
	size       int64 // the sum of the leaders' partition sizes
	err        error // offsets or sizes missing for some partition
}

type groupSample struct {
	state   string
	members int
	lag     int64
	err     error
}

// sample reads the topics' end offsets and sizes and the groups' lags. A
// failure to reach the cluster is returned; a per-topic or per-group
// failure is kept with it and shown in its row.
func (o *topOptions) sample(ctx context.Context, adm *kadm.Client) (topSample, error) {
	ctx, cancel := context.WithTimeout(ctx, o.client.timeout)
	defer cancel()
	s := topSample{topics: map[string]topicSample{}, groups: map[string]groupSample{}}
	md, err := adm.Metadata(ctx)
	if err != nil {
		return s, fmt.Errorf("metadata: %w", err)
	}
	s.brokers = len(md.Brokers)
	var names []string
	byLeader := map[int32]kadm.TopicsSet{}
	for _, name := range md.Topics.Names() {
		td := md.Topics[name]
		if td.IsInternal && !o.internal {
			continue
		}
		names = append(names, name)
		ts := topicSample{partitions: len(td.Partitions), err: td.Err}
		for p, pd := range td.Partitions {
			if pd.Leader < 0 {
				ts.err = firstErr(ts.err, fmt.Errorf("partition %d has no leader", p))
				continue
			}
			ls := byLeader[pd.Leader]
			if ls == nil {
				ls = kadm.TopicsSet{}
				byLeader[pd.Leader] = ls
			}
			ls.Add(name, p)
		}
		s.topics[name] = ts
	}
	if len(names) > 0 {
		ends, err := listOffsets(ctx, adm.ListEndOffsets, md.Topics, names)
		if err != nil {
			return s, fmt.Errorf("list end offsets: %w", err)
		}
		sizes, sizesErr := leaderSizes(ctx, adm, byLeader)
		for _, name := range names {
			ts := s.topics[name]
			for p, pd := range md.Topics[name].Partitions {
				if pd.Leader < 0 {
					continue
				}
				if lo, ok := ends.Lookup(name, p); !ok || lo.Err != nil {
					ts.err = firstErr(ts.err, fmt.Errorf("partition %d: end offset: %v", p, firstErr(lo.Err, errors.New("not listed"))))
				} else {
					ts.end += lo.Offset
				}
				if d, ok := sizes[pd.Leader].LookupPartition(name, p); ok {
					ts.size += d.Size
				} else {
					ts.err = firstErr(ts.err, fmt.Errorf("partition %d: size: %v", p, firstErr(sizesErr, errors.New("not described"))))
				}
			}
			s.topics[name] = ts
		}
	}

	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return s, fmt.Errorf("list groups: %w", err)
	}
	if groups := listed.Groups(); len(groups) > 0 {
		lags, err := adm.Lag(ctx, groups...)
		if err != nil {
			return s, fmt.Errorf("group lag: %w", err)
		}
		for _, g := range groups {
			l, ok := lags[g]
			if !ok {
				s.groups[g] = groupSample{err: errors.New("not described")}
				continue
			}
			s.groups[g] = groupSample{state: l.State, members: len(l.Members), lag: l.Lag.Total(), err: l.Error()}
		}
	}
	s.at = time.Now()
	return s, nil
}

// firstErr is the first non-nil error.
func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// writeTopFrame writes one frame: the topics with their rates between prev
// and cur, then the groups with their lag trend. A topic or group new in
// cur has no rate yet ("-").
func writeTopFrame(w io.Writer, prev, cur topSample) {
	secs := cur.at.Sub(prev.at).Seconds()
	fmt.Fprintf(w, "brokers: %d  topics: %d  groups: %d\n\n", cur.brokers, len(cur.topics), len(cur.groups))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tRECORDS/S\tBYTES/S\tEND OFFSETS\tSIZE")
	var errs []string
	for _, name := range slices.Sorted(maps.Keys(cur.topics)) {
		c := cur.topics[name]
		recs, bytes := "-", "-"
		if p, ok := prev.topics[name]; ok && p.err == nil && c.err == nil && secs > 0 {
			recs = fmt.Sprintf("%.1f", float64(max(c.end-p.end, 0))/secs)
			bytes = units.Bytes(int64(float64(max(c.size-p.size, 0)) / secs))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\n", name, c.partitions, recs, bytes, c.end, units.Bytes(c.size))
		if c.err != nil {
			errs = append(errs, fmt.Sprintf("topic %s: %v", name, c.err))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSTATE\tMEMBERS\tLAG\tLAG TREND")
	for _, g := range slices.Sorted(maps.Keys(cur.groups)) {
		c := cur.groups[g]
		trend := "-"
		if p, ok := prev.groups[g]; ok && p.err == nil && c.err == nil && secs > 0 {
			trend = lagTrend(float64(c.lag-p.lag) / secs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", g, c.state, c.members, c.lag, trend)
		if c.err != nil {
			errs = append(errs, fmt.Sprintf("group %s: %v", g, c.err))
		}
	}
	tw.Flush()
	for _, e := range errs {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}

// lagTrend says how fast a lag moves: growing (consumers fall behind),
// shrinking (they catch up) or steady.
func lagTrend(perSec float64) string {
	switch {
	case perSec > 0:
		return fmt.Sprintf("growing +%.1f/s", perSec)
	case perSec < 0:
		return fmt.Sprintf("shrinking %.1f/s", perSec)
	default:
		return "steady"
	}
}
