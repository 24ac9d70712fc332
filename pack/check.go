package pack

// This file resolves a decoded pack: ids, required keys, values and
// references. Every finding here is an error; lint.go adds the warnings.

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"

	"github.com/socred/socred"
)

// checker resolves one decoded pack.
type checker struct {
	d *decoded
	p *socred.Pack
}

// resolve builds the pack from what the files declared, reporting problems
// into d. The pack is complete only when d has no errors.
func resolve(d *decoded) *socred.Pack {
	c := &checker{d: d, p: &socred.Pack{}}
	c.p.Authorities = uniqueIDs(c, d.authorities, "authority", func(a *socred.Authority) string { return a.ID })
	c.p.Relations = uniqueIDs(c, d.relations, "relation type", func(r *socred.RelationType) string { return r.ID })
	c.p.Actions = uniqueIDs(c, d.actions, "action", func(a *socred.Action) string { return a.ID })
	c.p.Schemes = uniqueIDs(c, d.schemes, "scheme", func(s *socred.Scheme) string { return s.ID })
	c.p.Lists = uniqueIDs(c, d.lists, "list", func(l *socred.List) string { return l.ID })
	c.p.Measures = uniqueIDs(c, d.measures, "measure", func(m *socred.Measure) string { return m.ID })
	for _, s := range c.p.Schemes {
		s.Rules = uniqueIDs(c, s.Rules, "rule", func(r *socred.Rule) string { return r.ID })
	}
	c.p.Index()

	for _, r := range c.p.Relations {
		c.special(r, "id", r.ID)
		c.special(r, "name", r.Name)
		for _, end := range []struct {
			key  string
			kind socred.SubjectKind
		}{{"from", r.From}, {"to", r.To}} {
			if c.has(r, end.key) && !end.kind.Valid() {
				c.errorf(r, end.key, "must be \"person\" or \"organisation\", not %q", end.kind)
			}
		}
	}
	for _, a := range c.p.Actions {
		c.special(a, "id", a.ID)
		c.special(a, "name", a.Name)
		c.context(a, a.Context)
	}
	for _, s := range c.p.Schemes {
		c.scheme(s)
	}
	for _, l := range c.p.Lists {
		c.list(l)
	}
	for _, m := range c.p.Measures {
		c.measure(m)
	}
	lint(c)
	if !d.problems.HasErrors() {
		for _, s := range c.p.Schemes {
			s.Rule("") // build the rule index now, so later reads are concurrency-safe
		}
	}
	return c.p
}

func (c *checker) report(item any, sub string, warning bool, format string, args ...any) {
	s := c.d.srcs[item]
	field, ln := s.at(sub)
	c.d.problems = append(c.d.problems, Problem{File: s.file, Line: ln, Field: field, Message: fmt.Sprintf(format, args...), Warning: warning})
}

func (c *checker) errorf(item any, sub, format string, args ...any) {
	c.report(item, sub, false, format, args...)
}

func (c *checker) warnf(item any, sub, format string, args ...any) {
	c.report(item, sub, true, format, args...)
}

// has reports whether the item's key sub was written.
func (c *checker) has(item any, sub string) bool {
	_, ok := c.d.srcs[item].lines[sub]
	return ok
}

// uniqueIDs checks the items' ids and returns the items without the
// duplicates (the first declaration wins).
func uniqueIDs[T any](c *checker, items []T, kind string, id func(T) string) []T {
	first := make(map[string]T, len(items))
	out := items[:0:0]
	for _, it := range items {
		v := id(it)
		switch {
		case !c.has(it, "id"):
			c.errorf(it, "id", "is required")
			continue
		case !socred.ValidID(v):
			c.errorf(it, "id", "%q is not a valid id: use 1 to 63 lower-case letters, digits and hyphens, not starting with a hyphen", v)
			continue
		}
		if f, dup := first[v]; dup {
			fs := c.d.srcs[f]
			c.errorf(it, "id", "duplicate %s id %q (first declared at %s:%d)", kind, v, fs.file, fs.line)
			continue
		}
		first[v] = it
		out = append(out, it)
	}
	return out
}

