package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Describe the cluster (its brokers, its controller, the metadata quorum) and elect partition leaders",
	}
	cf := addClientFlags(cmd.PersistentFlags(), "deadline for the whole command")
	cmd.AddCommand(newClusterDescribeCmd(cf), newClusterQuorumCmd(cf), newClusterElectLeadersCmd(cf))
	return cmd
}

func newClusterDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe",
		Short: "Print the cluster id, the active controller and every broker, fenced ones included",
		Long: `Print the cluster id, the controller clients are told of, and every registered
broker with its address, rack and whether it is fenced (registered but not
serving: starting, or missed its heartbeats). Fenced brokers are not in
Metadata responses; they are listed with DescribeCluster v2 (Kafka 4.0,
KIP-1073). A cluster that answers an older version lists its unfenced brokers
only, and the output says so.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := cf.adminContext(cmd)
			defer cancel()
			resp, err := describeCluster(ctx, cl)
			if err != nil {
				return err
			}
			writeClusterDescription(cmd.OutOrStdout(), resp)
			return nil
		},
	}
}

// describeCluster asks any broker for the cluster's brokers, fenced ones
// included where the broker serves DescribeCluster v2.
func describeCluster(ctx context.Context, cl *kgo.Client) (*kmsg.DescribeClusterResponse, error) {
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeFencedBrokers = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("describe cluster: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, kafkaError("describe cluster", err, derefString(resp.ErrorMessage))
	}
	return resp, nil
}

// writeClusterDescription prints:
//
//	Cluster ID: 4L6g3nShT-eMCtK--X86sw
//	Controller: 1
//	BROKER  ADDRESS         RACK  FENCED
//	1       10.0.0.1:9092   a     no
//	2       10.0.0.2:9092   b     yes
//
// Controller is the broker clients are told of; in a cluster whose active
// controller is not a broker (dedicated controllers) it is a broker that
// forwards to it, as in Kafka.
func writeClusterDescription(w io.Writer, resp *kmsg.DescribeClusterResponse) {
	fmt.Fprintf(w, "Cluster ID: %s\n", resp.ClusterID)
	fmt.Fprintf(w, "Controller: %d\n", resp.ControllerID)
	brokers := slices.Clone(resp.Brokers)
	slices.SortFunc(brokers, func(a, b kmsg.DescribeClusterResponseBroker) int { return int(a.NodeID) - int(b.NodeID) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tADDRESS\tRACK\tFENCED")
	for _, b := range brokers {
		rack := derefString(b.Rack)
		if rack == "" {
			rack = "-"
		}
		fenced := "no"
		if b.IsFenced {
			fenced = "yes"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", b.NodeID, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))), rack, fenced)
	}
	tw.Flush()
	if resp.Version < 2 {
		fmt.Fprintf(w, "(DescribeCluster v%d: fenced brokers are not listed)\n", resp.Version)
	}
}

func newClusterQuorumCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "quorum",
		Short: "Print the metadata quorum: leader, epoch, high watermark, and each voter's progress",
		Long: `Print the metadata quorum as kafka-metadata-quorum describe --status and
--replication do: the leader, its epoch and high watermark, the largest
follower lag, and per voter its log end offset, its lag behind the leader and
when it last fetched and was last caught up (milliseconds since the epoch, -1
when unknown). Lag is in metadata log entries.

Any broker answers: it forwards the request to the active controller
(DescribeQuorum, KIP-595 and KIP-836). On samsa, offsets are Raft log
indexes: the high watermark is the last committed entry and a log end offset
the last entry a voter has (so a caught-up voter's equals the leader's).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := cf.adminContext(cmd)
			defer cancel()
			dc, err := describeCluster(ctx, cl)
			if err != nil {
				return err
			}
			q, err := describeQuorum(ctx, cl)
			if err != nil {
				return err
			}
			writeQuorum(cmd.OutOrStdout(), dc.ClusterID, q)
			return nil
		},
	}
}

// metadataTopic is the metadata log's name, which DescribeQuorum asks for.
const metadataTopic = "__cluster_metadata"

// describeQuorum asks the active controller (through any broker) for the
// metadata quorum's state.
func describeQuorum(ctx context.Context, cl *kgo.Client) (kmsg.DescribeQuorumResponseTopicPartition, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = metadataTopic
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return kmsg.DescribeQuorumResponseTopicPartition{}, fmt.Errorf("describe quorum: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return kmsg.DescribeQuorumResponseTopicPartition{}, kafkaError("describe quorum", err, derefString(resp.ErrorMessage))
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if t.Topic != metadataTopic || p.Partition != 0 {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return p, kafkaError("describe quorum", err, derefString(p.ErrorMessage))
			}
			return p, nil
		}
	}
	return kmsg.DescribeQuorumResponseTopicPartition{}, fmt.Errorf("describe quorum: no answer for %s-0", metadataTopic)
}

