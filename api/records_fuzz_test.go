package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/socred/socred"
	"github.com/socred/socred/api"
	"github.com/socred/socred/service"
)

// fuzzKept is a record every FuzzRecordBatch fixture holds before the
// fuzzed batch, so a batch can replay its key (a duplicate) or reuse it for
// another payload (a conflict).
const fuzzKept = `{"records":[{"key":"kept","subject":"li","scheme":"city","rule":"loan-default","occurred_at":"2025-01-02T03:04:05Z","evidence":"case file kept"}]}`

// errorAnswer is the body of every error answer, decoded strictly.
type errorAnswer struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// recordsAnswer is RecordsOutput of docs/openapi.yaml, decoded strictly.
type recordsAnswer struct {
	Records []struct {
		Key     string `json:"key"`
		ID      string `json:"id"`
		Status  string `json:"status"`
		Derived []struct {
			ID       string `json:"id"`
			Subject  string `json:"subject"`
			Points   int64  `json:"points"`
			LogIndex *int64 `json:"log_index"`
		} `json:"derived"`
		LogIndex *int64 `json:"log_index"`
	} `json:"records"`
}

// strictJSON decodes data into v, refusing unknown fields and trailing
// data.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return &json.SyntaxError{Offset: dec.InputOffset()}
	}
	return nil
}

// checkError checks an error answer: a documented body whose code is the
// status's, with a message.
func checkError(t *testing.T, res *response, code string) errorAnswer {
	t.Helper()
	var e errorAnswer
	if err := strictJSON(res.Body, &e); err != nil {
		t.Fatalf("%d answer: %v: %s", res.Code, err, res.Body)
	}
	if e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("%d answer: code %q (want %q), message %q", res.Code, e.Error.Code, code, e.Error.Message)
	}
	return e
}

