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
	"github.com/spf13/pflag"

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

// nodeFlags are the flags a node's configuration is built from. `samsa
// broker` takes them all; `samsa storage format` takes --config, --set,
// --data-dir and --node-id, so that given the same flags it formats the
// directory the broker will use, for the node it will be.
type nodeFlags struct {
	fs                              *pflag.FlagSet
	configFile, dataDir             string
	listen, advertise               string
	controllerListen, quorum, roles string
	httpListen                      string
	consoleReadOnly                 bool
	nodeID                          int32
	sets                            []string
}

// addNodeFlags registers the flags that name a node's data; with listeners,
// those of its listeners and roles too.
func addNodeFlags(fs *pflag.FlagSet, listeners bool) *nodeFlags {
	f := &nodeFlags{fs: fs}
	fs.StringVar(&f.configFile, "config", "", "a Kafka-style server.properties file")
	fs.StringArrayVar(&f.sets, "set", nil, "KEY=VALUE, any supported Kafka broker config (repeatable)")
	fs.StringVar(&f.dataDir, "data-dir", "./samsa-data", "where logs and metadata live (Kafka: log.dirs)")
	fs.Int32Var(&f.nodeID, "node-id", 1, "this node's id (Kafka: node.id)")
	if listeners {
		fs.StringVar(&f.listen, "listen", "127.0.0.1:9092", "client listener HOST:PORT (Kafka: listeners)")
		fs.StringVar(&f.advertise, "advertise", "", "address clients are told to use, HOST:PORT (Kafka: advertised.listeners; default: the listen address)")
		fs.StringVar(&f.controllerListen, "controller-listen", "", "controller listener HOST:PORT for the metadata quorum (Kafka: CONTROLLER:// in listeners)")
		fs.StringVar(&f.quorum, "controller-quorum", "", "the metadata quorum's voters, ID@HOST:PORT,... (Kafka: controller.quorum.voters)")
		fs.StringVar(&f.roles, "process-roles", "broker,controller", "broker, controller or broker,controller (Kafka: process.roles)")
		fs.StringVar(&f.httpListen, "http", "127.0.0.1:9080", "HTTP listener HOST:PORT for /metrics, /healthz, /readyz and the web console; empty for none (samsa.http.listen)")
		fs.BoolVar(&f.consoleReadOnly, "console-read-only", false, "refuse changes made through the web console (samsa.console.read.only)")
	}
	return f
}

// load builds the configuration: Kafka's defaults, then --config, then
// --set, then the dedicated flags that were given.
func (f *nodeFlags) load() (*config.Broker, error) {
	overrides := map[string]string{}
	changed := f.fs.Changed
	if changed("listen") {
		overrides["listeners"] = f.listen
	}
	if changed("advertise") {
		overrides["advertised.listeners"] = f.advertise
	}
	if changed("data-dir") {
		overrides["log.dirs"] = f.dataDir
	}
	if changed("controller-quorum") {
		overrides["controller.quorum.voters"] = f.quorum
	}
	if changed("process-roles") {
		overrides["process.roles"] = f.roles
	}
	if changed("controller-listen") {
		l := "PLAINTEXT://" + f.listen
		if strings.Contains(f.listen, "://") {
			l = f.listen
		}
		if !changed("listen") && f.roles == "controller" {
			l = ""
		}
		if l != "" {
			l += ","
		}
		overrides["listeners"] = l + "CONTROLLER://" + f.controllerListen
	}
	if changed("http") {
		overrides["samsa.http.listen"] = f.httpListen
	}
	if changed("console-read-only") {
		overrides["samsa.console.read.only"] = strconv.FormatBool(f.consoleReadOnly)
	}
	if changed("node-id") {
		overrides["node.id"] = strconv.Itoa(int(f.nodeID))
	}
	return config.Load(f.configFile, f.sets, overrides)
}

func newBrokerCmd() *cobra.Command {
	var cpuProfile string
	var nf *nodeFlags
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
			cfg, err := nf.load()
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
			setGCFloor()
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
	nf = addNodeFlags(f, true)
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the broker to FILE until it stops (for diagnosis)")
	_ = f.MarkHidden("cpuprofile")
	return cmd
}
