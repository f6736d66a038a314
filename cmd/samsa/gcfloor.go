package main

// gcFloor is the heap the Go collector counts before the broker's own:
// with a live heap of a few megabytes (a broker whose data is on disk and
// in the page cache), the collector's default goal of twice the live heap
// made it run every 3 MB allocated, 8 times a second at 10,000 records/s,
// each run pausing every goroutine for up to a millisecond, which is where
// the end-to-end p99 was. A never-written allocation of gcFloor bytes
// raises the goal to about twice (live + gcFloor): its pages are never
// touched, so it costs address space, not memory, while the garbage
// allowed between collections (real memory) grows to about gcFloor.
// GOMEMLIMIT cannot express a floor, only a ceiling.
const gcFloor = 32 << 20

var gcBallast []byte

// setGCFloor allocates the ballast once, at start, when the heap has
// fresh pages to give it (memory the heap reuses would be zeroed, and so
// touched).
func setGCFloor() {
	if gcBallast == nil {
		gcBallast = make([]byte, gcFloor)
	}
}
