package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/samsa-kafka/samsa/internal/broker"
	"github.com/samsa-kafka/samsa/internal/config"
)

// startCPUProfile profiles the process into path until the returned stop
// function runs.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// shutdownGrace bounds a clean shutdown after SIGINT/SIGTERM: in-flight
// requests get this long to finish before connections are cut.
const shutdownGrace = 10 * time.Second

func newBrokerCmd() *cobra.Command {
	var (
		listen, advertise, dataDir, configFile string
		controllerListen, quorum, roles        string
		cpuProfile                             string
		nodeID                                 int32
		sets                                   []string
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run a samsa broker (a single-node cluster with no flags)",
		Long: `Run a samsa broker. With no flags it is node 1 of a one-node cluster,
listening on 127.0.0.1:9092 with its data in ./samsa-data.

Configuration comes from, in increasing precedence: Kafka's defaults, a
server.properties file (--config), --set KEY=VALUE (any supported Kafka broker
config), and the dedicated flags below. Unknown or invalid configs are refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			overrides := map[string]string{}
			if cmd.Flags().Changed("listen") {
				overrides["listeners"] = listen
			}
			if cmd.Flags().Changed("advertise") {
				overrides["advertised.listeners"] = advertise
			}
			if cmd.Flags().Changed("data-dir") {
				overrides["log.dirs"] = dataDir
			}
			if cmd.Flags().Changed("controller-quorum") {
				overrides["controller.quorum.voters"] = quorum
			}
			if cmd.Flags().Changed("process-roles") {
				overrides["process.roles"] = roles
			}
			if cmd.Flags().Changed("controller-listen") {
				l := "PLAINTEXT://" + listen
				if strings.Contains(listen, "://") {
					l = listen
				}
				if !cmd.Flags().Changed("listen") && roles == "controller" {
					l = ""
				}
				if l != "" {
					l += ","
				}
				overrides["listeners"] = l + "CONTROLLER://" + controllerListen
			}
			if cmd.Flags().Changed("node-id") {
				overrides["node.id"] = strconv.Itoa(int(nodeID))
			}
			cfg, err := config.Load(configFile, sets, overrides)
			if err != nil {
				return err
			}
			logger := newLogger(cmd, slog.LevelInfo)
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			b, err := broker.Start(cfg, broker.Options{Logger: logger})
			if err != nil {
				return err
			}
			var fatal error
			select {
			case <-cmd.Context().Done():
			case fatal = <-b.Fatal():
			}
			logger.Info("shutting down")
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			if err := b.Shutdown(ctx); err != nil {
				return err
			}
			return fatal
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:9092", "client listener HOST:PORT (Kafka: listeners)")
	f.StringVar(&advertise, "advertise", "", "address clients are told to use, HOST:PORT (Kafka: advertised.listeners; default: the listen address)")
	f.StringVar(&dataDir, "data-dir", "./samsa-data", "where logs and metadata live (Kafka: log.dirs)")
	f.Int32Var(&nodeID, "node-id", 1, "this node's id (Kafka: node.id)")
	f.StringVar(&controllerListen, "controller-listen", "", "controller listener HOST:PORT for the metadata quorum (Kafka: CONTROLLER:// in listeners)")
	f.StringVar(&quorum, "controller-quorum", "", "the metadata quorum's voters, ID@HOST:PORT,... (Kafka: controller.quorum.voters)")
	f.StringVar(&roles, "process-roles", "broker,controller", "broker, controller or broker,controller (Kafka: process.roles)")
	f.StringVar(&configFile, "config", "", "a Kafka-style server.properties file")
	f.StringArrayVar(&sets, "set", nil, "KEY=VALUE, any supported Kafka broker config (repeatable)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the broker to FILE until it stops (for diagnosis)")
	_ = f.MarkHidden("cpuprofile")
	return cmd
}
