package main_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// binary is the socred command, built once for the tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "socred-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "socred")
	// The go command that runs the tests builds the binary too.
	goTool, err := exec.LookPath("go")
	if err != nil {
		panic("the go command is not on the PATH: " + err.Error())
	}
	build := exec.Command(goTool, "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build socred: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// socred runs the binary and returns its stdout, stderr and exit code.
func socred(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run socred: %v", err)
	}
	return out.String(), errOut.String(), code
}

func TestLintGoodPack(t *testing.T) {
	stdout, stderr, code := socred(t, "lint", "../../packs/example")
	if code != 0 || stdout != "" || stderr != "0 errors, 0 warnings\n" {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 0, nothing, the summary", code, stdout, stderr)
	}
}

func TestLintWarningsOnly(t *testing.T) {
	stdout, stderr, code := socred(t, "lint", "../../pack/testdata/spec-example")
	if code != 0 || strings.Count(stdout, ": warning: ") != 3 || stderr != "0 errors, 3 warnings\n" {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 0 with three warnings", code, stdout, stderr)
	}
}

func TestLintBadPack(t *testing.T) {
	stdout, stderr, code := socred(t, "lint", "testdata/bad")
	want := []string{
		`pack.yaml:6: schemes[0].legal_basis: error: is required: cite the law, regulation or decision the scheme rests on`,
		`pack.yaml:11: schemes[0].rules[0].points: warning: disproportionate: -500 points in one record is more than a tenth of the baseline 1000; lower the points or split the behaviour into finer rules`,
		`pack.yaml:17: lists[0].when: error: at column 7 of the expression: score: unknown scheme "civc" (did you mean "civic"?)`,
	}
	if got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", stdout, strings.Join(want, "\n"))
	}
	if code != 1 || stderr != "2 errors, 1 warning\n" {
		t.Errorf("got exit %d, stderr %q; want 1, \"2 errors, 1 warning\"", code, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"lint"},
		{"lint", "a", "b"},
		{"lint", "--no-such-flag", "dir"},
		{"frobnicate"},
		{"version", "extra"},
		{"audit", "bogus"},
		// Flag values that cannot work are refused before anything is
		// opened or bound.
		{"serve", "--addr", "bogus", "--db", "never-made.db"},
		{"serve", "--trusted-proxies", "not-an-address", "--db", "never-made.db"},
		{"serve", "--webhook", "ftp://x", "--db", "never-made.db"},
		{"serve", "--smtp", "no-port", "--db", "never-made.db"},
		{"serve", "--read-timeout", "-5s", "--db", "never-made.db"},
		{"serve", "--retain-checks", "0d", "--db", "never-made.db"},
		{"serve", "--retain-checks", "2", "--db", "never-made.db"},
		{"demo", "--addr", "bogus", "--db", "never-made.db"},
	} {
		_, stderr, code := socred(t, args...)
		if code != 2 || stderr == "" {
			t.Errorf("socred %v: got exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
	if _, err := os.Stat("never-made.db"); err == nil {
		t.Error("a refused serve or demo made its database")
	}
	// A port in use fails at once, before a database is made.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	db := filepath.Join(t.TempDir(), "busy.db")
	for _, cmd := range []string{"serve", "demo"} {
		if _, stderr, code := socred(t, cmd, "--addr", busy.Addr().String(), "--db", db); code != 1 || !strings.Contains(stderr, "address already in use") {
			t.Errorf("%s on a port in use: exit %d, %q", cmd, code, stderr)
		}
		if _, err := os.Stat(db); err == nil {
			t.Errorf("%s on a port in use made its database", cmd)
		}
	}
	if _, stderr, _ := socred(t, "audit", "bogus"); !strings.Contains(stderr, `"bogus"`) {
		t.Errorf("audit bogus: %q does not name the unknown subcommand", stderr)
	}
	if _, stderr, code := socred(t, "lint", "no/such/dir"); code != 1 || !strings.Contains(stderr, "no/such/dir") {
		t.Errorf("lint of a missing directory: got exit %d, stderr %q; want 1 naming it", code, stderr)
	}
}

// TestHelp asks every command that help lists, and the subcommands of
// bench and audit, for its --help (or -h): each prints its usage and exits
// 0 without doing anything else.
func TestHelp(t *testing.T) {
	stdout, _, code := socred(t, "help")
	_, list, ok := strings.Cut(stdout, "commands:\n")
	if code != 0 || !ok {
		t.Fatalf("socred help: got exit %d, stdout %q; want 0 and the list of commands", code, stdout)
	}
	list, _, _ = strings.Cut(list, "\n\n")
	var commands []string
	for line := range strings.Lines(list) {
		if name, _, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			commands = append(commands, name)
		}
	}
	for _, want := range []string{"serve", "demo", "lint", "version"} {
		if !slices.Contains(commands, want) {
			t.Errorf("socred help lists %v, without %s", commands, want)
		}
	}
	argss := [][]string{{"--help"}, {"-h"}, {"bench", "ingest", "--help"}, {"bench", "checks", "--help"}, {"bench", "startup", "-h"}, {"audit", "verify", "--help"}}
	for _, c := range commands {
		argss = append(argss, []string{c, "--help"})
	}
	for _, args := range argss {
		stdout, stderr, code := socred(t, args...)
		want := "usage: socred"
		if !strings.HasPrefix(args[0], "-") {
			want += " " + args[0]
		}
		if code != 0 || !strings.HasPrefix(stdout, want) || stderr != "" {
			t.Errorf("socred %v: got exit %d, stdout %q, stderr %q; want 0 and a usage starting %q", args, code, stdout, stderr, want)
		}
	}
}

func TestVersion(t *testing.T) {
	stdout, _, code := socred(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "socred v0.0.0-test") || !strings.Contains(stdout, runtime.Version()) {
		t.Errorf("got exit %d, stdout %q; want the version set with -ldflags and the Go version", code, stdout)
	}
}
