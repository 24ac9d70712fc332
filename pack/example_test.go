package pack_test

import (
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
)

func loadExample(t *testing.T) *socred.Pack {
	t.Helper()
	p, probs, err := pack.Load(packs.Example)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) > 0 {
		t.Fatalf("the example pack has problems:\n%s", lines(probs))
	}
	return p
}

// TestExamplePack checks the example pack loads with no problems and still
// shows the mechanics socred implements that it is meant to show.
func TestExamplePack(t *testing.T) {
	p := loadExample(t)

	for _, s := range p.Schemes {
		if s.Context == "" {
			t.Errorf("scheme %s has no context", s.ID)
		}
	}
	for _, l := range p.Lists {
		if l.Context == "" {
			t.Errorf("list %s has no context", l.ID)
		}
	}
	for _, a := range p.Actions {
		if a.Context == "" {
			t.Errorf("action %s has no context", a.ID)
		}
	}

	// Residents start at 1000; the village's blacklist starts just below.
	if s := p.Scheme("rongcheng"); s == nil || s.Baseline != 1000 || len(s.Grades) != 6 || s.Grades[0].Grade != "AAA" || s.Grades[0].Min != 1050 {
		t.Errorf("rongcheng: want baseline 1000 and six grades from AAA at 1050")
	}
	if l := p.List("xiazhuang-blacklist"); l == nil || l.When != `score("xiazhuang-village") < 1000` || !l.Publish || !l.PublishAfter.IsZero() {
		t.Errorf("xiazhuang-blacklist: want an immediately published list below 1000")
	}
	// Joint liability of a guarantor.
	if r := p.Scheme("rongcheng").Rule("loan-default"); r == nil || len(r.Joint) != 1 || r.Joint[0].Relation != "guarantor-of" {
		t.Errorf("loan-default: want joint liability of guarantor-of")
	}
	// A scheme for one group, run by another authority.
	if s := p.Scheme("taxi-service"); s == nil || len(s.Scope.Groups) != 1 || s.Scope.Groups[0] != "taxi-driver" || s.Authority != "rongcheng-transport-bureau" {
		t.Errorf("taxi-service: want a scheme for taxi drivers run by the transport bureau")
	}
	// Transport misconduct: 180 days of trains, a year of flights.
	if l := p.List("rail-seriously-dishonest"); l == nil || !l.Designated || l.Term.String() != "180d" || !restricts(l, "buy-train-ticket") {
		t.Errorf("rail-seriously-dishonest: want a designated 180-day list barring trains")
	}
	if l := p.List("aviation-seriously-dishonest"); l == nil || l.Term.String() != "1y" || !restricts(l, "buy-flight-ticket") {
		t.Errorf("aviation-seriously-dishonest: want a designated one-year list barring flights")
	}
	// The SPC's judgment defaulters.
	jd := p.List("judgment-defaulters")
	if jd == nil || !jd.Designated || jd.Term.String() != "2y" || jd.MaxTerm.String() != "5y" || !jd.Extends("legal-representative-of") || !jd.Publish || jd.PublishAfter.IsZero() {
		t.Fatalf("judgment-defaulters: want designated, 2y to 5y, extending to legal representatives, published after a grace period")
	}
	for _, a := range []string{"buy-flight-ticket", "ride-high-speed-train", "ride-train-soft-sleeper", "stay-star-hotel", "buy-property", "buy-luxury-goods", "take-loan", "join-party", "send-child-to-private-school"} {
		if !restricts(jd, a) {
			t.Errorf("judgment-defaulters: want %s restricted", a)
		}
	}
	authorities := map[string]bool{}
	for _, m := range jd.Measures {
		authorities[m.Authority] = true
		if m.Justification == "" {
			t.Errorf("measure %s: a cross-context measure needs a justification", m.ID)
		}
	}
	if len(authorities) < 6 {
		t.Errorf("judgment-defaulters: measures by %d authorities, want each restriction implemented by its own authority", len(authorities))
	}
	// Repeat offences escalate through count().
	if l := p.List("repeat-red-light"); l == nil || l.Cond == nil || l.Cond.Refs()[0].Func != "count" || !restricts(l, "hire-taxi") {
		t.Errorf("repeat-red-light: want a count() list barring taxis")
	}
	// Rewards at the top: privileges granted by redlists, also by a private insurer.
	for list, action := range map[string]string{"rongcheng-aaa": "rent-bike-without-deposit", "anxin-safe-drivers": "motor-premium-discount"} {
		l := p.List(list)
		if l == nil || l.Kind != socred.Red || !grants(l, action) || !p.Action(action).Privilege {
			t.Errorf("%s: want a redlist granting the privilege %s", list, action)
		}
	}
	if p.Scheme("kuaiche-driver-service") == nil {
		t.Errorf("want a ride-hailing platform's scheme for its drivers")
	}
	runners := map[string]bool{}
	for _, s := range p.Schemes {
		runners[s.Authority] = true
	}
	if len(p.Schemes) < 5 || len(runners) < 5 {
		t.Errorf("got %d schemes run by %d authorities, want several independent schemes", len(p.Schemes), len(runners))
	}
}

