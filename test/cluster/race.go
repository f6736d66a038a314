//go:build race

package cluster

// raceBuild: this test binary has the race detector, so Binary builds the
// broker with it too.
const raceBuild = true
