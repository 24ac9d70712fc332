package pack

// This file walks the YAML syntax tree of one file into the pack's types,
// remembering where each key was written so every later problem can name
// its file and line.
//
// It walks goccy/go-yaml's AST instead of decoding into structs: the struct
// decoder stops at the first problem of a mapping and picks one of several
// unknown fields at random, while a linter must report every problem,
// deterministically, at the line of the key itself.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/socred/socred"
)

// src says where an item (an authority, a scheme, a rule ...) was declared:
// its file, its field path and the line of every key and element under it,
// by path relative to the item ("legal_basis", "restricts[1]",
// "applies_to.groups[0]").
type src struct {
	file  string
	path  string
	line  int
	lines map[string]int
}

// at returns the field path of sub and the line it was written on, or the
// item's line when sub was not written (a missing key).
func (s *src) at(sub string) (string, int) {
	field := s.path
	switch {
	case field == "":
		field = sub
	case sub != "":
		field += "." + sub
	}
	// A key that was not written is reported at its closest written parent
	// (grades[2].grade at grades[2]), else at the item.
	for p := sub; p != ""; p = parentPath(p) {
		if l, ok := s.lines[p]; ok {
			return field, l
		}
	}
	return field, s.line
}

// parentPath strips the last ".key" or "[i]" of a path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// decoded is what the files declare, in order, before resolution.
type decoded struct {
	authorities []*socred.Authority
	relations   []*socred.RelationType
	actions     []*socred.Action
	schemes     []*socred.Scheme
	lists       []*socred.List
	measures    []*socred.Measure
	srcs        map[any]*src // by pointer to the item
	problems    Problems
}

// Keys a document and each kind of item may have.
var (
	docKeys       = []string{"authorities", "relations", "actions", "schemes", "lists", "measures"}
	authorityKeys = []string{"id", "name"}
	relationKeys  = []string{"id", "name", "from", "to"}
	actionKeys    = []string{"id", "name", "privilege", "context"}
	schemeKeys    = []string{"id", "name", "authority", "legal_basis", "context", "applies_to", "baseline", "min", "max", "grades", "rules", "retain_for", "appeal_within", "review_within"}
	scopeKeys     = []string{"kind", "region", "groups"}
	bandKeys      = []string{"grade", "min"}
	ruleKeys      = []string{"id", "name", "points", "counts_for", "legal_basis", "context", "joint"}
	jointKeys     = []string{"relation", "points"}
	listKeys      = []string{"id", "name", "kind", "authority", "legal_basis", "context", "when", "designated", "term", "max_term", "extends_to", "publish", "publish_after", "repair", "repair_after", "appeal_within", "review_within", "retain_for"}
	measureKeys   = []string{"id", "list", "restricts", "grants", "authority", "legal_basis", "justification"}
)

// decodeFile parses one file's documents into d.
func (d *decoded) decodeFile(file string, data []byte) {
	// YAML reads CR LF and a lone CR as line breaks, as LF, in content as
	// well; the parser counted CR LF inside a multi-line quoted scalar as
	// two lines and reported problems past the end of the file (found by
	// FuzzPackLoad). Breaks are made LF first: the lines stay the lines.
	data = lfBreaks(data)
	// A byte order mark may begin a YAML stream (YAML 1.2, 5.2); the
	// parser would read it as part of the first key.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	// The parser would take bytes that are not UTF-8 as U+FFFD.
	if !utf8.Valid(data) {
		line, col := lineCol(data, socred.InvalidUTF8(data))
		d.problems = append(d.problems, Problem{File: file, Line: line,
			Message: fmt.Sprintf("the file is not UTF-8: the byte at column %d is not", col)})
		return
	}
	// The parser's memory grows with the square of the nesting of flow
	// collections ([[[…]]]: 4 GB for 50,000 levels in a file of 100 KB).
	if line, deep := flowTooDeep(data); deep {
		d.problems = append(d.problems, Problem{File: file, Line: line,
			Message: "YAML syntax: [ ] and { } nested too deep (a pack needs two or three levels)"})
		return
	}
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		p := Problem{File: file, Message: "YAML syntax: " + err.Error()}
		var ye yaml.Error
		if errors.As(err, &ye) {
			p.Message = "YAML syntax: " + ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				p.Line = tk.Position.Line
			}
		}
		d.problems = append(d.problems, p)
		return
	}
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil || doc.Body.Type() == ast.NullType || doc.Body.Type() == ast.CommentType || doc.Body.Type() == ast.DirectiveType {
			continue // an empty document, or a directive (%YAML 1.2) before one
		}
		w := &walker{d: d, file: file, anchors: anchors(doc.Body)}
		w.document(doc.Body)
	}
}

