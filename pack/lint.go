package pack

// This file holds the linter's warnings: findings that let the pack load but
// that an operator should look at (proportionality above all).

import (
	"fmt"
	"slices"
	"strings"

	"github.com/socred/socred"
)

func lint(c *checker) {
	for _, s := range c.p.Schemes {
		lintScheme(c, s)
	}
	for _, l := range c.p.Lists {
		lintList(c, l)
	}
	for _, m := range c.p.Measures {
		lintMeasure(c, m)
	}
}

func lintScheme(c *checker, s *socred.Scheme) {
	if len(s.Rules) == 0 && c.has(s, "id") {
		c.warnf(s, "rules", "the scheme has no rules, so every score stays at the baseline")
	}
	// Disproportion: one record may move a score by at most a tenth of the
	// baseline (of the range between the bounds when the baseline is 0).
	limit, basis := abs(s.Baseline), fmt.Sprintf("the baseline %d", s.Baseline)
	if s.Baseline == 0 {
		if s.Min == nil || s.Max == nil || *s.Max <= *s.Min {
			limit = 0
		} else {
			// #nosec G115 -- Max > Min, so the difference, wrapped or not as an int64, is exact as a uint64
			limit, basis = uint64(*s.Max-*s.Min), fmt.Sprintf("the range %d to %d", *s.Min, *s.Max)
		}
	}
	if limit == 0 && c.has(s, "baseline") && slices.ContainsFunc(s.Rules, func(r *socred.Rule) bool { return r.Points != 0 || len(r.Joint) > 0 }) {
		c.warnf(s, "baseline", "cannot check proportionality: with a baseline of 0 and no min and max, nothing says how much a record's points weigh; give the scheme min and max")
	}
	if limit > 0 {
		for _, r := range s.Rules {
			if abs(r.Points) > limit/10 {
				c.warnf(r, "points", "disproportionate: %d points in one record is more than a tenth of %s; lower the points or split the behaviour into finer rules", r.Points, basis)
			}
			for i, j := range r.Joint {
				if abs(j.Points) > limit/10 {
					c.warnf(r, fmt.Sprintf("joint[%d].points", i), "disproportionate: %d points of joint liability in one record is more than a tenth of %s", j.Points, basis)
				}
			}
		}
	}
	// Bands that no score can reach within the bounds.
	for i, b := range s.Grades {
		sub := fmt.Sprintf("grades[%d]", i)
		switch {
		case b.HasMin && s.Max != nil && b.Min > *s.Max:
			c.warnf(s, sub+".min", "grade %q can never be reached: its min %d is above the scheme's max %d", b.Grade, b.Min, *s.Max)
		case i > 0 && s.Min != nil && s.Grades[i-1].HasMin && s.Grades[i-1].Min <= *s.Min:
			c.warnf(s, sub, "grade %q can never be reached: the band above it already starts at the scheme's min %d", b.Grade, *s.Min)
		}
	}
	seen := map[string]bool{}
	for i, g := range s.Scope.Groups {
		if seen[g] {
			c.warnf(s, fmt.Sprintf("applies_to.groups[%d]", i), "group %q is listed twice", g)
		}
		seen[g] = true
	}
}

func abs(n int64) uint64 {
	if n < 0 {
		return uint64(-(n + 1)) + 1 // #nosec G115 -- n < 0, so -(n+1) is in [0, MaxInt64]
	}
	return uint64(n)
}

func lintList(c *checker, l *socred.List) {
	if c.has(l, "publish_after") && !l.Publish {
		c.warnf(l, "publish_after", "has no effect without publish: true")
	}
	if len(l.Measures) == 0 && !l.Publish && c.has(l, "id") {
		c.warnf(l, "", "list %q has no measures and is not published, so being on it has no effect", l.ID)
	}
	if l.Context != "" && l.Cond != nil {
		// The list's data comes from the schemes its when reads; a different
		// declared context would hide a cross-context measure.
		derived, from, _ := listContexts(c.p, &socred.List{Cond: l.Cond})
		for _, ctx := range derived {
			if ctx != l.Context {
				c.warnf(l, "context", "the list declares context %s, but its when reads data of context %s%s; declare the context its data comes from", l.Context, ctx, from)
				break
			}
		}
	}
	if l.Cond != nil && len(l.Cond.Refs()) == 0 {
		c.warnf(l, "when", "no way off: the condition reads no score, grade or count, only the subject's attributes, so a listed subject can never leave the list by behaviour or with time")
	}
}

