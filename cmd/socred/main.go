// Command socred runs the social-credit system with due process: the server,
// the demo and the tools operators use on scheme packs.
//
// Usage:
//
//	socred COMMAND [flags] [args]
//
// Run "socred help" for the commands and "socred COMMAND --help" for one.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed (e.g. a pack with errors)
	exitUsage = 2 // the command line was wrong
)

// command is a subcommand. Its run parses its own flags from args.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands, in the order help shows them.
var commands = []command{
	{"serve", "run the HTTP API on an embedded database", runServe},
	{"demo", "seed a synthetic population and serve it", runDemo},
	{"lint", "validate a scheme pack directory", runLint},
	{"bench", "measure ingest, checks and start-up against baselines", runBench},
	{"audit", "verify the tamper-evident audit log (audit verify)", runAudit},
	{"version", "print the version", runVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to the subcommand named by args[0] and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "socred: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: socred COMMAND [flags] [args]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"socred COMMAND --help\" for a command's flags.")
}

// parseFlags parses a subcommand's flags. For -h or --help it prints the
// usage to stdout; for a bad flag, the error and the usage to stderr. It
// returns false, with the exit code, when the command should stop.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (int, bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK, false
		}
	}
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage, false
	}
	return exitOK, true
}
