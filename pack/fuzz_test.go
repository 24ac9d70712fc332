package pack_test

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
)

// FuzzLoad feeds arbitrary bytes to the reader as one or two pack files
// (split at a line "#--- next file"): it must never panic, must return a pack
// exactly when there are no errors, problems sorted, and the pack's
// conditions must evaluate. Seeds: testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte(condPack + "#--- next file\nlists: [{id: l, kind: black, authority: city, legal_basis: x, when: 'score(\"civic\") < 1'}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{}
		for i, part := range strings.SplitN(string(data), "#--- next file\n", 2) {
			fsys[[]string{"a.yaml", "sub/b.yaml"}[i]] = &fstest.MapFile{Data: []byte(part)}
		}
		p, probs, err := pack.Load(fsys)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if (p == nil) != probs.HasErrors() {
			t.Fatalf("pack %v with problems %v", p != nil, probs)
		}
		if !slices.IsSortedFunc(probs, func(a, b pack.Problem) int {
			return strings.Compare(a.File, b.File)*2 + cmpInt(a.Line, b.Line)
		}) {
			t.Fatalf("problems not sorted: %v", probs)
		}
		for _, pr := range probs {
			if pr.Message == "" {
				t.Fatalf("problem without a message: %+v", pr)
			}
		}
		if p == nil {
			return
		}
		f := &facts{subject: &socred.Subject{Kind: socred.Person, Groups: []string{"g"}}, scores: map[string]int64{}, grades: map[string]string{}, counts: map[string]int64{}}
		for _, s := range p.Schemes {
			f.scores[s.ID] = s.Baseline
			f.grades[s.ID] = s.Grade(s.Baseline)
		}
		for _, l := range p.Lists {
			if l.Cond != nil {
				l.Cond.Eval(f)
				l.Cond.Eval(&facts{subject: &socred.Subject{}})
			}
		}
	})
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
