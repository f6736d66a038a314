package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/reassign"
)

func newTopicReassignCmd(cf *clientFlags) *cobra.Command {
	var (
		planPath                                 string
		execute, verify, cancel, generate, rebal bool
		wait                                     bool
		topics                                   []string
		brokerList                               []string
	)
	cmd := &cobra.Command{
		Use:   "reassign",
		Short: "Move partition replicas between brokers (kafka-reassign-partitions)",
		Long: `Move partition replicas between brokers, as kafka-reassign-partitions.sh does,
with its plan file format:

  {"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[3,1],"log_dirs":["any","any"]}]}

  --plan FILE --execute   start the reassignments of the plan (the first replica
                          of each becomes its preferred leader); with --wait,
                          wait until they complete (within --timeout), with a
                          progress bar on a terminal
  --plan FILE --verify    report each partition as completed or in progress
  --plan FILE --cancel    cancel the plan's reassignments in progress
  --generate --topics a,b --broker-list 1,2,3
                          print the current assignment of the topics and a plan
                          that spreads their replicas and preferred leaders
                          evenly over the brokers, moving as few replicas as it
                          can (save it, then --execute it)
  --rebalance             --generate for every topic over every live broker

log_dirs may only be "any": a samsa broker has one log directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			modes := 0
			for _, m := range []bool{execute, verify, cancel, generate, rebal} {
				if m {
					modes++
				}
			}
			if modes != 1 {
				return errors.New("give exactly one of --execute, --verify, --cancel, --generate and --rebalance")
			}
			var plan reassign.File
			if execute || verify || cancel {
				if planPath == "" {
					return errors.New("--execute, --verify and --cancel need --plan FILE")
				}
				b, err := os.ReadFile(planPath)
				if err != nil {
					return err
				}
				if plan, err = reassign.ParseFile(b); err != nil {
					return err
				}
			}
			var ids []int32
			for _, s := range brokerList {
				id, err := strconv.ParseInt(s, 10, 32)
				if err != nil {
					return fmt.Errorf("--broker-list %q: %w", s, err)
				}
				ids = append(ids, int32(id))
			}
			if wait && !execute {
				return errors.New("--wait goes with --execute")
			}
			if generate && (len(topics) == 0 || len(ids) == 0) {
				return errors.New("--generate needs --topics and --broker-list")
			}
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()
			out := cmd.OutOrStdout()
			switch {
			case execute:
				if err := executePlan(ctx, out, adm, plan.Partitions, false); err != nil || !wait {
					return err
				}
				bar := newProgressBar(cmd.ErrOrStderr(), isTerminal(cmd.ErrOrStderr()), "reassign", int64(len(plan.Partitions)))
				err := awaitPlan(ctx, adm, plan.Partitions, bar)
				bar.Done()
				if err != nil {
					return err
				}
				return verifyPlan(ctx, out, adm, plan.Partitions)
			case cancel:
				return executePlan(ctx, out, adm, plan.Partitions, true)
			case verify:
				return verifyPlan(ctx, out, adm, plan.Partitions)
			}
			return generatePlan(ctx, out, adm, topics, ids)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&planPath, "plan", "", "the reassignment plan (JSON, kafka-reassign-partitions format)")
	fs.BoolVar(&execute, "execute", false, "start the plan's reassignments")
	fs.BoolVar(&verify, "verify", false, "report whether the plan's reassignments completed")
	fs.BoolVar(&cancel, "cancel", false, "cancel the plan's reassignments in progress")
	fs.BoolVar(&wait, "wait", false, "with --execute, wait until the reassignments complete, then --verify")
	fs.BoolVar(&generate, "generate", false, "print a balancing plan for --topics over --broker-list")
	fs.BoolVar(&rebal, "rebalance", false, "print a balancing plan for every topic over every live broker")
	fs.StringSliceVar(&topics, "topics", nil, "topics to plan for (with --generate)")
	fs.StringSliceVar(&brokerList, "broker-list", nil, "broker ids to place replicas on (with --generate)")
	return cmd
}

func partitionNames(ps []reassign.Partition) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprintf("%s-%d", p.Topic, p.Partition)
	}
	return strings.Join(s, ", ")
}

// executePlan starts (or, with cancel, cancels) the plan's reassignments
// and reports each partition's outcome.
func executePlan(ctx context.Context, out io.Writer, adm *kadm.Client, ps []reassign.Partition, cancel bool) error {
	var req kadm.AlterPartitionAssignmentsReq
	for _, p := range ps {
		if cancel {
			req.Assign(p.Topic, p.Partition, nil)
		} else {
			req.Assign(p.Topic, p.Partition, p.Replicas)
		}
	}
	resps, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return fmt.Errorf("alter partition reassignments: %w", err)
	}
	var ok []reassign.Partition
	var errs []error
	for _, p := range ps {
		r, found := resps[p.Topic][p.Partition]
		switch {
		case !found:
			errs = append(errs, fmt.Errorf("%s-%d: no answer from the broker", p.Topic, p.Partition))
		case r.Err != nil && cancel && errors.Is(r.Err, kerr.NoReassignmentInProgress):
			fmt.Fprintf(out, "No reassignment of %s-%d was in progress.\n", p.Topic, p.Partition)
		case r.Err != nil:
			errs = append(errs, kafkaError(fmt.Sprintf("%s-%d", p.Topic, p.Partition), r.Err, r.ErrMessage))
		default:
			ok = append(ok, p)
		}
	}
	if len(ok) > 0 {
		if cancel {
			fmt.Fprintf(out, "Successfully cancelled partition reassignments for: %s\n", partitionNames(ok))
		} else {
			fmt.Fprintf(out, "Successfully started partition reassignments for %s\n", partitionNames(ok))
		}
	}
	return errors.Join(errs...)
}

// reassignPoll is how often awaitPlan asks whether partitions still move.
const reassignPoll = 250 * time.Millisecond

// awaitPlan polls until none of the plan's partitions is reassigning, or
// ctx (--timeout) ends, showing on bar how many are done.
func awaitPlan(ctx context.Context, adm *kadm.Client, ps []reassign.Partition, bar *progressBar) error {
	set := kadm.TopicsSet{}
	for _, p := range ps {
		set.Add(p.Topic, p.Partition)
	}
	for {
		moving, err := adm.ListPartitionReassignments(ctx, set)
		if err != nil {
			return fmt.Errorf("list partition reassignments: %w", err)
		}
		n := 0
		for _, ts := range moving {
			n += len(ts)
		}
		bar.Set(int64(len(ps)-n), "partitions moved")
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d reassignments still in progress after --timeout: %w", n, len(ps), ctx.Err())
		case <-time.After(reassignPoll):
		}
	}
}

// verifyPlan reports each partition of the plan: completed, in progress,
// or neither (its replicas differ from the plan's and nothing moves).
func verifyPlan(ctx context.Context, out io.Writer, adm *kadm.Client, ps []reassign.Partition) error {
	var set kadm.TopicsSet
	var names []string
	for _, p := range ps {
		set.Add(p.Topic, p.Partition)
		if !slices.Contains(names, p.Topic) {
			names = append(names, p.Topic)
		}
	}
	moving, err := adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return fmt.Errorf("list partition reassignments: %w", err)
	}
	tds, err := adm.ListTopicsWithInternal(ctx, names...)
	if err != nil {
		return fmt.Errorf("describe topics: %w", err)
	}
	var errs []error
	for _, p := range ps {
		name := fmt.Sprintf("%s-%d", p.Topic, p.Partition)
		if _, ok := moving[p.Topic][p.Partition]; ok {
			fmt.Fprintf(out, "Reassignment of partition %s is still in progress.\n", name)
			continue
		}
		pd, ok := tds[p.Topic].Partitions[p.Partition]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: %w", name, kerr.UnknownTopicOrPartition))
		case slices.Equal(pd.Replicas, p.Replicas):
			fmt.Fprintf(out, "Reassignment of partition %s is completed.\n", name)
		default:
			errs = append(errs, fmt.Errorf("there is no active reassignment of partition %s, but its replica set is %s rather than %s",
				name, joinIDs(pd.Replicas), joinIDs(p.Replicas)))
		}
	}
	return errors.Join(errs...)
}

// generatePlan prints the current assignment of topics (every non-internal
// one when none are named) and a plan balancing them over brokers (every
// live broker when none are named), both in the plan format.
func generatePlan(ctx context.Context, out io.Writer, adm *kadm.Client, topics []string, brokers []int32) error {
	m, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if len(brokers) == 0 {
		for _, b := range m.Brokers {
			brokers = append(brokers, b.NodeID)
		}
	}
	var current []reassign.Partition
	var errs []error
	for _, name := range m.Topics.Names() {
		td := m.Topics[name]
		if td.Err != nil {
			errs = append(errs, fmt.Errorf("topic %q: %w", name, td.Err))
			continue
		}
		if len(topics) == 0 && td.IsInternal {
			continue
		}
		for _, p := range td.Partitions.Sorted() {
			current = append(current, reassign.Partition{Topic: name, Partition: p.Partition, Replicas: p.Replicas})
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	plan, err := reassign.Balance(current, brokers)
	if err != nil {
		return err
	}
	cur, err := reassign.Encode(current)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Current partition replica assignment\n%s\n\n", cur)
	if len(plan) == 0 {
		fmt.Fprintln(out, "The replicas and preferred leaders are balanced: nothing to move.")
		return nil
	}
	next, err := reassign.Encode(plan)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Proposed partition reassignment configuration\n%s\n", next)
	return nil
}
