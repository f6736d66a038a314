package crash

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/record"
)

// promptly bounds a clean shutdown. It is a failure bound, not a
// benchmark: an idle broker stops in milliseconds.
const promptly = 5 * time.Second

// TestSigtermCleanShutdown: SIGTERM stops the broker with exit status 0
// within seconds, every partition directory holds the clean-shutdown
// marker, and the next start trusts it instead of scanning the logs.
func TestSigtermCleanShutdown(t *testing.T) {
	t.Parallel()
	const (
		topic      = "clean"
		partitions = 3
	)
	dir := t.TempDir()
	p := startProcess(t, dir)
	createTopic(t, p.Addr, topic, partitions)
	cl := client(t, p.Addr)
	// 20 batches of about 600 bytes in partition 0, so that its offset
	// index (an entry per 4 KiB) has entries past the first batch; one
	// batch in each other partition.
	var want0 []string
	for i := range 20 {
		vs := []string{fmt.Sprintf("%03d-%s", i, strings.Repeat("x", 250)), fmt.Sprintf("%03d-%s", i, strings.Repeat("y", 250))}
		produceOK(t, cl, topic, 0, plainBatch(t, vs...), int64(2*i))
		want0 = append(want0, vs...)
	}
	for part := int32(1); part < partitions; part++ {
		produceOK(t, cl, topic, part, plainBatch(t, "only"), 0)
	}
	cl.Close()

	start := time.Now()
	if err := p.Stop(); err != nil {
		t.Fatalf("SIGTERM: %v (want exit status 0)\n%s", err, p.Log())
	}
	if took := time.Since(start); took > promptly {
		t.Fatalf("SIGTERM took %v to exit, more than %v", took, promptly)
	}
	for part := range int32(partitions) {
		marker := filepath.Join(partitionDir(dir, topic, part), cleanShutdownMarker)
		if _, err := os.Stat(marker); err != nil {
			t.Fatalf("partition %d after SIGTERM: %v", part, err)
		}
	}

	// Damage a record in the first batch of partition 0. A broker that
	// scanned the log would find the CRC mismatch and truncate the log to
	// offset 0; one that trusts the marker, as Kafka does, keeps the file
	// as it is. (Only the batches after the last index entry are read on
	// a clean start, to find the log end.)
	seg := firstSegment(dir, topic, 0)
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	first, err := record.ParseHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	at := first.Size() - 10 // inside the last record's value
	data[at] ^= 0xff
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}

	restart(t, p)
	ends := endOffsets(t, p.Addr, topic)
	if ends[0] != int64(len(want0)) || ends[1] != 1 || ends[2] != 1 {
		t.Fatalf("log ends %v after a clean restart, want 0:%d 1:1 2:1", ends, len(want0))
	}
	if fi, err := os.Stat(seg); err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("%s after a clean restart: %v, size %d, want %d untouched", seg, err, fi.Size(), len(data))
	}
	if strings.Contains(p.Log(), "truncating") || strings.Contains(p.Log(), "recovering") {
		t.Fatalf("a clean restart recovered:\n%s", p.Log())
	}
	// The marker is consumed by the start: a crash from now on must
	// recover.
	for part := range int32(partitions) {
		marker := filepath.Join(partitionDir(dir, topic, part), cleanShutdownMarker)
		if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("partition %d: marker while running: %v", part, err)
		}
	}
	// Records after the damaged batch read back whole.
	from := map[int32]int64{0: 2}
	if got := values(consume(t, p.Addr, topic, from, map[int32]int64{0: ends[0]})[0]); strings.Join(got, ",") != strings.Join(want0[2:], ",") {
		t.Fatalf("partition 0 from offset 2: %d records, want %d", len(got), len(want0)-2)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("second SIGTERM: %v", err)
	}
}

// TestShutdownDuringLongPoll: a consumer waiting in a long poll must not
// hold up a shutdown until the grace period runs out (cmd/samsa gives
// SIGTERM 10 s, after which the exit status is an error). Kafka closes
// the sockets and drops the parked fetches.
func TestShutdownDuringLongPoll(t *testing.T) {
	t.Parallel()
	b := startOn(t, t.TempDir(), nil)
	createTopic(t, b.Addr(), "idle", 1)

	nc, err := net.DialTimeout("tcp", b.Addr(), waitFor)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID, req.SessionEpoch = -1, -1
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 60_000, 1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "idle"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	frame := kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)
	before := b.Server().Stats().BytesRead
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	// The broker has read the whole fetch: it is parked in the long poll.
	deadline := time.Now().Add(waitFor)
	for b.Server().Stats().BytesRead < before+int64(len(frame)) {
		if time.Now().After(deadline) {
			t.Fatal("the broker did not read the fetch")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// What cmd/samsa does on SIGTERM: Shutdown with a 10 s grace.
	start := time.Now()
	err = b.stop()
	took := time.Since(start)
	if err != nil || took > promptly {
		t.Fatalf("Shutdown with a Fetch parked in a 60 s long poll took %v and returned %v; want nil within %v", took.Round(time.Millisecond), err, promptly)
	}
	// The client gets an empty answer or a closed connection.
	if err := nc.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	_, err = io.ReadFull(nc, size[:])
	switch {
	case err == nil:
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(nc, body); err != nil {
			t.Fatalf("reading the long poll's answer: %v", err)
		}
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 12
		if len(body) < 5 || resp.ReadFrom(body[5:]) != nil { // correlation id, header tags
			t.Fatalf("long poll answered with %d undecodable bytes", len(body))
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || len(resp.Topics[0].Partitions[0].RecordBatches) != 0 {
			t.Fatalf("long poll answered %+v", resp.Topics)
		}
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
	default:
		t.Fatalf("after the shutdown the long-polling client reads %v", err)
	}
}
