package pack_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
)

// load loads a pack made of the files (name to content), failing the test on
// an I/O error.
func load(tb testing.TB, files map[string]string) (*socred.Pack, pack.Problems) {
	tb.Helper()
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	p, probs, err := pack.Load(fsys)
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	if probs.HasErrors() != (p == nil) {
		tb.Fatalf("Load returned pack %v with problems %v: want a pack exactly when there are no errors", p != nil, probs)
	}
	return p, probs
}

// mustLoad loads a pack that must have no problems at all.
func mustLoad(tb testing.TB, files map[string]string) *socred.Pack {
	tb.Helper()
	p, probs := load(tb, files)
	if len(probs) > 0 {
		tb.Fatalf("got problems:\n%s\nwant none", lines(probs))
	}
	return p
}

// mustLoadPartial loads files that declare neither scheme nor list: the
// one problem it allows is the warning that says so.
func mustLoadPartial(tb testing.TB, files map[string]string) *socred.Pack {
	tb.Helper()
	p, probs := load(tb, files)
	if len(probs) != 1 || !probs[0].Warning || !strings.Contains(probs[0].Message, "no scheme and no list") {
		tb.Fatalf("got problems:\n%s\nwant the warning that nothing is declared", lines(probs))
	}
	return p
}

// lines formats problems one per line, as socred lint prints them.
func lines(probs pack.Problems) string {
	var b strings.Builder
	for _, p := range probs {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// base is a clean pack the lint cases add a file to.
const base = `
authorities:
  - id: city
  - id: court
relations:
  - id: guarantor-of
  - id: legal-representative-of
actions:
  - {id: ride-train, context: transport}
  - {id: buy-luxury, context: consumption}
  - {id: free-bike, privilege: true, context: civic}
  - {id: hire-taxi, context: transport}
schemes:
  - id: civic
    authority: city
    legal_basis: Civic Credit Measures art. 1
    context: civic
    baseline: 1000
    grades: [{grade: A, min: 960}, {grade: B}]
    rules:
      - {id: red-light, points: -5, counts_for: 1y, legal_basis: Road Traffic Safety Law art. 90, context: transport}
      - {id: littering, points: -3, counts_for: 1y, legal_basis: Sanitation Regulations}
`