// maxFlowNesting bounds the nesting of flow collections in a file: the sum,
// over every [ and {, of how deep it opens. The parser's memory grows with
// the square of a collection's depth (50,000 levels took 4 GB, a hundred
// collections 5,000 deep 4.3 GB); this allows one collection about 4,500
// deep (a `when` of 4,096 braces, which CEL refuses on its own, still
// reaches the expression's checks), while a pack needs two or three levels.
const maxFlowNesting = 10_000_000

// flowTooDeep reports the line where the nesting of [ and { passes
// maxFlowNesting. Brackets in quotes and comments count too: telling them
// apart would take the parser this guards.
func flowTooDeep(data []byte) (int, bool) {
	depth, sum, line := 0, 0, 1
	for _, c := range data {
		switch c {
		case '\n':
			line++
		case '[', '{':
			depth++
			if sum += depth; sum > maxFlowNesting {
				return line, true
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return 0, false
}

// lineCol returns the line and column (from 1, in bytes) of offset off.
func lineCol(data []byte, off int) (int, int) {
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	return line, off - bytes.LastIndexByte(data[:off], '\n')
}

// anchors collects the document's anchors by name, each name's in the
// order they appear: an alias refers to the last one before it (YAML 1.2,
// 3.2.2.2: a name may be given again, and an alias never looks ahead).
func anchors(n ast.Node) map[string][]anchor {
	v := anchorVisitor{}
	ast.Walk(v, n)
	for _, as := range v {
		slices.SortFunc(as, func(a, b anchor) int { return a.at - b.at })
	}
	return v
}

// anchor is an anchor's value and where it is (its offset in the file).
type anchor struct {
	at    int
	value ast.Node
}

type anchorVisitor map[string][]anchor

func (v anchorVisitor) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil && a.Value != nil {
		name := a.Name.GetToken().Value
		v[name] = append(v[name], anchor{at: offset(a), value: a.Value})
	}
	return v
}

// offset is where n begins in its file (-1 when unknown).
func offset(n ast.Node) int {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Offset
	}
	return -1
}

// walker walks one document.
type walker struct {
	d          *decoded
	file       string
	anchors    map[string][]anchor
	badAliases map[*ast.AliasNode]bool // reported once each
}

// resolve strips tags and anchors and follows aliases.
func (w *walker) resolve(n ast.Node) ast.Node {
	for range 16 { // aliases of aliases, bounded
		switch t := n.(type) {
		case *ast.TagNode:
			n = t.Value
		case *ast.AnchorNode:
			n = t.Value
		case *ast.AliasNode:
			if t.Value == nil {
				return nil
			}
			name := t.Value.GetToken().Value
			var a ast.Node
			ok := false
			for _, an := range w.anchors[name] {
				if an.at < offset(t) {
					a, ok = an.value, true
				}
			}
			if !ok && !w.badAliases[t] {
				if w.badAliases == nil {
					w.badAliases = map[*ast.AliasNode]bool{}
				}
				w.badAliases[t] = true
				w.errorf(line(t), "", "unknown alias *%s (an alias refers to an anchor &%s earlier in the same document)", name, name)
			}
			n = a
		default:
			return n
		}
	}
	return n
}

func line(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// errorf reports an error at a file line and field.
func (w *walker) errorf(ln int, field, format string, args ...any) {
	w.d.problems = append(w.d.problems, Problem{File: w.file, Line: ln, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (w *walker) document(body ast.Node) {
	m := w.mapping(w.resolve(body), &src{file: w.file, lines: map[string]int{}}, "", line(body), docKeys,
		"a document holds authorities, relations, actions, schemes, lists and measures")
	if m == nil {
		return
	}
	for _, kind := range docKeys {
		for i, item := range m.seq(kind) {
			s := &src{file: w.file, path: fmt.Sprintf("%s[%d]", kind, i), line: line(item), lines: map[string]int{}}
			w.item(kind, item, s)
		}
	}
}

// item decodes one element of a top-level list.
func (w *walker) item(kind string, n ast.Node, s *src) {
	d := w.d
	switch kind {
	case "authorities":
		if m := w.mapping(n, s, "", s.line, authorityKeys, ""); m != nil {
			a := &socred.Authority{ID: m.str("id"), Name: m.str("name")}
			d.authorities = append(d.authorities, a)
			d.srcs[a] = s
		}
	case "relations":
		if m := w.mapping(n, s, "", s.line, relationKeys, ""); m != nil {
			r := &socred.RelationType{ID: m.str("id"), Name: m.str("name"), From: socred.SubjectKind(m.str("from")), To: socred.SubjectKind(m.str("to"))}
			d.relations = append(d.relations, r)
			d.srcs[r] = s
		}
	case "actions":
		if m := w.mapping(n, s, "", s.line, actionKeys, ""); m != nil {
			a := &socred.Action{ID: m.str("id"), Name: m.str("name"), Privilege: m.boolean("privilege"), Context: m.str("context")}
			d.actions = append(d.actions, a)
			d.srcs[a] = s
		}
	case "schemes":
		w.scheme(n, s)
	case "lists":
		w.list(n, s)
	case "measures":
		if m := w.mapping(n, s, "", s.line, measureKeys, ""); m != nil {
			ms := &socred.Measure{
				ID: m.str("id"), List: m.str("list"),
				Restricts: m.strs("restricts"), Grants: m.strs("grants"),
				Authority: m.str("authority"), LegalBasis: m.str("legal_basis"),
				Justification: m.str("justification"),
			}
			d.measures = append(d.measures, ms)
			d.srcs[ms] = s
		}
	}
}

func (w *walker) scheme(n ast.Node, s *src) {
	m := w.mapping(n, s, "", s.line, schemeKeys, "")
	if m == nil {
		return
	}
	sc := &socred.Scheme{
		ID: m.str("id"), Name: m.str("name"), Authority: m.str("authority"),
		LegalBasis: m.str("legal_basis"), Context: m.str("context"),
		Baseline: m.integer("baseline"), Min: m.intPtr("min"), Max: m.intPtr("max"),
		RetainFor: m.duration("retain_for"), AppealWithin: m.duration("appeal_within"), ReviewWithin: m.duration("review_within"),
		File: s.file, Line: s.line,
	}
	if scope := m.child("applies_to", scopeKeys); scope != nil {
		sc.Scope = socred.Scope{Kind: socred.SubjectKind(scope.str("kind")), Region: scope.str("region"), Groups: scope.strs("groups")}
	}
	for i, g := range m.seq("grades") {
		rel := fmt.Sprintf("grades[%d]", i)
		s.lines[rel] = line(g)
		if b := w.mapping(g, s, rel, line(g), bandKeys, ""); b != nil {
			band := socred.Band{Grade: b.str("grade"), Min: b.integer("min"), HasMin: b.has("min")}
			sc.Grades = append(sc.Grades, band)
		}
	}
	for i, r := range m.seq("rules") {
		rs := &src{file: s.file, path: fmt.Sprintf("%s.rules[%d]", s.path, i), line: line(r), lines: map[string]int{}}
		rm := w.mapping(r, rs, "", rs.line, ruleKeys, "")
		if rm == nil {
			continue
		}
		rule := &socred.Rule{
			ID: rm.str("id"), Name: rm.str("name"), Points: rm.integer("points"),
			CountsFor: rm.duration("counts_for"), LegalBasis: rm.str("legal_basis"), Context: rm.str("context"),
		}
		for j, jn := range rm.seq("joint") {
			rel := fmt.Sprintf("joint[%d]", j)
			rs.lines[rel] = line(jn)
			if jm := w.mapping(jn, rs, rel, line(jn), jointKeys, ""); jm != nil {
				rule.Joint = append(rule.Joint, socred.Joint{Relation: jm.str("relation"), Points: jm.integer("points")})
			}
		}
		sc.Rules = append(sc.Rules, rule)
		w.d.srcs[rule] = rs
	}
	w.d.schemes = append(w.d.schemes, sc)
	w.d.srcs[sc] = s
}

func (w *walker) list(n ast.Node, s *src) {
	m := w.mapping(n, s, "", s.line, listKeys, "")
	if m == nil {
		return
	}
	l := &socred.List{
		ID: m.str("id"), Name: m.str("name"), Kind: socred.ListKind(m.str("kind")),
		Authority: m.str("authority"), LegalBasis: m.str("legal_basis"), Context: m.str("context"),
		When: m.str("when"), Designated: m.boolean("designated"),
		Term: m.duration("term"), MaxTerm: m.duration("max_term"),
		ExtendsTo: m.strs("extends_to"), Publish: m.boolean("publish"), PublishAfter: m.duration("publish_after"),
		Repair: m.strs("repair"), RepairAfter: m.duration("repair_after"),
		AppealWithin: m.duration("appeal_within"), ReviewWithin: m.duration("review_within"), RetainFor: m.duration("retain_for"),
		File: s.file, Line: s.line,
	}
	w.d.lists = append(w.d.lists, l)
	w.d.srcs[l] = s
}

// ymap is a decoded YAML mapping of an item (or of a part of one, like a
// scheme's applies_to), with its keys checked.
type ymap struct {
	w    *walker
	s    *src
	rel  string // path of the mapping relative to the item; "" for the item
	vals map[string]*ast.MappingValueNode
}

// mapping checks that n is a mapping whose keys are all in allowed, reporting
// unknown and duplicate keys, and returns it (nil when n is not a mapping).
// hint, if given, is added to unknown-key messages.
func (w *walker) mapping(n ast.Node, s *src, rel string, ln int, allowed []string, hint string) *ymap {
	field, _ := s.at(rel)
	n = w.resolve(n)
	mn, ok := n.(ast.MapNode)
	if !ok || n == nil {
		what := "nothing"
		if n != nil && n.Type() != ast.NullType {
			what = describe(n)
		}
		w.errorf(ln, field, "must be a mapping of keys to values, not %s", what)
		return nil
	}
	m := &ymap{w: w, s: s, rel: rel, vals: map[string]*ast.MappingValueNode{}}
	m.add(mn, allowed, hint, 0)
	return m
}

// add adds the pairs of mn to m, following merge keys (<<) to a small depth.
func (m *ymap) add(mn ast.MapNode, allowed []string, hint string, depth int) {
	w := m.w
	var merged []ast.MapNode
	for it := mn.MapRange(); it.Next(); {
		kv := it.KeyValue()
		if kv.Key == nil {
			continue
		}
		if kv.Key.IsMergeKey() {
			bad := false
			switch v := w.resolve(kv.Value).(type) {
			case nil: // an unknown alias, reported as such
			case ast.MapNode:
				merged = append(merged, v)
			case *ast.SequenceNode:
				for _, e := range v.Values {
					if em, ok := w.resolve(e).(ast.MapNode); ok {
						merged = append(merged, em)
					} else {
						bad = true
					}
				}
			default:
				bad = true
			}
			if bad {
				w.errorf(line(kv.Key), m.field("<<"), "a merge key (<<) takes a mapping or a list of mappings, usually an alias: <<: *defaults")
			}
			continue
		}
		key := keyString(kv.Key)
		kl := line(kv.Key)
		field := m.field(key)
		if !slices.Contains(allowed, key) {
			msg := fmt.Sprintf("unknown key %q%s", key, suggest(key, allowed))
			if hint != "" {
				msg += "; " + hint
			}
			w.errorf(kl, field, "%s", msg)
			continue
		}
		if first, dup := m.vals[key]; dup {
			if depth == 0 {
				w.errorf(kl, field, "duplicate key %q (first on line %d)", key, line(first.Key))
			}
			continue
		}
		m.vals[key] = kv
		m.s.lines[m.subPath(key)] = kl
	}
	if depth < 4 {
		for _, mm := range merged {
			m.add(mm, allowed, hint, depth+1)
		}
	}
}

func keyString(k ast.MapKeyNode) string {
	// An explicit key (? name), a tagged one (!!str name) or an anchored
	// one (&a name) is the key it wraps.
	var n ast.Node = k
	for range 8 {
		switch t := n.(type) {
		case *ast.MappingKeyNode:
			n = t.Value
			continue
		case *ast.TagNode:
			n = t.Value
			continue
		case *ast.AnchorNode:
			n = t.Value
			continue
		case *ast.StringNode:
			return t.Value
		}
		break
	}
	if n == nil {
		return ""
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return n.String()
}

// subPath returns the path of key relative to the item.
func (m *ymap) subPath(key string) string {
	if m.rel == "" {
		return key
	}
	return m.rel + "." + key
}

// field returns the full field path of key.
func (m *ymap) field(key string) string {
	f, _ := m.s.at(m.subPath(key))
	return f
}

func (m *ymap) has(key string) bool { _, ok := m.vals[key]; return ok }

// value returns the resolved value of key, and the line of the key.
func (m *ymap) value(key string) (ast.Node, int, bool) {
	kv, ok := m.vals[key]
	if !ok {
		return nil, 0, false
	}
	return m.w.resolve(kv.Value), line(kv.Key), true
}

// str returns the text of a scalar key ("" when absent or null).
func (m *ymap) str(key string) string {
	n, ln, ok := m.value(key)
	if !ok {
		return ""
	}
	s, ok := scalarText(n)
	switch {
	case !ok:
		m.w.errorf(ln, m.field(key), "must be text, not %s", describe(n))
	case isBool(n):
		// Unquoted, true and false are YAML's booleans: a legal basis of
		// "true", or a condition that holds for everyone, is a slip.
		m.w.errorf(ln, m.field(key), "must be text, not the boolean %s (quote it if the text is meant)", s)
	case !socred.ValidText(s, true):
		m.w.errorf(ln, m.field(key), "must be %s", socred.TextRule)
	}
	return s
}

func isBool(n ast.Node) bool { _, ok := n.(*ast.BoolNode); return ok }

// decimal is a whole number as a pack writes one.
var decimal = regexp.MustCompile(`^[-+]?(0|[1-9][0-9]*)$`)

// integer returns the value of an integer key (0 when absent).
func (m *ymap) integer(key string) int64 {
	n, ln, ok := m.value(key)
	if !ok {
		return 0
	}
	var v int64
	switch t := n.(type) {
	case *ast.IntegerNode:
		// YAML 1.1 reads 017 as octal 15 and 0x1f as hex; 1.2 reads 017
		// as 17: a number of points is written in decimal, or refused.
		if !decimal.MatchString(t.Token.Value) {
			m.w.errorf(ln, m.field(key), "%s: write a whole number in decimal digits, without leading zeros (YAML readers differ on 017)", t.Token.Value)
			return 0
		}
		switch x := t.Value.(type) {
		case int64:
			return x
		case uint64:
			if x <= math.MaxInt64 {
				return int64(x)
			}
		}
		m.w.errorf(ln, m.field(key), "%s is out of range", t.Token.Value)
		return 0
	case *ast.NullNode:
		m.w.errorf(ln, m.field(key), "must be a whole number, not empty")
	case *ast.FloatNode:
		m.w.errorf(ln, m.field(key), "must be a whole number, not %s", t.GetToken().Value)
	default:
		m.w.errorf(ln, m.field(key), "must be a whole number, not %s", describe(n))
	}
	return v
}

// intPtr returns the value of an optional integer key, nil when absent.
func (m *ymap) intPtr(key string) *int64 {
	if !m.has(key) {
		return nil
	}
	v := m.integer(key)
	return &v
}

// boolean returns the value of a boolean key (false when absent).
func (m *ymap) boolean(key string) bool {
	n, ln, ok := m.value(key)
	if !ok {
		return false
	}
	if b, ok := n.(*ast.BoolNode); ok {
		return b.Value
	}
	m.w.errorf(ln, m.field(key), "must be true or false, not %s", describe(n))
	return false
}

// duration returns the value of a duration key (zero when absent).
func (m *ymap) duration(key string) socred.Duration {
	n, ln, ok := m.value(key)
	if !ok {
		return socred.Duration{}
	}
	s, ok := scalarText(n)
	if !ok || s == "" {
		m.w.errorf(ln, m.field(key), "must be a duration like 180d, 6mo or 2y, not %s", describe(n))
		return socred.Duration{}
	}
	d, err := socred.ParseDuration(s)
	if err != nil {
		m.w.errorf(ln, m.field(key), "%v", err)
	}
	return d
}

// strs returns the elements of a list of scalars, recording each element's
// line; nil when absent.
func (m *ymap) strs(key string) []string {
	items := m.seq(key)
	if items == nil {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, e := range items {
		sub := fmt.Sprintf("%s[%d]", m.subPath(key), i)
		m.s.lines[sub] = line(e)
		s, ok := scalarText(m.w.resolve(e))
		if !ok || isBool(m.w.resolve(e)) || !socred.ValidText(s, false) {
			f, _ := m.s.at(sub)
			switch {
			case !ok:
				m.w.errorf(line(e), f, "must be text, not %s", describe(m.w.resolve(e)))
			case isBool(m.w.resolve(e)):
				m.w.errorf(line(e), f, "must be text, not the boolean %s (quote it if the text is meant)", s)
			default:
				m.w.errorf(line(e), f, "must be %s, not %q", socred.TextRule, s)
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// seq returns the elements of a list key; nil when absent or null.
func (m *ymap) seq(key string) []ast.Node {
	n, ln, ok := m.value(key)
	if !ok {
		return nil
	}
	switch t := n.(type) {
	case *ast.SequenceNode:
		if t.Values == nil {
			return []ast.Node{}
		}
		return t.Values
	case *ast.NullNode, nil:
		return nil
	}
	m.w.errorf(ln, m.field(key), "must be a list (lines starting with \"- \" or [a, b]), not %s", describe(n))
	return nil
}

// child returns a nested mapping key, nil when absent.
func (m *ymap) child(key string, allowed []string) *ymap {
	n, ln, ok := m.value(key)
	if !ok {
		return nil
	}
	if n == nil || n.Type() == ast.NullType {
		return nil
	}
	return m.w.mapping(n, m.s, m.subPath(key), ln, allowed, "")
}

// scalarText returns the text of a scalar node; "" for null.
func scalarText(n ast.Node) (string, bool) {
	switch t := n.(type) {
	case nil, *ast.NullNode:
		return "", true
	case *ast.StringNode:
		return t.Value, true
	case *ast.LiteralNode:
		if t.Value == nil {
			return "", true
		}
		return t.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tk := t.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}

// describe names a node's kind for messages.
func describe(n ast.Node) string {
	switch t := n.(type) {
	case nil, *ast.NullNode:
		return "empty"
	case ast.MapNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return strconv.Quote(t.Value)
	case *ast.LiteralNode:
		return "a block of text"
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return "a " + n.Type().String()
}

// lfBreaks returns data with every CR LF and lone CR made an LF (data
// itself when it has no CR).
func lfBreaks(data []byte) []byte {
	if !bytes.ContainsRune(data, '\r') {
		return data
	}
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); i++ {
		if data[i] != '\r' {
			out = append(out, data[i])
			continue
		}
		out = append(out, '\n')
		if i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
	}
	return out
}
