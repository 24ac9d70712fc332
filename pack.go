package socred

import "strings"

// This file holds the scheme-pack model: what operators write in YAML
// (see the pack package for the reader), compiled into values the engine
// uses directly.

// Authority is an organisation that runs schemes or lists, reports records,
// designates subjects or implements measures.
type Authority struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// RelationType is a kind of relation a pack allows between subjects.
type RelationType struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// From and To, when set, are the kinds of subject the relation may
	// link: legal-representative-of links a person to an organisation.
	From SubjectKind `json:"from,omitempty"`
	To   SubjectKind `json:"to,omitempty"`
}

// Action is something a provider asks about. Ordinary actions are allowed
// unless a measure restricts them; privilege actions are denied unless a
// measure grants them.
type Action struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Privilege bool   `json:"privilege"`
	Context   string `json:"context,omitempty"`
}

// Scope says which subjects a scheme applies to. Every given condition must
// hold; an empty field is no condition.
type Scope struct {
	Kind   SubjectKind `json:"kind,omitempty"`
	Region string      `json:"region,omitempty"`
	Groups []string    `json:"groups,omitempty"`
}

// Contains reports whether the subject is in the scope.
func (sc *Scope) Contains(s *Subject) bool {
	if sc.Kind != "" && sc.Kind != s.Kind {
		return false
	}
	if sc.Region != "" && sc.Region != s.Region {
		return false
	}
	for _, g := range sc.Groups {
		if !s.InGroup(g) {
			return false
		}
	}
	return true
}

// Band is one grade band of a scheme. A score gets the first band (highest
// first) whose Min it reaches; the last band has no minimum (HasMin false).
type Band struct {
	Grade  string `json:"grade"`
	Min    int64  `json:"min,omitempty"`
	HasMin bool   `json:"-"`
}

// Scheme is one scoring system run by one authority.
type Scheme struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Authority  string  `json:"authority"`
	LegalBasis string  `json:"legal_basis"`
	Context    string  `json:"context,omitempty"`
	Scope      Scope   `json:"applies_to"`
	Baseline   int64   `json:"baseline"`
	Min        *int64  `json:"min,omitempty"`
	Max        *int64  `json:"max,omitempty"`
	Grades     []Band  `json:"grades,omitempty"`
	Rules      []*Rule `json:"rules"`
	// RetainFor is how long a record is kept after it stops counting;
	// then its personal fields are purged (default 1y).
	RetainFor Duration `json:"retain_for,omitzero"`
	// AppealWithin is how long after the notice of a record the subject
	// may appeal it, and ReviewWithin how long a reviewer has to decide
	// (both default 30d).
	AppealWithin Duration `json:"appeal_within,omitzero"`
	ReviewWithin Duration `json:"review_within,omitzero"`
	File         string   `json:"-"` // where the scheme was declared, for messages
	Line         int      `json:"-"`
	rules        map[string]*Rule
}

// Defaults of the pack keys that have one.
var (
	// DefaultAppealWindow is how long a subject has to appeal, and a
	// reviewer to decide, when the pack does not say (appeal_within,
	// review_within).
	DefaultAppealWindow = Duration{N: 30, Unit: Days}
	// DefaultRetention is how long a record is kept after it stops
	// counting, and an ended designation its reason, when the scheme or
	// list does not say (retain_for).
	DefaultRetention = Duration{N: 1, Unit: Years}
)

// OrDefault returns d, or def when d is zero (not given).
func (d Duration) OrDefault(def Duration) Duration {
	if d.IsZero() {
		return def
	}
	return d
}

// Rule returns the scheme's rule with the id, or nil.
func (s *Scheme) Rule(id string) *Rule {
	if s.rules == nil {
		s.rules = make(map[string]*Rule, len(s.Rules))
		for _, r := range s.Rules {
			s.rules[r.ID] = r
		}
	}
	return s.rules[id]
}

// Clamp returns score limited to the scheme's bounds.
func (s *Scheme) Clamp(score int64) int64 {
	if s.Min != nil && score < *s.Min {
		return *s.Min
	}
	if s.Max != nil && score > *s.Max {
		return *s.Max
	}
	return score
}

// Grade returns the grade of a score: the first band whose minimum it
// reaches, or "" when the scheme has no grades.
func (s *Scheme) Grade(score int64) string {
	for i := range s.Grades {
		b := &s.Grades[i]
		if !b.HasMin || score >= b.Min {
			return b.Grade
		}
	}
	return ""
}

