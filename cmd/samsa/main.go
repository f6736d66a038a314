// Command samsa is the single samsa binary: the broker and the tools that
// talk to any Kafka-compatible cluster (topic administration, a console
// producer and consumer, load generators).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	// The first SIGINT/SIGTERM cancels the context so that commands shut
	// down cleanly (flush a producer, leave a group). Once it has fired,
	// signal handling is restored, so a second Ctrl-C kills a command that
	// is stuck.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		// errors.Join puts one error per line; each gets the prefix.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "samsa: %s\n", line)
		}
		return 1
	}
	return 0
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "samsa",
		Short: "A Kafka-compatible broker and its tools, in one binary",
		// Errors are printed once, by run, in one format; a usage dump
		// after a broker error would bury the error.
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			_, err := logLevel(cmd, slog.LevelInfo)
			return err
		},
	}
	root.PersistentFlags().String("log-level", "",
		"log level: debug, info, warn or error (default: info for the broker; with -v, info for client commands)")
	root.PersistentFlags().BoolP("verbose", "v", false,
		"client commands: also print the Kafka client library's own log lines (connections, retries, rebalances)")
	root.AddCommand(
		newBrokerCmd(),
		newTopicCmd(),
		newProduceCmd(),
		newConsumeCmd(),
		newGroupCmd(),
		newTxnCmd(),
		newUserCmd(),
		newClusterCmd(),
		newStorageCmd(),
		newPerfCmd(),
		newTopCmd(),
		newVersionCmd(),
	)
	return root
}

// logLevel is the level chosen with --log-level, or def when it was not
// given.
func logLevel(cmd *cobra.Command, def slog.Level) (slog.Level, error) {
	s, err := cmd.Root().PersistentFlags().GetString("log-level")
	if err != nil || s == "" {
		return def, err
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return def, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// verbose reports whether -v asked for the client library's log lines.
func verbose(cmd *cobra.Command) bool {
	v, _ := cmd.Root().PersistentFlags().GetBool("verbose")
	return v
}

// newLogger returns a text logger on the command's stderr at the level
// chosen with --log-level, or def.
func newLogger(cmd *cobra.Command, def slog.Level) *slog.Logger {
	l, err := logLevel(cmd, def)
	if err != nil { // validated in PersistentPreRunE; keep the default
		l = def
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: l}))
}
