package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const defaultBrokers = "127.0.0.1:9092"

// clientFlags are the connection flags every client command takes.
type clientFlags struct {
	brokers       []string
	timeout       time.Duration
	commandConfig string
}

// addClientFlags registers --brokers and --timeout on fs. timeoutUsage says
// what the timeout bounds for this command, which differs between an admin
// request, a record delivery and an idle consumer.
func addClientFlags(fs *pflag.FlagSet, timeoutUsage string) *clientFlags {
	f := &clientFlags{}
	// The environment changes the default rather than overriding the flag,
	// so an explicit --brokers always wins.
	def := defaultBrokers
	if env := os.Getenv("SAMSA_BROKERS"); env != "" {
		def = env
	}
	fs.StringSliceVar(&f.brokers, "brokers", splitList(def),
		"comma-separated bootstrap brokers (host:port); the SAMSA_BROKERS environment variable sets the default")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, timeoutUsage)
	fs.StringVar(&f.commandConfig, "command-config", "",
		"Kafka client properties file: security.protocol=SASL_PLAINTEXT, sasl.mechanism and sasl.jaas.config (as Kafka's tools take it)")
	return f
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// newClient returns a kgo client for the command. The client library's log
// lines (every connection refused, retry and rebalance) go to stderr only
// with -v: a console tool reports what failed in its own words, once, and
// a dead broker should not bury that under a line per reconnection.
func (f *clientFlags) newClient(cmd *cobra.Command, opts ...kgo.Opt) (*kgo.Client, error) {
	var brokers []string
	for _, b := range f.brokers {
		brokers = append(brokers, splitList(b)...)
	}
	if len(brokers) == 0 {
		return nil, errors.New("--brokers: no broker given")
	}
	if f.timeout <= 0 {
		return nil, fmt.Errorf("--timeout must be positive, got %v", f.timeout)
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("samsa-cli"),
		// A request's context bounds neither kgo's dial nor the first
		// read on a new connection (its ApiVersions exchange): both
		// wait 10s by default, so against a hung broker (or a host
		// dropping SYNs) a shorter --timeout would not hold. The read
		// deadline of every request is its own timeout plus this
		// overhead, long polls included; at least a second, so that a
		// tiny --timeout does not fail a busy but live broker's answers.
		kgo.DialTimeout(min(10*time.Second, f.timeout)),
		kgo.RequestTimeoutOverhead(min(10*time.Second, max(f.timeout, time.Second))),
	}
	if verbose(cmd) {
		base = append(base, kgo.WithLogger(kgoLogger{newLogger(cmd, slog.LevelInfo)}))
	}
	if f.commandConfig != "" {
		sec, err := commandConfig(f.commandConfig)
		if err != nil {
			return nil, err
		}
		base = append(base, sec...)
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return cl, nil
}

// admin returns an admin client whose requests ask the broker to finish
// within --timeout (the time it may take to apply a change through its
// controller), a context bounding the whole command by the same timeout,
// and a func that cancels the context and closes the client.
func (f *clientFlags) admin(cmd *cobra.Command) (*kadm.Client, context.Context, func(), error) {
	cl, err := f.newClient(cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(f.timeout.Milliseconds(), 1<<31-1)))
	ctx, cancel := f.adminContext(cmd)
	return adm, ctx, func() { cancel(); adm.Close() }, nil
}

// adminContext bounds one admin exchange by --timeout.
func (f *clientFlags) adminContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), f.timeout)
}

// answerWatch is a kgo hook that notes when a broker last answered a
// request. A consumer always has a request outstanding (a long-polling
// fetch, a heartbeat), so a long silence means the brokers are gone, which
// kgo itself would retry forever.
//
// The exception is joining a group: JoinGroup is answered only once the
// rebalance completes (after group.initial.rebalance.delay.ms for a new
// group, or when the slowest member rejoins), and nothing else is sent
// meanwhile. While a JoinGroup or SyncGroup waits, silence does not count,
// for at most maxJoinWait: kgo's read deadline for them (the rebalance
// timeout, 60s, plus overhead) ends a wait on a hung broker before that,
// and the bound covers a read kgo never reports (a connection that died
// with requests queued behind the one being read).
type answerWatch struct {
	last      atomic.Int64 // unix nanoseconds
	joining   atomic.Int32 // JoinGroup and SyncGroup requests awaiting their answer
	joinSince atomic.Int64 // unix nanoseconds: when joining last rose from 0
}

const maxJoinWait = 2 * time.Minute

var (
	_ kgo.HookBrokerRead  = (*answerWatch)(nil)
	_ kgo.HookBrokerWrite = (*answerWatch)(nil)
)

func newAnswerWatch() *answerWatch {
	w := &answerWatch{}
	w.last.Store(time.Now().UnixNano())
	return w
}

// isJoin is whether key is an API whose answer waits for a rebalance.
func isJoin(key int16) bool {
	return key == kmsg.JoinGroup.Int16() || key == kmsg.SyncGroup.Int16()
}

func (w *answerWatch) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil && isJoin(key) && w.joining.Add(1) == 1 {
		w.joinSince.Store(time.Now().UnixNano())
	}
}