// Rule is a behaviour with a signed point value, how long a record of it
// counts, and the law it rests on.
type Rule struct {
	ID         string   `json:"id"`
	Scheme     string   `json:"scheme"`
	Name       string   `json:"name"`
	Points     int64    `json:"points"`
	CountsFor  Duration `json:"counts_for"`
	LegalBasis string   `json:"legal_basis"`
	Context    string   `json:"context,omitempty"`
	Joint      []Joint  `json:"joint,omitempty"`
}

// Joint is joint liability: every subject G with (G, Relation, offender)
// gets a derived record of the rule worth Points.
type Joint struct {
	Relation string `json:"relation"`
	Points   int64  `json:"points"`
}

// ListKind is black (restrictions) or red (privileges).
type ListKind string

// List kinds.
const (
	Black ListKind = "black"
	Red   ListKind = "red"
)

// List is a blacklist or redlist. Entry is automatic (When holds) or
// designated by the list's authority.
type List struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Kind         ListKind  `json:"kind"`
	Authority    string    `json:"authority"`
	LegalBasis   string    `json:"legal_basis"`
	Context      string    `json:"context,omitempty"`
	When         string    `json:"when,omitempty"` // the CEL source
	Cond         Condition `json:"-"`              // compiled When; nil for designated lists
	Designated   bool      `json:"designated"`
	Term         Duration  `json:"term,omitzero"`
	MaxTerm      Duration  `json:"max_term,omitzero"`
	ExtendsTo    []string  `json:"extends_to,omitempty"`
	Publish      bool      `json:"publish"`
	PublishAfter Duration  `json:"publish_after,omitzero"`
	Repair       []string  `json:"repair,omitempty"` // credit-repair routes (ids) by which a reviewer may end a designated entry early
	// RepairAfter is how long a subject must have been listed before
	// applying for credit repair (default 0).
	RepairAfter Duration `json:"repair_after,omitzero"`
	// AppealWithin and ReviewWithin: how long after a designation the
	// subject may appeal it, and how long a reviewer has to decide (both
	// default 30d).
	AppealWithin Duration `json:"appeal_within,omitzero"`
	ReviewWithin Duration `json:"review_within,omitzero"`
	// RetainFor, on a designated list, is how long an entry that ended
	// keeps its reason, case and end reason; then they are purged (default
	// DefaultRetention).
	RetainFor Duration   `json:"retain_for,omitzero"`
	Measures  []*Measure `json:"-"` // the measures bound to this list, in pack order
	File      string     `json:"-"`
	Line      int        `json:"-"`
}

// Remedy says, for a check's reason, how a subject on the list may contest
// the entry or end it early; via says the entry reaches the subject
// through a relation to another subject on the list.
func (l *List) Remedy(via bool) string {
	if via {
		return "This entry is a related subject's, reaching this subject through the relation named in via: it ends when that entry ends or when the relation is corrected by the authority that registered it."
	}
	var b strings.Builder
	if l.Designated {
		b.WriteString("The subject may appeal the designation to a reviewer within ")
		b.WriteString(l.AppealWithin.String())
		b.WriteString(" of the entry's start, its since (POST /v1/appeals with the list).")
		if len(l.Repair) > 0 {
			b.WriteString(" Credit repair")
			if !l.RepairAfter.IsZero() && l.RepairAfter.N > 0 {
				b.WriteString(", after ")
				b.WriteString(l.RepairAfter.String())
				b.WriteString(" on the list,")
			}
			b.WriteString(" by ")
			b.WriteString(strings.Join(l.Repair, ", "))
			b.WriteString(" ends it early once a reviewer approves (POST /v1/repairs).")
		}
		return b.String()
	}
	b.WriteString("The entry lasts while its condition holds; the subject may appeal the records behind it to a reviewer within their scheme's appeal window (POST /v1/appeals with the record), and an overturned record stops counting.")
	return b.String()
}

// Extends reports whether the list's measures extend through relation type rel.
func (l *List) Extends(rel string) bool {
	for _, r := range l.ExtendsTo {
		if r == rel {
			return true
		}
	}
	return false
}

// Effect is what a measure does to an action.
type Effect string

// Effects.
const (
	Restricts Effect = "restricts"
	Grants    Effect = "grants"
)

// Measure is the consequence of a list: it restricts or grants actions,
// implemented by an authority on its own legal basis.
type Measure struct {
	ID            string   `json:"id"`
	List          string   `json:"list"`
	Restricts     []string `json:"restricts,omitempty"`
	Grants        []string `json:"grants,omitempty"`
	Authority     string   `json:"authority"`
	LegalBasis    string   `json:"legal_basis"`
	Justification string   `json:"justification,omitempty"` // the operator's case that a cross-context measure is proportionate
}

