package server

import (
	"syscall"
	"testing"
	"time"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkZZRegionCPU(b *testing.B) {
	start := cpuNow()
	BenchmarkRegion1MiB(b)
	_ = start
}
