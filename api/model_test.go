package api_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/socred/socred/service"
)

// The model-based test drives the HTTP API with random sequences of
// actions — register, relate, ingest, replay, designate, remove, appeal
// and overturn, advance the clock, check — and compares every answer and
// every subject's file with a simple model of the spec (testPack's rules):
// a score is the baseline plus the points of the records that count; an
// overturned or expired record counts nothing; a subject is on the city
// blacklist exactly when its score is below 960, on the redlist at 1050
// or more, on the defaulters' list exactly while designated; a check
// agrees with the listings.
//
// CI runs 1,000 sequences (-rapid.checks, default here 1,000; 200 with
// -short, as the race detector's run has it).

// modelRecord is a record as the model knows it.
type modelRecord struct {
	id, subject, rule string
	points            int64
	occurred, until   time.Time
	accepted          time.Time
	overturned        bool
	from              string // the record it was derived from, for derived ones
}

type model struct {
	now      time.Time
	subjects []string
	// guarantors: debtor → its guarantors.
	guarantors  map[string][]string
	records     []*modelRecord
	designated  map[string]time.Time // subject → until
	batches     []map[string]any     // submitted batches, to replay
	keys        int
	newSubjects int
}

func (m *model) score(subject string) int64 {
	score := int64(1000)
	for _, r := range m.records {
		if r.subject == subject && !r.overturned && !m.now.Before(r.occurred) && m.now.Before(r.until) {
			score += r.points
		}
	}
	return score
}

// rulePoints are testPack's rules' points.
var rulePoints = map[string]int64{"blood": 5, "red-light": -5, "loan-default": -50}

// countsUntil is when a record of the rule stops counting (calendar years,
// as the pack's durations are).
func countsUntil(rule string, occurred time.Time) time.Time {
	switch rule {
	case "blood":
		return addYears(occurred, 2)
	case "red-light":
		return addYears(occurred, 1)
	}
	return addYears(occurred, 5)
}

