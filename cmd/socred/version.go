package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

// version is the release, set at build time with
// -ldflags "-X main.version=v1.2.3".
var version = "dev"

// runVersion prints the version: "socred version".
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: socred version\n\nPrints the version, the source revision it was built from (when known) and the Go version.")
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "socred version: takes no arguments")
		return exitUsage
	}
	fmt.Fprintln(stdout, versionString())
	return exitOK
}

// versionString is "socred VERSION [(REVISION[-dirty], TIME)] GOVERSION".
func versionString() string {
	v := version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "socred " + v
	}
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version // installed with go install ...@version
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	out := "socred " + v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "-dirty"
		}
		if at != "" {
			rev += ", " + at
		}
		out += " (" + rev + ")"
	}
	return out + " " + bi.GoVersion
}
