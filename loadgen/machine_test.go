package loadgen

import (
	"strings"
	"testing"
	"time"
)

// /proc/stat's first line gives the machine's cores' times in USER_HZ
// (a hundredth of a second): busy is every state but idle, I/O wait and
// steal; the guest columns, already counted in user, are not added again.
func TestParseProcStat(t *testing.T) {
	const stat = "cpu  1000 20 300 5000 40 6 70 8 90 10\ncpu0 500 10 150 2500 20 3 35 4 45 5\nintr 1 2 3\n"
	m, ok := parseProcStat([]byte(stat))
	if !ok {
		t.Fatal("a whole line was not read")
	}
	cs := func(n int) time.Duration { return time.Duration(n) * 10 * time.Millisecond }
	want := Machine{Busy: cs(1000 + 20 + 300 + 6 + 70), Interrupts: cs(6 + 70), Idle: cs(5000 + 40), Steal: cs(8)}
	if m != want {
		t.Errorf("parsed %+v, want %+v", m, want)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8\n", "cpu  1 2 3 4 5 6 7\n", "cpu  1 2 3 x 5 6 7 8\n", "cpu  1 2 3 -4 5 6 7 8\n"} {
		if m, ok := parseProcStat([]byte(bad)); ok {
			t.Errorf("%q read as %+v, want refused", bad, m)
		}
	}
}

// The machine's span is reported in cores of the measured time, and
// Combine adds spans.
func TestMachineCores(t *testing.T) {
	r := Result{Elapsed: 2 * time.Second, Machine: Machine{Busy: 3 * time.Second, Interrupts: time.Second / 2, Idle: time.Second, Steal: time.Second / 10}}
	const want = "machine 1.50 cores busy (0.25 in interrupts), 0.50 idle, 0.05 stolen"
	if got := r.MachineCores(); got != want {
		t.Errorf("MachineCores() = %q, want %q", got, want)
	}
	if !strings.HasSuffix(r.String(), "; "+want) {
		t.Errorf("String() = %q, want it to end with the machine's figures", r.String())
	}
	if c := Combine(r, r); c.Machine != r.Machine.add(r.Machine) || c.MachineCores() != want {
		t.Errorf("combined %+v (%q), want twice %+v (%q)", c.Machine, c.MachineCores(), r.Machine, want)
	}
	if got := (Result{Elapsed: time.Second}).MachineCores(); got != "" {
		t.Errorf("a span not measured described as %q", got)
	}
}
