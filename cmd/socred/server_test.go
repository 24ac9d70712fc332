package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/socred/socred/web"
)

const adminToken = "sct_test-admin-token"

// server is a running socred serve process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	db   string
	logs *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listening = regexp.MustCompile(`msg=listening url=(http://\S+)`)

// startServer runs "socred serve" on a free port with the database db and
// waits until it listens.
func startServer(t *testing.T, db string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "SOCRED_ADMIN_TOKEN="+adminToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, db: db, logs: &lockedBuffer{}, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.logs.Write([]byte(line + "\n"))
			if m := listening.FindStringSubmatch(line); m != nil {
				urlc <- m[1]
			}
		}
		close(s.done)
	}()
	select {
	case s.url = <-urlc:
	case <-s.done:
		cmd.Wait()
		t.Fatalf("socred serve exited before listening:\n%s", s.logs)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("socred serve did not listen within 60 s:\n%s", s.logs)
	}
	t.Cleanup(func() { s.stop() })
	return s
}

// stop ends the server with SIGTERM and waits for a clean exit.
func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	if err := s.cmd.Wait(); err != nil {
		s.t.Errorf("socred serve did not stop cleanly: %v\n%s", err, s.logs)
	}
}

// kill ends the server with SIGKILL.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd.Wait()
}

