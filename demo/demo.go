// Package demo seeds a socred service with a synthetic population living
// through a year: subjects in every scheme's scope, relations, records of
// good deeds and misconduct, designations and providers' checks, all made
// through the application service with a simulated clock, so that the
// listings, joint liability and expiries are the engine's own.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// Options configure a seeding.
type Options struct {
	Subjects int // population size (at least 100)
	Days     int // how many days of history, ending at End
	End      time.Time
	Seed     uint64 // the same seed gives the same population and history
	// RecordsPerSubject is the average number of records a subject gets a
	// year.
	RecordsPerSubject float64
	// ChecksPerDay is how many checks providers make a day.
	ChecksPerDay int
	// Progress, when set, is called after every simulated day.
	Progress func(day, days int)
}

// Stats counts what a seeding made.
type Stats struct {
	Subjects     int
	Relations    int
	Records      int // accepted records
	Derived      int // joint-liability records
	Designations int
	Checks       int
	Denied       int // checks denied
	Appeals      int // appeals filed
	Overturned   int // appeals decided for the subject
	Reads        int // reads of subjects' files by the review board
}

// admin is the caller the seeding acts as.
var admin = &socred.Caller{Token: &socred.Token{ID: "demo", Role: socred.RoleAdmin, Name: "demo seeding"}}

// Registrar is the authority that registers the demo's subjects and their
// relations, so that its tokens may change them: the city's credit office
// when the pack has it, else the pack's first authority.
func Registrar(p *socred.Pack) string {
	for _, a := range p.Authorities {
		if a.ID == "rongcheng-credit-office" {
			return a.ID
		}
	}
	if len(p.Authorities) == 0 {
		return ""
	}
	return p.Authorities[0].ID
}

// providers are the names providers' checks appear under in files.
var providers = []string{"China Railway 12306 booking", "Air China ticket office", "Shandong Airlines booking",
	"Rongcheng Grand Hotel front desk", "Bank of Weihai loan desk", "Hengtai Jewellers", "DiDi dispatch", "Weihai property registry"}

// The story subjects the README walks through.
const (
	Zhang = "zhang" // guarantor of Li's loan
	Li    = "li"    // defaults on the loan
	Acme  = "acme-trading"
	Wang  = "wang" // Acme's legal representative
)

// Seed fills svc, whose clock must be clock, with a population and its
// history, ending at opts.End.
func Seed(ctx context.Context, svc *service.Service, clock *Clock, opts Options) (Stats, error) {
	g := &gen{svc: svc, p: svc.Pack(), rng: rand.New(rand.NewPCG(opts.Seed, 0x50c7ed)), opts: opts} // #nosec G404 -- a demo population reproducible from opts.Seed; nothing secret
	start := opts.End.AddDate(0, 0, -opts.Days)
	clock.Set(start)
	if err := g.population(ctx); err != nil {
		return g.stats, fmt.Errorf("population: %w", err)
	}
	plan := g.history()
	for d := range opts.Days {
		day := start.AddDate(0, 0, d)
		clock.Set(day.Add(9 * time.Hour))
		if err := g.day(ctx, plan[d], day); err != nil {
			return g.stats, fmt.Errorf("day %d: %w", d, err)
		}
		clock.Set(day.Add(20 * time.Hour))
		if err := g.checks(ctx, day); err != nil {
			return g.stats, fmt.Errorf("day %d checks: %w", d, err)
		}
		if _, err := svc.Tick(ctx); err != nil {
			return g.stats, err
		}
		if opts.Progress != nil {
			opts.Progress(d+1, opts.Days)
		}
	}
	clock.Set(opts.End)
	if _, err := svc.Tick(ctx); err != nil {
		return g.stats, err
	}
	return g.stats, nil
}

type gen struct {
	svc   *service.Service
	p     *socred.Pack
	rng   *rand.Rand
	opts  Options
	stats Stats

	subjects []*socred.Subject
	orgs     []*socred.Subject
	crowd    []*socred.Subject // persons other than the story subjects
	seq      int
	pending  []pendingAppeal // appeals to decide, by day
}

