package pack

// This file compiles the `when` expressions of automatic lists (CEL) into
// socred.Condition values.
//
// Design: cel-go binds functions statically, but score, grade and count must
// read the facts of the subject being evaluated. So score("x"), grade("x")
// and count("x", "r", "w") are global macros that check their arguments are
// string literals and rewrite the call to an internal function taking a
// hidden first argument, the variable factsVar: score("x") becomes
// socred.score(__facts__, "x"). Each evaluation resolves factsVar (and the
// subject.* variables) through a small Activation holding the socred.Facts,
// so one compiled cel.Program serves every subject concurrently.

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	celchecker "github.com/google/cel-go/checker"
	"github.com/google/cel-go/common"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"

	"github.com/socred/socred"
)

const (
	factsVar  = "__facts__"
	fnScore   = "socred.score"
	fnGrade   = "socred.grade"
	fnCount   = "socred.count"
	maxExprSz = 4096 // code points; a `when` is a line or two
	// maxExprCost bounds the steps one evaluation of a `when` may take, as
	// cel-go estimates them: the engine evaluates a list's condition at
	// every change of a subject's standing, and comprehensions nested over
	// lists multiply (five levels over 40 elements took more than 20 s).
	// A comparison of scores costs a few steps, a test of the groups about
	// two hundred.
	maxExprCost = 100_000
	// maxGroups is how many groups a subject may have (Subject.Validate).
	maxGroups = 64
)

// factsType is the CEL type of the hidden facts variable.
var factsType = cel.OpaqueType("socred.Facts")

// errOutOfScope is the value of score, grade and count for a subject outside
// the scheme's scope: an error, so the expression is false. It is labelled
// once here because cel-go labels unlabelled errors in place, which would be
// a data race on a shared value.
var errOutOfScope = types.LabelErrNode(-1, types.NewErr("the subject is outside the scheme's scope"))

// celEnv is the environment every `when` is compiled in.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable(factsVar, factsType),
		cel.Variable("subject.kind", cel.StringType),
		cel.Variable("subject.region", cel.StringType),
		cel.Variable("subject.groups", cel.ListType(cel.StringType)),
		cel.Macros(
			cel.GlobalVarArgMacro("score", expandFact(fnScore, `score("scheme")`)),
			cel.GlobalVarArgMacro("grade", expandFact(fnGrade, `grade("scheme")`)),
			cel.GlobalVarArgMacro("count", expandFact(fnCount, `count("scheme", "rule", "window")`)),
		),
		cel.Function(fnScore, cel.Overload("socred_score", []*cel.Type{factsType, cel.StringType}, cel.IntType,
			cel.BinaryBinding(func(f, scheme ref.Val) ref.Val {
				n, ok := f.(*factsVal).f.Score(string(scheme.(types.String)))
				if !ok {
					return errOutOfScope
				}
				return types.Int(n)
			}))),
		cel.Function(fnGrade, cel.Overload("socred_grade", []*cel.Type{factsType, cel.StringType}, cel.StringType,
			cel.BinaryBinding(func(f, scheme ref.Val) ref.Val {
				g, ok := f.(*factsVal).f.Grade(string(scheme.(types.String)))
				if !ok {
					return errOutOfScope
				}
				return types.String(g)
			}))),
		cel.Function(fnCount, cel.Overload("socred_count", []*cel.Type{factsType, cel.StringType, cel.StringType, cel.StringType}, cel.IntType,
			cel.FunctionBinding(func(args ...ref.Val) ref.Val {
				w, err := socred.ParseDuration(string(args[3].(types.String)))
				if err != nil {
					return types.WrapErr(err) // checked at load; never happens
				}
				n, ok := args[0].(*factsVal).f.Count(string(args[1].(types.String)), string(args[2].(types.String)), w)
				if !ok {
					return errOutOfScope
				}
				return types.Int(n)
			}))),
	)
})