// writeQuorum prints the quorum as kafka-metadata-quorum describe --status
// and then --replication do:
//
//	ClusterId:              4L6g3nShT-eMCtK--X86sw
//	LeaderId:               1
//	LeaderEpoch:            3
//	HighWatermark:          120
//	MaxFollowerLag:         2
//	MaxFollowerLagTimeMs:   15
//	CurrentVoters:          [1,2,3]
//	CurrentObservers:       []
//
//	NODE  LOG-END-OFFSET  LAG  LAST-FETCH-TIMESTAMP  LAST-CAUGHT-UP-TIMESTAMP  STATUS
//	1     120             0    1731000000015         1731000000015             Leader
//	2     120             0    1731000000010         1731000000010             Follower
//	3     118             2    1731000000012         1731000000000             Follower
//
// MaxFollowerLag and MaxFollowerLagTimeMs are computed as Kafka's tool
// does: from the voter with the smallest log end offset (the leader when
// none is behind it), the lag in entries and how much longer ago it was
// last caught up than the leader; -1 when that is unknown.
func writeQuorum(w io.Writer, clusterID string, p kmsg.DescribeQuorumResponseTopicPartition) {
	voters := slices.Clone(p.CurrentVoters)
	// The leader first, then the others by id.
	slices.SortFunc(voters, func(a, b kmsg.DescribeQuorumResponseTopicPartitionReplicaState) int {
		switch {
		case a.ReplicaID == b.ReplicaID:
			return 0
		case a.ReplicaID == p.LeaderID:
			return -1
		case b.ReplicaID == p.LeaderID:
			return 1
		}
		return int(a.ReplicaID) - int(b.ReplicaID)
	})
	leaderEnd := int64(-1)
	var slowest *kmsg.DescribeQuorumResponseTopicPartitionReplicaState
	for i := range voters {
		v := &voters[i]
		if v.ReplicaID == p.LeaderID {
			leaderEnd = v.LogEndOffset
		}
		if slowest == nil || v.LogEndOffset < slowest.LogEndOffset {
			slowest = v
		}
	}
	maxLag, maxLagMs := int64(-1), int64(-1)
	if len(voters) > 0 && voters[0].ReplicaID == p.LeaderID {
		leader := &voters[0]
		maxLag = leader.LogEndOffset - slowest.LogEndOffset
		switch {
		case maxLag == 0:
			maxLagMs = 0
		case leader.LastCaughtUpTimestamp >= 0 && slowest.LastCaughtUpTimestamp >= 0:
			maxLagMs = leader.LastCaughtUpTimestamp - slowest.LastCaughtUpTimestamp
		}
	}
	ids := func(rs []kmsg.DescribeQuorumResponseTopicPartitionReplicaState) string {
		ids := make([]int, len(rs))
		for i, r := range rs {
			ids[i] = int(r.ReplicaID)
		}
		slices.Sort(ids)
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = strconv.Itoa(id)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	for _, kv := range [][2]string{
		{"ClusterId:", clusterID},
		{"LeaderId:", strconv.Itoa(int(p.LeaderID))},
		{"LeaderEpoch:", strconv.Itoa(int(p.LeaderEpoch))},
		{"HighWatermark:", strconv.FormatInt(p.HighWatermark, 10)},
		{"MaxFollowerLag:", strconv.FormatInt(maxLag, 10)},
		{"MaxFollowerLagTimeMs:", strconv.FormatInt(maxLagMs, 10)},
		{"CurrentVoters:", ids(voters)},
		{"CurrentObservers:", ids(p.Observers)},
	} {
		fmt.Fprintf(w, "%-24s%s\n", kv[0], kv[1])
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tLOG-END-OFFSET\tLAG\tLAST-FETCH-TIMESTAMP\tLAST-CAUGHT-UP-TIMESTAMP\tSTATUS")
	row := func(r kmsg.DescribeQuorumResponseTopicPartitionReplicaState, status string) {
		lag := "?"
		if leaderEnd >= 0 {
			lag = strconv.FormatInt(leaderEnd-r.LogEndOffset, 10)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%d\t%s\n", r.ReplicaID, r.LogEndOffset, lag, r.LastFetchTimestamp, r.LastCaughtUpTimestamp, status)
	}
	for _, v := range voters {
		status := "Follower"
		if v.ReplicaID == p.LeaderID {
			status = "Leader"
		}
		row(v, status)
	}
	for _, o := range p.Observers {
		row(o, "Observer")
	}
	tw.Flush()
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func newClusterElectLeadersCmd(cf *clientFlags) *cobra.Command {
	var (
		electionType string
		topic        string
		partition    int32
		all          bool
	)
	cmd := &cobra.Command{
		Use:   "elect-leaders",
		Short: "Run preferred or unclean leader elections, as kafka-leader-election does",
		Long: `Ask the controller (through any broker) to elect leaders, with ElectLeaders
(KIP-183, KIP-460), for one partition (--topic and --partition) or for every
partition (--all-topic-partitions).

--election-type preferred moves leadership to each partition's first replica
where that replica is live and in the ISR. --election-type unclean gives a
partition without a leader a live in-sync replica, or else the first live
replica outside the ISR, whatever the topic's unclean.leader.election.enable:
records only the lost replicas had may be lost.

Output is kafka-leader-election's: the partitions elected, those that needed
no election ("Valid replica already elected"; with --all-topic-partitions the
controller leaves them out), and one line per partition that failed, after
which the command fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var how kadm.ElectLeadersHow
			switch strings.ToLower(electionType) {
			case "preferred":
				how = kadm.ElectPreferredReplica
			case "unclean":
				how = kadm.ElectLiveReplica
			default:
				return fmt.Errorf("--election-type %q: want preferred or unclean", electionType)
			}
			var set kadm.TopicsSet // nil: every partition
			switch {
			case all && (topic != "" || cmd.Flags().Changed("partition")):
				return errors.New("--all-topic-partitions excludes --topic and --partition")
			case all:
			case topic == "" || !cmd.Flags().Changed("partition"):
				return errors.New("give --topic and --partition, or --all-topic-partitions")
			default:
				set.Add(topic, partition)
			}
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()
			rs, err := adm.ElectLeaders(ctx, how, set)
			if err != nil {
				return fmt.Errorf("elect leaders: %w", err)
			}
			return writeElections(cmd.OutOrStdout(), how, rs)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&electionType, "election-type", "", "preferred or unclean (required)")
	fs.StringVar(&topic, "topic", "", "the topic of the partition to elect a leader for")
	fs.Int32Var(&partition, "partition", 0, "the partition to elect a leader for (with --topic)")
	fs.BoolVar(&all, "all-topic-partitions", false, "elect leaders for every partition that needs an election of the type")
	_ = cmd.MarkFlagRequired("election-type")
	return cmd
}

// writeElections prints an ElectLeaders answer as kafka-leader-election
// does, partitions sorted by topic and partition:
//
//	Successfully completed leader election (PREFERRED) for partitions orders-0, orders-2
//	Valid replica already elected for partitions orders-1
//	Error completing leader election (PREFERRED) for partition: orders-3: PREFERRED_LEADER_NOT_AVAILABLE: The preferred leader was not available.
//
// and returns an error when any partition failed.
func writeElections(w io.Writer, how kadm.ElectLeadersHow, rs kadm.ElectLeadersResults) error {
	typ := "PREFERRED"
	if how == kadm.ElectLiveReplica {
		typ = "UNCLEAN"
	}
	var results []kadm.ElectLeadersResult
	for _, ps := range rs {
		for _, r := range ps {
			results = append(results, r)
		}
	}
	slices.SortFunc(results, func(a, b kadm.ElectLeadersResult) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	var elected, noop, failed []string
	for _, r := range results {
		tp := r.Topic + "-" + strconv.Itoa(int(r.Partition))
		switch {
		case r.Err == nil:
			elected = append(elected, tp)
		case errors.Is(r.Err, kerr.ElectionNotNeeded):
			noop = append(noop, tp)
		default:
			what := fmt.Sprintf("Error completing leader election (%s) for partition: %s", typ, tp)
			failed = append(failed, kafkaError(what, r.Err, r.ErrMessage).Error())
		}
	}
	if len(elected) > 0 {
		fmt.Fprintf(w, "Successfully completed leader election (%s) for partitions %s\n", typ, strings.Join(elected, ", "))
	}
	if len(noop) > 0 {
		fmt.Fprintf(w, "Valid replica already elected for partitions %s\n", strings.Join(noop, ", "))
	}
	for _, f := range failed {
		fmt.Fprintln(w, f)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d replica(s) could not be elected", len(failed))
	}
	return nil
}
