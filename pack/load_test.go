package pack_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
)

// full uses every key of the format once.
const full = `
authorities:
  - id: city
    name: City Credit Office
  - id: court
relations:
  - id: guarantor-of
    name: guarantees a debt of
  - id: legal-representative-of
actions:
  - id: ride-train
    name: Ride a train
    context: transport
  - id: free-bike
    privilege: true
    context: civic
schemes:
  - id: civic
    name: Civic credit
    authority: city
    legal_basis: Civic Credit Measures art. 2
    context: civic
    applies_to:
      kind: person
      region: rongcheng
      groups: [resident]
    baseline: 1000
    retain_for: 2y
    appeal_within: 14d
    min: 0
    max: 2000
    grades:
      - {grade: A, min: 960}
      - {grade: B}
    rules:
      - id: loan-default
        name: Loan default
        points: -50
        counts_for: 5y
        legal_basis: Civil Code art. 676
        context: finance
        joint:
          - relation: guarantor-of
            points: -30
      - id: blood-donation
        points: 5
        counts_for: 2y
        legal_basis: Blood Donation Law
lists:
  - id: model
    name: Model residents
    kind: red
    authority: city
    legal_basis: Civic Credit Measures art. 11
    context: civic
    when: 'grade("civic") == "A"'
  - id: defaulters
    name: Defaulters
    kind: black
    authority: court
    legal_basis: SPC Provisions art. 1
    context: judicial
    designated: true
    term: 2y
    max_term: 5y
    extends_to: [legal-representative-of]
    publish: true
    publish_after: 10d
    repair: [obligation-performed]
    retain_for: 3y
measures:
  - id: model-bikes
    list: model
    grants: [free-bike]
    authority: city
    legal_basis: Civic Credit Measures art. 11(3)
  - id: defaulters-no-trains
    list: defaulters
    restricts: [ride-train]
    authority: court
    legal_basis: SPC High Consumption Provisions art. 3
    justification: Debtors who can pay should not spend on travel.
`

