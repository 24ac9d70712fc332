package pack_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/socred/socred"
)

// facts is a fake socred.Facts: scores and grades by scheme, counts by
// "scheme/rule/window"; a scheme missing from scores is out of scope.
type facts struct {
	subject *socred.Subject
	scores  map[string]int64
	grades  map[string]string
	counts  map[string]int64
}

func (f *facts) Subject() *socred.Subject { return f.subject }

func (f *facts) Score(scheme string) (int64, bool) {
	n, ok := f.scores[scheme]
	return n, ok
}

func (f *facts) Grade(scheme string) (string, bool) {
	if _, ok := f.scores[scheme]; !ok {
		return "", false
	}
	return f.grades[scheme], true
}

func (f *facts) Count(scheme, rule string, window socred.Duration) (int64, bool) {
	if _, ok := f.scores[scheme]; !ok {
		return 0, false
	}
	return f.counts[scheme+"/"+rule+"/"+window.String()], true
}

// condPack is a pack with two schemes (taxi only for taxi drivers) for
// compiling conditions.
const condPack = `
authorities: [{id: city}]
schemes:
  - id: civic
    authority: city
    legal_basis: x
    baseline: 1000
    grades: [{grade: AAA, min: 1050}, {grade: A, min: 960}, {grade: D}]
    rules:
      - {id: red-light, points: -5, counts_for: 1y, legal_basis: x}
  - id: taxi
    authority: city
    legal_basis: x
    applies_to: {groups: [taxi-driver]}
    baseline: 100
    rules:
      - {id: refusal, points: -10, counts_for: 1y, legal_basis: x}
`

// condition compiles a when expression through the reader.
func condition(tb testing.TB, when string) socred.Condition {
	tb.Helper()
	p, probs := load(tb, map[string]string{
		"schemes.yaml": condPack,
		"list.yaml":    fmt.Sprintf("lists:\n  - {id: l, kind: black, authority: city, legal_basis: x, publish: true, when: %q}\n", when),
	})
	if p == nil {
		tb.Fatalf("%s: %s", when, lines(probs))
	}
	return p.List("l").Cond
}

func TestConditionEval(t *testing.T) {
	resident := &facts{
		subject: &socred.Subject{ID: "li", Kind: socred.Person, Region: "rongcheng", Groups: []string{"retired"}},
		scores:  map[string]int64{"civic": 950},
		grades:  map[string]string{"civic": "D"},
		counts:  map[string]int64{"civic/red-light/1y": 2},
	}
	driver := &facts{
		subject: &socred.Subject{ID: "wang", Kind: socred.Person, Region: "weihai", Groups: []string{"taxi-driver"}},
		scores:  map[string]int64{"civic": 1060, "taxi": 70},
		grades:  map[string]string{"civic": "AAA"},
		counts:  map[string]int64{"civic/red-light/1y": 1, "taxi/refusal/6mo": 3},
	}
	for _, tt := range []struct {
		when             string
		resident, driver bool
	}{
		{`score("civic") < 960`, true, false},
		{`score("civic") >= 1050`, false, true},
		{`grade("civic") == "AAA"`, false, true},
		{`grade("civic") in ["D", "A"]`, true, false},
		{`count("civic", "red-light", "1y") >= 2`, true, false},
		{`count("taxi", "refusal", "6mo") >= 3`, false, true},
		{`subject.kind == "person" && subject.region == "rongcheng"`, true, false},
		{`"taxi-driver" in subject.groups`, false, true},
		{`size(subject.groups) == 1 && score("civic") > 0`, true, true},
		// Out of scope: the resident has no taxi score, so these are false ...
		{`score("taxi") < 80`, false, true},
		{`!(score("taxi") < 80)`, false, false},
		{`score("taxi") >= 0 || true == false`, false, true},
		{`grade("taxi") == ""`, false, true},
		// ... unless CEL's || absorbs the error because the other side holds.
		{`score("taxi") < 80 || score("civic") < 960`, true, true},
		{`score("civic") < 960 || score("taxi") < 80`, true, true},
	} {
		c := condition(t, tt.when)
		if got := c.Eval(resident); got != tt.resident {
			t.Errorf("%s for the resident: got %v, want %v", tt.when, got, tt.resident)
		}
		if got := c.Eval(driver); got != tt.driver {
			t.Errorf("%s for the driver: got %v, want %v", tt.when, got, tt.driver)
		}
		if c.String() != tt.when {
			t.Errorf("String: got %q, want %q", c.String(), tt.when)
		}
	}
}

func TestConditionRefs(t *testing.T) {
	c := condition(t, `score("civic") < 960 && (grade("civic") == "D" || count("taxi", "refusal", "6mo") > 1 || count("civic", "red-light", "1y") > 1) && score("civic") > 0`)
	want := []socred.Ref{
		{Func: "score", Scheme: "civic"},
		{Func: "grade", Scheme: "civic"},
		{Func: "count", Scheme: "taxi", Rule: "refusal", Window: socred.Duration{N: 6, Unit: socred.Months}},
		{Func: "count", Scheme: "civic", Rule: "red-light", Window: socred.Duration{N: 1, Unit: socred.Years}},
	}
	if got := c.Refs(); !reflect.DeepEqual(got, want) {
		t.Errorf("Refs: got %+v, want %+v", got, want)
	}
	c.Refs()[0].Scheme = "changed"
	if got := c.Refs()[0].Scheme; got != "civic" {
		t.Errorf("Refs returned the condition's own slice: a caller changed it to %q", got)
	}
	if got := condition(t, `subject.region == "rongcheng" && score("civic") < 960`).Refs(); len(got) != 1 {
		t.Errorf("Refs of a condition reading the subject: got %v, want only the score", got)
	}
}

func TestConditionConcurrentEval(t *testing.T) {
	c := condition(t, `score("taxi") < 80 || count("civic", "red-light", "1y") >= 2`)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 500 {
				n := int64((i + j) % 3)
				f := &facts{subject: &socred.Subject{}, scores: map[string]int64{"civic": 1000}, counts: map[string]int64{"civic/red-light/1y": n}}
				if got, want := c.Eval(f), n >= 2; got != want {
					t.Errorf("count %d: got %v, want %v", n, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkConditionEval(b *testing.B) {
	for _, when := range []string{
		`score("civic") < 960`,
		`count("civic", "red-light", "1y") >= 2`,
		`score("taxi") < 80`, // out of scope
		`grade("civic") == "AAA" && "retired" in subject.groups`,
	} {
		b.Run(when, func(b *testing.B) {
			c := condition(b, when)
			f := &facts{
				subject: &socred.Subject{Groups: []string{"retired"}},
				scores:  map[string]int64{"civic": 1000}, grades: map[string]string{"civic": "A"},
				counts: map[string]int64{"civic/red-light/1y": 2},
			}
			b.ReportAllocs()
			for b.Loop() {
				c.Eval(f)
			}
		})
	}
}