// addYears adds years, clamping 29 February to 28 February as socred's
// durations do.
func addYears(t time.Time, n int) time.Time {
	y, mo, d := t.Date()
	last := time.Date(y+n, mo+1, 0, 0, 0, 0, 0, t.Location()).Day()
	return time.Date(y+n, mo, min(d, last), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}

func TestModel(t *testing.T) {
	if f := flag.Lookup("rapid.checks"); f != nil && !isSet("rapid.checks") {
		// 1,000 sequences; 200 in -short runs (the race detector's).
		n := "1000"
		if testing.Short() {
			n = "200"
		}
		f.Value.Set(n)
	}
	rapid.Check(t, func(rt *rapid.T) {
		clock := &testClock{t: time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)}
		f := newFixtureAt(t, newFakeStore(), clock.Now)
		defer f.svc.Close(context.Background()) // not only when the test ends: a sequence's service ends with it
		m := &model{now: clock.Now(), subjects: []string{"zhang", "li"}, guarantors: map[string][]string{"li": {"zhang"}}, designated: map[string]time.Time{}}
		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		for range steps {
			switch rapid.IntRange(0, 9).Draw(rt, "action") {
			case 0:
				m.newSubjects++
				id := fmt.Sprintf("p%d", m.newSubjects)
				answer(rt, f.do("PUT", "/v1/subjects/"+id, asAuthority, map[string]any{"kind": "person", "name": "P " + id, "region": "rongcheng"}), http.StatusCreated)
				m.subjects = append(m.subjects, id)
			case 1:
				from := rapid.SampledFrom(m.subjects).Draw(rt, "guarantor")
				to := rapid.SampledFrom(m.subjects).Draw(rt, "debtor")
				if from == to {
					continue
				}
				res := f.do("PUT", "/v1/relations", asAuthority, map[string]any{"from": from, "type": "guarantor-of", "to": to})
				if res.Code == http.StatusCreated {
					m.guarantors[to] = append(m.guarantors[to], from)
				} else {
					answer(rt, res, http.StatusOK) // already related
				}
			case 2, 3:
				m.ingest(rt, f)
			case 4:
				if len(m.batches) == 0 {
					continue
				}
				b := rapid.SampledFrom(m.batches).Draw(rt, "replay")
				var out struct{ Records []service.RecordResult }
				answer(rt, f.do("POST", "/v1/records", asAuthority, b), http.StatusOK).decode(&out)
				if out.Records[0].Status != "duplicate" {
					rt.Fatalf("replay: %+v, want duplicate", out.Records[0])
				}
			case 5:
				s := rapid.SampledFrom(m.subjects).Draw(rt, "designate")
				res := f.do("POST", "/v1/lists/defaulters/entries", asAuthority, map[string]any{"subject": s, "reason": "unpaid judgment"})
				if _, ok := m.designated[s]; ok {
					// Designating a listed subject again is refused.
					if res.Code != http.StatusConflict {
						rt.Fatalf("designating %s again: %d %s", s, res.Code, res.Body)
					}
					continue
				}
				answer(rt, res, http.StatusCreated)
				m.designated[s] = addYears(m.now, 2)
			case 6:
				s := rapid.SampledFrom(m.subjects).Draw(rt, "remove")
				res := f.do("DELETE", "/v1/lists/defaulters/entries/"+s, asAuthority, map[string]any{"reason": "paid"})
				if _, ok := m.designated[s]; ok {
					answer(rt, res, http.StatusOK)
					delete(m.designated, s)
				} else {
					answer(rt, res, http.StatusNotFound)
				}
			case 7:
				m.appealAndOverturn(rt, f)
			case 8:
				days := rapid.IntRange(1, 400).Draw(rt, "days")
				clock.Set(clock.Now().Add(time.Duration(days) * 24 * time.Hour))
				m.now = clock.Now()
				for s, until := range m.designated {
					if !m.now.Before(until) {
						delete(m.designated, s)
					}
				}
			case 9:
				s := rapid.SampledFrom(m.subjects).Draw(rt, "check")
				action := rapid.SampledFrom([]string{"ride-train", "buy-flight"}).Draw(rt, "action")
				var d struct{ Allowed bool }
				answer(rt, f.do("POST", "/v1/checks", asProvider, map[string]any{"subject": s, "action": action}), http.StatusOK).decode(&d)
				want := true
				if action == "ride-train" && m.score(s) < 960 {
					want = false
				}
				if _, ok := m.designated[s]; ok && action == "buy-flight" {
					want = false
				}
				if d.Allowed != want {
					rt.Fatalf("check %s %s: allowed %v, want %v (score %d, designated %v)", s, action, d.Allowed, want, m.score(s), m.designated)
				}
			}
			m.invariants(rt, f)
		}
	})
}

// isSet reports whether a flag was given on the command line.
func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func answer(rt *rapid.T, res *response, status int) *response {
	rt.Helper()
	if res.Code != status {
		rt.Fatalf("got %d, want %d: %s", res.Code, status, res.Body)
	}
	return res
}

