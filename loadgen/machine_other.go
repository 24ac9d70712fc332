//go:build !linux

package loadgen

// MachineCPU is not measured here.
func MachineCPU() (Machine, bool) { return Machine{}, false }
