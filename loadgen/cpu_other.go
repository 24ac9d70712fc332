//go:build !unix

package loadgen

import "time"

// ProcessCPU is not measured here.
func ProcessCPU() (all, system time.Duration) { return 0, 0 }

// ProcessSwitches is not counted here.
func ProcessSwitches() (voluntary, involuntary int64) { return 0, 0 }
