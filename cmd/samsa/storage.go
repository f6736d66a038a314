package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/samsa-kafka/samsa/internal/broker"
	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/metadata"
)

func newStorageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "storage",
		Short: "Prepare a node's data directory (Kafka's kafka-storage)",
	}
	cmd.AddCommand(newStorageFormatCmd(), newStorageRandomUUIDCmd())
	return cmd
}

func newStorageFormatCmd() *cobra.Command {
	var (
		nf              *nodeFlags
		clusterID       string
		ignoreFormatted bool
	)
	cmd := &cobra.Command{
		Use:   "format",
		Short: "Write meta.properties into a node's data directory before its first start",
		Long: `Format a node's data directory for a cluster, as Kafka's kafka-storage format
does: write meta.properties (version=1, cluster.id, node.id) into the data
directory that samsa broker, given the same --config, --set, --data-dir and
--node-id, will use. A new quorum of formatted voters commits their cluster id
as its first record, and a node refuses to join a quorum of another cluster.

samsa does not require formatting: an unformatted node learns the cluster id
from its quorum, and a new quorum generates one when its first leader has none.
Format every node of a cluster with the same id, or none: a formatted node
whose quorum committed another id stops with an error naming both.

A directory already formatted for this node and cluster is an error unless
--ignore-formatted is given; one formatted for another node or cluster is
always refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := nf.load()
			if err != nil {
				return err
			}
			switch {
			case clusterID == "" && cfg.ClusterID == "":
				return errors.New("--cluster-id is required (samsa storage random-uuid prints a new one)")
			case clusterID == "":
				clusterID = cfg.ClusterID
			case cfg.ClusterID != "" && cfg.ClusterID != clusterID:
				return fmt.Errorf("--cluster-id %s differs from the configured cluster.id %s", clusterID, cfg.ClusterID)
			}
			if err := config.CheckClusterID(clusterID); err != nil {
				return err
			}
			err = broker.Format(nil, cfg.DataDir, cfg.NodeID, clusterID)
			out := cmd.OutOrStdout()
			switch {
			case err == nil:
				fmt.Fprintf(out, "Formatted %s for cluster %s, node %d.\n", cfg.DataDir, clusterID, cfg.NodeID)
			case errors.Is(err, broker.ErrFormatted) && ignoreFormatted:
				fmt.Fprintf(out, "%s is already formatted for cluster %s, node %d.\n", cfg.DataDir, clusterID, cfg.NodeID)
			case errors.Is(err, broker.ErrFormatted):
				return fmt.Errorf("%w (--ignore-formatted accepts that)", err)
			default:
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&clusterID, "cluster-id", "t", "", "the cluster id, a base64url UUID (samsa storage random-uuid); default: the configured cluster.id")
	f.BoolVarP(&ignoreFormatted, "ignore-formatted", "g", false, "succeed when the directory is already formatted for this node and cluster")
	nf = addNodeFlags(f, false)
	return cmd
}

func newStorageRandomUUIDCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "random-uuid",
		Short: "Print a new random cluster id (a base64url UUID, as kafka-storage random-uuid)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), metadata.NewUUID())
			return err
		},
	}
}