// required reports a missing or blank text key and returns whether it is
// set: with at least one letter, digit or symbol (spaces, zero-width and
// other invisible characters alone are blank).
func (c *checker) required(item any, key, value, hint string) bool {
	if strings.ContainsFunc(value, visible) {
		return true
	}
	what := "is required"
	if c.has(item, key) {
		what = "is empty"
	}
	if hint != "" {
		what += ": " + hint
	}
	c.errorf(item, key, "%s", what)
	return false
}

// legalBasis checks the item's legal_basis.
func (c *checker) legalBasis(item any, value, what string) {
	c.required(item, "legal_basis", value, "cite the law, regulation or decision the "+what+" rests on")
}

// authority checks a reference to an authority.
func (c *checker) authority(item any, key, id string) {
	if c.required(item, key, id, "the id of an authority") && c.p.Authority(id) == nil {
		c.errorf(item, key, "unknown authority %q%s", id, suggest(id, ids(c.p.Authorities, func(a *socred.Authority) string { return a.ID })))
	}
}

// relation checks a reference to a relation type.
func (c *checker) relation(item any, key, id string) {
	if c.required(item, key, id, "the id of a relation type") && c.p.Relation(id) == nil {
		c.errorf(item, key, "unknown relation type %q%s", id, suggest(id, ids(c.p.Relations, func(r *socred.RelationType) string { return r.ID })))
	}
}

// special reports text (an id, a name, a group ...) that names a special
// category of personal data.
func (c *checker) special(item any, key, text string) {
	if t, ok := socred.SpecialCategory(text); ok {
		c.errorf(item, key, "%s", specialMessage(text, t))
	}
}

func specialMessage(text string, t socred.SpecialTerm) string {
	return fmt.Sprintf("%q names a special category of personal data (%s, term %q); a pack may not target it", text, t.Category, t.Term)
}

// context checks a context value.
func (c *checker) context(item any, value string) {
	if !c.has(item, "context") {
		return
	}
	if !socred.ValidID(value) {
		c.errorf(item, "context", "%q is not a valid context: use an id like \"transport\" or \"judicial\"", value)
		return
	}
	c.special(item, "context", value)
}

// positive checks that a written duration is longer than zero.
func (c *checker) positive(item any, key string, d socred.Duration) {
	if c.has(item, key) && !d.IsZero() && d.N == 0 {
		c.errorf(item, key, "%s must be longer than zero", d)
	}
}

func (c *checker) scheme(s *socred.Scheme) {
	c.special(s, "id", s.ID)
	c.special(s, "name", s.Name)
	c.authority(s, "authority", s.Authority)
	c.legalBasis(s, s.LegalBasis, "scheme")
	c.context(s, s.Context)
	c.scope(s)
	if !c.has(s, "baseline") {
		c.errorf(s, "baseline", "is required: the score every subject starts with, e.g. 1000")
	}
	switch {
	case s.Min != nil && s.Max != nil && *s.Min > *s.Max:
		c.errorf(s, "min", "min %d is above max %d", *s.Min, *s.Max)
	case s.Min != nil && s.Baseline < *s.Min, s.Max != nil && s.Baseline > *s.Max:
		c.errorf(s, "baseline", "%d is outside the bounds [%s, %s]", s.Baseline, bound(s.Min), bound(s.Max))
	}
	c.grades(s)
	if c.has(s, "retain_for") {
		c.positive(s, "retain_for", s.RetainFor)
	}
	c.positive(s, "appeal_within", s.AppealWithin)
	c.positive(s, "review_within", s.ReviewWithin)
	for _, r := range s.Rules {
		c.rule(s, r)
	}
}

