package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

type produceOptions struct {
	client    *clientFlags
	producer  *producerFlags
	keySep    string
	headers   []string
	partition int32
}

func newProduceCmd() *cobra.Command {
	o := &produceOptions{}
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records read from stdin, one per line",
		Long: "Produce one record per line of stdin (without the line ending; an empty line\n" +
			"is a record with an empty value). Records are sent asynchronously and flushed\n" +
			"at end of input or on interrupt; the command fails if any record was not\n" +
			"acknowledged, saying how many of them were. A missing topic is created when\n" +
			"the broker allows it (auto.create.topics.enable), as kcat does. When the\n" +
			"brokers stop acknowledging for --timeout, the command stops reading input.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("key-separator") && o.keySep == "" {
				return errors.New("--key-separator must not be empty")
			}
			return o.run(cmd, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.keySep, "key-separator", "",
		"split each line at the first SEP into key and value; lines without SEP get a null key")
	fs.StringArrayVar(&o.headers, "header", nil, "header key=value added to every record (repeatable)")
	fs.Int32Var(&o.partition, "partition", -1,
		"produce every record to this partition (default: murmur2 hash of the key, as Kafka's Java client; keyless records go in sticky batches)")
	o.producer = addProducerFlags(fs)
	o.client = addClientFlags(fs, "how long a record may wait for delivery, retries included, before it fails")
	return cmd
}

func (o *produceOptions) run(cmd *cobra.Command, topic string) error {
	headers, err := parseHeaders(o.headers)
	if err != nil {
		return err
	}
	opts, err := o.producer.opts(o.client.timeout)
	if err != nil {
		return err
	}
	opts = append(opts, kgo.DefaultProduceTopic(topic))
	if o.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	// As kcat and Kafka's producers do, ask the broker to create a
	// missing topic; kgo's own metadata requests ask too, in case the
	// topic is deleted while producing.
	opts = append(opts, kgo.AllowAutoTopicCreation())
	cl, err := o.client.newClient(cmd, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := lookupTopic(cmd, o.client, cl, topic, true); err != nil {
		return err
	}

	// Records already read are delivered even after an interrupt, so they
	// are produced under a context that SIGINT does not cancel (kgo fails
	// buffered records whose context ends). Delivery stays bounded by
	// --timeout through the record delivery timeout, and the context ends
	// once the cluster stopped answering, which also unblocks a Produce
	// waiting for room in a full buffer.
	ctx := cmd.Context()
	produceCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()

	stderr := cmd.ErrOrStderr()
	d := newDeliveries(stderr, func(r *kgo.Record) string { return fmt.Sprintf("record %q", truncate(r.Value, 40)) },
		cl, o.client.timeout, abandon)

	lines, readErr := readLines(ctx, cmd.InOrStdin())
	var produced int64
	interrupted := false
loop:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break loop
			}
			produced++
			d.produce(produceCtx, cl, o.record(line, headers), nil)
		case <-d.stalled:
			break loop
		case <-ctx.Done():
			interrupted = true
			break loop
		}
	}
	d.finish(cl, abandon, o.client.timeout)

	errs := []error{d.summary(produced, o.client.timeout)}
	switch {
	case interrupted:
		// Not waiting for the reader: it may be blocked in Read for good.
		errs = append(errs, fmt.Errorf("interrupted after reading %d records; input not fully produced", produced))
	case d.isStalled():
		errs = append(errs, errors.New("stopped reading input: the cluster did not acknowledge records within --timeout"))
	default:
		if err := <-readErr; err != nil {
			// lines is closed only after the reader sent its result.
			errs = append(errs, fmt.Errorf("read stdin: %w", err))
		}
	}
	return errors.Join(errs...)
}

// record builds the record for one input line. The line's bytes become the
// record's (kgo owns them until the promise runs), so each line must be its
// own allocation; readLines guarantees that.
func (o *produceOptions) record(line []byte, headers []kgo.RecordHeader) *kgo.Record {
	r := &kgo.Record{Value: line, Headers: headers}
	if o.keySep != "" {
		// A line starting with SEP has an empty, non-null key; only a line
		// without SEP has a null key.
		if k, v, ok := bytes.Cut(line, []byte(o.keySep)); ok {
			r.Key, r.Value = k, v
		}
	}
	if o.partition >= 0 {
		r.Partition = o.partition
	}
	return r
}

// readLines reads r line by line on its own goroutine, so that an interrupt
// is not stuck behind a read from a terminal or a pipe that never ends (a
// blocking read on stdin cannot be cancelled). If that goroutine is blocked
// in Read when ctx ends, it stays blocked until the process exits; it never
// sends after ctx is done. Each line is a fresh slice without its "\n" or
// "\r\n". The error channel receives exactly one value when reading stops.
func readLines(ctx context.Context, r io.Reader) (<-chan []byte, <-chan error) {
	lines := make(chan []byte, 256)
	errc := make(chan error, 1)
	go func() {
		defer close(lines)
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			// ReadBytes allocates per line, which the records need, and
			// has no line-length limit, unlike bufio.Scanner.
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				line = bytes.TrimSuffix(line, []byte("\n"))
				line = bytes.TrimSuffix(line, []byte("\r"))
				select {
				case lines <- line:
				case <-ctx.Done():
					errc <- nil
					return
				}
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				errc <- err
				return
			}
		}
	}()
	return lines, errc
}

// parseHeaders parses repeated key=value flags; the value may be empty, and
// the same key may repeat (Kafka headers are a list, not a map).
func parseHeaders(kvs []string) ([]kgo.RecordHeader, error) {
	var hs []kgo.RecordHeader
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--header %q: want key=value", kv)
		}
		hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return hs, nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
