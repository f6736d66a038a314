package replication

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestInParallelBound: num.recovery.threads.per.data.dir (Config.Parallelism)
// bounds how many replicas are worked on at once: with a bound of 3, nine
// tasks that each wait to be released start three at a time, never four,
// and all of them run.
func TestInParallelBound(t *testing.T) {
	for _, tc := range []struct{ parallelism, want int }{{3, 3}, {1, 1}, {0, DefaultParallelism}} {
		m := &Manager{cfg: Config{Parallelism: tc.parallelism}}
		n := 3 * tc.want
		var started, running, most atomic.Int64
		release := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.inParallel(n, func(int) {
				r := running.Add(1)
				for {
					if m := most.Load(); r <= m || most.CompareAndSwap(m, r) {
						break
					}
				}
				started.Add(1)
				<-release
				running.Add(-1)
			})
		}()
		for g := 1; g <= 3; g++ {
			deadline := time.Now().Add(10 * time.Second)
			for started.Load() < int64(g*tc.want) {
				if time.Now().After(deadline) {
					t.Fatalf("parallelism %d: %d tasks started, want %d", tc.parallelism, started.Load(), g*tc.want)
				}
				time.Sleep(time.Millisecond)
			}
			if s := started.Load(); s != int64(g*tc.want) {
				t.Fatalf("parallelism %d: %d tasks started before any was released, want %d", tc.parallelism, s, g*tc.want)
			}
			for range tc.want {
				release <- struct{}{}
			}
		}
		<-done
		if most.Load() != int64(tc.want) || started.Load() != int64(n) {
			t.Fatalf("parallelism %d: at most %d at once (want %d), %d of %d ran", tc.parallelism, most.Load(), tc.want, started.Load(), n)
		}
	}
}