// FuzzRecordBatch sends arbitrary bytes as the body of POST /v1/records,
// as the city's authority, over the real handler and service and the fake
// store (a fresh fixture per input, so every failure replays). The answer
// must be 200, 400, 409 or 413, never 500 or a panic, and match
// docs/openapi.yaml. An error body must decode as {"error": {code, message,
// field}}; a 400 for a well-formed JSON object must name the field at
// fault. A 200 must hold one result per submitted record, in order, under
// its key; each subject's file must then read (200) with the records as
// submitted (occurred_at in UTC, to the microsecond) and scores that are
// the baseline plus the points of the records counting now; and sending
// the same body again must answer every record as a duplicate with the
// same id. Seeds: below and testdata/fuzz/FuzzRecordBatch (among them
// ancient-record-counts and negative-year-utc, the regression inputs of
// the occurred_at bound in socred.RecordInput.Validate).
func FuzzRecordBatch(f *testing.F) {
	for _, body := range []string{
		fuzzKept, // a duplicate
		strings.Replace(fuzzKept, "case file kept", "another case file", 1), // a conflict
		`{"records":[{"key":"a","subject":"zhang","scheme":"city","rule":"red-light","occurred_at":"2025-06-01T08:00:00+08:00","evidence":"camera 7"},` +
			`{"key":"b","subject":"li","scheme":"city","rule":"loan-default","occurred_at":"2025-06-01T08:00:00.123456789Z","evidence":""},` +
			`{"key":"c","subject":"acme-co","scheme":"city","rule":"blood","occurred_at":"1970-01-01T00:00:00Z","evidence":"x"}]}`,
		`{"records":[{"key":"a","subject":"zhang","scheme":"city","rule":"red-light","occurred_at":"2025-06-01T00:00:00Z"},` +
			`{"key":"a","subject":"zhang","scheme":"city","rule":"red-light","occurred_at":"2025-06-01T00:00:00Z"}]}`,
		`{"records":[{"key":"a","subject":"nobody","scheme":"city","rule":"red-light","occurred_at":"2025-06-01T00:00:00Z"}]}`,
		`{"records":[{"key":"a","subject":"zhang","scheme":"city","rule":"red-light","occurred_at":"9999-12-31T23:59:59Z"}]}`,
		`{"records":[{"key":"a","subject":"zhang","scheme":"nope","rule":"red-light","occurred_at":"2025-06-01T00:00:00Z"}]}`,
		`{"records":[{"key":"a","subject":"zhang","scheme":"city","rule":"red-light","occurred_at":"2025-02-30T00:00:00Z"}]}`,
		`{"records":[{"key":"a","subject":"Zhang!","scheme":"city","rule":"red-light","occurred_at":1}]}`,
		`{"records":[{"key":"a","Subject":"zhang","SCHEME":"city","rule":"red-light","occurred_at":"2025-06-01T00:00:00Z","extra":true}]}`,
		`{"Records":[{"key":"\ud800","subject":"zhang","scheme":"city","rule":"red-light","occurred_at":"2025-06-01T00:00:00Z","evidence":"\u0000"}]}`,
		`{"records":[null,{}]}`,
		`{"records":[]}`,
		`{"records":null}`,
		`{"records":{}}`,
		`{"records":[1]}`,
		`{"records":[{"key":["a"]}]}`,
		`{"records":[{"key":"a"}],"records":7}`,
		`{"record":[]}`,
		`{}`,
		`[]`,
		`null`,
		`"records"`,
		`{"records":[{"key":"a"}]} {"records":[]}`,
		`{"records":[{"key":"a",}]}`,
		`{"records":[{"key":"a"`,
		"\xef\xbb\xbf{}",
		" \t\r\n",
		``,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fx := leanFixture(t)
		fx.must(http.StatusOK, "POST", "/v1/records", asAuthority, fuzzKept)
		res := fx.do("POST", "/v1/records", asAuthority, body)
		switch res.Code {
		case http.StatusOK:
		case http.StatusBadRequest:
			e := checkError(t, res, "invalid")
			top := members(body)
			if _, unnamed := top[""]; e.Error.Field == "" && json.Valid(body) && utf8.Valid(body) && top != nil && !unnamed {
				t.Errorf("400 for a JSON object names no field: %s\nbody: %q", res.Body, body)
			}
			if f := e.Error.Field; f != "" && !fieldOf(f, top) {
				t.Errorf("400 names field %q, which is not in the request: %s\nbody: %q", f, res.Body, body)
			}
			return
		case http.StatusConflict:
			checkError(t, res, "conflict")
			return
		case http.StatusRequestEntityTooLarge:
			checkError(t, res, "too_large")
			return
		default:
			t.Fatalf("answer %d: %s\nbody: %q", res.Code, res.Body, body)
		}

		var out recordsAnswer
		if err := strictJSON(res.Body, &out); err != nil {
			t.Fatalf("200 answer: %v: %s", err, res.Body)
		}
		var in struct{ Records []batchRecord }
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("200 for a body encoding/json refuses (%v): %q", err, body)
		}
		if len(out.Records) != len(in.Records) {
			t.Fatalf("%d results for %d records: %s", len(out.Records), len(in.Records), res.Body)
		}
		for i, r := range out.Records {
			if r.Key != in.Records[i].Key || r.ID == "" || r.Derived == nil ||
				!slices.Contains([]string{"accepted", "duplicate"}, r.Status) {
				t.Errorf("result %d for key %q: %+v", i, in.Records[i].Key, r)
			}
		}
		// Every subject's file reads back its records as submitted, and
		// scores the records that count now.
		byID := map[string]batchRecord{}
		var subjects []string
		for i, r := range out.Records {
			byID[r.ID] = in.Records[i]
			if s := in.Records[i].Subject; !slices.Contains(subjects, s) {
				subjects = append(subjects, s)
			}
		}
		for _, subject := range subjects {
			res := fx.do("GET", "/v1/subjects/"+subject+"/file", asAdmin, nil)
			if res.Code != http.StatusOK {
				t.Fatalf("after a 200, GET the file of %s: %d %s", subject, res.Code, res.Body)
			}
			checkFile(t, subject, res, byID)
		}

		again := fx.do("POST", "/v1/records", asAuthority, body)
		var out2 recordsAnswer
		if again.Code != http.StatusOK || strictJSON(again.Body, &out2) != nil || len(out2.Records) != len(out.Records) {
			t.Fatalf("the same batch again: %d %s", again.Code, again.Body)
		}
		// The same batch again is answered as the first time, each record a
		// duplicate with the records derived from it.
		for i, r := range out2.Records {
			first := out.Records[i]
			same := r.Status == "duplicate" && r.ID == first.ID && r.Key == first.Key && len(r.Derived) == len(first.Derived)
			for j := 0; same && j < len(r.Derived); j++ {
				a, b := r.Derived[j], first.Derived[j]
				same = a.ID == b.ID && a.Subject == b.Subject && a.Points == b.Points &&
					(a.LogIndex == nil) == (b.LogIndex == nil) && (a.LogIndex == nil || *a.LogIndex == *b.LogIndex)
			}
			if !same {
				t.Errorf("result %d the second time: %+v, the first %+v", i, r, first)
			}
		}
	})
}