func TestLoadEveryKey(t *testing.T) {
	p := mustLoad(t, map[string]string{"pack.yaml": full})

	if got, want := p.Authorities, []*socred.Authority{{ID: "city", Name: "City Credit Office"}, {ID: "court"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("authorities: got %+v, want %+v", got, want)
	}
	if got, want := p.Relations, []*socred.RelationType{{ID: "guarantor-of", Name: "guarantees a debt of"}, {ID: "legal-representative-of"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("relations: got %+v, want %+v", got, want)
	}
	if got, want := p.Actions, []*socred.Action{{ID: "ride-train", Name: "Ride a train", Context: "transport"}, {ID: "free-bike", Privilege: true, Context: "civic"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("actions: got %+v, want %+v", got, want)
	}

	s := p.Scheme("civic")
	if s == nil {
		t.Fatal("scheme civic not found")
	}
	min, max := int64(0), int64(2000)
	wantScheme := socred.Scheme{
		ID: "civic", Name: "Civic credit", Authority: "city", LegalBasis: "Civic Credit Measures art. 2", Context: "civic",
		Scope:    socred.Scope{Kind: socred.Person, Region: "rongcheng", Groups: []string{"resident"}},
		Baseline: 1000, Min: &min, Max: &max, RetainFor: socred.Duration{N: 2, Unit: socred.Years},
		AppealWithin: socred.Duration{N: 14, Unit: socred.Days}, ReviewWithin: socred.Duration{N: 30, Unit: socred.Days},
		Grades: []socred.Band{{Grade: "A", Min: 960, HasMin: true}, {Grade: "B"}},
		File:   "pack.yaml", Line: 18,
	}
	gotScheme := *s
	gotScheme.Rules = nil
	if !reflect.DeepEqual(exported(gotScheme), exported(wantScheme)) {
		t.Errorf("scheme: got %+v, want %+v", exported(gotScheme), exported(wantScheme))
	}
	wantRules := []*socred.Rule{
		{ID: "loan-default", Scheme: "civic", Name: "Loan default", Points: -50, CountsFor: socred.MustParseDuration("5y"),
			LegalBasis: "Civil Code art. 676", Context: "finance", Joint: []socred.Joint{{Relation: "guarantor-of", Points: -30}}},
		{ID: "blood-donation", Scheme: "civic", Points: 5, CountsFor: socred.MustParseDuration("2y"), LegalBasis: "Blood Donation Law"},
	}
	if !reflect.DeepEqual(s.Rules, wantRules) {
		t.Errorf("rules: got %+v, want %+v", s.Rules, wantRules)
	}
	if s.Rule("blood-donation") != s.Rules[1] {
		t.Errorf("Rule(blood-donation) does not find the rule")
	}

	model, defaulters := p.List("model"), p.List("defaulters")
	if model == nil || defaulters == nil {
		t.Fatal("lists not found")
	}
	if model.Cond == nil || model.Cond.String() != `grade("civic") == "A"` || model.When != model.Cond.String() {
		t.Errorf("model: When %q, Cond %v: want the compiled expression", model.When, model.Cond)
	}
	wantList := socred.List{
		ID: "defaulters", Name: "Defaulters", Kind: socred.Black, Authority: "court", LegalBasis: "SPC Provisions art. 1",
		Context: "judicial", Designated: true, Term: socred.MustParseDuration("2y"), MaxTerm: socred.MustParseDuration("5y"),
		ExtendsTo: []string{"legal-representative-of"}, Publish: true, PublishAfter: socred.MustParseDuration("10d"),
		Repair: []string{"obligation-performed"}, File: "pack.yaml", Line: 57,
		AppealWithin: socred.Duration{N: 30, Unit: socred.Days}, ReviewWithin: socred.Duration{N: 30, Unit: socred.Days}, RetainFor: socred.Duration{N: 3, Unit: socred.Years},
	}
	gotList := *defaulters
	gotList.Measures = nil
	if !reflect.DeepEqual(gotList, wantList) {
		t.Errorf("defaulters: got %+v, want %+v", gotList, wantList)
	}
	if got := defaulters.Measures; len(got) != 1 || got[0] != p.Measure("defaulters-no-trains") {
		t.Errorf("defaulters' measures: got %v, want [defaulters-no-trains]", got)
	}
	wantMeasure := &socred.Measure{ID: "defaulters-no-trains", List: "defaulters", Restricts: []string{"ride-train"}, Authority: "court",
		LegalBasis: "SPC High Consumption Provisions art. 3", Justification: "Debtors who can pay should not spend on travel."}
	if got := p.Measure("defaulters-no-trains"); !reflect.DeepEqual(got, wantMeasure) {
		t.Errorf("measure: got %+v, want %+v", got, wantMeasure)
	}
	if got := p.Measure("model-bikes").Grants; !reflect.DeepEqual(got, []string{"free-bike"}) {
		t.Errorf("model-bikes grants %v, want [free-bike]", got)
	}
	if len(p.Hash) != 64 {
		t.Errorf("hash %q: want 64 hex digits", p.Hash)
	}
}

// exported drops a scheme's unexported fields for comparison.
func exported(s socred.Scheme) map[string]any {
	v := reflect.ValueOf(s)
	m := map[string]any{}
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() {
			m[f.Name] = v.Field(i).Interface()
		}
	}
	return m
}

func TestLoadDocumentsAndDirectories(t *testing.T) {
	p := mustLoadPartial(t, map[string]string{
		"b.yaml": "authorities:\n  - id: b1\n---\nauthorities:\n  - id: b2\n---\n# only a comment\n---\n~\n---\n",
		"a.yml":  "authorities: [{id: a1}]\n",
		"sub/c.yaml": `
actions:
  - {id: c1, context: x}
authorities:
  - id: c2
`,
		"sub/deeper/d.yaml": "relations: [{id: d1}]\n",
		"notes.txt":         "authorities: [{id: ignored}]\n",
		".hidden/e.yaml":    "authorities: [{id: hidden}]\n",
		".f.yaml":           "authorities: [{id: hidden-file}]\n",
		"empty.yaml":        "",
	})
	var got []string
	for _, a := range p.Authorities {
		got = append(got, a.ID)
	}
	// Name order, as fs.WalkDir reads it: a.yml, b.yaml, empty.yaml, sub/c.yaml, sub/deeper/d.yaml.
	if want := []string{"a1", "b1", "b2", "c2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("authorities: got %v, want %v", got, want)
	}
	if p.Action("c1") == nil || p.Relation("d1") == nil {
		t.Errorf("items of subdirectories are missing")
	}
}

func TestLoadProblemsNameFileAndLine(t *testing.T) {
	_, probs := load(t, map[string]string{
		"a.yaml": "authorities:\n  - id: a\n",
		"sub/b.yaml": `authorities:
  - id: b
---
authorities:
  - id: c
    nmae: C
`,
		"z.yaml": "lists: [",
	})
	want := []string{
		`sub/b.yaml:6: authorities[0].nmae: error: unknown key "nmae" (did you mean "name"?)`,
		`z.yaml:1: error: YAML syntax: sequence end token ']' not found`,
	}
	if got := strings.Split(strings.TrimSpace(lines(probs)), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if probs[0].File != "sub/b.yaml" || probs[0].Line != 6 || probs[0].Field != "authorities[0].nmae" || probs[0].Warning {
		t.Errorf("got %+v", probs[0])
	}
}

// Files the parser must not see: bytes that are not UTF-8 (it would read
// them as U+FFFD), and flow collections nested thousands deep (its memory
// grows with the square of the depth: gigabytes for a file of 100 KB).
func TestLoadRefusesBeforeParsing(t *testing.T) {
	_, probs := load(t, map[string]string{
		"a.yaml": "authorities:\n  - id: a\n    name: \"Bureau \xff\xfe\"\n",
		"b.yaml": "authorities:\n  - id: b\n    name: " + strings.Repeat("[", 50_000) + strings.Repeat("]", 50_000) + "\n",
		"c.yaml": "authorities:\n" + strings.Repeat("  - {id: c, name: "+strings.Repeat("{a: ", 1000)+"x"+strings.Repeat("}", 1000)+"}\n", 20),
		"d.yaml": "authorities:\n  - id: d\n    name: \"" + strings.Repeat("[", 4000) + "\" # [[[\n",
	})
	want := []string{
		`a.yaml:3: error: the file is not UTF-8: the byte at column 19 is not`,
		`b.yaml:3: error: YAML syntax: [ ] and { } nested too deep (a pack needs two or three levels)`,
		`c.yaml:21: error: YAML syntax: [ ] and { } nested too deep (a pack needs two or three levels)`,
	}
	if got := strings.Split(strings.TrimSpace(lines(probs)), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadDurations(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want socred.Duration
		err  string
	}{
		{"12h", socred.Duration{N: 12, Unit: socred.Hours}, ""},
		{"180d", socred.Duration{N: 180, Unit: socred.Days}, ""},
		{"2w", socred.Duration{N: 2, Unit: socred.Weeks}, ""},
		{"6mo", socred.Duration{N: 6, Unit: socred.Months}, ""},
		{"2y", socred.Duration{N: 2, Unit: socred.Years}, ""},
		{"2 y", socred.Duration{}, `schemes[0].rules[0].counts_for: error: duration "2 y": unknown unit " y" (want h, d, w, mo or y)`},
		{"365", socred.Duration{}, `schemes[0].rules[0].counts_for: error: duration "365": unknown unit "" (want h, d, w, mo or y)`},
		{"y", socred.Duration{}, `schemes[0].rules[0].counts_for: error: duration "y": want an integer and a unit (h, d, w, mo, y), e.g. 180d`},
		{"[1y]", socred.Duration{}, `schemes[0].rules[0].counts_for: error: must be a duration like 180d, 6mo or 2y, not a list`},
		{"0y", socred.Duration{}, `schemes[0].rules[0].counts_for: error: 0y must be longer than zero`},
	} {
		p, probs := load(t, map[string]string{"p.yaml": `
authorities: [{id: a}]
schemes:
  - id: s
    authority: a
    legal_basis: x
    baseline: 10
    rules:
      - id: r
        points: 1
        legal_basis: x
        counts_for: ` + tt.in + "\n"})
		if tt.err == "" {
			if len(probs) > 0 || p.Scheme("s").Rule("r").CountsFor != tt.want {
				t.Errorf("%s: got %v (%v), want %v", tt.in, p.Scheme("s").Rule("r").CountsFor, probs, tt.want)
			}
			continue
		}
		if len(probs) != 1 || strings.TrimPrefix(probs[0].String(), "p.yaml:12: ") != tt.err {
			t.Errorf("%s: got %v, want p.yaml:12: %s", tt.in, probs, tt.err)
		}
	}
}

func TestLoadAnchorsAndMergeKeys(t *testing.T) {
	p := mustLoad(t, map[string]string{"p.yaml": `
authorities: [{id: a}]
schemes:
  - id: s
    authority: a
    legal_basis: &law Some Law art. 1
    baseline: 10
    rules:
      - &minor {id: r1, points: -1, counts_for: 1y, legal_basis: *law}
      - <<: *minor
        id: r2
`})
	r2 := p.Scheme("s").Rule("r2")
	if r2 == nil || r2.Points != -1 || r2.LegalBasis != "Some Law art. 1" || r2.CountsFor.String() != "1y" {
		t.Errorf("r2: got %+v, want the merged rule", r2)
	}

	// Anchors belong to their document.
	_, probs := load(t, map[string]string{"p.yaml": "authorities: [{id: a, name: &n Name}]\n---\nauthorities: [{id: b, name: *n}]\n"})
	want := "p.yaml:3: error: unknown alias *n (an alias refers to an anchor &n earlier in the same document)\n"
	if got := lines(probs); got != want {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}

	// An alias refers to the last anchor of its name before it, never
	// to one after it (a name given again, or an alias looking ahead).
	p = mustLoadPartial(t, map[string]string{"p.yaml": `
authorities: [{id: a, name: &n First}, {id: b, name: *n}, {id: c, name: &n Second}, {id: d, name: *n}]
`})
	if b, d := p.Authority("b"), p.Authority("d"); b == nil || b.Name != "First" || d == nil || d.Name != "Second" {
		t.Errorf("aliases of a name given twice: b %+v, d %+v; want First and Second", b, d)
	}
	_, probs = load(t, map[string]string{"p.yaml": "authorities: [{id: a, name: *n}, {id: b, name: &n Name}]\n"})
	want = "p.yaml:1: error: unknown alias *n (an alias refers to an anchor &n earlier in the same document)\n"
	if got := lines(probs); got != want {
		t.Errorf("an alias before its anchor: got:\n%swant:\n%s", got, want)
	}
}

func TestLoadHash(t *testing.T) {
	files := map[string]string{"a.yaml": "authorities: [{id: a}]\n", "b.yaml": "authorities: [{id: b}]\n"}
	h1 := mustLoadPartial(t, files).Hash
	if h2 := mustLoadPartial(t, files).Hash; h1 != h2 {
		t.Errorf("the same files hash differently: %s, %s", h1, h2)
	}
	files["b.yaml"] += "# a comment changes the bytes\n"
	if h2 := mustLoadPartial(t, files).Hash; h1 == h2 {
		t.Errorf("a changed file did not change the hash")
	}
	renamed := map[string]string{"a.yaml": files["a.yaml"], "c.yaml": files["b.yaml"]}
	if h3, h2 := mustLoadPartial(t, renamed).Hash, mustLoadPartial(t, files).Hash; h3 == h2 {
		t.Errorf("a renamed file did not change the hash")
	}
}

func TestLoadNoFiles(t *testing.T) {
	p, probs, err := pack.Load(fstest.MapFS{"readme.md": {Data: []byte("hi")}})
	if err != nil || p != nil || len(probs) != 1 || probs[0].String() != "error: no scheme pack files (*.yaml, *.yml) found" {
		t.Errorf("got %v, %v, %v; want no pack and one error", p, probs, err)
	}
}

// A pack of empty files, or of authorities and actions alone, scores and
// lists no one: the linter says so.
func TestLoadNothingDeclared(t *testing.T) {
	for name, data := range map[string]string{"empty": "", "authorities only": "authorities:\n  - id: city\n"} {
		_, probs, err := pack.Load(fstest.MapFS{"p.yaml": {Data: []byte(data)}})
		if err != nil || len(probs) != 1 || probs[0].String() != "p.yaml: warning: the pack declares no scheme and no list: it scores and lists no one" {
			t.Errorf("%s: got %v, %v; want one warning", name, probs, err)
		}
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	p, probs, err := pack.LoadDir(dir)
	if err != nil || len(probs) != 0 || p.Scheme("civic") == nil {
		t.Fatalf("LoadDir: got %v, %v, %v", p, probs, err)
	}
	if _, _, err := pack.LoadDir(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("LoadDir of a missing directory: got no error")
	}
	if _, _, err := pack.LoadDir(filepath.Join(dir, "p.yaml")); err == nil {
		t.Errorf("LoadDir of a file: got no error")
	}
}

func TestProblemString(t *testing.T) {
	for _, tt := range []struct {
		p    pack.Problem
		want string
	}{
		{pack.Problem{File: "a.yaml", Line: 3, Field: "schemes[0].id", Message: "is required"}, "a.yaml:3: schemes[0].id: error: is required"},
		{pack.Problem{File: "a.yaml", Line: 3, Field: "lists[0]", Message: "m", Warning: true}, "a.yaml:3: lists[0]: warning: m"},
		{pack.Problem{File: "a.yaml", Message: "too big"}, "a.yaml: error: too big"},
		{pack.Problem{Message: "no files"}, "error: no files"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	ps := pack.Problems{{Message: "a"}, {Message: "b", Warning: true}, {Message: "c"}}
	if got, want := ps.Summary(), "2 errors, 1 warning"; got != want {
		t.Errorf("Summary: got %q, want %q", got, want)
	}
	if !ps.HasErrors() || ps.Err() == nil || pack.Problems(ps[1:2]).HasErrors() || pack.Problems(ps[1:2]).Err() != nil {
		t.Errorf("HasErrors/Err disagree with the problems")
	}
}

// A symbolic link to a directory is not followed (a link may loop), and
// the linter says so rather than leave its files out unseen; a link to a
// file is read.
func TestLoadDirSymlinks(t *testing.T) {
	root, elsewhere := t.TempDir(), t.TempDir()
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(elsewhere, "a.yaml"), "authorities:\n  - id: a\n")
	write(filepath.Join(elsewhere, "b.yaml"), "authorities:\n  - id: b\n")
	if err := os.Symlink(elsewhere, filepath.Join(root, "sub")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if err := os.Symlink(filepath.Join(elsewhere, "b.yaml"), filepath.Join(root, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	_, probs, err := pack.LoadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	want := "sub: error: is a symbolic link to a directory, which is not followed: move the directory here, or link its files one by one"
	if len(probs) == 0 || probs[0].String() != want || strings.Contains(lines(probs), "no scheme pack files") {
		t.Errorf("got:\n%s\nwant first: %s, and b.yaml read", lines(probs), want)
	}
}

// Keys written as YAML allows (explicit, tagged, anchored) are the keys they
// wrap, and a directive before a document is not a document.
func TestLoadKeysAndDirectives(t *testing.T) {
	p := mustLoadPartial(t, map[string]string{"p.yaml": "%YAML 1.2\n---\nauthorities:\n  - ? id\n    : city\n  - !!str id: court\n  - &k id: railway\n"})
	for _, id := range []string{"city", "court", "railway"} {
		if p.Authority(id) == nil {
			t.Errorf("authority %q not loaded", id)
		}
	}
}
