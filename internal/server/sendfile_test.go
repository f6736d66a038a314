package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

// regionFile is a temporary file of random bytes.
func regionFile(t testing.TB, size int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(data)
	path := filepath.Join(t.TempDir(), "00000000000000000000.log")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

// regionHandler answers a Fetch request with a body of "<", the file region
// named by the first partition's FetchOffset and PartitionMaxBytes, and
// ">". With useFd false the region has no descriptor, so it is copied.
func regionHandler(f *os.File, useFd bool, released *atomic.Int64) handlerFunc {
	fd := -1
	if useFd {
		fd = int(f.Fd())
	}
	return func(_ context.Context, req *wire.Request) wire.Pending {
		if !req.Conn.Plaintext {
			panic("loopback TCP connection not marked plaintext")
		}
		p := req.Msg.(*kmsg.FetchRequest).Topics[0].Partitions[0]
		return wire.Now(wire.Response{Body: &wire.Body{
			Chunks: []wire.Chunk{
				{Bytes: []byte("<")},
				{Region: &wire.Region{File: f, Fd: fd, Off: p.FetchOffset, Len: int64(p.PartitionMaxBytes)}},
				{Bytes: []byte(">")},
			},
			Release: func() { released.Add(1) },
		}})
	}
}

func fetchRequest(off int64, n int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	t := kmsg.NewFetchRequestTopic()
	t.Topic = "orders"
	p := kmsg.NewFetchRequestTopicPartition()
	p.FetchOffset, p.PartitionMaxBytes = off, n
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

type region struct {
	off int64
	n   int32
}

// fetchRegions sends the regions in pipelined batches and checks that each
// response carries exactly its bytes. It runs off the test goroutine, so it
// returns errors rather than failing.
func fetchRegions(c *client, data []byte, regions []region, version int16) error {
	const batch = 8
	tag := 0
	if version >= 12 {
		tag = 1
	}
	for start := 0; start < len(regions); start += batch {
		end := min(start+batch, len(regions))
		var out []byte
		for i := start; i < end; i++ {
			out = append(out, request(c.f, fetchRequest(regions[i].off, regions[i].n), version, int32(i))...)
		}
		if _, err := c.nc.Write(out); err != nil {
			return err
		}
		for i := start; i < end; i++ {
			frame, err := c.readFrame()
			if err != nil {
				return fmt.Errorf("response %d: %w", i, err)
			}
			r := regions[i]
			want := binary.BigEndian.AppendUint32(nil, uint32(i))
			want = append(want, make([]byte, tag)...)
			want = append(want, '<')
			want = append(want, data[r.off:r.off+int64(r.n)]...)
			want = append(want, '>')
			if !bytes.Equal(frame, want) {
				return fmt.Errorf("response %d (region %d+%d): %d bytes differ from the %d expected", i, r.off, r.n, len(frame), len(want))
			}
		}
	}
	return nil
}

// Two connections fetch different regions of the same file at once, many
// times. Each gets exactly its bytes, which holds only if every read names
// its offset: both share one *os.File, and so one file position.
func TestRegionsOfOneFileConcurrently(t *testing.T) {
	t.Parallel()
	const size = 1 << 20
	f, data := regionFile(t, size)
	for _, tt := range []struct {
		name    string
		useFd   bool
		version int16
	}{
		{"sendfile", true, 4},
		{"sendfile flexible", true, 12},
		{"copy", false, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var released atomic.Int64
			ts := startServer(t, Config{}, regionHandler(f, tt.useFd, &released))
			var total int64
			plans := make([][]region, 2)
			for i := range 200 {
				n := int32(1 + (i*7919)%60000)
				plans[0] = append(plans[0], region{int64(i*104729) % (size - int64(n)), n})
				plans[1] = append(plans[1], region{size - int64(n) - int64(i*15485863)%(size/2), n})
				total += 2 * int64(n)
			}
			var wg sync.WaitGroup
			for _, plan := range plans {
				c := dial(t, ts.addr)
				wg.Go(func() {
					if err := fetchRegions(c, data, plan, tt.version); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if err := ts.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			s := ts.Stats()
			wantSendfile, wantCopied := total, int64(0)
			if !tt.useFd || !sendfileSupported {
				wantSendfile, wantCopied = 0, total
			}
			if s.SendfileBytes != wantSendfile || s.CopiedRegionBytes != wantCopied || released.Load() != 400 {
				t.Fatalf("sendfile %d copied %d released %d; want %d, %d, 400", s.SendfileBytes, s.CopiedRegionBytes, released.Load(), wantSendfile, wantCopied)
			}
			// Nothing used or moved the file's shared position.
			if pos, err := f.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
				t.Fatalf("file position %d (%v), want 0", pos, err)
			}
		})
	}
}

// A region far larger than the socket buffers makes sendfile stop part
// way (a short count, then EAGAIN) and resume.
func TestLargeRegion(t *testing.T) {
	t.Parallel()
	const size = 24 << 20
	f, data := regionFile(t, size)
	for _, useFd := range []bool{true, false} {
		t.Run(fmt.Sprint("useFd=", useFd), func(t *testing.T) {
			t.Parallel()
			var released atomic.Int64
			ts := startServer(t, Config{}, regionHandler(f, useFd, &released))
			c := dial(t, ts.addr)
			if err := fetchRegions(c, data, []region{{3, size - 7}}, 4); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A region that runs past the end of its file cannot be answered: the
// frame was promised its full size, so the connection closes mid-frame.
func TestRegionPastEndOfFile(t *testing.T) {
	t.Parallel()
	f, _ := regionFile(t, 4096)
	for _, useFd := range []bool{true, false} {
		t.Run(fmt.Sprint("useFd=", useFd), func(t *testing.T) {
			t.Parallel()
			var released atomic.Int64
			ts := startServer(t, Config{}, regionHandler(f, useFd, &released))
			c := dial(t, ts.addr)
			c.send(fetchRequest(4000, 200), 4, 1)
			if frame, err := c.readFrame(); err == nil {
				t.Fatalf("got a whole %d-byte frame", len(frame))
			}
			waitFor(t, "body released", func() bool { return released.Load() == 1 })
		})
	}
}