// reply is an HTTP answer.
type reply struct {
	status int
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// errorField returns the error's code and field.
func (r reply) errorField(t *testing.T) (string, string) {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	field, _ := e["field"].(string)
	return code, field
}

// call makes a request with a token (or none) and a JSON body.
func (s *server) call(method, path, token string, body any) reply {
	s.t.Helper()
	r, err := s.tryCall(method, path, token, body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// tryCall is call returning a transport error (the server may be gone).
func (s *server) tryCall(method, path, token string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, ok := body.(string)
		if !ok {
			j, err := json.Marshal(body)
			if err != nil {
				return reply{}, err
			}
			b = string(j)
		}
		rd = strings.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: res.StatusCode, body: b}, nil
}

// must makes a request and fails the test unless the status matches.
func (s *server) must(status int, method, path, token string, body any) reply {
	s.t.Helper()
	r := s.call(method, path, token, body)
	if r.status != status {
		s.t.Fatalf("%s %s: got %d, want %d: %s", method, path, r.status, status, r.body)
	}
	return r
}

// token creates a token and returns its secret.
func (s *server) token(in map[string]any) string {
	s.t.Helper()
	return s.must(201, "POST", "/v1/tokens", adminToken, in).json(s.t)["token"].(string)
}

func rec(key, subject, scheme, rule string, at time.Time) map[string]any {
	return map[string]any{"key": key, "subject": subject, "scheme": scheme, "rule": rule,
		"occurred_at": at.UTC().Format(time.RFC3339), "evidence": "report " + key}
}

func batch(rs ...map[string]any) map[string]any { return map[string]any{"records": rs} }

// TestDemo runs "socred demo" with a small population and checks that it
// serves what it seeded and prints a token for every role.
func TestDemo(t *testing.T) {
	// The defaults, as the README runs it: 10,000 subjects and a year.
	cmd := exec.Command(binary, "demo", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "SOCRED_ADMIN_TOKEN="+adminToken)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut lockedBuffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
			break
		}
	}
	text := out.String()
	for _, want := range []string{"seeded 10000 subjects", "socred is serving http://127.0.0.1:", "admin ", "authority ", "provider ", "reviewer ", "subject ", "auditor "} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s\n%s", want, text, errOut.String())
		}
	}
	// A year of records, relations, designations and checks, in numbers
	// that make a population: at least one each a subject, a week or so.
	seeded := regexp.MustCompile(`seeded (\d+) subjects, (\d+) relations, (\d+) records .*, (\d+) designations, (\d+) checks .* over (\d+) days`).FindStringSubmatch(text)
	if seeded == nil {
		t.Fatalf("no seeding summary in:\n%s", text)
	}
	for i, least := range []int{10000, 500, 10000, 50, 10000, 365} {
		if n, _ := strconv.Atoi(seeded[i+1]); n < least {
			t.Errorf("demo seeded %s where at least %d are wanted: %s", seeded[i+1], least, seeded[0])
		}
	}
	m := regexp.MustCompile(`socred is serving (http://\S+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no URL in:\n%s", text)
	}
	s := &server{t: t, url: m[1]}
	if r := s.must(200, "GET", "/healthz", "", nil); !strings.Contains(string(r.body), `"ok"`) {
		t.Errorf("healthz: %s", r.body)
	}
	f := s.must(200, "GET", "/v1/subjects/zhang/file", adminToken, nil).json(t)
	if f["subject"].(map[string]any)["name"] != "Zhang Yingjie" {
		t.Errorf("zhang: %v", f["subject"])
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("demo did not stop cleanly: %v\n%s", err, errOut.String())
	}
}

// TestDemoCutShort stops "socred demo --db FILE" while it seeds: started
// again on FILE it refuses to serve the history cut short, and names what to
// remove. A demo whose address is taken fails before seeding anything.
func TestDemoCutShort(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	cmd := exec.Command(binary, "demo", "--addr", "127.0.0.1:0", "--db", db, "--subjects", "2000", "--days", "365")
	cmd.Env = append(os.Environ(), "SOCRED_ADMIN_TOKEN="+adminToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "seeding: day ") {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	go io.Copy(io.Discard, stderr)
	if err := cmd.Wait(); err == nil {
		t.Fatal("a demo stopped while seeding exited 0")
	}
	// (Were it served, the demo would not stop by itself.)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	again := exec.CommandContext(ctx, binary, "demo", "--addr", "127.0.0.1:0", "--db", db)
	again.Env = cmd.Env
	out, err := again.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "was cut short") {
		t.Fatalf("started again on a database cut short: %v\n%s", err, out)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := filepath.Join(t.TempDir(), "busy.db")
	taken := exec.Command(binary, "demo", "--addr", ln.Addr().String(), "--db", busy, "--subjects", "2000", "--days", "365")
	taken.Env = cmd.Env
	out, err = taken.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "address already in use") || strings.Contains(string(out), "seeding: day") {
		t.Fatalf("a demo on an address in use: %v\n%s", err, out)
	}
	if _, err := os.Stat(busy + ".seeding"); err == nil {
		t.Error("a demo on an address in use began seeding")
	}
}

// TestRouting asks the real server for paths of the API and of the pages:
// the API's own paths reach it without the outer mux, and every other
// path (a page, one to clean) is routed as before.
func TestRouting(t *testing.T) {
	for _, p := range web.Paths {
		if strings.HasPrefix(p, "/v1/") {
			t.Errorf("page path %s is under /v1/, which the server hands to the API unseen by the pages", p)
		}
	}
	s := startServer(t, filepath.Join(t.TempDir(), "socred.db"))
	defer s.stop()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		method, path, token string
		status              int
		want                string // in the body, or the Location of a redirect
	}{
		{"GET", "/v1/schemes", adminToken, 200, `"schemes"`},
		{"HEAD", "/healthz", "", 200, ""},
		{"GET", "/healthz", "", 200, `"ok"`},
		{"GET", "/v1/checks", adminToken, 405, `"method_not_allowed"`},
		{"GET", "/v1/nowhere", adminToken, 404, `"not_found"`},
		{"GET", "/v1/subjects/nobody", adminToken, 404, `"not_found"`},
		{"GET", "/v1//schemes", adminToken, 307, "/v1/schemes"},
		{"GET", "/v1/schem%65s", adminToken, 200, `"schemes"`},
		{"GET", "/v1/check%73", adminToken, 405, `"method_not_allowed"`},
		{"GET", "/v1/../board", "", 307, "/board"},
		{"GET", "/board", "", 200, "<html"},
		{"GET", "/nowhere", "", 404, `"not_found"`},
	} {
		req, err := http.NewRequest(tt.method, s.url+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = tt.path // as sent, not cleaned by the client
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got := string(body)
		if res.StatusCode/100 == 3 {
			got = res.Header.Get("Location")
		}
		if res.StatusCode != tt.status || !strings.Contains(got, tt.want) {
			t.Errorf("%s %s: got %d %q, want %d with %q", tt.method, tt.path, res.StatusCode, got, tt.status, tt.want)
		}
	}
}