// expandFact returns the macro for score, grade or count: it checks the
// arguments are string literals and calls fn with the hidden facts first.
func expandFact(fn, usage string) cel.MacroFactory {
	want := strings.Count(usage, `"`) / 2
	name := usage[:strings.IndexByte(usage, '(')]
	return func(eh cel.MacroExprFactory, _ celast.Expr, args []celast.Expr) (celast.Expr, *common.Error) {
		if len(args) != want {
			return nil, &common.Error{Message: fmt.Sprintf("%s takes %d argument%s: %s", name, want, plural(want), usage)}
		}
		for _, a := range args {
			if a.Kind() != celast.LiteralKind || a.AsLiteral().Type() != types.StringType {
				return nil, eh.NewError(leftmost(eh, a), fmt.Sprintf("the arguments of %s must be string literals: %s", name, usage))
			}
		}
		return eh.NewCall(fn, append([]celast.Expr{eh.NewIdent(factsVar)}, args...)...), nil
	}
}

// leftmost returns the id of the node of e written first, so a message
// points at the start of e (cel-go places a.b at the dot).
func leftmost(eh cel.MacroExprFactory, e celast.Expr) int64 {
	best, bestLoc := e.ID(), eh.OffsetLocation(e.ID())
	celast.PostOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
		loc := eh.OffsetLocation(x.ID())
		if loc.Line() > 0 && (loc.Line() < bestLoc.Line() || loc.Line() == bestLoc.Line() && loc.Column() < bestLoc.Column()) {
			best, bestLoc = x.ID(), loc
		}
	}))
	return best
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// factsVal carries a socred.Facts into an evaluation as a CEL value.
type factsVal struct{ f socred.Facts }

var errFactsConversion = errors.New("the facts are not a value")

func (v *factsVal) ConvertToNative(reflect.Type) (any, error) { return nil, errFactsConversion }
func (v *factsVal) ConvertToType(ref.Type) ref.Val            { return types.WrapErr(errFactsConversion) }
func (v *factsVal) Equal(o ref.Val) ref.Val                   { return types.Bool(v == o) }
func (v *factsVal) Type() ref.Type                            { return factsType }
func (v *factsVal) Value() any                                { return v.f }

// activation resolves the variables of one evaluation.
type activation struct{ facts factsVal }

