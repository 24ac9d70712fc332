//go:build unix

package loadgen

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time the process has used: in all, and of it in
// the kernel.
func ProcessCPU() (all, system time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano())
}

// ProcessSwitches counts the process's context switches so far: voluntary
// (a thread that had nothing to run went to sleep) and involuntary (the
// kernel took the core from a running thread).
func ProcessSwitches() (voluntary, involuntary int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return int64(ru.Nvcsw), int64(ru.Nivcsw)
}