// pendingAppeal is an appeal the review board decides on a later day.
type pendingAppeal struct {
	id, subject string
	day         time.Time
}

// reviewer is the review board that decides the demo's appeals.
var reviewer = &socred.Caller{Token: &socred.Token{ID: "demo-review", Role: socred.RoleReviewer, Name: "Rongcheng credit review board"}}

// population registers the subjects and their relations: persons spread
// over the regions and groups the pack's schemes name, some organisations
// with legal representatives, some guarantors, and the story subjects.
func (g *gen) population(ctx context.Context) error {
	var regions, groups []string
	for _, sc := range g.p.Schemes {
		if r := sc.Scope.Region; r != "" && !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
		for _, gr := range sc.Scope.Groups {
			if !slices.Contains(groups, gr) {
				groups = append(groups, gr)
			}
		}
	}
	regions = append(regions, "weihai")
	subs := []*socred.Subject{
		{ID: Zhang, Kind: socred.Person, Name: "Zhang Yingjie", Region: first(regions), Groups: []string{}},
		{ID: Li, Kind: socred.Person, Name: "Li Ming", Region: first(regions), Groups: []string{}},
		{ID: Wang, Kind: socred.Person, Name: "Wang Fang", Region: first(regions), Groups: []string{}},
		{ID: Acme, Kind: socred.Organisation, Name: "Acme Trading Co., Ltd.", Region: first(regions), Groups: []string{}},
	}
	for len(subs) < max(g.opts.Subjects, 100) {
		i := len(subs)
		s := &socred.Subject{Kind: socred.Person, Region: pick(g.rng, regions), Groups: []string{}}
		if g.rng.IntN(100) < 3 {
			s.Kind = socred.Organisation
			s.ID = "org-" + strconv.Itoa(i)
			s.Name = companyName(g.rng)
		} else {
			s.ID = "p-" + strconv.Itoa(i)
			s.Name = personName(g.rng)
			for _, gr := range groups {
				if g.rng.IntN(100) < 6 {
					s.Groups = append(s.Groups, gr)
				}
			}
		}
		subs = append(subs, s)
	}
	for _, s := range subs {
		if s.Kind == socred.Organisation {
			g.orgs = append(g.orgs, s)
		} else {
			g.subjects = append(g.subjects, s)
		}
	}
	const batch = 5000
	registrar := admin
	if a := Registrar(g.p); a != "" {
		registrar = &socred.Caller{Token: &socred.Token{ID: "demo-registry", Role: socred.RoleAuthority, Authority: a, Name: "demo registry"}}
	}
	for i := 0; i < len(subs); i += batch {
		if _, err := g.svc.PutSubjects(ctx, registrar, subs[i:min(i+batch, len(subs))]); err != nil {
			return err
		}
	}
	g.stats.Subjects = len(subs)

	// The story subjects keep to their story: the population's relations
	// are among the others.
	g.crowd = slices.DeleteFunc(slices.Clone(g.subjects), func(s *socred.Subject) bool { return story(s.ID) })
	crowd := g.crowd
	var rels []socred.Relation
	if g.p.Relation("guarantor-of") != nil {
		rels = append(rels, socred.Relation{From: Zhang, Type: "guarantor-of", To: Li})
		for range len(g.subjects) / 20 {
			a, b := pick(g.rng, crowd), pick(g.rng, crowd)
			if a != b {
				rels = append(rels, socred.Relation{From: a.ID, Type: "guarantor-of", To: b.ID})
			}
		}
	}
	if g.p.Relation("legal-representative-of") != nil {
		rels = append(rels, socred.Relation{From: Wang, Type: "legal-representative-of", To: Acme})
		for _, o := range g.orgs[1:] {
			rels = append(rels, socred.Relation{From: pick(g.rng, crowd).ID, Type: "legal-representative-of", To: o.ID})
		}
	}
	n, err := g.svc.RelateAll(ctx, registrar, rels)
	g.stats.Relations = n
	return err
}