func bound(b *int64) string {
	if b == nil {
		return "unbounded"
	}
	return fmt.Sprint(*b)
}

func (c *checker) scope(s *socred.Scheme) {
	sc := &s.Scope
	if c.has(s, "applies_to.kind") && !sc.Kind.Valid() {
		c.errorf(s, "applies_to.kind", "must be \"person\" or \"organisation\", not %q", sc.Kind)
	}
	if c.has(s, "applies_to.region") {
		if !socred.ValidID(sc.Region) {
			c.errorf(s, "applies_to.region", "%q is not a valid region id (lower-case, like \"rongcheng\")", sc.Region)
		} else {
			c.special(s, "applies_to.region", sc.Region)
		}
	}
	for i, g := range sc.Groups {
		sub := fmt.Sprintf("applies_to.groups[%d]", i)
		if !socred.ValidID(g) {
			c.errorf(s, sub, "%q is not a valid group id (lower-case, like \"taxi-driver\")", g)
			continue
		}
		c.special(s, sub, g)
	}
}

// grades checks the bands: highest first, strictly descending minimums, and
// one catch-all band without min, last.
func (c *checker) grades(s *socred.Scheme) {
	seen := map[string]bool{}
	for i, b := range s.Grades {
		sub := fmt.Sprintf("grades[%d]", i)
		switch {
		case !c.has(s, sub+".grade") || strings.TrimSpace(b.Grade) == "":
			c.errorf(s, sub+".grade", "is required: the grade's name, e.g. AAA")
		case seen[b.Grade]:
			c.errorf(s, sub+".grade", "duplicate grade %q", b.Grade)
		}
		seen[b.Grade] = true
		last := i == len(s.Grades)-1
		switch {
		case !b.HasMin && !last:
			c.errorf(s, sub, "the catch-all band%s (no min) must be the last; bands go from the highest down", quoted(b.Grade))
		case b.HasMin && last:
			c.errorf(s, sub, "the last band%s must be the catch-all, without min, so every score has a grade", quoted(b.Grade))
		case b.HasMin && i > 0 && s.Grades[i-1].HasMin && b.Min >= s.Grades[i-1].Min:
			c.errorf(s, sub+".min", "%d is not below the previous band's min %d; bands go from the highest down", b.Min, s.Grades[i-1].Min)
		}
	}
}

func (c *checker) rule(s *socred.Scheme, r *socred.Rule) {
	c.special(r, "id", r.ID)
	c.special(r, "name", r.Name)
	if !c.has(r, "points") {
		c.errorf(r, "points", "is required: the signed points a record of the rule adds, e.g. -5")
	}
	c.pointRange(r, "points", r.Points)
	if !c.has(r, "counts_for") {
		c.errorf(r, "counts_for", "is required: how long a record counts, e.g. 1y")
	}
	c.positive(r, "counts_for", r.CountsFor)
	c.legalBasis(r, r.LegalBasis, "rule")
	c.context(r, r.Context)
	for i, j := range r.Joint {
		sub := fmt.Sprintf("joint[%d]", i)
		c.relation(r, sub+".relation", j.Relation)
		if !c.has(r, sub+".points") {
			c.errorf(r, sub+".points", "is required: the points the related subject gets")
		}
		c.pointRange(r, sub+".points", j.Points)
	}
}

// pointRange checks that the points of one record fit the engine, which
// holds them in 32 bits.
func (c *checker) pointRange(r *socred.Rule, sub string, points int64) {
	if points < math.MinInt32 || points > math.MaxInt32 {
		c.errorf(r, sub, "%d is out of range: the points of one record go from %d to %d", points, math.MinInt32, math.MaxInt32)
	}
}