// leanFixture is newFixture made for fuzzing, where it runs once an
// input: the same pack, subjects and relation, set up through the service
// rather than over HTTP, with tokens for the city's authority and an
// auditor only. With t nil it is for a whole fuzzing process, never
// closed.
func leanFixture(t *testing.T) *fixture {
	ctx := context.Background()
	store := newFakeStore()
	svc, err := service.New(store, testPack())
	if err == nil {
		svc.AdminToken = adminToken
		err = svc.Open(ctx)
	}
	if err != nil {
		panic(err)
	}
	if t != nil {
		t.Cleanup(func() {
			if err := svc.Close(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	admin, err := svc.Authenticate(ctx, adminToken)
	if err == nil {
		_, err = svc.PutSubjects(ctx, admin, []*socred.Subject{
			{ID: "zhang", Kind: socred.Person, Name: "Zhang Wei", Region: "rongcheng"},
			{ID: "li", Kind: socred.Person, Name: "Li Na", Region: "rongcheng"},
			{ID: "acme-co", Kind: socred.Organisation, Name: "Acme Co.", Region: "rongcheng"},
		})
	}
	if err == nil {
		_, err = svc.Relate(ctx, admin, socred.Relation{From: "zhang", Type: "guarantor-of", To: "li"})
	}
	tokens := map[string]string{asAdmin: adminToken}
	for name, in := range map[string]service.TokenInput{
		asAuthority: {Role: socred.RoleAuthority, Authority: "city", Name: "city clerk"},
		asAuditor:   {Role: socred.RoleAuditor, Name: "auditor 1"},
	} {
		if err != nil {
			break
		}
		var tok service.NewToken
		tok, err = svc.CreateToken(ctx, admin, in)
		tokens[name] = tok.Token
	}
	if err != nil {
		panic(err)
	}
	a := api.New(svc, api.Config{})
	return &fixture{t: t, store: store, svc: svc, api: a, h: a.Handler(), logs: &syncBuffer{}, routes: routeTable(), tokens: tokens}
}

// routeTable is the route table's patterns, as fixture.routes holds them.
var routeTable = sync.OnceValue(func() *http.ServeMux {
	mux := http.NewServeMux()
	for _, r := range api.New(nil, api.Config{}).Routes() {
		mux.Handle(r.Method+" "+r.Path, http.NotFoundHandler())
	}
	return mux
})

// batchRecord is what FuzzRecordBatch reads of a submitted record.
type batchRecord struct {
	Key, Subject string
	OccurredAt   time.Time `json:"occurred_at"`
}

// checkFile checks a subject's file: each of the submitted records (by id)
// that is the subject's is in it, occurred when it was submitted to have
// (in UTC, to the microsecond), and each score is its baseline plus the
// points of the records that count.
func checkFile(t *testing.T, subject string, res *response, submitted map[string]batchRecord) {
	t.Helper()
	var file struct {
		Scores []struct {
			Scheme          string
			Score, Baseline int64
		}
		Records []struct {
			ID, Subject, Scheme string
			Points              int64
			OccurredAt          time.Time `json:"occurred_at"`
			Counting            bool
		}
	}
	res.decode(&file)
	sum := map[string]int64{}
	seen := map[string]bool{}
	for _, r := range file.Records {
		if in, ok := submitted[r.ID]; ok {
			seen[r.ID] = true
			if want := in.OccurredAt.UTC().Truncate(time.Microsecond); r.Subject != in.Subject || !r.OccurredAt.Equal(want) {
				t.Errorf("file of %s: record %s of %s occurred at %s; submitted for %s at %s", subject, r.ID, r.Subject, r.OccurredAt, in.Subject, want)
			}
		}
		if r.Counting {
			sum[r.Scheme] += r.Points
		}
	}
	for id, in := range submitted {
		if in.Subject == subject && !seen[id] {
			t.Errorf("file of %s: no record %s (key %q)", subject, id, in.Key)
		}
	}
	for _, sc := range file.Scores {
		if want := sc.Baseline + sum[sc.Scheme]; sc.Score != want {
			t.Errorf("file of %s: scheme %s scores %d; its baseline and counting records make %d: %s", subject, sc.Scheme, sc.Score, want, res.Body)
		}
	}
}

// members returns the members of the JSON object a body starts with, as
// encoding/json reads them; nil when the body starts with anything else.
// A body that is one valid JSON object has a field to name in a 400,
// unless the first fault is a top-level member named "", which no field
// path can name.
func members(body []byte) map[string]json.RawMessage {
	var top map[string]json.RawMessage
	if json.NewDecoder(bytes.NewReader(body)).Decode(&top) != nil {
		return nil
	}
	return top
}

// fieldOf reports whether a field path named by an error starts with
// "records" (the one field of a batch, present or not) or with a member of
// the body's top-level object, as encoding/json matches names.
func fieldOf(field string, top map[string]json.RawMessage) bool {
	names := []string{"records"}
	for k := range top {
		names = append(names, k)
	}
	for _, n := range names {
		if len(field) >= len(n) && strings.EqualFold(field[:len(n)], n) &&
			(len(field) == len(n) || field[len(n)] == '.' || field[len(n)] == '[') {
			return true
		}
	}
	return false
}

// TestEmptyMemberName is the regression test of a FuzzRecordBatch finding
// (testdata/fuzz/FuzzRecordBatch/empty-member-name): a member named "" was
// reported as the field "" ("the request body unknown field; ...") or
// "records[0]." instead of as the object holding it.
func TestEmptyMemberName(t *testing.T) {
	fx := newFixture(t)
	for _, tt := range []struct{ body, field, message string }{
		{`{"":[]}`, "", "the request body has a member with an empty name; the fields are records"},
		{`{"records":[{"":1}]}`, "records[0]", "records[0]: has a member with an empty name; the fields are key, subject, scheme, rule, occurred_at, evidence"},
	} {
		res := fx.must(http.StatusBadRequest, "POST", "/v1/records", asAuthority, tt.body)
		if _, message, field := res.apiError(); field != tt.field || message != tt.message {
			t.Errorf("%s: field %q, message %q; want %q, %q", tt.body, field, message, tt.field, tt.message)
		}
	}
}