// event is something that happens to a subject on a day.
type event struct {
	subject string
	scheme  string
	rule    string
	list    string // a designation instead of a record
}

// history plans every day's events.
func (g *gen) history() [][]event {
	days := g.opts.Days
	plan := make([][]event, days)
	all := append(slices.Clone(g.subjects), g.orgs...)
	for _, s := range all {
		if story(s.ID) {
			continue // their story is told live
		}
		var schemes []*socred.Scheme
		for _, sc := range g.p.Schemes {
			if sc.Scope.Contains(s) && len(sc.Rules) > 0 {
				schemes = append(schemes, sc)
			}
		}
		if len(schemes) == 0 {
			continue
		}
		n := int(g.opts.RecordsPerSubject*float64(days)/365 + g.rng.Float64())
		for range n {
			sc := pick(g.rng, schemes)
			r := g.rule(sc)
			d := g.rng.IntN(days)
			plan[d] = append(plan[d], event{subject: s.ID, scheme: sc.ID, rule: r.ID})
		}
	}
	for _, l := range g.p.Lists {
		if !l.Designated {
			continue
		}
		candidates := g.subjects
		if len(l.ExtendsTo) > 0 && len(g.orgs) > 1 {
			candidates = g.orgs[1:]
		}
		n := max(1, len(all)/300)
		if len(l.ExtendsTo) > 0 {
			n = max(1, len(candidates)/4)
		}
		for range n {
			s := pick(g.rng, candidates)
			if story(s.ID) {
				continue
			}
			d := g.rng.IntN(days)
			plan[d] = append(plan[d], event{subject: s.ID, list: l.ID})
		}
	}
	return plan
}

// rule picks a rule of the scheme, small offences and good deeds more often
// than grave ones.
func (g *gen) rule(sc *socred.Scheme) *socred.Rule {
	var total float64
	weights := make([]float64, len(sc.Rules))
	for i, r := range sc.Rules {
		w := 1 / (1 + float64(abs(r.Points))/5)
		if r.Points > 0 {
			w *= 1.3
		}
		weights[i] = w
		total += w
	}
	x := g.rng.Float64() * total
	for i, w := range weights {
		if x < w {
			return sc.Rules[i]
		}
		x -= w
	}
	return sc.Rules[len(sc.Rules)-1]
}

