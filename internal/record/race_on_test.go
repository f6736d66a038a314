//go:build race

package record

// raceEnabled: under the race detector sync.Pool drops items at random, so
// allocation counts include coder state that is normally reused.
const raceEnabled = true
