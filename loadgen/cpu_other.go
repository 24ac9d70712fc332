//go:build !unix

package loadgen

import "time"

// ProcessCPU is not measured here.
func ProcessCPU() (all, system time.Duration) { return 0, 0 }
