package pack_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/socred/socred"
)

// FuzzWhen compiles an arbitrary `when` expression as the condition of the
// one list of an otherwise valid pack (condPack). Load must not panic; when
// the pack does not load, every error must be the when's, since nothing
// else is wrong; when it loads, the condition must be the expression as
// written, read only schemes and rules of the pack, and evaluate without
// panicking, to the same answer twice, for subjects in and out of the
// schemes' scopes and for a subject the facts do not know. Seeds: the
// expressions of the tests and the example pack, and
// testdata/fuzz/FuzzWhen.
func FuzzWhen(f *testing.F) {
	for _, when := range []string{
		`score("civic") < 960`,
		`score("civic") >= 1050`,
		`grade("civic") == "AAA"`,
		`grade("civic") in ["D", "A"]`,
		`count("civic", "red-light", "1y") >= 2`,
		`count("taxi", "refusal", "6mo") >= 3`,
		`subject.kind == "person" && subject.region == "rongcheng"`,
		`"taxi-driver" in subject.groups`,
		`size(subject.groups) == 1 && score("civic") > 0`,
		`score("taxi") < 80 || score("civic") < 960`,
		`!(score("taxi") < 80)`,
		`grade("taxi") == ""`,
		`score("civic") / 0 == 1`,
		`score("civic") * 9223372036854775807 > 0`,
		`[1, 2, 3].all(x, x < score("civic"))`,
		`subject.groups.exists(g, g.startsWith("taxi")) ? score("taxi") < 80 : false`,
		`{"a": score("civic")}["a"] < 1000`,
		`string(score("civic")).size() > 3`,
		`score(subject.region) < 1`,
		`score("civic", "red-light") < 1`,
		`count("civic", "red-light", "0d") > 0`,
		`count("civic", "red-light", "100y") > 0`,
		`grade("civic") < "B"`,
		`"uyghur" in subject.groups`,
		`__facts__ == __facts__`,
		"score(\"civic\")\n  < 960",
		`score("civic") <`,
		``,
	} {
		f.Add(when)
	}
	resident := &facts{
		subject: &socred.Subject{ID: "li", Kind: socred.Person, Region: "rongcheng", Groups: []string{"retired"}},
		scores:  map[string]int64{"civic": 950},
		grades:  map[string]string{"civic": "D"},
		counts:  map[string]int64{"civic/red-light/1y": 2},
	}
	driver := &facts{
		subject: &socred.Subject{ID: "wang", Kind: socred.Person, Region: "weihai", Groups: []string{"taxi-driver", "retired"}},
		scores:  map[string]int64{"civic": -9223372036854775808, "taxi": 9223372036854775807},
		grades:  map[string]string{"civic": "", "taxi": ""},
		counts:  map[string]int64{"civic/red-light/1y": -1, "taxi/refusal/1y": 1 << 40},
	}
	everyone := []*facts{
		resident, driver,
		{subject: &socred.Subject{Kind: socred.Organisation}}, // in no scope
		{}, // a subject the facts do not know
	}
	f.Fuzz(func(t *testing.T, when string) {
		if !utf8.ValidString(when) {
			t.Skip("a pack is UTF-8; the YAML cannot hold this expression")
		}
		p, probs := load(t, map[string]string{
			"schemes.yaml": condPack,
			"list.yaml":    "lists:\n  - {id: l, kind: black, authority: city, legal_basis: x, publish: true, when: " + yamlQuote(when) + "}\n",
		})
		if p == nil {
			if utf8.RuneCountInString(when) > 4096 {
				return // refused for its length, or earlier for its nesting
			}
			for _, pr := range probs {
				if !pr.Warning && (pr.File != "list.yaml" || pr.Line != 2 || pr.Field != "lists[0].when") {
					t.Errorf("an error not at the when: %v", pr)
				}
			}
			return
		}
		l := p.List("l")
		if l.When != when {
			t.Fatalf("when read as %q, want %q", l.When, when)
		}
		if l.Cond == nil {
			t.Fatalf("the pack loaded without a condition for %q", when)
		}
		if got := l.Cond.String(); got != when {
			t.Errorf("condition %q, want %q", got, when)
		}
		for _, r := range l.Cond.Refs() {
			s := p.Scheme(r.Scheme)
			switch {
			case !slices.Contains([]string{"score", "grade", "count"}, r.Func):
				t.Errorf("ref %+v: unknown function", r)
			case s == nil:
				t.Errorf("ref %+v: unknown scheme", r)
			case r.Func == "count" && (s.Rule(r.Rule) == nil || r.Window.IsZero()):
				t.Errorf("ref %+v: unknown rule or no window", r)
			case r.Func != "count" && (r.Rule != "" || !r.Window.IsZero()):
				t.Errorf("ref %+v: a rule or window for %s", r, r.Func)
			}
		}
		for i, fs := range everyone {
			if got, again := l.Cond.Eval(fs), l.Cond.Eval(fs); got != again {
				t.Errorf("facts %d: %v, then %v", i, got, again)
			}
		}
	})
}

// yamlQuote writes s as a YAML double-quoted scalar that reads back as s:
// printable characters as they are, everything else escaped.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
