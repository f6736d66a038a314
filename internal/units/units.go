// Package units formats sizes for people: the CLI's tables and the
// broker's log lines share one way of writing them.
package units

import "fmt"

// Bytes formats n in binary units with one decimal ("1.2 MB" for 1.2 MiB),
// as Kafka's tools write sizes; below 1 KiB it is a count of bytes ("512 B").
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGTP"[exp])
}
