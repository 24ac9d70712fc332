// Package engine works out what a scheme pack means for every subject:
// scores, grades, list membership, joint liability, list extension through
// relations, decisions, and the next moment a subject's state changes by
// time alone. It is pure: it never touches a store, the network or the clock;
// every function takes the time it evaluates at.
package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/socred/socred"
)

// Engine is a scheme pack compiled for evaluation. It is immutable and safe
// for concurrent use.
type Engine struct {
	pack *socred.Pack

	schemes  []*scheme
	schemeIx map[string]int32
	rules    []*socred.Rule
	ruleIx   map[ruleKey]int32
	lists    []*list
	listIx   map[string]int32
	actions  []*socred.Action
	actionIx map[string]int32
	// privilegeWhy says, for each privilege action, who may do it: the
	// why of a decision that denies it.
	privilegeWhy []string
	// auto holds the indexes of automatic lists, in pack order.
	auto []int32
}

type ruleKey struct{ scheme, rule string }

type scheme struct {
	*socred.Scheme
	idx int32
	// dependents are the automatic lists whose expression reads this scheme.
	dependents []int32
}

type list struct {
	*socred.List
	idx int32
	// schemes are the schemes the expression reads; a subject outside the
	// scope of any of them is not on the list (docs/schemes.md: "a subject
	// outside the scheme's scope has no score and the expression is false").
	schemes []int32
	// windows are the count(...) calls, for the next-change time.
	windows []window
	// refs says, per scheme read, what the expression reads of it.
	refs map[int32]*schemeRefs
	// restricts and grants hold, per action index, the measures of the list
	// with that effect.
	restricts [][]*socred.Measure
	grants    [][]*socred.Measure
	// extends is the set of relation types the list extends through.
	extends map[string]bool
	// remedy and remedyVia are the list's Remedy, for its own entries and
	// for those reaching a subject through a relation.
	remedy, remedyVia string
}

// schemeRefs is what an expression reads of one scheme.
type schemeRefs struct {
	score, grade bool
	rules        []int32 // counted rules
}

// reads reports whether the list must be evaluated again after a change to
// scheme si: its score or grade changed, or records of rules arrived.
func (l *list) reads(si int32, score, grade bool, rules []int32) bool {
	r := l.refs[si]
	if r == nil {
		return false
	}
	if (r.score && score) || (r.grade && grade) {
		return true
	}
	for _, ru := range r.rules {
		if slices.Contains(rules, ru) {
			return true
		}
	}
	return false
}

type window struct {
	rule   int32
	length socred.Duration
}

// New compiles a loaded pack. The pack must have been indexed (the pack
// reader does that); New fails only on a pack that violates what the reader
// guarantees, such as an expression naming an unknown scheme.
func New(p *socred.Pack) (*Engine, error) {
	e := &Engine{
		pack:     p,
		schemeIx: make(map[string]int32, len(p.Schemes)),
		ruleIx:   make(map[ruleKey]int32),
		listIx:   make(map[string]int32, len(p.Lists)),
		actionIx: make(map[string]int32, len(p.Actions)),
	}
	for i, s := range p.Schemes {
		e.schemes = append(e.schemes, &scheme{Scheme: s, idx: int32(i)})
		e.schemeIx[s.ID] = int32(i)
		for _, r := range s.Rules {
			e.ruleIx[ruleKey{s.ID, r.ID}] = int32(len(e.rules)) // #nosec G115 -- the rules of one pack file, far fewer than 2^31
			e.rules = append(e.rules, r)
		}
	}
	for i, a := range p.Actions {
		e.actions = append(e.actions, a)
		e.actionIx[a.ID] = int32(i)
	}
	for i, l := range p.Lists {
		cl := &list{List: l, idx: int32(i), restricts: make([][]*socred.Measure, len(p.Actions)), grants: make([][]*socred.Measure, len(p.Actions)), extends: map[string]bool{},
			remedy: l.Remedy(false), remedyVia: l.Remedy(true)}
		for _, r := range l.ExtendsTo {
			cl.extends[r] = true
		}
		for _, m := range p.Measures {
			if m.List != l.ID {
				continue
			}
			for _, a := range m.Restricts {
				ai, ok := e.actionIx[a]
				if !ok {
					return nil, fmt.Errorf("measure %s: unknown action %q", m.ID, a)
				}
				cl.restricts[ai] = append(cl.restricts[ai], m)
			}
			for _, a := range m.Grants {
				ai, ok := e.actionIx[a]
				if !ok {
					return nil, fmt.Errorf("measure %s: unknown action %q", m.ID, a)
				}
				cl.grants[ai] = append(cl.grants[ai], m)
			}
		}
		if !l.Designated {
			if l.Cond == nil {
				return nil, fmt.Errorf("list %s: automatic list without a compiled expression", l.ID)
			}
			cl.refs = map[int32]*schemeRefs{}
			for _, ref := range l.Cond.Refs() {
				si, ok := e.schemeIx[ref.Scheme]
				if !ok {
					return nil, fmt.Errorf("list %s: expression reads unknown scheme %q", l.ID, ref.Scheme)
				}
				r := cl.refs[si]
				if r == nil {
					r = &schemeRefs{}
					cl.refs[si] = r
					cl.schemes = append(cl.schemes, si)
					e.schemes[si].dependents = append(e.schemes[si].dependents, int32(i))
				}
				switch ref.Func {
				case "score":
					r.score = true
				case "grade":
					r.grade = true
				case "count":
					ri, ok := e.ruleIx[ruleKey{ref.Scheme, ref.Rule}]
					if !ok {
						return nil, fmt.Errorf("list %s: expression counts unknown rule %q of scheme %q", l.ID, ref.Rule, ref.Scheme)
					}
					cl.windows = append(cl.windows, window{rule: ri, length: ref.Window})
					r.rules = append(r.rules, ri)
				default:
					return nil, fmt.Errorf("list %s: expression calls unknown function %q", l.ID, ref.Func)
				}
			}
			e.auto = append(e.auto, int32(i))
		}
		e.lists = append(e.lists, cl)
		e.listIx[l.ID] = int32(i)
	}
	e.privilegeWhy = make([]string, len(e.actions))
	for ai, a := range e.actions {
		if a.Privilege {
			e.privilegeWhy[ai] = privilegeWhy(a, e.lists, ai)
		}
	}
	return e, nil
}

// Pack returns the pack the engine was compiled from.
func (e *Engine) Pack() *socred.Pack { return e.pack }

// rule returns the index of a scheme's rule.
func (e *Engine) rule(schemeID, ruleID string) (int32, bool) {
	i, ok := e.ruleIx[ruleKey{schemeID, ruleID}]
	return i, ok
}

// privilegeWhy says who may do a privilege action: the subjects on the
// lists whose measures grant it.
func privilegeWhy(a *socred.Action, lists []*list, ai int) string {
	var on []string
	for _, l := range lists {
		for _, m := range l.grants[ai] {
			on = append(on, fmt.Sprintf("%q (measure %s, %s)", l.ID, m.ID, m.Authority))
		}
	}
	if len(on) == 0 {
		return fmt.Sprintf("%s is a privilege that no measure grants: no one may", a.ID)
	}
	return fmt.Sprintf("%s is a privilege, granted only to subjects on %s; this subject is on none of them", a.ID, strings.Join(on, " or "))
}
