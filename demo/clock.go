package demo

import (
	"sync"
	"time"
)

// Clock is a clock that runs simulated time while a demo is seeded and real
// time afterwards. It is safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	sim  time.Time
	real bool
}

// NewClock returns a clock that reads at.
func NewClock(at time.Time) *Clock { return &Clock{sim: at} }

// Now returns the simulated time, or the real time once Real was called.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real {
		return time.Now()
	}
	return c.sim
}

// Set moves the simulated time.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.sim = t
	c.mu.Unlock()
}

// Real switches the clock to real time for good.
func (c *Clock) Real() {
	c.mu.Lock()
	c.real = true
	c.mu.Unlock()
}
