package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socred/socred/service"
)

// Ten failed authentications from one address within a minute are logged,
// naming the address and no token; the address is not refused: unknown
// tokens are answered 401 and a good token is served, as API.md promises
// (a proxy or NAT puts many clients behind one address).
func TestFailedAuthenticationsLogged(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	f := newFixtureAt(t, newFakeStore(), clock.Now)
	from := func(addr, token string) *response {
		req := newRequest("GET", "/v1/schemes", "")
		req.RemoteAddr = addr
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		return &response{t: t, Code: rec.Code, Body: rec.Body.Bytes(), Header: rec.Header()}
	}
	good := f.tokens[asAuditor]
	for i := range 3 * service.MaxAuthFailures {
		if r := from("198.51.100.7:4000", "sct_guess-"+strings.Repeat("x", i)); r.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, r.Code)
		}
	}
	if r := from("198.51.100.7:4001", good); r.Code != http.StatusOK {
		t.Fatalf("after %d failures, a good token from the address: %d %s, want 200", 3*service.MaxAuthFailures, r.Code, r.Body)
	}
	logs := f.logs.String()
	if strings.Count(logs, "authentication failures from one address") != 1 || !strings.Contains(logs, "198.51.100.7") {
		t.Errorf("want one log entry naming the address:\n%s", logs)
	}
	if strings.Contains(logs, "sct_guess") {
		t.Error("the log shows a token tried")
	}
}

// A name given twice in an object is refused, naming it, wherever it is
// (encoding/json would keep the last, and a proxy or validator reading the
// first would see another request); so are bodies that are not UTF-8, and
// text with control characters or bidirectional overrides, which would
// show as other text in files and on the public board.
func TestAmbiguousBodiesRefused(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, method, path, as, body string
		field                        string
	}{
		{"record subject twice", "POST", "/v1/records", asAuthority,
			`{"records":[{"key":"d1","subject":"li","subject":"zhang","scheme":"city","rule":"blood","occurred_at":"2026-01-01T00:00:00Z"}]}`, "records[0].subject"},
		{"records twice", "POST", "/v1/records", asAuthority,
			`{"records":[],"records":[{"key":"d1","subject":"li","scheme":"city","rule":"blood","occurred_at":"2026-01-01T00:00:00Z"}]}`, "records"},
		{"a name twice in other cases", "POST", "/v1/records", asAuthority,
			`{"records":[{"key":"d1","subject":"li","Subject":"zhang","scheme":"city","rule":"blood","occurred_at":"2026-01-01T00:00:00Z"}]}`, "records[0].Subject"},
		{"check subject twice", "POST", "/v1/checks", asProvider,
			`{"subject":"li","subject":"zhang","action":"ride-train"}`, "subject"},
		{"subject name twice", "PUT", "/v1/subjects/ming", asAuthority,
			`{"kind":"person","name":"A","name":"B","region":"city"}`, "name"},
		{"token role twice", "POST", "/v1/tokens", asAdmin,
			`{"role":"provider","role":"auditor","name":"x"}`, "role"},
		{"relation from twice", "PUT", "/v1/relations", asAuthority,
			`{"from":"li","from":"zhang","type":"guarantor-of","to":"zhang"}`, "from"},
		{"not UTF-8", "POST", "/v1/checks", asProvider,
			"{\"subject\":\"zhang\",\"action\":\"ride-train\",\"purpose\":\"\xff\"}", ""},
		{"a name with a right-to-left override", "PUT", "/v1/subjects/ming", asAuthority,
			`{"kind":"person","name":"Wang\u202eLI GNAHZ","region":"city"}`, "name"},
		{"a name with a NUL", "PUT", "/v1/subjects/ming", asAuthority,
			`{"kind":"person","name":"Wang\u0000","region":"city"}`, "name"},
		{"a name on two lines", "PUT", "/v1/subjects/ming", asAuthority,
			`{"kind":"person","name":"Wang\nLi","region":"city"}`, "name"},
		{"a purpose with a control character", "POST", "/v1/checks", asProvider,
			`{"subject":"zhang","action":"ride-train","purpose":"ticket\u0007"}`, "purpose"},
		{"a token name with a NUL", "POST", "/v1/tokens", asAdmin,
			`{"role":"auditor","name":"\u0000"}`, "name"},
		{"evidence with an override", "POST", "/v1/records", asAuthority,
			`{"records":[{"key":"d1","subject":"li","scheme":"city","rule":"blood","occurred_at":"2026-01-01T00:00:00Z","evidence":"file \u202e21"}]}`, "records[0].evidence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.on(t).do(tt.method, tt.path, tt.as, []byte(tt.body))
			code, _, field := res.apiError()
			if res.Code != http.StatusBadRequest || code != "invalid" || field != tt.field {
				t.Errorf("got %d %s, want 400 invalid on field %q", res.Code, res.Body, tt.field)
			}
		})
	}
	// Evidence on two lines, and names in any script, are text.
	f.must(http.StatusOK, "POST", "/v1/records", asAuthority, []byte(`{"records":[{"key":"d2","subject":"li","scheme":"city","rule":"blood","occurred_at":"2026-01-01T00:00:00Z","evidence":"donor card 77\nclinic 4"}]}`))
	f.must(http.StatusCreated, "PUT", "/v1/subjects/ming", asAuthority, []byte(`{"kind":"person","name":"明 Ünal محمد","region":"city"}`))
}
