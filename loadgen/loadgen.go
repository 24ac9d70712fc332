// Package loadgen is socred's HTTP load generator: a fixed number of
// connections, each sending its next request as soon as the last answer
// arrived (a closed loop), for a fixed time, with latency percentiles.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
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
	URL         string
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
}

// Result is what a load measured.
type Result struct {
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50, P90 time.Duration
	P99, Max time.Duration
}

// Rate returns successful requests per second.
func (r Result) Rate() float64 { return float64(r.Requests-r.Errors) / r.Elapsed.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("%.0f req/s (%d requests, %d errors in %s), p50 %s, p90 %s, p99 %s, max %s",
		r.Rate(), r.Requests, r.Errors, r.Elapsed.Round(time.Millisecond), r.P50, r.P90, r.P99, r.Max)
}

// Run sends the load and returns what it measured.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.OK == nil {
		cfg.OK = func(s int) bool { return s >= 200 && s < 300 }
	}
	tr := &http.Transport{
		MaxIdleConns:        cfg.Connections,
		MaxIdleConnsPerHost: cfg.Connections,
		MaxConnsPerHost:     cfg.Connections,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}

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
	var wg sync.WaitGroup
	for c := range cfg.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
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
				status, err := send(ctx, client, cfg.URL, req)
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
	elapsed := time.Since(measureFrom)
	if cfg.Duration > 0 && elapsed > cfg.Duration {
		elapsed = cfg.Duration
	}
	r := Result{Requests: requests, Errors: errs, Elapsed: elapsed}
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		r.P50, r.P90, r.P99, r.Max = q(0.50), q(0.90), q(0.99), lat[len(lat)-1]
	}
	if errs > 0 && errs == requests {
		return r, fmt.Errorf("every request failed; first: %w", firstErr)
	}
	return r, nil
}

func send(ctx context.Context, client *http.Client, base string, r Request) (int, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, base+r.Path, body)
	if err != nil {
		return 0, err
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, err
}
