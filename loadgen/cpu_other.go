//go:build !unix

package loadgen

import "time"

// processCPU is not measured here.
func processCPU() (all, system time.Duration) { return 0, 0 }
