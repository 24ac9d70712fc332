package pack

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Problem is one finding of the reader: an error (the pack does not load) or
// a warning (it loads, but an operator should look).
type Problem struct {
	File    string // relative to the pack directory, with forward slashes
	Line    int    // 1-based; 0 when the problem concerns the whole file or pack
	Field   string // e.g. "schemes[0].rules[2].legal_basis"; "" for the file or document
	Message string
	Warning bool
}

// String formats the problem as "file:line: field: error: message" (or
// "warning"), leaving out what is unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Severity() + ": " + p.Message)
	return b.String()
}

// Severity is "error" or "warning".
func (p Problem) Severity() string {
	if p.Warning {
		return "warning"
	}
	return "error"
}

// Problems is a pack's findings, sorted by file, then line.
type Problems []Problem

// HasErrors reports whether any problem is an error.
func (ps Problems) HasErrors() bool { return ps.Errors() > 0 }

// Errors counts the errors.
func (ps Problems) Errors() int {
	n := 0
	for _, p := range ps {
		if !p.Warning {
			n++
		}
	}
	return n
}

// Warnings counts the warnings.
func (ps Problems) Warnings() int { return len(ps) - ps.Errors() }

// Err returns nil when there are no errors, or an error listing them (not
// the warnings), for callers that only need to refuse a bad pack.
func (ps Problems) Err() error {
	var errs []error
	for _, p := range ps {
		if !p.Warning {
			errs = append(errs, errors.New(p.String()))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("scheme pack has %d error%s:\n%w", len(errs), plural(len(errs)), errors.Join(errs...))
}

// Summary counts errors and warnings, e.g. "2 errors, 1 warning".
func (ps Problems) Summary() string {
	e, w := ps.Errors(), ps.Warnings()
	return fmt.Sprintf("%d error%s, %d warning%s", e, plural(e), w, plural(w))
}

func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
}