// Pack is a loaded, resolved and compiled scheme pack. Its slices are in the
// order the files declare them; the lookup methods find entries by id.
type Pack struct {
	Authorities []*Authority
	Relations   []*RelationType
	Actions     []*Action
	Schemes     []*Scheme
	Lists       []*List
	Measures    []*Measure
	// Hash is the hex SHA-256 of the pack's files (names and contents in
	// read order); it identifies the pack in the audit log.
	Hash string

	authorities map[string]*Authority
	relations   map[string]*RelationType
	actions     map[string]*Action
	schemes     map[string]*Scheme
	lists       map[string]*List
	measures    map[string]*Measure
}

// Index builds the pack's lookup tables and binds measures to their lists.
// The reader calls it once after resolving every reference.
func (p *Pack) Index() {
	p.authorities = indexBy(p.Authorities, func(a *Authority) string { return a.ID })
	p.relations = indexBy(p.Relations, func(r *RelationType) string { return r.ID })
	p.actions = indexBy(p.Actions, func(a *Action) string { return a.ID })
	p.schemes = indexBy(p.Schemes, func(s *Scheme) string { return s.ID })
	p.lists = indexBy(p.Lists, func(l *List) string { return l.ID })
	p.measures = indexBy(p.Measures, func(m *Measure) string { return m.ID })
	for _, l := range p.Lists {
		l.Measures = nil
	}
	for _, m := range p.Measures {
		if l := p.lists[m.List]; l != nil {
			l.Measures = append(l.Measures, m)
		}
	}
	for _, s := range p.Schemes {
		s.rules = nil
		for _, r := range s.Rules {
			r.Scheme = s.ID
		}
		s.RetainFor = s.RetainFor.OrDefault(DefaultRetention)
		s.AppealWithin = s.AppealWithin.OrDefault(DefaultAppealWindow)
		s.ReviewWithin = s.ReviewWithin.OrDefault(DefaultAppealWindow)
	}
	for _, l := range p.Lists {
		if l.Designated {
			l.AppealWithin = l.AppealWithin.OrDefault(DefaultAppealWindow)
			l.ReviewWithin = l.ReviewWithin.OrDefault(DefaultAppealWindow)
			l.RetainFor = l.RetainFor.OrDefault(DefaultRetention)
		}
	}
}

func indexBy[T any](xs []T, id func(T) string) map[string]T {
	m := make(map[string]T, len(xs))
	for _, x := range xs {
		m[id(x)] = x
	}
	return m
}

// Authority returns the authority with the id, or nil.
func (p *Pack) Authority(id string) *Authority { return p.authorities[id] }

// Relation returns the relation type with the id, or nil.
func (p *Pack) Relation(id string) *RelationType { return p.relations[id] }

// Action returns the action with the id, or nil.
func (p *Pack) Action(id string) *Action { return p.actions[id] }

// Scheme returns the scheme with the id, or nil.
func (p *Pack) Scheme(id string) *Scheme { return p.schemes[id] }

// List returns the list with the id, or nil.
func (p *Pack) List(id string) *List { return p.lists[id] }

// Measure returns the measure with the id, or nil.
func (p *Pack) Measure(id string) *Measure { return p.measures[id] }

// Condition is a compiled `when` expression of an automatic list.
// Implementations are safe for concurrent use.
type Condition interface {
	// Eval reports whether the expression holds for the facts. An
	// expression that reads the score, grade or count of a scheme whose
	// scope does not contain the subject is false.
	Eval(f Facts) bool
	// Refs lists what the expression reads, so the engine knows which
	// lists to re-evaluate when a scheme changes and when a count window
	// slides past a record.
	Refs() []Ref
	// String returns the expression's source.
	String() string
}

// Ref is one function call in a condition: score(scheme), grade(scheme) or
// count(scheme, rule, window). Arguments are literals checked at load.
type Ref struct {
	Func   string // "score", "grade" or "count"
	Scheme string
	Rule   string   // count only
	Window Duration // count only
}

// Facts is what a condition may read about one subject at one moment. The
// boolean results are false when the subject is outside the scheme's scope.
type Facts interface {
	Subject() *Subject
	Score(scheme string) (int64, bool)
	Grade(scheme string) (string, bool)
	// Count is the number of the subject's counting records of the rule
	// that occurred within the window before now: in (now-window, now].
	Count(scheme, rule string, window Duration) (int64, bool)
}