// ingest submits one record, occurred within the last 400 days.
func (m *model) ingest(rt *rapid.T, f *fixture) {
	s := rapid.SampledFrom(m.subjects).Draw(rt, "subject")
	rule := rapid.SampledFrom([]string{"blood", "red-light", "loan-default"}).Draw(rt, "rule")
	ago := rapid.IntRange(0, 400).Draw(rt, "days ago")
	occurred := m.now.Add(-time.Duration(ago) * 24 * time.Hour).Truncate(time.Second)
	m.keys++
	b := records(map[string]any{"key": fmt.Sprintf("k%d", m.keys), "subject": s, "scheme": "city", "rule": rule,
		"occurred_at": occurred.Format(time.RFC3339)})
	var out struct{ Records []service.RecordResult }
	answer(rt, f.do("POST", "/v1/records", asAuthority, b), http.StatusOK).decode(&out)
	r := out.Records[0]
	if r.Status != "accepted" {
		rt.Fatalf("ingest: %+v", r)
	}
	m.batches = append(m.batches, b)
	own := &modelRecord{id: r.ID, subject: s, rule: rule, points: rulePoints[rule], occurred: occurred, until: countsUntil(rule, occurred), accepted: m.now}
	m.records = append(m.records, own)
	var want []string
	if rule == "loan-default" {
		want = m.guarantors[s]
	}
	if len(r.Derived) != len(want) {
		rt.Fatalf("loan default of %s: %d derived records, want one for each guarantor %v", s, len(r.Derived), want)
	}
	for _, d := range r.Derived {
		if d.Points != -45 {
			rt.Fatalf("derived record %+v, want -45 points", d)
		}
		m.records = append(m.records, &modelRecord{id: d.ID, subject: d.Subject, rule: rule, points: -45, occurred: occurred, until: own.until, accepted: m.now, from: r.ID})
	}
}

// appealAndOverturn appeals one of a subject's own records still open to
// appeal, and a reviewer overturns it: it and the records derived from it
// stop counting.
func (m *model) appealAndOverturn(rt *rapid.T, f *fixture) {
	var open []*modelRecord
	for _, r := range m.records {
		if r.from == "" && !r.overturned && m.now.Before(r.accepted.Add(30*24*time.Hour)) && !m.now.Before(r.occurred) && m.now.Before(r.until) {
			open = append(open, r)
		}
	}
	if len(open) == 0 {
		return
	}
	r := rapid.SampledFrom(open).Draw(rt, "appealed")
	var a struct{ ID string }
	answer(rt, f.do("POST", "/v1/appeals", asAdmin, map[string]any{"subject": r.subject, "record": r.id, "statement": "not mine"}), http.StatusCreated).decode(&a)
	answer(rt, f.do("POST", "/v1/appeals/"+a.ID+"/decision", asReviewer, map[string]any{"decision": "overturned", "reasons": "no evidence"}), http.StatusOK)
	for _, x := range m.records {
		if x == r || x.from == r.id {
			x.overturned = true
		}
	}
}

// invariants compares every subject's file with the model.
func (m *model) invariants(rt *rapid.T, f *fixture) {
	rt.Helper()
	for _, s := range m.subjects {
		var file service.File
		answer(rt, f.do("GET", "/v1/subjects/"+s+"/file", asAdmin, nil), http.StatusOK).decode(&file)
		if len(file.Scores) != 1 {
			rt.Fatalf("%s: %d scores, want the city's", s, len(file.Scores))
		}
		score := file.Scores[0].Score
		if want := m.score(s); score != want {
			rt.Fatalf("%s: score %d, want %d (the baseline plus the records that count)", s, score, want)
		}
		// The file's own arithmetic: the baseline plus its counting records.
		sum := int64(1000)
		for _, r := range file.Records {
			if r.Counting {
				sum += r.Points
			}
			if r.Counting && (r.Overturned || !m.now.Before(r.CountsUntil)) {
				rt.Fatalf("%s: record %s counts though overturned or expired", s, r.ID)
			}
		}
		if sum != score {
			rt.Fatalf("%s: score %d, but its counting records make %d", s, score, sum)
		}
		lists := map[string]bool{}
		for _, l := range file.Listings {
			lists[l.List] = true
		}
		_, designated := m.designated[s]
		want := map[string]bool{"city-black": score < 960, "city-red": score >= 1050, "defaulters": designated}
		for list, on := range want {
			if lists[list] != on {
				rt.Fatalf("%s: on %s is %v, want %v (score %d, designated %v)", s, list, lists[list], on, score, designated)
			}
		}
		for list := range lists {
			if _, known := want[list]; !known {
				rt.Fatalf("%s: on %s, which no rule or designation puts it on", s, list)
			}
		}
	}
}
