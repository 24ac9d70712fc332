package loadgen_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socred/socred/loadgen"
)

func TestRunCountsAndStops(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		served.Add(1)
		if string(b) == "bad" {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		URL: srv.URL, Connections: 4,
		Next: func(c, i int) loadgen.Request {
			switch {
			case i == 25:
				return loadgen.Request{} // each connection sends 25
			case c == 0 && i == 0:
				return loadgen.Request{Method: "POST", Path: "/", Body: []byte("bad")}
			}
			return loadgen.Request{Method: "POST", Path: "/", Body: []byte("ok")}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 100 || res.Errors != 1 || served.Load() != 100 {
		t.Errorf("got %d requests, %d errors, %d served; want 100, 1, 100", res.Requests, res.Errors, served.Load())
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Errorf("percentiles out of order: %+v", res)
	}
	// Chunked answers, answers without a body and a server that closes
	// the connection are read correctly.
	chunky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			for range 3 {
				w.Write(make([]byte, 5000))
				w.(http.Flusher).Flush()
			}
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer chunky.Close()
	paths := []string{"/chunked", "/close", "/empty"}
	res, err = loadgen.Run(context.Background(), loadgen.Config{URL: chunky.URL, Connections: 2,
		Next: func(c, i int) loadgen.Request {
			if i == 30 {
				return loadgen.Request{}
			}
			return loadgen.Request{Method: "GET", Path: paths[i%3]}
		}})
	if err != nil || res.Requests != 60 || res.Errors != 0 {
		t.Errorf("chunked, closing and empty answers: %+v, %v", res, err)
	}
	// A timed load stops at its duration.
	start := time.Now()
	res, err = loadgen.Run(context.Background(), loadgen.Config{URL: srv.URL, Connections: 2, Duration: 200 * time.Millisecond,
		Next: func(c, i int) loadgen.Request { return loadgen.Request{Method: "GET", Path: "/"} }})
	if err != nil || time.Since(start) > 2*time.Second || res.Requests == 0 {
		t.Errorf("timed load: %+v %v after %s", res, err, time.Since(start))
	}
}

// With several URLs the connections are spread over the servers.
func TestRunSpreadsOverServers(t *testing.T) {
	var served [2]atomic.Int64
	var urls []string
	for i := range served {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served[i].Add(1) }))
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		URLs: urls, Connections: 4,
		Next: func(c, i int) loadgen.Request {
			if i == 10 {
				return loadgen.Request{}
			}
			return loadgen.Request{Method: "GET", Path: "/"}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 40 || served[0].Load() != 20 || served[1].Load() != 20 {
		t.Errorf("got %d requests, %d and %d served; want 40, 20 and 20", res.Requests, served[0].Load(), served[1].Load())
	}
}

// Combine adds requests and time, and takes quantiles over every latency.
func TestCombine(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	a := loadgen.Result{Requests: 3, Errors: 1, Elapsed: time.Second, Latencies: ms(1, 2, 3)}
	b := loadgen.Result{Requests: 2, Elapsed: time.Second, Latencies: ms(10, 20)}
	c := loadgen.Combine(a, b)
	if c.Requests != 5 || c.Errors != 1 || c.Elapsed != 2*time.Second {
		t.Errorf("combined %d requests, %d errors in %s; want 5, 1 in 2s", c.Requests, c.Errors, c.Elapsed)
	}
	if c.P50 != 3*time.Millisecond || c.Max != 20*time.Millisecond || c.Rate() != 2 {
		t.Errorf("combined p50 %s, max %s, rate %.1f; want 3ms, 20ms, 2.0", c.P50, c.Max, c.Rate())
	}
}

// A timed load reports the CPU time the process used while measuring,
// and the kernel's part of it; Combine adds them.
func TestRunMeasuresCPU(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Work the CPU so that the measured span holds some.
		sum := 0
		for i := range 100_000 {
			sum += i
		}
		w.Write([]byte(strconv.Itoa(sum)))
	}))
	defer srv.Close()
	// The counts since the process (or the machine) started, around the
	// load: what it reports is a part of their growth, not the counts.
	vol0, invol0 := loadgen.ProcessSwitches()
	machine0, _ := loadgen.MachineCPU()
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		URL: srv.URL, Connections: 2, Warmup: 20 * time.Millisecond, Duration: 200 * time.Millisecond,
		Next: func(c, i int) loadgen.Request { return loadgen.Request{Method: "GET", Path: "/"} },
	})
	if err != nil {
		t.Fatal(err)
	}
	vol1, invol1 := loadgen.ProcessSwitches()
	machine1, _ := loadgen.MachineCPU()
	if grew := vol1 - vol0 + invol1 - invol0; res.VoluntarySwitches+res.InvoluntarySwitches > grew {
		t.Errorf("%d context switches reported, more than the process made while the load ran (%d)", res.VoluntarySwitches+res.InvoluntarySwitches, grew)
	}
	if grew := machine1.Busy - machine0.Busy; res.Machine.Busy > grew {
		t.Errorf("the machine's cores busy %s, more than they were while the load ran (%s)", res.Machine.Busy, grew)
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" {
		t.Skip("CPU time is measured on Unix only")
	}
	if res.CPU <= 0 || res.CPUSystem < 0 || res.CPUSystem > res.CPU {
		t.Fatalf("CPU %s, of it in the kernel %s: want some, the kernel's part of it", res.CPU, res.CPUSystem)
	}
	if !strings.Contains(res.String(), "µs a request") {
		t.Errorf("result %q does not report the CPU time a request", res.String())
	}
	if strings.Contains(res.String(), "the load's process") {
		t.Errorf("result %q names a load process, and the load ran in this one", res.String())
	}
	res.LoadCPU = res.CPU / 4 // as a load process's result reports it (socred bench load)
	if !strings.Contains(res.String(), "; ") || !strings.Contains(res.String(), " in the load's process)") {
		t.Errorf("result %q does not report the load process's part of the CPU", res.String())
	}
	if runtime.GOOS == "linux" {
		// The machine's cores were measured too, this process's work
		// among theirs.
		m := res.Machine
		if m.Busy <= 0 || m.Idle < 0 || m.Interrupts < 0 || m.Interrupts > m.Busy || m.Steal < 0 {
			t.Errorf("machine %+v: want busy time, and the rest none negative", m)
		}
		if !strings.Contains(res.String(), "; machine ") {
			t.Errorf("result %q does not report the machine's cores", res.String())
		}
	}
	// Two connections and a server in this process block and wake many
	// times in 200 ms: the context switches are counted too.
	if res.VoluntarySwitches+res.InvoluntarySwitches <= 0 || res.VoluntarySwitches < 0 || res.InvoluntarySwitches < 0 {
		t.Errorf("context switches %d voluntary, %d involuntary: want some, none negative", res.VoluntarySwitches, res.InvoluntarySwitches)
	}
	if !strings.Contains(res.String(), " context switches a request (") {
		t.Errorf("result %q does not report the context switches a request", res.String())
	}
	if c := loadgen.Combine(res, res); c.VoluntarySwitches != 2*res.VoluntarySwitches || c.InvoluntarySwitches != 2*res.InvoluntarySwitches {
		t.Errorf("combined switches %d, %d; want twice %d, %d", c.VoluntarySwitches, c.InvoluntarySwitches, res.VoluntarySwitches, res.InvoluntarySwitches)
	}
	if c := loadgen.Combine(res, res); c.CPU != 2*res.CPU || c.CPUSystem != 2*res.CPUSystem || c.LoadCPU != 2*res.LoadCPU {
		t.Errorf("combined CPU %s (%s in the kernel, %s the load's), want twice %s (%s, %s)", c.CPU, c.CPUSystem, c.LoadCPU, res.CPU, res.CPUSystem, res.LoadCPU)
	}
}