func (a *activation) ResolveName(name string) (any, bool) {
	if name == factsVar {
		return &a.facts, true
	}
	s := a.facts.f.Subject()
	if s == nil {
		return nil, false
	}
	switch name {
	case "subject.kind":
		return types.String(s.Kind), true
	case "subject.region":
		return types.String(s.Region), true
	case "subject.groups":
		return types.NewStringList(types.DefaultTypeAdapter, s.Groups), true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

var activations = sync.Pool{New: func() any { return new(activation) }}

// condition is a compiled `when`; it implements socred.Condition.
type condition struct {
	src  string
	prg  cel.Program
	refs []socred.Ref
}

// Eval reports whether the expression holds for the facts. An evaluation
// error, such as reading a scheme whose scope excludes the subject, is false.
func (c *condition) Eval(f socred.Facts) bool {
	a := activations.Get().(*activation)
	a.facts.f = f
	out, _, err := c.prg.Eval(a)
	a.facts.f = nil
	activations.Put(a)
	return err == nil && out == types.True
}

// Refs lists the score, grade and count calls of the expression.
func (c *condition) Refs() []socred.Ref { return slices.Clone(c.refs) }

// String returns the expression's source.
func (c *condition) String() string { return c.src }

// exprIssue is a problem inside an expression, at a 1-based line and column
// of the expression's text.
type exprIssue struct {
	Line, Column int
	Message      string
	Warning      bool
}

// compileWhen compiles src against the pack, whose schemes must be indexed.
// The condition is nil when there are errors (not when there are only
// warnings).
func compileWhen(src string, p *socred.Pack) (*condition, []exprIssue) {
	env, err := celEnv()
	if err != nil {
		panic(err) // the environment is static
	}
	if n := len([]rune(src)); n > maxExprSz {
		return nil, []exprIssue{{Line: 1, Column: 1, Message: fmt.Sprintf("the expression is %d characters long; at most %d", n, maxExprSz)}}
	}
	checked, iss := env.Compile(src)
	if iss.Err() != nil {
		var out []exprIssue
		for _, e := range iss.Errors() {
			out = append(out, exprIssue{Line: e.Location.Line(), Column: e.Location.Column() + 1, Message: e.Message})
		}
		return nil, out
	}
	v := &whenChecker{pack: p, ast: checked.NativeRep()}
	celast.PreOrderVisit(v.ast.Expr(), celast.NewExprVisitor(v.visit))
	if t := checked.OutputType(); !t.IsExactType(cel.BoolType) {
		v.issues = append(v.issues, exprIssue{Line: 1, Column: 1,
			Message: fmt.Sprintf("the expression is of type %s; it must be a condition (true or false), e.g. score(\"scheme\") < 960", t)})
	}
	if v.hasErrors() {
		return nil, v.issues
	}
	if est, err := env.EstimateCost(checked, costBounds{}); err != nil || est.Max > maxExprCost {
		msg := fmt.Sprintf("the expression may take up to %d steps to evaluate; at most %d (comprehensions such as all, exists and map nested over lists multiply)", est.Max, maxExprCost)
		if err != nil {
			msg = "the cost of evaluating the expression cannot be bounded: " + err.Error()
		}
		return nil, append(v.issues, exprIssue{Line: 1, Column: 1, Message: msg})
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, append(v.issues, exprIssue{Line: 1, Column: 1, Message: err.Error()})
	}
	return &condition{src: src, prg: prg, refs: v.refs}, v.issues
}

// costBounds tells cel-go's cost estimate what a type does not: how many
// groups a subject may have, and how long its kind, region and groups are
// (ids of at most 63 bytes). Everything else is estimated as cel-go does
// (literals by their length; the facts' functions at one step).
type costBounds struct{}

func (costBounds) EstimateSize(n celchecker.AstNode) *celchecker.SizeEstimate {
	switch strings.Join(n.Path(), "/") {
	case "subject.groups":
		return &celchecker.SizeEstimate{Min: 0, Max: maxGroups}
	case "subject.groups/@items", "subject.kind", "subject.region":
		return &celchecker.SizeEstimate{Min: 0, Max: 63}
	}
	return nil
}

func (costBounds) EstimateCallCost(function, overloadID string, target *celchecker.AstNode, args []celchecker.AstNode) *celchecker.CallEstimate {
	return nil
}

// whenChecker checks the references of a type-checked expression and
// collects them.
type whenChecker struct {
	pack   *socred.Pack
	ast    *celast.AST
	refs   []socred.Ref
	issues []exprIssue
	ids    map[int64]bool // the arguments of score, grade and count
}

func (v *whenChecker) add(id int64, warning bool, format string, args ...any) {
	loc := v.ast.SourceInfo().GetStartLocation(id)
	line, col := loc.Line(), loc.Column()+1
	if line < 1 {
		line, col = 1, 1
	}
	v.issues = append(v.issues, exprIssue{Line: line, Column: col, Message: fmt.Sprintf(format, args...), Warning: warning})
}

func (v *whenChecker) hasErrors() bool {
	return slices.ContainsFunc(v.issues, func(i exprIssue) bool { return !i.Warning })
}

func (v *whenChecker) visit(e celast.Expr) {
	switch e.Kind() {
	case celast.CallKind:
		call := e.AsCall()
		switch call.FunctionName() {
		case fnScore, fnGrade, fnCount:
			v.fact(e)
		case operators.Equals, operators.NotEquals, operators.In,
			operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
			v.comparison(call)
		case "startsWith", "endsWith", "contains", "matches":
			v.partial(call)
		case operators.Add:
			// A string put together from literals is checked whole, as a
			// literal is: ("mus" + "lim") in subject.groups.
			if joined, ok := foldString(e); ok && !v.ids[e.ID()] {
				if v.ids == nil {
					v.ids = make(map[int64]bool)
				}
				markSubtree(e, v.ids)
				if t, ok := socred.SpecialCategory(joined); ok {
					first := e // reported where the string begins: its first literal
					for first.Kind() == celast.CallKind {
						first = first.AsCall().Args()[0]
					}
					v.add(first.ID(), false, "%q names a special category of personal data (%s, term %q); a list may not target it", joined, t.Category, t.Term)
				}
			}
		}
	case celast.IdentKind:
		if e.AsIdent() == factsVar && !v.ids[e.ID()] {
			v.add(e.ID(), false, "unknown name %q", factsVar)
		}
	case celast.LiteralKind:
		if s, ok := literalString(e); ok && !v.ids[e.ID()] {
			if t, ok := socred.SpecialCategory(s); ok {
				v.add(e.ID(), false, "%q names a special category of personal data (%s, term %q); a list may not target it", s, t.Category, t.Term)
			}
		}
	}
}

// partial checks a string function given a literal part of a string or a
// pattern (g.startsWith("musl"), g.matches("^mus.im$")): a part that makes
// up most of a single-word special-category term, or a pattern that finds
// a term and none of a few ordinary words, targets the category as the term
// itself would.
func (v *whenChecker) partial(call celast.CallExpr) {
	args := call.Args()
	if len(args) == 0 {
		return
	}
	if args[len(args)-1].Kind() != celast.LiteralKind {
		return
	}
	lit, ok := args[len(args)-1].AsLiteral().(types.String)
	if !ok {
		return
	}
	part := string(lit)
	var reaches func(term string) bool
	switch call.FunctionName() {
	case "matches":
		re, err := regexp.Compile(part)
		if err != nil || slices.ContainsFunc(ordinaryWords, re.MatchString) {
			return
		}
		reaches = re.MatchString
	default:
		f := socred.FoldText(part)
		if len([]rune(f)) < 4 {
			return
		}
		has := strings.Contains
		switch call.FunctionName() {
		case "startsWith":
			has = strings.HasPrefix
		case "endsWith":
			has = strings.HasSuffix
		}
		reaches = func(term string) bool {
			return !strings.Contains(term, " ") && 2*len([]rune(f)) >= len([]rune(term)) && has(term, f)
		}
	}
	if t, ok := socred.SpecialCategoryWhere(reaches); ok {
		v.add(args[len(args)-1].ID(), false, "%s(%q) reaches the special-category term %q (%s); a list may not target it", call.FunctionName(), part, t.Term, t.Category)
	}
}

// ordinaryWords are strings a pattern that finds a special-category term
// must not also find, for the pattern to be taken as targeting it: one that
// finds these too (".*", "s") targets nothing in particular.
var ordinaryWords = []string{"", "a", "residents", "taxi-drivers", "rongcheng", "loan-default", "members", "zhang wei", "e"}

// fact checks one score, grade or count call and records its Ref.
func (v *whenChecker) fact(e celast.Expr) {
	call := e.AsCall()
	args := call.Args()
	lit := make([]string, 0, 3)
	if v.ids == nil {
		v.ids = make(map[int64]bool)
	}
	v.ids[args[0].ID()] = true // the hidden facts
	for _, a := range args[1:] {
		v.ids[a.ID()] = true
		s, ok := literalString(a)
		if !ok {
			v.add(a.ID(), false, "the arguments must be string literals")
			return
		}
		lit = append(lit, s)
	}
	name := strings.TrimPrefix(call.FunctionName(), "socred.")
	ref := socred.Ref{Func: name, Scheme: lit[0]}
	s := v.pack.Scheme(lit[0])
	if s == nil {
		v.add(args[1].ID(), false, "%s: unknown scheme %q%s", name, lit[0], suggest(lit[0], schemeIDs(v.pack)))
		return
	}
	if name == "grade" && len(s.Grades) == 0 {
		v.add(e.ID(), true, "scheme %q has no grades, so grade(%q) is always \"\"", s.ID, s.ID)
	}
	if name == "count" {
		ref.Rule = lit[1]
		r := s.Rule(lit[1])
		if r == nil {
			v.add(args[2].ID(), false, "count: unknown rule %q in scheme %q%s", lit[1], s.ID, suggest(lit[1], ruleIDs(s)))
			return
		}
		w, err := socred.ParseDuration(lit[2])
		switch {
		case err != nil:
			v.add(args[3].ID(), false, "count: bad window: %v", err)
			return
		case w.N == 0:
			v.add(args[3].ID(), false, "count: the window %q must be longer than zero", lit[2])
			return
		case !r.CountsFor.IsZero() && w.Compare(r.CountsFor) > 0:
			v.add(args[3].ID(), true, "count: the window %s is longer than the %s that a record of rule %q counts for, so it counts as %s",
				w, r.CountsFor, r.ID, r.CountsFor)
		}
		ref.Window = w
	}
	if !slices.Contains(v.refs, ref) {
		v.refs = append(v.refs, ref)
	}
}

// comparison warns about comparing a grade with something that is not one of
// the scheme's grades, or comparing grades by order (they compare as text).
func (v *whenChecker) comparison(call celast.CallExpr) {
	args := call.Args()
	if len(args) != 2 {
		return
	}
	for i, a := range args {
		scheme, ok := v.gradeCall(a)
		if !ok {
			continue
		}
		s := v.pack.Scheme(scheme)
		if s == nil || len(s.Grades) == 0 {
			return
		}
		other := args[1-i]
		switch call.FunctionName() {
		case operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
			v.add(other.ID(), true, "grades compare as text (\"AA\" < \"B\"), not by rank; compare score(%q) or use grade(%q) in [...]", scheme, scheme)
			return
		case operators.In:
			if i != 0 || other.Kind() != celast.ListKind {
				return
			}
			for _, el := range other.AsList().Elements() {
				v.checkGrade(s, el)
			}
		default:
			v.checkGrade(s, other)
		}
		return
	}
}

func (v *whenChecker) checkGrade(s *socred.Scheme, e celast.Expr) {
	g, ok := literalString(e)
	if !ok {
		return
	}
	for _, b := range s.Grades {
		if b.Grade == g {
			return
		}
	}
	names := make([]string, len(s.Grades))
	for i, b := range s.Grades {
		names[i] = b.Grade
	}
	v.add(e.ID(), true, "%q is not a grade of scheme %q (%s), so this comparison never holds", g, s.ID, strings.Join(names, ", "))
}

// gradeCall reports whether e is grade("scheme") and returns the scheme.
func (v *whenChecker) gradeCall(e celast.Expr) (string, bool) {
	if e.Kind() != celast.CallKind || e.AsCall().FunctionName() != fnGrade {
		return "", false
	}
	args := e.AsCall().Args()
	if len(args) != 2 {
		return "", false
	}
	return literalString(args[1])
}

// foldString returns the string a literal, or a sum of literals, is.
func foldString(e celast.Expr) (string, bool) {
	if s, ok := literalString(e); ok {
		return s, true
	}
	if e.Kind() != celast.CallKind || e.AsCall().FunctionName() != operators.Add || len(e.AsCall().Args()) != 2 {
		return "", false
	}
	args := e.AsCall().Args()
	a, ok := foldString(args[0])
	if !ok {
		return "", false
	}
	b, ok := foldString(args[1])
	return a + b, ok
}

// markSubtree marks e and every expression under it as seen.
func markSubtree(e celast.Expr, seen map[int64]bool) {
	celast.PreOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) { seen[x.ID()] = true }))
}

// literalString returns the text of a string literal, or of a bytes
// literal (string(b"...") compares as the string would).
func literalString(e celast.Expr) (string, bool) {
	if e.Kind() != celast.LiteralKind {
		return "", false
	}
	switch s := e.AsLiteral().(type) {
	case types.String:
		return string(s), true
	case types.Bytes:
		return string(s), true
	}
	return "", false
}

func schemeIDs(p *socred.Pack) []string {
	ids := make([]string, len(p.Schemes))
	for i, s := range p.Schemes {
		ids[i] = s.ID
	}
	return ids
}

func ruleIDs(s *socred.Scheme) []string {
	ids := make([]string, len(s.Rules))
	for i, r := range s.Rules {
		ids[i] = r.ID
	}
	return ids
}