func (c *checker) list(l *socred.List) {
	c.special(l, "id", l.ID)
	c.special(l, "name", l.Name)
	switch {
	case !c.has(l, "kind"):
		c.errorf(l, "kind", "is required: black (restrictions) or red (privileges)")
	case l.Kind != socred.Black && l.Kind != socred.Red:
		c.errorf(l, "kind", "must be \"black\" or \"red\", not %q", l.Kind)
	}
	c.authority(l, "authority", l.Authority)
	c.legalBasis(l, l.LegalBasis, "list")
	c.context(l, l.Context)
	for i, rel := range l.ExtendsTo {
		c.relation(l, fmt.Sprintf("extends_to[%d]", i), rel)
	}
	c.positive(l, "term", l.Term)
	c.positive(l, "max_term", l.MaxTerm)
	c.positive(l, "retain_for", l.RetainFor)
	automatic := c.has(l, "when")
	switch {
	case automatic && l.Designated:
		c.errorf(l, "designated", "a list is either automatic (when) or designated (designated: true), not both")
	case !automatic && !l.Designated:
		c.errorf(l, "", "needs either when: (automatic entry, e.g. 'score(\"rongcheng\") < 960') or designated: true (entries made by its authority)")
	case l.Designated:
		if !c.has(l, "term") {
			c.errorf(l, "term", "is required for a designated list: how long an entry lasts, e.g. 2y")
		} else if c.has(l, "max_term") && !l.MaxTerm.IsZero() && !l.Term.IsZero() {
			if l.MaxTerm.Compare(l.Term) < 0 {
				c.errorf(l, "max_term", "%s is shorter than the term %s", l.MaxTerm, l.Term)
			} else if at, shorter := shorterSomewhere(l.MaxTerm, l.Term); shorter {
				c.errorf(l, "max_term", "%s is shorter than the term %s from some starts, such as %s (a month or year is as long as the calendar makes it)", l.MaxTerm, l.Term, at.Format("2 January 2006"))
			}
		}
		c.repair(l)
	default:
		for _, k := range []string{"term", "max_term"} {
			if c.has(l, k) {
				c.errorf(l, k, "an automatic list has no %s: a subject leaves it when its when turns false", k)
			}
		}
		if c.has(l, "repair_after") {
			c.errorf(l, "repair_after", "credit repair is for designated lists")
		}
		if c.has(l, "retain_for") {
			c.errorf(l, "retain_for", "is for designated lists, whose entries carry an authority's reason and case; an automatic list's entries carry the rules'")
		}
		if c.has(l, "repair") {
			c.errorf(l, "repair", "credit repair is for designated lists: a subject leaves an automatic list when its when turns false")
		}
		c.when(l)
	}
}

func (c *checker) repair(l *socred.List) {
	seen := map[string]bool{}
	for i, r := range l.Repair {
		sub := fmt.Sprintf("repair[%d]", i)
		switch {
		case !socred.ValidID(r):
			c.errorf(l, sub, "%q is not a valid id for a repair route (like \"obligation-performed\")", r)
		case seen[r]:
			c.errorf(l, sub, "duplicate repair route %q", r)
		}
		seen[r] = true
	}
}

// when compiles an automatic list's expression.
func (c *checker) when(l *socred.List) {
	if !c.required(l, "when", l.When, "a condition such as 'score(\"rongcheng\") < 960'") {
		return
	}
	cond, issues := compileWhen(l.When, c.p)
	multiline := strings.Contains(strings.TrimRight(l.When, "\n"), "\n")
	for _, is := range issues {
		pos := fmt.Sprintf("column %d", is.Column)
		if multiline {
			pos = fmt.Sprintf("line %d, column %d", is.Line, is.Column)
		}
		c.report(l, "when", is.Warning, "at %s of the expression: %s", pos, celMessage(is.Message))
	}
	if cond != nil {
		l.Cond = cond
	}
}

// quoted returns ` "name"`, or "" for an empty name.
func quoted(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" %q", name)
}

