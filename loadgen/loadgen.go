// Package loadgen is socred's HTTP load generator: a fixed number of
// connections, each sending its next request as soon as the last answer
// arrived (a closed loop), for a fixed time, with latency percentiles.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Request is one request to send.
type Request struct {
	Method string
	Path   string
	Token  string
	Body   []byte
}

// Config is a load.
type Config struct {
	URL string
	// URLs, when set, spread the connections over several servers:
	// connection c goes to URLs[c % len(URLs)]. URL is then ignored.
	URLs        []string
	Connections int
	Duration    time.Duration
	// Warmup runs before measuring; its requests are not counted.
	Warmup time.Duration
	// Next returns the i-th request of connection c; a Request without a
	// Method ends that connection's load. With Duration zero the load runs
	// until every connection has ended.
	Next func(c, i int) Request
	// OK reports whether an answer counts as a success (default: 2xx).
	OK func(status int) bool
	// Measuring, when set, is called as the warm-up ends and measuring
	// begins.
	Measuring func()
}

// Result is what a load measured.
type Result struct {
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50, P90 time.Duration
	P99, Max time.Duration
	// Latencies are the measured requests' latencies, ascending.
	Latencies []time.Duration
	// CPU is the CPU time the whole process used while measuring, load
	// generator included, and CPUSystem the part of it in the kernel (zero
	// where it is not measured).
	CPU, CPUSystem time.Duration
	// LoadCPU is the part of CPU a load generator in a process of its own
	// used (zero when it ran in the measured process or was not measured).
	LoadCPU time.Duration
	// Machine is how the machine's cores spent the measured span, zero
	// where it is not measured.
	Machine Machine
	// VoluntarySwitches and InvoluntarySwitches count the context switches
	// of the process that ran the servers over the measured span (with
	// the load generator, when it ran there too; zero where they are not
	// counted).
	VoluntarySwitches, InvoluntarySwitches int64
}

// Combine is the result of loads run one after another, as one: their
// requests over their time together, quantiles over all their latencies.
func Combine(rs ...Result) Result {
	var c Result
	for _, r := range rs {
		c.Requests += r.Requests
		c.Errors += r.Errors
		c.Elapsed += r.Elapsed
		c.CPU += r.CPU
		c.CPUSystem += r.CPUSystem
		c.LoadCPU += r.LoadCPU
		c.Machine = c.Machine.add(r.Machine)
		c.VoluntarySwitches += r.VoluntarySwitches
		c.InvoluntarySwitches += r.InvoluntarySwitches
		c.Latencies = append(c.Latencies, r.Latencies...)
	}
	slices.Sort(c.Latencies)
	c.quantiles()
	return c
}

// quantiles sets P50 to Max from Latencies, which ascend.
func (r *Result) quantiles() {
	lat := r.Latencies
	if len(lat) == 0 {
		return
	}
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	r.P50, r.P90, r.P99, r.Max = q(0.50), q(0.90), q(0.99), lat[len(lat)-1]
}

// Rate returns successful requests per second.
func (r Result) Rate() float64 { return float64(r.Requests-r.Errors) / r.Elapsed.Seconds() }

func (r Result) String() string {
	s := fmt.Sprintf("%.0f req/s (%d requests, %d errors in %s), p50 %s, p90 %s, p99 %s, max %s",
		r.Rate(), r.Requests, r.Errors, r.Elapsed.Round(time.Millisecond), r.P50, r.P90, r.P99, r.Max)
	if r.CPU > 0 && r.Requests > 0 {
		s += fmt.Sprintf(", CPU %.2f cores (%.0f %% in the kernel", r.CPU.Seconds()/r.Elapsed.Seconds(), 100*r.CPUSystem.Seconds()/r.CPU.Seconds())
		if r.LoadCPU > 0 {
			s += fmt.Sprintf("; %.2f in the load's process", r.LoadCPU.Seconds()/r.Elapsed.Seconds())
		}
		s += fmt.Sprintf("), %.1f µs a request", float64(r.CPU.Microseconds())/float64(r.Requests))
	}
	if sw := r.VoluntarySwitches + r.InvoluntarySwitches; sw > 0 && r.Requests > 0 {
		s += fmt.Sprintf("; %.2f context switches a request (%.2f voluntary)", float64(sw)/float64(r.Requests), float64(r.VoluntarySwitches)/float64(r.Requests))
	}
	if m := r.MachineCores(); m != "" {
		s += "; " + m
	}
	return s
}

// MachineCores describes how the machine's cores spent the measured span,
// in cores, or is empty where that was not measured.
func (r Result) MachineCores() string {
	m := r.Machine
	if m.Busy <= 0 || r.Elapsed <= 0 {
		return ""
	}
	cores := func(d time.Duration) float64 { return d.Seconds() / r.Elapsed.Seconds() }
	return fmt.Sprintf("machine %.2f cores busy (%.2f in interrupts), %.2f idle, %.2f stolen", cores(m.Busy), cores(m.Interrupts), cores(m.Idle), cores(m.Steal))
}

