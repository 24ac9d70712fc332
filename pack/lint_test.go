package pack_test

import (
	"strings"
	"testing"
)

// lintCases are small files added to the base pack, with every problem the
// user sees, exactly as socred lint prints it.
var lintCases = []struct {
	name string
	yaml string
	want []string
}{
	// --- errors: legal basis -------------------------------------------------
	{"scheme without legal_basis", `
schemes:
  - id: s2
    authority: city
    baseline: 10
    rules: [{id: r, points: 1, counts_for: 1y, legal_basis: x}]
`, []string{
		"case.yaml:3: schemes[0].legal_basis: error: is required: cite the law, regulation or decision the scheme rests on",
	}},
	{"rule with blank legal_basis", `
schemes:
  - id: s2
    authority: city
    legal_basis: x
    baseline: 10
    rules:
      - id: r
        points: 1
        counts_for: 1y
        legal_basis: "  "
`, []string{
		"case.yaml:11: schemes[0].rules[0].legal_basis: error: is empty: cite the law, regulation or decision the rule rests on",
	}},
	{"legal_basis of invisible characters", `
schemes:
  - id: s2
    authority: city
    legal_basis: "\u200b"
    baseline: 10
    rules:
      - id: r
        points: 1
        counts_for: 1y
        legal_basis: "\u2060\u00ad\u3164\u2800\ufeff\u034f\ufe0f"
`, []string{
		"case.yaml:5: schemes[0].legal_basis: error: is empty: cite the law, regulation or decision the scheme rests on",
		"case.yaml:11: schemes[0].rules[0].legal_basis: error: is empty: cite the law, regulation or decision the rule rests on",
	}},
	{"list and measure without legal_basis", `
lists:
  - id: l
    kind: black
    authority: city
    designated: true
    term: 1y
    context: civic
measures:
  - id: m
    list: l
    authority: city
    restricts: [ride-train]
    justification: Trains are where the harm happened.
`, []string{
		"case.yaml:3: lists[0].legal_basis: error: is required: cite the law, regulation or decision the list rests on",
		"case.yaml:10: measures[0].legal_basis: error: is required: cite the law, regulation or decision the measure rests on",
	}},
	// --- errors: references ----------------------------------------------------
	{"unknown authority, relation, list and action", `
schemes:
  - id: s2
    authority: citty
    legal_basis: x
    context: civic
    baseline: 1000
    rules:
      - id: default
        points: -50
        counts_for: 5y
        legal_basis: x
        joint: [{relation: guarantor, points: -30}]
lists:
  - id: l
    kind: black
    authority: cour
    legal_basis: x
    context: civic
    designated: true
    term: 2y
    extends_to: [legal-rep-of]
measures:
  - id: m
    list: ll
    authority: city
    legal_basis: x
    restricts: [ride-trian]
  - id: m2
    list: l
    authority: nobody
    legal_basis: x
    grants: [free-bke]
`, []string{
		"case.yaml:4: schemes[0].authority: error: unknown authority \"citty\" (did you mean \"city\"?)",
		"case.yaml:13: schemes[0].rules[0].joint[0].relation: error: unknown relation type \"guarantor\" (did you mean \"guarantor-of\"?)",
		"case.yaml:17: lists[0].authority: error: unknown authority \"cour\" (did you mean \"court\"?)",
		"case.yaml:22: lists[0].extends_to[0]: error: unknown relation type \"legal-rep-of\"",
		"case.yaml:25: measures[0].list: error: unknown list \"ll\" (did you mean \"l\"?)",
		"case.yaml:28: measures[0].restricts[0]: error: unknown action \"ride-trian\" (did you mean \"ride-train\"?)",
		"case.yaml:31: measures[1].authority: error: unknown authority \"nobody\"",
		"case.yaml:33: measures[1].grants[0]: error: unknown action \"free-bke\" (did you mean \"free-bike\"?)",
		"case.yaml:33: measures[1].grants: warning: list \"l\" is a blacklist; a blacklist restricts, privileges belong on a redlist",
	}},
	{"booleans and control characters where text is wanted", `
actions:
  - id: a1
    name: "bad\u0000name"
  - id: a2
    name: "right\u202eleft"
schemes:
  - id: s2
    authority: city
    legal_basis: true
    context: civic
    baseline: 100
    rules: [{id: r, points: 1, counts_for: 1y, legal_basis: x}]
lists:
  - id: l2
    kind: black
    authority: city
    legal_basis: x
    context: civic
    when: true
    publish: true
measures:
  - id: m2
    list: l2
    authority: city
    legal_basis: x
    restricts: [false]
`, []string{
		"case.yaml:4: actions[0].name: error: must be UTF-8 without control characters or bidirectional overrides",
		"case.yaml:6: actions[1].name: error: must be UTF-8 without control characters or bidirectional overrides",
		"case.yaml:10: schemes[0].legal_basis: error: must be text, not the boolean true (quote it if the text is meant)",
		"case.yaml:20: lists[0].when: error: must be text, not the boolean true (quote it if the text is meant)",
		"case.yaml:20: lists[0].when: warning: no way off: the condition reads no score, grade or count, only the subject's attributes, so a listed subject can never leave the list by behaviour or with time",
		"case.yaml:23: measures[0]: error: must restrict or grant at least one action (restricts: [...] or grants: [...])",
		"case.yaml:27: measures[0].restricts[0]: error: must be text, not the boolean false (quote it if the text is meant)",
	}},
	{"relation ends of no kind", `
relations:
  - id: director-of
    from: human
    to: organisation
  - id: branch-of
    from: organisation
    to: ""
`, []string{
		"case.yaml:4: relations[0].from: error: must be \"person\" or \"organisation\", not \"human\"",
		"case.yaml:8: relations[1].to: error: must be \"person\" or \"organisation\", not \"\"",
	}},
	{"unknown scheme and rule in when", `
lists:
  - id: l1
    kind: black
    authority: city
    legal_basis: x
    when: 'score("civc") < 960'
    publish: true
  - id: l2
    kind: black
    authority: city
    legal_basis: x
    when: 'count("civic", "red-lite", "1y") >= 2'
    publish: true
`, []string{
		"case.yaml:7: lists[0].when: error: at column 7 of the expression: score: unknown scheme \"civc\" (did you mean \"civic\"?)",
		"case.yaml:13: lists[1].when: error: at column 16 of the expression: count: unknown rule \"red-lite\" in scheme \"civic\"",
	}},
	// --- errors: grades --------------------------------------------------------
	{"grades not descending", `
schemes:
  - id: s2
    authority: city
    legal_basis: x
    baseline: 100
    grades:
      - {grade: A, min: 90}
      - {grade: B, min: 95}
      - {grade: C}
    rules: [{id: r, points: 1, counts_for: 1y, legal_basis: x}]
`, []string{
		"case.yaml:9: schemes[0].grades[1].min: error: 95 is not below the previous band's min 90; bands go from the highest down",
	}},
	{"no catch-all last band", `
schemes:
  - id: s2
    authority: city
    legal_basis: x
    baseline: 100
    grades:
      - {grade: A, min: 90}
      - {grade: B, min: 50}
    rules: [{id: r, points: 1, counts_for: 1y, legal_basis: x}]
`, []string{
		"case.yaml:9: schemes[0].grades[1]: error: the last band \"B\" must be the catch-all, without min, so every score has a grade",
	}},
	{"catch-all band not last, duplicate and unnamed grades", `
schemes:
  - id: s2
    authority: city
    legal_basis: x
    baseline: 100
    grades:
      - {grade: A}
      - {grade: A, min: 50}
      - {min: 10}
    rules: [{id: r, points: 1, counts_for: 1y, legal_basis: x}]
`, []string{
		"case.yaml:8: schemes[0].grades[0]: error: the catch-all band \"A\" (no min) must be the last; bands go from the highest down",
		"case.yaml:9: schemes[0].grades[1].grade: error: duplicate grade \"A\"",
		"case.yaml:10: schemes[0].grades[2].grade: error: is required: the grade's name, e.g. AAA",
		"case.yaml:10: schemes[0].grades[2]: error: the last band must be the catch-all, without min, so every score has a grade",
	}},
	// --- errors: lists ---------------------------------------------------------
	{"designated list without term", `
lists:
  - id: l
    kind: black
    authority: court
    legal_basis: x
    context: judicial
    designated: true
    publish: true
`, []string{
		"case.yaml:3: lists[0].term: error: is required for a designated list: how long an entry lasts, e.g. 2y",
	}},
	{"max_term shorter than term", `
lists:
  - id: l
    kind: black
    authority: court
    legal_basis: x
    context: judicial
    designated: true
    term: 2y
    max_term: 12mo
    publish: true
`, []string{
		"case.yaml:10: lists[0].max_term: error: 12mo is shorter than the term 2y",
	}},
	{"a byte order mark before the first key", "\ufeff" + `lists:
  - id: l
    kind: black
    authority: court
    legal_basis: x
    context: judicial
    designated: true
    term: 2y
    max_term: 1y
    publish: true
`, []string{
		"case.yaml:9: lists[0].max_term: error: 1y is shorter than the term 2y",
	}},
	{"max_term shorter than the term from some starts", `
lists:
  - id: l
    kind: black
    authority: court
    legal_basis: x
    context: judicial
    designated: true
    term: 1y
    max_term: 365d
    publish: true
  - id: l2
    kind: black
    authority: court
    legal_basis: x
    context: judicial
    designated: true
    term: 12mo
    max_term: 1y
    publish: true
`, []string{
		"case.yaml:10: lists[0].max_term: error: 365d is shorter than the term 1y from some starts, such as 1 January 2000 (a month or year is as long as the calendar makes it)",
	}},
	{"max_term not a duration: one error, not a comparison with nothing", `
lists:
  - id: l
    kind: black
    authority: court
    legal_basis: x
    context: judicial
    designated: true
    term: 2y
    max_term: five years
    publish: true
`, []string{
		"case.yaml:10: lists[0].max_term: error: duration \"five years\": want an integer and a unit (h, d, w, mo, y), e.g. 180d",
	}},
	{"durations beyond 1000 years", `
lists:
  - id: l
    kind: black
    authority: court
    legal_basis: x
    context: judicial
    designated: true
    term: 1000000y
    publish: true
`, []string{
		"case.yaml:9: lists[0].term: error: duration \"1000000y\": at most 1000 years (1000y)",
	}},
	{"max_term equal to term in other units", `
lists:
  - id: l
    kind: black
    authority: court
    legal_basis: x
    context: judicial
    designated: true
    term: 1y
    max_term: 12mo
    publish: true
`, nil},
	{"automatic list with term, max_term and repair", `
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    when: 'score("civic") < 960'
    term: 1y
    max_term: 2y
    repair: [commitment-letter]
    publish: true
`, []string{
		"case.yaml:8: lists[0].term: error: an automatic list has no term: a subject leaves it when its when turns false",
		"case.yaml:9: lists[0].max_term: error: an automatic list has no max_term: a subject leaves it when its when turns false",
		"case.yaml:10: lists[0].repair: error: credit repair is for designated lists: a subject leaves an automatic list when its when turns false",
	}},
	{"both when and designated, and neither", `
lists:
  - id: both
    kind: black
    authority: city
    legal_basis: x
    when: 'score("civic") < 960'
    designated: true
    publish: true
  - id: neither
    kind: red
    authority: city
    legal_basis: x
    publish: true
`, []string{
		"case.yaml:8: lists[0].designated: error: a list is either automatic (when) or designated (designated: true), not both",
		"case.yaml:10: lists[1]: error: needs either when: (automatic entry, e.g. 'score(\"rongcheng\") < 960') or designated: true (entries made by its authority)",
	}},
	{"list kind missing and wrong", `
lists:
  - id: l1
    authority: court
    legal_basis: x
    designated: true
    term: 1y
    publish: true
  - id: l2
    kind: grey
    authority: court
    legal_basis: x
    designated: true
    term: 1y
    publish: true
`, []string{
		"case.yaml:3: lists[0].kind: error: is required: black (restrictions) or red (privileges)",
		"case.yaml:10: lists[1].kind: error: must be \"black\" or \"red\", not \"grey\"",
	}},
	{"bad repair routes", `
lists:
  - id: l
    kind: black
    authority: court
    legal_basis: x
    designated: true
    term: 1y
    publish: true
    repair: [Commitment Letter, training, training]
`, []string{
		"case.yaml:10: lists[0].repair[0]: error: \"Commitment Letter\" is not a valid id for a repair route (like \"obligation-performed\")",
		"case.yaml:10: lists[0].repair[2]: error: duplicate repair route \"training\"",
	}},
	// --- errors: measures ------------------------------------------------------
	{"measure restricts and grants, neither, grants a non-privilege", `
lists:
  - id: l
    kind: red
    authority: city
    legal_basis: x
    when: 'grade("civic") == "A"'
measures:
  - id: both
    list: l
    authority: city
    legal_basis: x
    restricts: [ride-train]
    grants: [free-bike]
  - id: neither
    list: l
    authority: city
    legal_basis: x
    restricts: []
  - id: not-privilege
    list: l
    authority: city
    legal_basis: x
    grants: [buy-luxury]
    justification: Model residents may buy luxury goods.
`, []string{
		"case.yaml:13: measures[0].restricts: warning: list \"l\" is a redlist; a redlist grants privileges, restrictions belong on a blacklist",
		"case.yaml:14: measures[0].grants: error: a measure either restricts or grants, not both; split it into two measures",
		"case.yaml:15: measures[1]: error: must restrict or grant at least one action (restricts: [...] or grants: [...])",
		"case.yaml:24: measures[2].grants[0]: error: action \"buy-luxury\" is not a privilege (privilege: true) and is allowed anyway; only privileges can be granted",
	}},
	{"empty justification", `
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    when: 'score("civic") < 900'
measures:
  - id: m
    list: l
    authority: city
    legal_basis: x
    restricts: [buy-luxury]
    justification: ""
`, []string{
		"case.yaml:13: measures[0].restricts[0]: warning: cross-context measure: restricting action \"buy-luxury\" (context consumption) because of list \"l\" (context civic, from scheme \"civic\") is social scoring of the kind the EU AI Act art. 5(1)(c) prohibits; keep measures within the list's context or add a justification: saying why this one is proportionate",
		"case.yaml:14: measures[0].justification: error: is empty: explain why the measure is proportionate although it reaches beyond the list's context",
	}},
	// --- errors: special categories -----------------------------------------------
	{"special categories in scope, ids, names and contexts", `
actions:
  - id: buy-halal-food
    context: consumption
  - id: enter-venue
    name: Enter a venue with face recognition
    context: consumption
relations:
  - id: fellow-believer-of
schemes:
  - id: uyghur-residents
    name: Residents' credit
    authority: city
    legal_basis: x
    context: civic
    applies_to:
      region: tibetan-quarter
      groups: [taxi-driver, party-member]
    baseline: 100
    rules:
      - id: missed-prayer
        name: Missing Friday prayers
        points: -1
        counts_for: 1y
        legal_basis: x
      - id: r2
        name: 参加礼拜
        points: -1
        counts_for: 1y
        legal_basis: x
        context: trade-union
lists:
  - id: hiv-positive
    name: HIV
    kind: black
    authority: city
    legal_basis: x
    context: health-data
    designated: true
    term: 1y
    publish: true
`, []string{
		"case.yaml:3: actions[0].id: error: \"buy-halal-food\" names a special category of personal data (religion or belief, term \"halal\"); a pack may not target it",
		"case.yaml:6: actions[1].name: error: \"Enter a venue with face recognition\" names a special category of personal data (biometric data, term \"face recognition\"); a pack may not target it",
		"case.yaml:9: relations[0].id: error: \"fellow-believer-of\" names a special category of personal data (religion or belief, term \"believer\"); a pack may not target it",
		"case.yaml:11: schemes[0].id: error: \"uyghur-residents\" names a special category of personal data (ethnic origin, term \"uyghur\"); a pack may not target it",
		"case.yaml:17: schemes[0].applies_to.region: error: \"tibetan-quarter\" names a special category of personal data (ethnic origin, term \"tibetan\"); a pack may not target it",
		"case.yaml:18: schemes[0].applies_to.groups[1]: error: \"party-member\" names a special category of personal data (political opinion, term \"party member\"); a pack may not target it",
		"case.yaml:21: schemes[0].rules[0].id: error: \"missed-prayer\" names a special category of personal data (religion or belief, term \"prayer\"); a pack may not target it",
		"case.yaml:22: schemes[0].rules[0].name: error: \"Missing Friday prayers\" names a special category of personal data (religion or belief, term \"prayer\"); a pack may not target it",
		"case.yaml:27: schemes[0].rules[1].name: error: \"参加礼拜\" names a special category of personal data (religion or belief, term \"礼拜\"); a pack may not target it",
		"case.yaml:31: schemes[0].rules[1].context: error: \"trade-union\" names a special category of personal data (trade-union membership, term \"trade union\"); a pack may not target it",
		"case.yaml:33: lists[0].id: error: \"hiv-positive\" names a special category of personal data (health, term \"hiv\"); a pack may not target it",
		"case.yaml:34: lists[0].name: error: \"HIV\" names a special category of personal data (health, term \"hiv\"); a pack may not target it",
		"case.yaml:38: lists[0].context: error: \"health-data\" names a special category of personal data (health, term \"health data\"); a pack may not target it",
	}},
	{"special category in a when literal", `
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    when: 'score("civic") < 960 && "muslim" in subject.groups'
    publish: true
`, []string{
		"case.yaml:7: lists[0].when: error: at column 25 of the expression: \"muslim\" names a special category of personal data (religion or belief, term \"muslim\"); a list may not target it",
	}},
	{"special category put together from literals", `
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    when: 'score("civic") < 960 && ("mus" + "lim") in subject.groups'
    publish: true
`, []string{
		"case.yaml:7: lists[0].when: error: at column 26 of the expression: \"muslim\" names a special category of personal data (religion or belief, term \"muslim\"); a list may not target it",
	}},
	{"special category in bytes", `
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    when: 'string(b"muslim") in subject.groups || subject.groups.exists(g, bytes(g) == b"uyghur")'
    publish: true
`, []string{
		"case.yaml:7: lists[0].when: error: at column 8 of the expression: \"muslim\" names a special category of personal data (religion or belief, term \"muslim\"); a list may not target it",
		"case.yaml:7: lists[0].when: error: at column 77 of the expression: \"uyghur\" names a special category of personal data (ethnic origin, term \"uyghur\"); a list may not target it",
	}},
	{"special category reached by a prefix, a suffix, a part or a pattern", `
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    when: 'subject.groups.exists(g, g.startsWith("musl")) || subject.groups.exists(g, g.endsWith("slim")) || subject.groups.exists(g, g.matches("^mus.im$"))'
    publish: true
  - id: m
    kind: black
    authority: city
    legal_basis: x
    when: 'subject.groups.exists(g, g.startsWith("taxi") || g.matches(".*") || g.contains("bus-") || g.startsWith("mus"))'
    publish: true
`, []string{
		"case.yaml:7: lists[0].when: error: at column 39 of the expression: startsWith(\"musl\") reaches the special-category term \"muslim\" (religion or belief); a list may not target it",
		"case.yaml:7: lists[0].when: error: at column 87 of the expression: endsWith(\"slim\") reaches the special-category term \"muslim\" (religion or belief); a list may not target it",
		"case.yaml:7: lists[0].when: error: at column 134 of the expression: matches(\"^mus.im$\") reaches the special-category term \"muslim\" (religion or belief); a list may not target it",
		"case.yaml:13: lists[1].when: warning: no way off: the condition reads no score, grade or count, only the subject's attributes, so a listed subject can never leave the list by behaviour or with time",
	}},
	{"special category in camelCase, run together, accented or full-width", `
lists:
  - id: l
    name: MuslimResidents
    kind: black
    authority: city
    legal_basis: x
    when: '"hivpositive" in subject.groups || "Muslím" in subject.groups'
    publish: true
`, []string{
		"case.yaml:4: lists[0].name: error: \"MuslimResidents\" names a special category of personal data (religion or belief, term \"muslim\"); a pack may not target it",
		"case.yaml:8: lists[0].when: error: at column 1 of the expression: \"hivpositive\" names a special category of personal data (health, term \"hiv\"); a list may not target it",
		"case.yaml:8: lists[0].when: error: at column 36 of the expression: \"Muslím\" names a special category of personal data (religion or belief, term \"muslim\"); a list may not target it",
	}},
	// --- errors: ids, values, keys ------------------------------------------------
	{"invalid and duplicate ids", `
authorities:
  - id: City
  - id: court
  - name: No id
schemes:
  - id: civic
    authority: city
    legal_basis: x
    baseline: 1
    rules: [{id: r, points: 0, counts_for: 1y, legal_basis: x}]
`, []string{
		"case.yaml:3: authorities[0].id: error: \"City\" is not a valid id: use 1 to 63 lower-case letters, digits and hyphens, not starting with a hyphen",
		"case.yaml:4: authorities[1].id: error: duplicate authority id \"court\" (first declared at base.yaml:4)",
		"case.yaml:5: authorities[2].id: error: is required",
		"case.yaml:7: schemes[0].id: error: duplicate scheme id \"civic\" (first declared at base.yaml:14)",
	}},
	{"bad durations and numbers", `
schemes:
  - id: s2
    authority: city
    legal_basis: x
    baseline: 50
    min: 100
    max: 10
    rules:
      - {id: r1, points: five, counts_for: 1x, legal_basis: x}
      - {id: r2, points: 1.5, counts_for: 0d, legal_basis: x}
      - {id: r3, legal_basis: x}
`, []string{
		"case.yaml:7: schemes[0].min: error: min 100 is above max 10",
		"case.yaml:10: schemes[0].rules[0].points: error: must be a whole number, not \"five\"",
		"case.yaml:10: schemes[0].rules[0].counts_for: error: duration \"1x\": unknown unit \"x\" (want h, d, w, mo or y)",
		"case.yaml:11: schemes[0].rules[1].points: error: must be a whole number, not 1.5",
		"case.yaml:11: schemes[0].rules[1].counts_for: error: 0d must be longer than zero",
		"case.yaml:12: schemes[0].rules[2].points: error: is required: the signed points a record of the rule adds, e.g. -5",
		"case.yaml:12: schemes[0].rules[2].counts_for: error: is required: how long a record counts, e.g. 1y",
	}},
	{"points out of the 32-bit range", `
schemes:
  - id: s2
    authority: city
    legal_basis: x
    baseline: 0
    rules:
      - {id: r1, points: 2147483647, counts_for: 1y, legal_basis: x}
      - {id: r2, points: -2147483649, counts_for: 1y, legal_basis: x}
`, []string{
		"case.yaml:6: schemes[0].baseline: warning: cannot check proportionality: with a baseline of 0 and no min and max, nothing says how much a record's points weigh; give the scheme min and max",
		"case.yaml:9: schemes[0].rules[1].points: error: -2147483649 is out of range: the points of one record go from -2147483648 to 2147483647",
	}},
	{"numbers YAML readers disagree on, and a merge key of nothing", `
schemes:
  - id: s2
    authority: city
    legal_basis: x
    baseline: 1000
    rules:
      - {id: r1, points: -017, counts_for: 1y, legal_basis: x}
      - {id: r2, points: 0x10, counts_for: 1y, legal_basis: x}
      - {<<: 5, id: r3, points: -1, counts_for: 1y, legal_basis: x}
`, []string{
		"case.yaml:8: schemes[0].rules[0].points: error: -017: write a whole number in decimal digits, without leading zeros (YAML readers differ on 017)",
		"case.yaml:9: schemes[0].rules[1].points: error: 0x10: write a whole number in decimal digits, without leading zeros (YAML readers differ on 017)",
		"case.yaml:10: schemes[0].rules[2].<<: error: a merge key (<<) takes a mapping or a list of mappings, usually an alias: <<: *defaults",
	}},
	{"baseline outside the bounds, missing baseline", `
schemes:
  - id: s2
    authority: city
    legal_basis: x
    baseline: 50
    min: 60
    rules: [{id: r, points: 1, counts_for: 1y, legal_basis: x}]
  - id: s3
    authority: city
    legal_basis: x
    rules: [{id: r, points: 1, counts_for: 1y, legal_basis: x}]
`, []string{
		"case.yaml:6: schemes[0].baseline: error: 50 is outside the bounds [60, unbounded]",
		"case.yaml:9: schemes[1].baseline: error: is required: the score every subject starts with, e.g. 1000",
	}},
	{"unknown and duplicate keys, wrong types", `
schemas: []
actions:
  - id: a1
    privilege: yes please
    contxt: transport
  - id: a2
    id: a3
schemes:
  - id: s2
    authority: city
    legal_bassis: x
    applies_to: {kind: persn, colour: red}
    baseline: 1
    rules: {id: r}
`, []string{
		"case.yaml:2: schemas: error: unknown key \"schemas\" (did you mean \"schemes\"?); a document holds authorities, relations, actions, schemes, lists and measures",
		"case.yaml:5: actions[0].privilege: error: must be true or false, not \"yes please\"",
		"case.yaml:6: actions[0].contxt: error: unknown key \"contxt\" (did you mean \"context\"?)",
		"case.yaml:8: actions[1].id: error: duplicate key \"id\" (first on line 7)",
		"case.yaml:10: schemes[0].legal_basis: error: is required: cite the law, regulation or decision the scheme rests on",
		"case.yaml:12: schemes[0].legal_bassis: error: unknown key \"legal_bassis\" (did you mean \"legal_basis\"?)",
		"case.yaml:13: schemes[0].applies_to.colour: error: unknown key \"colour\"",
		"case.yaml:13: schemes[0].applies_to.kind: error: must be \"person\" or \"organisation\", not \"persn\"",
		"case.yaml:15: schemes[0].rules: error: must be a list (lines starting with \"- \" or [a, b]), not a mapping",
		"case.yaml:15: schemes[0].rules: warning: the scheme has no rules, so every score stays at the baseline",
	}},
	// --- errors: expressions --------------------------------------------------------
	{"when errors with positions", `
lists:
  - id: l1
    kind: black
    authority: city
    legal_basis: x
    when: 'score(subject.region) < 960'
    publish: true
  - id: l2
    kind: black
    authority: city
    legal_basis: x
    when: 'score("civic") + 1'
    publish: true
  - id: l3
    kind: black
    authority: city
    legal_basis: x
    when: 'score("civic") < '
    publish: true
  - id: l4
    kind: black
    authority: city
    legal_basis: x
    publish: true
    when: |
      subject.kind == "person" &&
        count("civic", "red-light", "1q") > 1
  - id: l5
    kind: black
    authority: city
    legal_basis: x
    when: 'grade("civic", "A") == "A" || scroe("civic") > 1 || subject.age > 18'
    publish: true
  - id: l6
    kind: black
    authority: city
    legal_basis: x
    when: 'scroe("civic") > 1 || subject.age > 18'
    publish: true
  - id: l7
    kind: black
    authority: city
    legal_basis: x
    when: '__facts__ == __facts__'
    publish: true
`, []string{
		"case.yaml:7: lists[0].when: error: at column 7 of the expression: the arguments of score must be string literals: score(\"scheme\")",
		"case.yaml:13: lists[1].when: error: at column 1 of the expression: the expression is of type int; it must be a condition (true or false), e.g. score(\"scheme\") < 960",
		"case.yaml:19: lists[2].when: error: at column 18 of the expression: syntax error: the expression ends too early",
		"case.yaml:26: lists[3].when: error: at line 2, column 31 of the expression: count: bad window: duration \"1q\": unknown unit \"q\" (want h, d, w, mo or y)",
		"case.yaml:33: lists[4].when: error: at column 6 of the expression: grade takes 1 argument: grade(\"scheme\")",
		"case.yaml:39: lists[5].when: error: at column 6 of the expression: unknown name \"scroe\" (a when may use score(\"scheme\"), grade(\"scheme\"), count(\"scheme\", \"rule\", \"window\"), subject.kind, subject.region and subject.groups)",
		"case.yaml:39: lists[5].when: error: at column 23 of the expression: subject has no such field: a when may use subject.kind, subject.region and subject.groups",
		"case.yaml:45: lists[6].when: error: at column 1 of the expression: unknown name \"__facts__\"",
		"case.yaml:45: lists[6].when: error: at column 14 of the expression: unknown name \"__facts__\"",
	}},

	{"a when too costly to evaluate", `
lists:
  - id: l1
    kind: black
    authority: city
    legal_basis: x
    publish: true
    when: '[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39].all(a, [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39].all(b, [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39].all(c, a+b+c >= 0)))'
  - id: l2
    kind: black
    authority: city
    legal_basis: x
    publish: true
    when: 'subject.groups.all(g, subject.groups.exists(h, h == g)) && [1, 2, 3].all(x, score("civic") > x)'
`, []string{
		"case.yaml:8: lists[0].when: error: at column 1 of the expression: the expression may take up to 598971 steps to evaluate; at most 100000 (comprehensions such as all, exists and map nested over lists multiply)",
	}},

	// --- warnings --------------------------------------------------------------------
	{"cross-context measure from the schemes read", `
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    when: 'score("civic") < 960'
measures:
  - id: m
    list: l
    authority: city
    legal_basis: x
    restricts: [buy-luxury, ride-train]
`, []string{
		"case.yaml:13: measures[0].restricts[0]: warning: cross-context measure: restricting action \"buy-luxury\" (context consumption) because of list \"l\" (context civic, from scheme \"civic\") is social scoring of the kind the EU AI Act art. 5(1)(c) prohibits; keep measures within the list's context or add a justification: saying why this one is proportionate",
		"case.yaml:13: measures[0].restricts[1]: warning: cross-context measure: restricting action \"ride-train\" (context transport) because of list \"l\" (context civic, from scheme \"civic\") is social scoring of the kind the EU AI Act art. 5(1)(c) prohibits; keep measures within the list's context or add a justification: saying why this one is proportionate",
	}},
	{"a list reading data of several contexts, or of none", `
schemes:
  - id: rail
    authority: city
    legal_basis: x
    context: transport
    baseline: 100
    rules:
      - {id: fare-dodging, points: -5, counts_for: 1y, legal_basis: x}
  - id: plain
    authority: city
    legal_basis: x
    baseline: 100
    rules:
      - {id: late, points: -5, counts_for: 1y, legal_basis: x}
lists:
  - id: mixed
    kind: black
    authority: city
    legal_basis: x
    when: 'score("rail") < 50 || score("civic") < 960'
  - id: partly-unknown
    kind: black
    authority: city
    legal_basis: x
    when: 'score("rail") < 50 || score("plain") < 50'
measures:
  - id: m1
    list: mixed
    authority: city
    legal_basis: x
    restricts: [ride-train]
  - id: m2
    list: partly-unknown
    authority: city
    legal_basis: x
    restricts: [ride-train]
`, []string{
		"case.yaml:32: measures[0].restricts[0]: warning: cross-context measure: restricting action \"ride-train\" (context transport) because of list \"mixed\" (context transport, civic, from scheme \"rail\", scheme \"civic\") is social scoring of the kind the EU AI Act art. 5(1)(c) prohibits; keep measures within the list's context or add a justification: saying why this one is proportionate",
		"case.yaml:33: measures[1]: warning: cannot check that the measure stays within the list's context: list \"partly-unknown\" reads scheme \"plain\", which declares no context",
	}},
	{"cross-context measure from the list's context, and one granting", `
lists:
  - id: l
    kind: black
    authority: court
    legal_basis: x
    context: judicial
    designated: true
    term: 2y
  - id: r
    kind: red
    authority: city
    legal_basis: x
    when: 'count("civic", "red-light", "1y") == 0'
measures:
  - id: m
    list: l
    authority: court
    legal_basis: x
    restricts: [ride-train]
  - id: g
    list: r
    authority: city
    legal_basis: x
    grants: [free-bike]
`, []string{
		"case.yaml:20: measures[0].restricts[0]: warning: cross-context measure: restricting action \"ride-train\" (context transport) because of list \"l\" (context judicial) is social scoring of the kind the EU AI Act art. 5(1)(c) prohibits; keep measures within the list's context or add a justification: saying why this one is proportionate",
		"case.yaml:25: measures[1].grants[0]: warning: cross-context measure: granting action \"free-bike\" (context civic) because of list \"r\" (context transport, from rule \"red-light\" of scheme \"civic\") is social scoring of the kind the EU AI Act art. 5(1)(c) prohibits; keep measures within the list's context or add a justification: saying why this one is proportionate",
	}},
	{"cross-context measure justified", `
lists:
  - id: l
    kind: black
    authority: court
    legal_basis: x
    context: judicial
    designated: true
    term: 2y
measures:
  - id: m
    list: l
    authority: court
    legal_basis: x
    restricts: [ride-train, buy-luxury]
    justification: Debtors who can pay must not spend on high consumption instead.
`, nil},
	{"same-context measure", `
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    when: 'count("civic", "red-light", "1y") >= 2'
measures:
  - id: m
    list: l
    authority: city
    legal_basis: x
    restricts: [hire-taxi]
`, nil},
	{"contexts missing", `
actions:
  - id: a1
lists:
  - id: l
    kind: black
    authority: court
    legal_basis: x
    designated: true
    term: 2y
measures:
  - id: m
    list: l
    authority: court
    legal_basis: x
    restricts: [a1, ride-train]
`, []string{
		"case.yaml:12: measures[0]: warning: cannot check that the measure stays within the list's context: list \"l\" has no context (declare context: on the list or on the schemes its when reads); action \"a1\" declares no context",
	}},
	{"list context differs from its data", `
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    context: transport
    when: 'score("civic") < 960'
measures:
  - id: m
    list: l
    authority: city
    legal_basis: x
    restricts: [ride-train]
`, []string{
		"case.yaml:7: lists[0].context: warning: the list declares context transport, but its when reads data of context civic, from scheme \"civic\"; declare the context its data comes from",
	}},
	{"disproportionate points", `
schemes:
  - id: s2
    authority: city
    legal_basis: x
    context: civic
    baseline: 1000
    rules:
      - id: r1
        points: -100
        counts_for: 1y
        legal_basis: x
      - id: r2
        points: -101
        counts_for: 1y
        legal_basis: x
        joint: [{relation: guarantor-of, points: -150}]
  - id: s3
    authority: city
    legal_basis: x
    baseline: 0
    min: -50
    max: 50
    rules: [{id: r, points: 11, counts_for: 1y, legal_basis: x}]
`, []string{
		"case.yaml:14: schemes[0].rules[1].points: warning: disproportionate: -101 points in one record is more than a tenth of the baseline 1000; lower the points or split the behaviour into finer rules",
		"case.yaml:17: schemes[0].rules[1].joint[0].points: warning: disproportionate: -150 points of joint liability in one record is more than a tenth of the baseline 1000",
		"case.yaml:24: schemes[1].rules[0].points: warning: disproportionate: 11 points in one record is more than a tenth of the range -50 to 50; lower the points or split the behaviour into finer rules",
	}},
	{"no way off", `
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    context: civic
    when: '"taxi-driver" in subject.groups && subject.region == "rongcheng"'
    publish: true
`, []string{
		"case.yaml:8: lists[0].when: warning: no way off: the condition reads no score, grade or count, only the subject's attributes, so a listed subject can never leave the list by behaviour or with time",
	}},
	{"grade comparisons and windows", `
schemes:
  - id: plain
    authority: city
    legal_basis: x
    baseline: 10
    rules: [{id: r, points: 1, counts_for: 1y, legal_basis: x}]
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    when: 'grade("civic") == "ZZZ" || grade("civic") in ["A", "C"] || grade("civic") < "B" || grade("plain") == "" || count("civic", "littering", "2y") > 3'
    publish: true
`, []string{
		"case.yaml:13: lists[0].when: warning: at column 19 of the expression: \"ZZZ\" is not a grade of scheme \"civic\" (A, B), so this comparison never holds",
		"case.yaml:13: lists[0].when: warning: at column 52 of the expression: \"C\" is not a grade of scheme \"civic\" (A, B), so this comparison never holds",
		"case.yaml:13: lists[0].when: warning: at column 77 of the expression: grades compare as text (\"AA\" < \"B\"), not by rank; compare score(\"civic\") or use grade(\"civic\") in [...]",
		"case.yaml:13: lists[0].when: warning: at column 89 of the expression: scheme \"plain\" has no grades, so grade(\"plain\") is always \"\"",
		"case.yaml:13: lists[0].when: warning: at column 136 of the expression: count: the window 2y is longer than the 1y that a record of rule \"littering\" counts for, so it counts as 1y",
	}},
	{"unreachable bands", `
schemes:
  - id: s2
    authority: city
    legal_basis: x
    baseline: 50
    min: 0
    max: 100
    grades:
      - {grade: S, min: 200}
      - {grade: A, min: 0}
      - {grade: B}
    rules: [{id: r, points: 1, counts_for: 1y, legal_basis: x}]
`, []string{
		"case.yaml:10: schemes[0].grades[0].min: warning: grade \"S\" can never be reached: its min 200 is above the scheme's max 100",
		"case.yaml:12: schemes[0].grades[2]: warning: grade \"B\" can never be reached: the band above it already starts at the scheme's min 0",
	}},
	{"redlist restricting, blacklist granting, duplicate actions", `
lists:
  - id: red
    kind: red
    authority: city
    legal_basis: x
    when: 'grade("civic") == "A"'
  - id: black
    kind: black
    authority: city
    legal_basis: x
    when: 'grade("civic") == "B"'
measures:
  - id: m1
    list: red
    authority: city
    legal_basis: x
    restricts: [ride-train, ride-train]
    justification: Example.
  - id: m2
    list: black
    authority: city
    legal_basis: x
    grants: [free-bike]
`, []string{
		"case.yaml:18: measures[0].restricts: warning: list \"red\" is a redlist; a redlist grants privileges, restrictions belong on a blacklist",
		"case.yaml:18: measures[0].restricts[1]: warning: action \"ride-train\" is listed twice",
		"case.yaml:24: measures[1].grants: warning: list \"black\" is a blacklist; a blacklist restricts, privileges belong on a redlist",
	}},
	{"list without effect, publish_after without publish, scheme without rules, group twice", `
schemes:
  - id: empty
    authority: city
    legal_basis: x
    applies_to: {groups: [taxi-driver, taxi-driver]}
    baseline: 10
lists:
  - id: l
    kind: black
    authority: city
    legal_basis: x
    when: 'score("civic") < 10'
    publish_after: 3d
`, []string{
		"case.yaml:3: schemes[0].rules: warning: the scheme has no rules, so every score stays at the baseline",
		"case.yaml:6: schemes[0].applies_to.groups[1]: warning: group \"taxi-driver\" is listed twice",
		"case.yaml:9: lists[0]: warning: list \"l\" has no measures and is not published, so being on it has no effect",
		"case.yaml:14: lists[0].publish_after: warning: has no effect without publish: true",
	}},
}

func TestLint(t *testing.T) {
	for _, tt := range lintCases {
		t.Run(tt.name, func(t *testing.T) {
			_, probs := load(t, map[string]string{"base.yaml": base, "case.yaml": tt.yaml})
			got := strings.Split(strings.TrimSuffix(lines(probs), "\n"), "\n")
			if len(probs) == 0 {
				got = nil
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s\ncopy:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), quote(got))
			}
		})
	}
}

func quote(ss []string) string {
	var b strings.Builder
	b.WriteString("[]string{\n")
	for _, s := range ss {
		b.WriteString("\t\t\"" + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + "\",\n")
	}
	b.WriteString("\t}")
	return b.String()
}