func (w *answerWatch) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if isJoin(key) && w.joining.Add(-1) < 0 {
		w.joining.Store(0) // a read whose write was not counted
	}
	if err == nil {
		w.last.Store(time.Now().UnixNano())
	}
}

// silentFor is how long no broker has answered, zero while a join waits.
func (w *answerWatch) silentFor(now time.Time) time.Duration {
	if w.joining.Load() > 0 && now.Sub(time.Unix(0, w.joinSince.Load())) < maxJoinWait {
		w.last.Store(now.UnixNano())
		return 0
	}
	return now.Sub(time.Unix(0, w.last.Load()))
}

// noAnswerError ends a command whose brokers stopped answering.
type noAnswerError struct{ timeout time.Duration }

func (e noAnswerError) Error() string {
	return fmt.Sprintf("no broker answered for %v (--timeout)", e.timeout)
}

// guard returns a context that ends, with a noAnswerError as its cause,
// once no broker has answered for timeout; stop releases its timer.
func (w *answerWatch) guard(ctx context.Context, timeout time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	var (
		mu      sync.Mutex
		t       *time.Timer
		stopped bool
	)
	check := func() {
		silent := w.silentFor(time.Now())
		if silent >= timeout {
			cancel(noAnswerError{timeout})
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t.Reset(timeout - silent)
		}
	}
	mu.Lock()
	t = time.AfterFunc(timeout, check)
	mu.Unlock()
	return ctx, func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
		cancel(nil)
	}
}

// closeClient closes cl without waiting longer than timeout to leave its
// consumer group: Close waits for the LeaveGroup answer, which a dead
// coordinator never sends.
func closeClient(cl *kgo.Client, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = cl.LeaveGroupContext(ctx)
	cl.Close()
}

// kgoLogger routes franz-go's logs into slog.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelDebug
	case k.l.Enabled(ctx, slog.LevelInfo):
		return kgo.LogLevelInfo
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	default:
		return kgo.LogLevelError
	}
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l := slog.LevelError
	switch level {
	case kgo.LogLevelDebug:
		l = slog.LevelDebug
	case kgo.LogLevelInfo:
		l = slog.LevelInfo
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	}
	k.l.Log(context.Background(), l, msg, keyvals...)
}

// kafkaError formats a per-resource error from an admin response: the Kafka
// error name and its standard description (kerr's Error), followed by the
// broker's own message when it sent one, which usually says which input was
// wrong.
func kafkaError(what string, err error, brokerMsg string) error {
	// Kafka's default messages end with a period that kerr's do not.
	if brokerMsg == "" || strings.Contains(err.Error(), strings.TrimSuffix(brokerMsg, ".")) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w (%s)", what, err, brokerMsg)
}

// producerFlags are the producer settings shared by `produce`,
// `perf produce` and `perf e2e`, so that a benchmark and a console
// producer given the same flags configure the client the same way.
type producerFlags struct {
	acks          string
	compression   string
	linger        time.Duration
	batchMaxBytes int32
}

func addProducerFlags(fs *pflag.FlagSet) *producerFlags {
	p := &producerFlags{}
	fs.StringVar(&p.acks, "acks", "all", "acknowledgements: all (-1), 1 or 0; idempotence is only possible with all")
	fs.StringVar(&p.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	// 5ms is the Java producer's linger.ms default since Kafka 4.0, so that
	// numbers compare with kafka-producer-perf-test run with defaults.
	fs.DurationVar(&p.linger, "linger", 5*time.Millisecond, "how long a partition's batch may wait for more records before it is sent")
	fs.Int32Var(&p.batchMaxBytes, "batch-max-bytes", 1_000_012,
		"maximum size of a record batch (the broker's default max.message.bytes)")
	return p
}

// opts translates the flags into client options, plus the delivery timeout:
// how long a record may wait, including retries, before it fails.
func (p *producerFlags) opts(deliveryTimeout time.Duration) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.ProducerLinger(p.linger),
		kgo.RecordDeliveryTimeout(deliveryTimeout),
	}
	switch p.acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		// Idempotence requires acks=all (a leader-only ack can be lost
		// with the leader, and the sequence state with it), so kgo
		// refuses the combination unless idempotence is off.
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("--acks %q: want all, 1 or 0", p.acks)
	}
	var codec kgo.CompressionCodec
	switch p.compression {
	case "none":
		codec = kgo.NoCompression()
	case "gzip":
		codec = kgo.GzipCompression()
	case "snappy":
		codec = kgo.SnappyCompression()
	case "lz4":
		codec = kgo.Lz4Compression()
	case "zstd":
		codec = kgo.ZstdCompression()
	default:
		return nil, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", p.compression)
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec))
	if p.batchMaxBytes <= 0 {
		return nil, fmt.Errorf("--batch-max-bytes must be positive, got %d", p.batchMaxBytes)
	}
	opts = append(opts, kgo.ProducerBatchMaxBytes(p.batchMaxBytes))
	if p.linger < 0 {
		return nil, fmt.Errorf("--linger must not be negative, got %v", p.linger)
	}
	return opts, nil
}

// lockedWriter serialises writes from client callbacks and reporter
// goroutines so that lines do not interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (lw *lockedWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}