// Run sends the load and returns what it measured. Each connection is a
// plain keep-alive HTTP/1.1 connection with a small client of its own, so
// that the generator spends little of the machine it measures (the
// net/http client costs several times more per request than a lean
// server handler).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.OK == nil {
		cfg.OK = func(s int) bool { return s >= 200 && s < 300 }
	}
	if len(cfg.URLs) == 0 {
		cfg.URLs = []string{cfg.URL}
	}
	hosts := make([]string, len(cfg.URLs))
	for i, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return Result{}, fmt.Errorf("loadgen: want an http:// URL, not %q", raw)
		}
		hosts[i] = u.Host
	}
	var (
		mu       sync.Mutex
		lat      []time.Duration
		requests int
		errs     int
		firstErr error
	)
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	// The process's and the machine's CPU time over the measured span,
	// from a timer at its start to the end of the load.
	type times struct {
		all, sys   time.Duration
		vol, invol int64
		machine    Machine
		measured   bool // the machine's
	}
	now := func() times {
		var t times
		t.all, t.sys = ProcessCPU()
		t.vol, t.invol = ProcessSwitches()
		t.machine, t.measured = MachineCPU()
		return t
	}
	cpu0 := make(chan times, 1)
	cpuTimer := time.AfterFunc(cfg.Warmup, func() {
		cpu0 <- now()
		if cfg.Measuring != nil {
			cfg.Measuring()
		}
	})
	defer cpuTimer.Stop()
	var wg sync.WaitGroup
	for c := range cfg.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &client{host: hosts[c%len(hosts)]}
			defer cl.close()
			local := make([]time.Duration, 0, 1<<16)
			n, e := 0, 0
			var ferr error
			for i := 0; ; i++ {
				if ctx.Err() != nil {
					break
				}
				req := cfg.Next(c, i)
				t0 := time.Now()
				if req.Method == "" || (cfg.Duration > 0 && t0.After(end)) {
					break
				}
				status, err := cl.do(req)
				t1 := time.Now()
				if t0.Before(measureFrom) {
					continue
				}
				n++
				local = append(local, t1.Sub(t0))
				if err != nil || !cfg.OK(status) {
					e++
					if ferr == nil {
						ferr = fmt.Errorf("%s %s: status %d, %v", req.Method, req.Path, status, err)
					}
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			requests += n
			errs += e
			if firstErr == nil {
				firstErr = ferr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	var (
		cpu, cpuSys time.Duration
		vol, invol  int64
		machine     Machine
	)
	select {
	case t0 := <-cpu0:
		t1 := now()
		cpu, cpuSys = t1.all-t0.all, t1.sys-t0.sys
		vol, invol = t1.vol-t0.vol, t1.invol-t0.invol
		if t0.measured && t1.measured {
			machine = t1.machine.sub(t0.machine)
		}
	default: // the load ended before measuring began
	}
	elapsed := time.Since(measureFrom)
	if cfg.Duration > 0 && elapsed > cfg.Duration {
		elapsed = cfg.Duration
	}
	slices.Sort(lat)
	r := Result{Requests: requests, Errors: errs, Elapsed: elapsed, Latencies: lat, CPU: cpu, CPUSystem: cpuSys, Machine: machine,
		VoluntarySwitches: vol, InvoluntarySwitches: invol}
	r.quantiles()
	if errs > 0 && errs == requests {
		return r, fmt.Errorf("every request failed; first: %w", firstErr)
	}
	return r, nil
}

// client is one keep-alive HTTP/1.1 connection.
type client struct {
	host string
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	head []byte // the request line and headers of the request being sent
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close() // #nosec G104 -- the connection is dropped after an error or at the end; the next request dials anew
		c.conn = nil
	}
}

// do sends a request and reads the whole answer, returning its status.
func (c *client) do(req Request) (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.host, 5*time.Second)
		if err != nil {
			return 0, err
		}
		c.conn, c.r, c.w = conn, bufio.NewReaderSize(conn, 64<<10), bufio.NewWriterSize(conn, 64<<10)
	}
	status, keep, err := c.roundTrip(req)
	if err != nil || !keep {
		c.close()
	}
	return status, err
}

func (c *client) roundTrip(req Request) (status int, keep bool, err error) {
	if err := c.conn.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		return 0, false, err
	}
	h := append(c.head[:0], req.Method...)
	h = append(h, ' ')
	h = append(h, req.Path...)
	h = append(h, " HTTP/1.1\r\nHost: "...)
	h = append(h, c.host...)
	h = append(h, "\r\n"...)
	if req.Token != "" {
		h = append(h, "Authorization: Bearer "...)
		h = append(h, req.Token...)
		h = append(h, "\r\n"...)
	}
	if req.Body != nil {
		h = append(h, "Content-Type: application/json\r\nContent-Length: "...)
		h = strconv.AppendInt(h, int64(len(req.Body)), 10)
		h = append(h, "\r\n"...)
	}
	h = append(h, "\r\n"...)
	c.head = h
	if _, err := c.w.Write(h); err != nil {
		return 0, false, err
	}
	if _, err := c.w.Write(req.Body); err != nil {
		return 0, false, err
	}
	if err := c.w.Flush(); err != nil {
		return 0, false, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, keep := -1, false, true
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return status, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case status == 204 || status == 304 || status/100 == 1 || req.Method == "HEAD":
		return status, keep, nil // no body
	case chunked:
		for {
			line, err := c.r.ReadSlice('\n')
			if err != nil {
				return status, false, err
			}
			size, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
			n, err := strconv.ParseInt(string(size), 16, 64)
			if err != nil {
				return status, false, fmt.Errorf("bad chunk size %q", line)
			}
			if _, err := c.r.Discard(int(n) + 2); err != nil {
				return status, false, err
			}
			if n == 0 {
				return status, keep, nil
			}
		}
	case length >= 0:
		_, err = c.r.Discard(length)
		return status, keep, err
	}
	// No length: the body runs to the end of the connection.
	_, err = io.Copy(io.Discard, c.r)
	return status, false, err
}