// day submits a day's records in one batch and its designations.
func (g *gen) day(ctx context.Context, evs []event, day time.Time) error {
	var recs []socred.RecordInput
	for _, e := range evs {
		if e.list != "" {
			continue
		}
		g.seq++
		recs = append(recs, socred.RecordInput{
			Key:        "demo-" + strconv.Itoa(g.seq),
			Subject:    e.subject,
			Scheme:     e.scheme,
			Rule:       e.rule,
			OccurredAt: day.Add(time.Duration(g.rng.IntN(9*3600)) * time.Second),
			Evidence:   "synthetic report " + strconv.Itoa(g.seq),
		})
	}
	for i := 0; i < len(recs); i += service.MaxBatch {
		res, err := g.svc.SubmitRecords(ctx, admin, recs[i:min(i+service.MaxBatch, len(recs))])
		if err != nil {
			return err
		}
		for j, r := range res {
			g.stats.Records++
			g.stats.Derived += len(r.Derived)
			// About one in a hundred penalised subjects appeals.
			in := recs[i+j]
			if rule := g.p.Scheme(in.Scheme).Rule(in.Rule); rule != nil && rule.Points < 0 && r.Status == "accepted" && g.rng.IntN(100) == 0 {
				a, err := g.svc.FileAppeal(ctx, admin, service.AppealInput{Subject: in.Subject, Record: r.ID,
					Statement: "I was not there at that time; the report confuses me with someone else."})
				if err != nil {
					return fmt.Errorf("appeal: %w", err)
				}
				g.stats.Appeals++
				g.pending = append(g.pending, pendingAppeal{id: a.ID, subject: in.Subject, day: day.AddDate(0, 0, 2+g.rng.IntN(20))})
			}
		}
	}
	// The review board decides the appeals that fell due, each after
	// reading the appellant's file (a read the subject sees): most stand.
	keep := g.pending[:0]
	for _, pa := range g.pending {
		if pa.day.After(day) {
			keep = append(keep, pa)
			continue
		}
		if _, err := g.svc.File(ctx, reviewer, pa.subject, "appeal "+pa.id); err != nil {
			return fmt.Errorf("read the file of appeal %s: %w", pa.id, err)
		}
		g.stats.Reads++
		in := service.DecisionInput{Decision: socred.AppealUpheld, Reasons: "The reporter's evidence identifies the subject."}
		if g.rng.IntN(3) == 0 {
			in = service.DecisionInput{Decision: socred.AppealOverturned, Reasons: "The evidence does not identify the subject."}
			g.stats.Overturned++
		}
		if _, err := g.svc.DecideAppeal(ctx, reviewer, pa.id, in); err != nil {
			return fmt.Errorf("decide appeal: %w", err)
		}
	}
	g.pending = keep
	for _, e := range evs {
		if e.list == "" {
			continue
		}
		_, err := g.svc.Designate(ctx, admin, e.list, service.DesignationInput{
			Subject: e.subject,
			Reason:  "failed to perform the obligation set by an effective judgment",
			Case:    fmt.Sprintf("(%d) Lu 1082 Zhi %d", day.Year(), 100+g.rng.IntN(900)),
		})
		switch socred.ErrorCode(err) {
		case "":
			g.stats.Designations++
		case socred.ECONFLICT: // already listed
		default:
			return err
		}
	}
	return nil
}

// checks makes a day's checks, concurrently as providers do.
func (g *gen) checks(ctx context.Context, day time.Time) error {
	var ins []service.CheckInput
	for range g.opts.ChecksPerDay {
		s := pick(g.rng, g.crowd)
		a := pick(g.rng, g.p.Actions)
		ins = append(ins, service.CheckInput{Subject: s.ID, Action: a.ID, Purpose: fmt.Sprintf("booking %s-%d", day.Format("0102"), g.rng.IntN(10000))})
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for i, in := range ins {
		caller := &socred.Caller{Token: &socred.Token{ID: "demo-provider-" + strconv.Itoa(i%len(providers)), Role: socred.RoleProvider, Name: providers[i%len(providers)]}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := g.svc.Check(ctx, caller, in)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if err == nil {
				g.stats.Checks++
				if !d.Allowed {
					g.stats.Denied++
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// story reports whether id is one of the story subjects.
func story(id string) bool { return id == Zhang || id == Li || id == Wang || id == Acme }

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func first(xs []string) string { return xs[0] }

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

var (
	surnames = []string{"Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Gao", "Luo"}
	given    = []string{"Wei", "Fang", "Na", "Min", "Jing", "Li", "Qiang", "Lei", "Jun", "Yang", "Yong", "Yan", "Jie", "Tao", "Ming", "Chao", "Xiu", "Hua", "Ping", "Gang", "Hui", "Xin", "Yu", "Bo"}
	trades   = []string{"Trading", "Seafood", "Logistics", "Construction", "Textiles", "Machinery", "Food", "Property", "Shipping", "Electronics"}
	places   = []string{"Rongcheng", "Weihai", "Shidao", "Yantai", "Qingdao", "Shandong", "Haiyang", "Jiaodong"}
)

func personName(rng *rand.Rand) string {
	return pick(rng, surnames) + " " + pick(rng, given) + pick(rng, []string{"", "", pick(rng, given)})
}

func companyName(rng *rand.Rand) string {
	return pick(rng, places) + " " + pick(rng, trades) + " Co., Ltd."
}
