package loadgen

import (
	"bytes"
	"strconv"
	"time"
)

// Machine is how the machine's cores spent a span: every process's time
// and the kernel's own together, as Linux counts it in /proc/stat (zero
// where it is not measured). A process's CPU time leaves out the kernel's
// work in interrupts, where the receiving side of a loopback socket's
// packets is done, so the machine's figures tell a server that idles from
// one whose work is counted elsewhere.
type Machine struct {
	// Busy is the cores' time at work: in processes, in the kernel and in
	// interrupts.
	Busy time.Duration
	// Interrupts is the part of Busy in interrupts and softirqs.
	Interrupts time.Duration
	// Idle includes waiting for I/O.
	Idle time.Duration
	// Steal is time the hypervisor gave the virtual cores to others.
	Steal time.Duration
}

func (m Machine) sub(o Machine) Machine {
	return Machine{Busy: m.Busy - o.Busy, Interrupts: m.Interrupts - o.Interrupts, Idle: m.Idle - o.Idle, Steal: m.Steal - o.Steal}
}

func (m Machine) add(o Machine) Machine {
	return Machine{Busy: m.Busy + o.Busy, Interrupts: m.Interrupts + o.Interrupts, Idle: m.Idle + o.Idle, Steal: m.Steal + o.Steal}
}

// userHZ is the unit of /proc/stat's times: the kernel reports them in
// USER_HZ, 100 a second on every architecture Linux runs Go on.
const userHZ = 100

// parseProcStat reads the machine's times from /proc/stat's first line:
// "cpu  user nice system idle iowait irq softirq steal ...". It reports
// false when the line is not there or not whole.
func parseProcStat(data []byte) (Machine, bool) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 9 || string(fields[0]) != "cpu" {
		return Machine{}, false
	}
	var t [8]time.Duration
	for i := range t {
		n, err := strconv.ParseInt(string(fields[i+1]), 10, 64)
		if err != nil || n < 0 {
			return Machine{}, false
		}
		t[i] = time.Duration(n) * (time.Second / userHZ)
	}
	user, nice, system, idle, iowait, irq, softirq, steal := t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]
	return Machine{
		Busy:       user + nice + system + irq + softirq,
		Interrupts: irq + softirq,
		Idle:       idle + iowait,
		Steal:      steal,
	}, true
}
