package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkPipelinedSmallRequests measures ApiVersions v3 round trips on
// one loopback connection with the client writing ahead of the responses,
// as franz-go does with its producer and fetch connections.
func BenchmarkPipelinedSmallRequests(b *testing.B) {
	versions := testVersions()
	ts := startServer(b, Config{Versions: versions}, answer(versions, ""))
	c := dial(b, ts.addr)
	req := request(c.f, kmsg.NewPtrApiVersionsRequest(), 3, 1)

	b.ReportAllocs()
	b.ResetTimer()
	werr := make(chan error, 1)
	go func() {
		bw := bufio.NewWriter(c.nc)
		for range b.N {
			if _, err := bw.Write(req); err != nil {
				werr <- err
				return
			}
		}
		werr <- bw.Flush()
	}()
	readResponses(b, c, b.N)
	if err := <-werr; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRoundTripSmallRequest is the same request one at a time: the
// latency of a request through reader, resolver and writer.
func BenchmarkRoundTripSmallRequest(b *testing.B) {
	versions := testVersions()
	ts := startServer(b, Config{Versions: versions}, answer(versions, ""))
	c := dial(b, ts.addr)
	req := request(c.f, kmsg.NewPtrApiVersionsRequest(), 3, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.nc.Write(req); err != nil {
			b.Fatal(err)
		}
		readResponses(b, c, 1)
	}
}

func readResponses(b *testing.B, c *client, n int) {
	var size [4]byte
	for range n {
		if _, err := io.ReadFull(c.br, size[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := c.br.Discard(int(binary.BigEndian.Uint32(size[:]))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRegion1MiB fetches a 1 MiB file region per request, through
// sendfile and through the ReadAt fallback.
func BenchmarkRegion1MiB(b *testing.B) {
	const n = 1 << 20
	f, _ := regionFile(b, 4*n)
	for _, bc := range []struct {
		name  string
		useFd bool
	}{{"sendfile", true}, {"copy", false}} {
		b.Run(bc.name, func(b *testing.B) {
			var released atomic.Int64
			ts := startServer(b, Config{}, regionHandler(f, bc.useFd, &released))
			c := dial(b, ts.addr)
			c.br = bufio.NewReaderSize(c.nc, 1<<20) // so the client is not the bottleneck
			req := request(c.f, fetchRequest(n, n), 4, 1)
			b.SetBytes(n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.nc.Write(req); err != nil {
					b.Fatal(err)
				}
				readResponses(b, c, 1)
			}
			b.StopTimer()
			if err := ts.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
			if s := ts.Stats(); (s.SendfileBytes > 0) != (bc.useFd && sendfileSupported) {
				b.Fatalf("stats %+v: wrong path taken", s)
			}
		})
	}
}