// celMessage rewords cel-go's messages that users will meet most.
func celMessage(m string) string {
	if name, ok := strings.CutPrefix(m, "undeclared reference to '"); ok {
		name, _, _ = strings.Cut(name, "'")
		if name == "subject" {
			// The variables are subject.kind, .region and .groups: a
			// reference to any other field of subject is reported as one
			// to subject.
			return "subject has no such field: a when may use subject.kind, subject.region and subject.groups"
		}
		return fmt.Sprintf("unknown name %q (a when may use score(\"scheme\"), grade(\"scheme\"), count(\"scheme\", \"rule\", \"window\"), subject.kind, subject.region and subject.groups)", name)
	}
	if strings.HasPrefix(m, "Syntax error:") {
		if strings.Contains(m, "'<EOF>'") {
			return "syntax error: the expression ends too early"
		}
		m, _, _ = strings.Cut(m, " expecting ")
		return "syntax error:" + strings.TrimPrefix(m, "Syntax error:")
	}
	return m
}

func (c *checker) measure(m *socred.Measure) {
	c.special(m, "id", m.ID)
	if c.required(m, "list", m.List, "the id of the list whose entries the measure binds") && c.p.List(m.List) == nil {
		c.errorf(m, "list", "unknown list %q%s", m.List, suggest(m.List, ids(c.p.Lists, func(l *socred.List) string { return l.ID })))
	}
	c.authority(m, "authority", m.Authority)
	c.legalBasis(m, m.LegalBasis, "measure")
	if c.has(m, "justification") {
		c.required(m, "justification", m.Justification, "explain why the measure is proportionate although it reaches beyond the list's context")
	}
	switch {
	case len(m.Restricts) > 0 && len(m.Grants) > 0:
		c.errorf(m, "grants", "a measure either restricts or grants, not both; split it into two measures")
	case len(m.Restricts) == 0 && len(m.Grants) == 0:
		c.errorf(m, "", "must restrict or grant at least one action (restricts: [...] or grants: [...])")
	}
	actionIDs := ids(c.p.Actions, func(a *socred.Action) string { return a.ID })
	for i, id := range m.Restricts {
		if c.p.Action(id) == nil {
			c.errorf(m, fmt.Sprintf("restricts[%d]", i), "unknown action %q%s", id, suggest(id, actionIDs))
		}
	}
	for i, id := range m.Grants {
		sub := fmt.Sprintf("grants[%d]", i)
		switch a := c.p.Action(id); {
		case a == nil:
			c.errorf(m, sub, "unknown action %q%s", id, suggest(id, actionIDs))
		case !a.Privilege:
			c.errorf(m, sub, "action %q is not a privilege (privilege: true) and is allowed anyway; only privileges can be granted", id)
		}
	}
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

// visible reports whether r shows on its own: a letter, digit,
// punctuation or symbol, not a space, a mark (a combining mark or
// variation selector shows only on another character), a format character
// (zero-width space, soft hyphen, byte order mark) or a filler (Hangul
// filler, Braille blank).
func visible(r rune) bool {
	switch r {
	case '\u115f', '\u1160', '\u3164', '\uffa0', '\u2800':
		return false
	}
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) && !unicode.Is(unicode.Cf, r)
}

// shorterSomewhere reports a start from which a runs out before b: months
// and years are as long as the calendar makes them (1mo is 28 to 31 days,
// 1y 365 or 366), so a max_term of 30d is shorter than a term of 1mo from
// 1 January, and 365d than 1y from 1 March before a leap day.
func shorterSomewhere(a, b socred.Duration) (time.Time, bool) {
	for year := 2000; year < 2004; year++ { // a leap year and three others
		for month := time.January; month <= time.December; month++ {
			for _, day := range []int{1, 28, 29, 30, 31} {
				at := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
				if at.Month() != month {
					continue
				}
				if a.AddTo(at).Before(b.AddTo(at)) {
					return at, true
				}
			}
		}
	}
	return time.Time{}, false
}
