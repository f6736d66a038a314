//go:build race

package chaos

// raceEnabled: this test binary, and so the brokers it builds, has the
// race detector; the transactional run shortens its CI schedule.
const raceEnabled = true