func lintMeasure(c *checker, m *socred.Measure) {
	l := c.p.List(m.List)
	if l == nil {
		return
	}
	switch {
	case l.Kind == socred.Red && len(m.Restricts) > 0:
		c.warnf(m, "restricts", "list %q is a redlist; a redlist grants privileges, restrictions belong on a blacklist", l.ID)
	case l.Kind == socred.Black && len(m.Grants) > 0:
		c.warnf(m, "grants", "list %q is a blacklist; a blacklist restricts, privileges belong on a redlist", l.ID)
	}
	effect, actions := "restricts", m.Restricts
	if len(m.Grants) > 0 {
		effect, actions = "grants", m.Grants
	}
	seen := map[string]bool{}
	for i, id := range actions {
		if seen[id] {
			c.warnf(m, fmt.Sprintf("%s[%d]", effect, i), "action %q is listed twice", id)
		}
		seen[id] = true
	}
	if m.Justification != "" {
		return // the operator has argued proportionality in writing
	}
	if l.Context == "" && !l.Designated && l.Cond == nil {
		return // the list's when has errors, so where its data comes from is unknown
	}
	contexts, from, contextless := listContexts(c.p, l)
	var unknown []string
	for i, id := range actions {
		a := c.p.Action(id)
		switch {
		case a == nil:
		case a.Context == "":
			unknown = append(unknown, fmt.Sprintf("%q", id))
		// Every context the list's data may come from must be the
		// action's: a when of score("transport") < 1 || score("civic") < 1
		// lists on civic data alone.
		case slices.ContainsFunc(contexts, func(ctx string) bool { return ctx != a.Context }):
			verb := "restricting"
			if effect == "grants" {
				verb = "granting"
			}
			c.warnf(m, fmt.Sprintf("%s[%d]", effect, i),
				"cross-context measure: %s action %q (context %s) because of list %q (context %s%s) is social scoring of the kind the EU AI Act art. 5(1)(c) prohibits; keep measures within the list's context or add a justification: saying why this one is proportionate",
				verb, id, a.Context, l.ID, strings.Join(contexts, ", "), from)
		}
	}
	var missing []string
	switch {
	case len(contexts) == 0:
		missing = append(missing, fmt.Sprintf("list %q has no context (declare context: on the list or on the schemes its when reads)", l.ID))
	case len(contextless) > 0:
		verb := "declares"
		if len(contextless) > 1 {
			verb = "declare"
		}
		missing = append(missing, fmt.Sprintf("list %q reads %s, which %s no context", l.ID, strings.Join(contextless, ", "), verb))
	}
	if len(unknown) > 0 {
		verb := "declares"
		if len(unknown) > 1 {
			verb = "declare"
		}
		missing = append(missing, fmt.Sprintf("action%s %s %s no context", plural(len(unknown)), strings.Join(unknown, ", "), verb))
	}
	if len(missing) > 0 {
		c.warnf(m, "", "cannot check that the measure stays within the list's context: %s", strings.Join(missing, "; "))
	}
}

// listContexts returns the contexts a list's data comes from: its own
// context, else the contexts of the schemes (and rules) its when reads;
// when they are the schemes', a phrase naming those schemes; and the
// sources its when reads that declare no context.
func listContexts(p *socred.Pack, l *socred.List) ([]string, string, []string) {
	if l.Context != "" {
		return []string{l.Context}, "", nil
	}
	if l.Cond == nil {
		return nil, "", nil
	}
	var out, sources, contextless []string
	for _, r := range l.Cond.Refs() {
		s := p.Scheme(r.Scheme)
		if s == nil {
			continue
		}
		ctx, source := s.Context, fmt.Sprintf("scheme %q", s.ID)
		if rule := s.Rule(r.Rule); r.Func == "count" && rule != nil && rule.Context != "" {
			ctx, source = rule.Context, fmt.Sprintf("rule %q of scheme %q", rule.ID, s.ID)
		}
		if ctx == "" {
			if !slices.Contains(contextless, source) {
				contextless = append(contextless, source)
			}
			continue
		}
		if !slices.Contains(out, ctx) {
			out = append(out, ctx)
		}
		if !slices.Contains(sources, source) {
			sources = append(sources, source)
		}
	}
	return out, ", from " + strings.Join(sources, ", "), contextless
}
