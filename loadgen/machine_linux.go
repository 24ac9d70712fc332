package loadgen

import "os"

// MachineCPU returns the machine's cores' times since it started.
func MachineCPU() (Machine, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Machine{}, false
	}
	return parseProcStat(data)
}