func restricts(l *socred.List, action string) bool {
	for _, m := range l.Measures {
		for _, a := range m.Restricts {
			if a == action {
				return true
			}
		}
	}
	return false
}

func grants(l *socred.List, action string) bool {
	for _, m := range l.Measures {
		for _, a := range m.Grants {
			if a == action {
				return true
			}
		}
	}
	return false
}

// TestExampleZhangYingjie replays the case of the seed article through the
// example pack's rules and list conditions.
func TestExampleZhangYingjie(t *testing.T) {
	p := loadExample(t)
	s := p.Scheme("rongcheng")
	blacklist := p.List("rongcheng-blacklist").Cond
	zhang := &facts{subject: &socred.Subject{ID: "zhang", Kind: socred.Person, Region: "rongcheng"}, scores: map[string]int64{}}
	score := s.Baseline
	set := func() {
		zhang.scores["rongcheng"] = s.Clamp(score)
		zhang.grades = map[string]string{"rongcheng": s.Grade(s.Clamp(score))}
	}
	set()
	if blacklist.Eval(zhang) {
		t.Fatalf("at the baseline Zhang is on the blacklist")
	}
	score += s.Rule("loan-default").Joint[0].Points // his friend defaults
	set()
	if !blacklist.Eval(zhang) {
		t.Fatalf("at %d after his friend's default, Zhang is not on the blacklist", score)
	}
	score += s.Rule("blood-donation").Points + s.Rule("charity-donation").Points
	set()
	if blacklist.Eval(zhang) {
		t.Errorf("at %d after giving blood and to charity, Zhang is still on the blacklist", score)
	}
}

// TestSpecExample loads the public example of the scheme-pack format: it has no
// contexts, so the linter can only warn that it cannot check its measures.
func TestSpecExample(t *testing.T) {
	p, probs, err := pack.Load(os.DirFS("testdata/spec-example"))
	if err != nil || p == nil {
		t.Fatalf("got %v, %v:\n%s", p, err, lines(probs))
	}
	want := `pack.yaml:88: measures[0]: warning: cannot check that the measure stays within the list's context: list "judgment-defaulters" has no context (declare context: on the list or on the schemes its when reads); actions "buy-flight-ticket", "ride-high-speed-train", "buy-luxury-goods" declare no context
pack.yaml:93: measures[1]: warning: cannot check that the measure stays within the list's context: list "rongcheng-blacklist" has no context (declare context: on the list or on the schemes its when reads); actions "buy-luxury-goods", "ride-high-speed-train" declare no context
pack.yaml:98: measures[2]: warning: cannot check that the measure stays within the list's context: list "rongcheng-aaa" has no context (declare context: on the list or on the schemes its when reads); action "rent-bike-without-deposit" declares no context
`
	if got := lines(probs); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if l := p.List("judgment-defaulters"); l.Term.String() != "2y" || l.MaxTerm.String() != "5y" || !l.Extends("legal-representative-of") {
		t.Errorf("judgment-defaulters: got %+v", l)
	}
	if r := p.Scheme("rongcheng").Rule("loan-default"); r.Joint[0].Points != -30 {
		t.Errorf("loan-default joint: got %+v", r.Joint)
	}
}

// TestExamplePackFilesAreYAML guards against a file the loader would skip.
func TestExamplePackFilesAreYAML(t *testing.T) {
	err := fs.WalkDir(packs.Example, ".", func(name string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && !strings.HasSuffix(name, ".yaml") {
			t.Errorf("%s: the example pack holds only .yaml files", name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
