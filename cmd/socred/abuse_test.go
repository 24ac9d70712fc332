package main_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socred/socred/loadgen"
)

// No personal data or token reaches the logs: a server logging every
// request (debug) is fed canary values — a subject's name, id, evidence,
// e-mail address, a purpose, the tokens themselves and tokens tried — and
// none of them appears in what it logged.
func TestNoPersonalDataInLogs(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "socred.db"), "--log-level", "debug")
	city := s.token(map[string]any{"role": "authority", "authority": "rongcheng-credit-office", "name": "clerk"})
	provider := s.token(map[string]any{"role": "provider", "name": "booking office"})
	canaries := []string{"CanaryName Qx7", "canary-subject-9f3", "canary evidence 71b", "canary.mail@example.org", "canary purpose 5e2", city, provider, "sct_canary-guess-0c1"}
	s.must(201, "PUT", "/v1/subjects/canary-subject-9f3", city, map[string]any{"kind": "person", "name": "CanaryName Qx7", "region": "rongcheng"})
	s.must(200, "PUT", "/v1/subjects/canary-subject-9f3/contact", city, map[string]any{"email": "canary.mail@example.org"})
	s.must(200, "POST", "/v1/records", city, batch(rec("canary-key", "canary-subject-9f3", "rongcheng", "littering", time.Now().Add(-time.Hour))))
	s.records(t, city, "canary evidence 71b")
	s.must(200, "POST", "/v1/checks", provider, map[string]any{"subject": "canary-subject-9f3", "action": "ride-high-speed-train", "purpose": "canary purpose 5e2"})
	s.must(200, "GET", "/v1/subjects/canary-subject-9f3/file?purpose=canary+purpose+5e2", city, nil)
	s.must(401, "GET", "/v1/schemes", "sct_canary-guess-0c1", nil)
	s.must(400, "POST", "/v1/records", city, batch(rec("k2", "canary-subject-9f3", "rongcheng", "no-such-rule", time.Now())))
	s.must(404, "GET", "/v1/subjects/canary-subject-9f3-nobody", city, nil)
	s.stop()
	logs := s.logs.String()
	if !strings.Contains(logs, "msg=request") {
		t.Fatalf("the server logged no requests at debug level:\n%s", logs)
	}
	for _, c := range canaries {
		if strings.Contains(logs, c) {
			t.Errorf("the logs hold the canary %q", c)
		}
	}
}

// records submits one record with the evidence given.
func (s *server) records(t *testing.T, token, evidence string) {
	t.Helper()
	r := rec("canary-key-2", "canary-subject-9f3", "rongcheng", "red-light", time.Now().Add(-time.Hour))
	r["evidence"] = evidence
	s.must(200, "POST", "/v1/records", token, batch(r))
}

