package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// queryFixture is FuzzQuery's fixture, one a fuzzing process: the queries
// only read (a proof may keep a checkpoint, which changes no answer's
// status), so every input meets the same state. Its log holds a few
// entries, so that proofs and consistency proofs exist.
var queryFixture = sync.OnceValue(func() *fixture {
	fx := leanFixture(nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/v1/records", strings.NewReader(fuzzKept))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+fx.tokens[asAuthority])
	fx.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		panic("queryFixture: " + rec.Body.String())
	}
	return fx
})

// FuzzQuery sends arbitrary strings as the query parameters (and path
// parameters) of the read endpoints: limit, offset, q and list of GET
// /v1/register; list, limit and offset of GET /v1/lists/{list}/entries, as
// an auditor; index and size of GET /v1/audit/proof/{index}; from and to
// of GET /v1/audit/consistency. No answer may be a 500. A parameter that is
// not what the endpoint documents (limit a positive integer, offset and
// index non-negative ones, size, from and to positive ones, q at most 100
// bytes) must get a 400 naming one of the parameters at fault; with none at
// fault, a 400 (a value out of the log's range) must name one of the
// endpoint's parameters. Answers to requests the API routes must match
// docs/openapi.yaml. Seeds: below and testdata/fuzz/FuzzQuery.
func FuzzQuery(f *testing.F) {
	f.Add("", "", "", "", "", "", "", "")
	f.Add("10", "0", "1", "1", "2", "0", "zhang", "defaulters")
	f.Add("1000000", "5", "3", "1", "3", "2", "Li", "city-black")
	f.Add("0", "-1", "0", "0", "0", "-1", "", "nope")
	f.Add("+5", "+0", "+1", "+1", "+2", "+0", "%", "defaulters")
	f.Add("9223372036854775807", "9223372036854775808", "9223372036854775807", "9223372036854775807", "-9223372036854775808", "9223372036854775807", "", "")
	f.Add("1e3", "0x10", "1.0", " 1", "1 ", "٣", "\x00", "city-black/../defaulters")
	f.Add("abc", "", "", "", "", "..", "", "..")
	f.Add("", "", "", "2", "1", "a/b", "", "a/b")
	f.Add("", "", "", "", "", "", "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789x", "defaulters")
	f.Add("", "", "", "", "", ".", "\xff", "\xff")
	fx := queryFixture()
	f.Fuzz(func(t *testing.T, limit, offset, size, from, to, index, q, list string) {
		fx := fx.on(t)
		register := url.Values{}
		page := url.Values{}
		for _, p := range []struct {
			v           *url.Values
			name, value string
		}{
			{&register, "limit", limit}, {&register, "offset", offset}, {&register, "q", q}, {&register, "list", list},
			{&page, "limit", limit}, {&page, "offset", offset},
		} {
			if p.value != "" {
				p.v.Set(p.name, p.value)
			}
		}
		pageFaults := faults(map[string]bool{"limit": !optional(limit, 1), "offset": !optional(offset, 0)})
		sizeQuery := ""
		if size != "" {
			sizeQuery = "?" + url.Values{"size": {size}}.Encode()
		}
		for _, c := range []struct {
			path, as string
			fields   []string // the parameters the endpoint reads
			faults   []string // the parameters at fault
		}{
			{"/v1/register?" + register.Encode(), asAnonymous, []string{"limit", "offset", "q", "list"},
				append(pageFaults, faults(map[string]bool{"q": len(q) > 100})...)},
			{"/v1/lists/" + url.PathEscape(list) + "/entries?" + page.Encode(), asAuditor, []string{"limit", "offset"}, pageFaults},
			{"/v1/audit/proof/" + url.PathEscape(index) + sizeQuery, asAnonymous, []string{"index", "size"},
				faults(map[string]bool{"index": !integer(index, 0), "size": !optional(size, 1)})},
			{"/v1/audit/consistency?" + url.Values{"from": {from}, "to": {to}}.Encode(), asAnonymous, []string{"from", "to"},
				faults(map[string]bool{"from": !integer(from, 1), "to": !integer(to, 1)})},
		} {
			req := httptest.NewRequest("GET", c.path, nil)
			res, routed := fx.sendRaw(req, c.as)
			switch {
			case res.Code >= 500:
				t.Fatalf("GET %s: %d %s", c.path, res.Code, res.Body)
			case !routed || res.Code >= 300 && res.Code < 400:
				// A path the mux cleans or no route matches (a list or
				// index of "", "." or ".."): no handler ran.
				continue
			case res.Code == http.StatusBadRequest:
				e := checkError(t, res, "invalid")
				want := c.faults
				if len(want) == 0 {
					want = c.fields
				}
				if !slices.Contains(want, e.Error.Field) {
					t.Errorf("GET %s: 400 names field %q, want one of %q: %s", c.path, e.Error.Field, want, res.Body)
				}
			case len(c.faults) > 0:
				t.Errorf("GET %s: %d, want a 400 naming one of %q: %s", c.path, res.Code, c.faults, res.Body)
			case res.Code == http.StatusOK, res.Code == http.StatusNotFound:
			default:
				t.Errorf("GET %s: %d %s", c.path, res.Code, res.Body)
			}
		}
	})
}

// sendRaw is send, with the OpenAPI check for routed requests only (the
// document's router takes an empty index for one, and no operation
// documents the mux's own redirects); it reports whether a route matches
// the request.
func (f *fixture) sendRaw(req *http.Request, as string) (*response, bool) {
	f.t.Helper()
	if as != asAnonymous {
		req.Header.Set("Authorization", "Bearer "+f.tokens[as])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	res := &response{t: f.t, Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	_, pattern := f.routes.Handler(req)
	if pattern != "" && (res.Code < 300 || res.Code >= 400) {
		validateResponse(f.t, true, req, res)
	}
	return res, pattern != ""
}

// integer reports whether s is a decimal integer of at least least that
// fits in 64 bits.
func integer(s string, least int64) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n >= least
}

// optional is integer, for a parameter that may be left out.
func optional(s string, least int64) bool { return s == "" || integer(s, least) }

// faults returns the names whose value is true, sorted.
func faults(m map[string]bool) []string {
	var out []string
	for name, bad := range m {
		if bad {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
