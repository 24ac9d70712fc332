package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/socred/socred/pack"
)

// runLint validates a scheme pack: "socred lint DIR".
func runLint(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lint", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: socred lint DIR

Validates the scheme pack in DIR (its *.yaml and *.yml files, subdirectories
included) and prints one line per problem:

  file:line: field: error: message
  file:line: field: warning: message

with file relative to DIR, then a summary line on stderr. A pack with errors
does not load; warnings let it load. Exit status: 0 without errors, 1 with
errors, 2 for a usage error.
`)
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "socred lint: want exactly one argument, the pack directory")
		fs.Usage()
		return exitUsage
	}
	_, problems, err := pack.LoadDir(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "socred lint:", err)
		return exitFail
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	fmt.Fprintln(stderr, problems.Summary())
	if problems.HasErrors() {
		return exitFail
	}
	return exitOK
}
