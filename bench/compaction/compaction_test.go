// Package compaction measures the log cleaner: MB/s cleaned and the
// cleaner's memory, on a log of updates over 100,000 keys.
//
//	go test -run=^$ -bench=Compact -benchtime=1x ./bench/compaction
//	SAMSA_COMPACT_MB=256 go test -run=^$ -bench=Compact -benchtime=1x ./bench/compaction
package compaction

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/record"
)

func BenchmarkCompact(b *testing.B) {
	mb := 64
	if v, err := strconv.Atoi(os.Getenv("SAMSA_COMPACT_MB")); err == nil && v > 0 {
		mb = v
	}
	const keys, perBatch, valueBytes = 100_000, 100, 100
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		l, err := log.Open(dir, log.Options{Config: log.Config{SegmentBytes: 64 << 20}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		value := make([]byte, valueBytes)
		recs := make([]record.Record, perBatch)
		k := 0
		for l.Size() < int64(mb)<<20 {
			for i := range recs {
				recs[i] = record.Record{OffsetDelta: int32(i), Key: fmt.Appendf(nil, "key-%06d", k%keys), Value: value}
				k += 7919 // a prime: keys are updated in a scattered order
			}
			batch, err := record.BuildBatch(record.CodecNone, 0, recs, record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: time.Now().UnixMilli(), PartitionLeaderEpoch: -1})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := l.Append(batch, log.AppendOptions{LogAppendTime: -1}); err != nil {
				b.Fatal(err)
			}
		}
		// Everything but the active segment is cleaned.
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		start := time.Now()
		st, err := l.Compact(time.Now(), log.CompactOptions{DeleteRetentionMs: -1, MaxCompactionLagMs: -1, HW: l.EndOffset(), MaxMemory: 16 << 20})
		el := time.Since(start)
		b.StopTimer()
		runtime.ReadMemStats(&after)
		if err != nil || !st.Cleaned {
			b.Fatalf("Compact: %+v, %v", st, err)
		}
		b.ReportMetric(float64(st.BytesRead)/(1<<20)/el.Seconds(), "MB/s")
		b.ReportMetric(float64(st.BytesRead)/(1<<20), "MB-cleaned")
		b.ReportMetric(float64(st.BytesWritten)/(1<<20), "MB-written")
		b.ReportMetric(float64(st.MapBytes)/(1<<20), "map-MiB")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "alloc-MiB")
		b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heapinuse-MiB")
		l.Close()
	}
}