// Overload: far more connections than two cores serve, each checking as
// fast as it is answered (every check logged durably), for a minute (SOCRED_OVERLOAD sets
// another duration): the server keeps answering /healthz within two
// seconds, and its memory stays within a bound.
func TestOverload(t *testing.T) {
	d := time.Minute
	if v := os.Getenv("SOCRED_OVERLOAD"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("SOCRED_OVERLOAD: %v", err)
		}
	}
	if testing.Short() {
		d = 10 * time.Second
	}
	s := startServer(t, filepath.Join(t.TempDir(), "socred.db"))
	city := s.token(map[string]any{"role": "authority", "authority": "rongcheng-credit-office", "name": "clerk"})
	provider := s.token(map[string]any{"role": "provider", "name": "booking office"})
	var subjects []any
	for i := range 200 {
		subjects = append(subjects, map[string]any{"id": "p" + strconv.Itoa(i), "kind": "person", "name": "P", "region": "rongcheng"})
	}
	for _, sub := range subjects {
		m := sub.(map[string]any)
		s.must(201, "PUT", "/v1/subjects/"+m["id"].(string), city, m)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		wg        sync.WaitGroup
		healthBad atomic.Int64
		slowest   atomic.Int64
		rss       []int64
		rssMu     sync.Mutex
	)
	pid := s.cmd.Process.Pid
	wg.Go(func() {
		client := &http.Client{Timeout: 2 * time.Second}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			start := time.Now()
			resp, err := client.Get(s.url + "/healthz")
			if err != nil || resp.StatusCode != 200 {
				healthBad.Add(1)
			}
			if resp != nil {
				resp.Body.Close()
			}
			if ms := time.Since(start).Milliseconds(); ms > slowest.Load() {
				slowest.Store(ms)
			}
			if kb := residentKB(pid); kb > 0 {
				rssMu.Lock()
				rss = append(rss, kb)
				rssMu.Unlock()
			}
		}
	})
	body := []byte(`{"subject":"p7","action":"ride-high-speed-train","purpose":"overload"}`)
	res, err := loadgen.Run(ctx, loadgen.Config{
		URL: s.url, Connections: 512, Duration: d,
		Next: func(c, i int) loadgen.Request {
			return loadgen.Request{Method: "POST", Path: "/v1/checks", Token: provider, Body: body}
		},
	})
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Logf("%d connections for %s: %s; /healthz slowest %d ms", 512, d, res, slowest.Load())
	if res.Errors > res.Requests/100 {
		t.Errorf("%d of %d requests failed", res.Errors, res.Requests)
	}
	if n := healthBad.Load(); n > 0 {
		t.Errorf("/healthz failed or took over 2 s %d times under the load", n)
	}
	rssMu.Lock()
	defer rssMu.Unlock()
	if len(rss) < 6 {
		t.Fatalf("only %d memory samples", len(rss))
	}
	// Bounded: every check is logged, and the subject indexes keep up to
	// 2,000,000 new rows in memory before merging them to disk, and the
	// collector lets the heap grow to five times the live data
	// (GOGC=400); past those the memory must not grow with the load.
	// 768 MiB bounds both with room, at a quarter of what the load would
	// need if every request held on to a few kilobytes.
	peak := maxOf(rss)
	third := len(rss) / 3
	t.Logf("resident memory: first third peak %d MiB, last third peak %d MiB, peak %d MiB", maxOf(rss[:third])/1024, maxOf(rss[len(rss)-third:])/1024, peak/1024)
	if peak > 768<<10 {
		t.Errorf("resident memory reached %d MiB under the load, want at most 768", peak/1024)
	}
}

func maxOf(xs []int64) int64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// residentKB reads a process's resident memory, or 0.
func residentKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// The server's timeouts hold against slow clients: one that never
// finishes its header, one that sends its body a byte at a time, one that
// keeps a connection open and idle — each is cut off once its timeout
// passes (here 1 s, 2 s and 1 s, set by flags).
func TestServerTimeouts(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "socred.db"),
		"--header-timeout", "1s", "--read-timeout", "2s", "--idle-timeout", "1s", "--write-timeout", "5s")
	addr := strings.TrimPrefix(s.url, "http://")
	closedWithin := func(what string, c net.Conn, limit time.Duration, feed func(done <-chan struct{})) {
		t.Helper()
		start := time.Now()
		done := make(chan struct{})
		var took time.Duration // when the reader saw the connection end
		go func() {
			defer close(done)
			buf := make([]byte, 4096)
			for {
				c.SetReadDeadline(time.Now().Add(limit + 3*time.Second))
				if _, err := c.Read(buf); err != nil {
					took = time.Since(start)
					return
				}
			}
		}()
		if feed != nil {
			go feed(done) // the feed stops once the connection has ended
		}
		<-done
		if took > limit+2*time.Second {
			t.Errorf("%s: the connection stayed open %s, want it closed after about %s", what, took.Round(10*time.Millisecond), limit)
		} else {
			t.Logf("%s: closed after %s", what, took.Round(10*time.Millisecond))
		}
		c.Close()
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	c := dial()
	fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n") // the header never ends
	closedWithin("unfinished header", c, time.Second, nil)

	c = dial()
	fmt.Fprint(c, "POST /v1/checks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	closedWithin("body a byte a second", c, 2*time.Second, func(done <-chan struct{}) {
		for range 5 {
			if _, err := c.Write([]byte("{")); err != nil {
				return
			}
			select {
			case <-done:
				return
			case <-time.After(time.Second):
			}
		}
	})

	c = dial()
	fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") // answered, then idle
	closedWithin("idle keep-alive connection", c, time.Second, nil)
}
