package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/socred/socred"
)

const openapiPath = "../docs/openapi.yaml"

// openapiDoc loads docs/openapi.yaml once. For validating answers, every
// object schema that lists properties is closed (additionalProperties:
// false) unless it says otherwise: the document itself stays open to new
// fields, but a field the code sends and the document omits fails the tests.
var openapiDoc = sync.OnceValues(func() (*openapiFixture, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openapiPath)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", openapiPath, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate %s: %w", openapiPath, err)
	}
	strict, err := loader.LoadFromFile(openapiPath)
	if err != nil {
		return nil, err
	}
	closeSchemas(strict)
	router, err := legacy.NewRouter(strict)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	return &openapiFixture{doc: doc, router: router}, nil
})

type openapiFixture struct {
	doc    *openapi3.T
	router routers.Router
}

func mustOpenAPI(t *testing.T) *openapiFixture {
	t.Helper()
	o, err := openapiDoc()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// closeSchemas sets additionalProperties: false on every object schema of
// the document that has properties and says nothing about others.
func closeSchemas(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(ref *openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		for _, x := range slices.Concat(s.AllOf, s.AnyOf, s.OneOf) {
			walk(x)
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
	content := func(c openapi3.Content) {
		for _, mt := range c {
			walk(mt.Schema)
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				content(op.RequestBody.Value.Content)
			}
			for _, r := range op.Responses.Map() {
				if r.Value != nil {
					content(r.Value.Content)
				}
			}
		}
	}
}

// utcTime is the date-time format as socred writes it: RFC 3339 in UTC.
var utcTime = openapi3.NewCallbackValidator(func(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(s, "Z") || t.Location() != time.UTC {
		return errors.New("time is not in UTC")
	}
	return nil
})

// validateResponse checks an answer against the OpenAPI document: its
// status must be documented for the operation and its body must match the
// schema. A request the API routes must match an operation of the
// document; answers to requests the API does not route are not checked.
func validateResponse(t *testing.T, routed bool, req *http.Request, res *response) {
	t.Helper()
	o := mustOpenAPI(t)
	route, params, err := o.router.FindRoute(req)
	if err != nil {
		if routed {
			t.Errorf("%s %s: the API routes it, the document has no operation for it: %v", req.Method, req.URL.Path, err)
		}
		return
	}
	if !routed {
		t.Errorf("%s %s: the document has an operation for it, the API does not route it", req.Method, req.URL.Path)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.Code,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(res.Body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			MultiError:              true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidator("date-time", utcTime)},
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: answer %d does not match docs/openapi.yaml: %v\nbody: %s", req.Method, req.URL.Path, res.Code, err, res.Body)
	}
}

// TestOpenAPIRoutes checks that the document describes exactly the route
// table: the same (method, path) pairs, each with the same roles in
// x-roles, and the public routes (no roles) with no security.
func TestOpenAPIRoutes(t *testing.T) {
	doc := mustOpenAPI(t).doc
	f := newFixture(t)
	table := map[string][]socred.Role{}
	for _, r := range f.api.Routes() {
		table[r.Method+" "+r.Path] = r.Roles
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			documented[key] = true
			roles, inTable := table[key]
			if !inTable {
				t.Errorf("%s is documented but not in the route table", key)
				continue
			}
			got, err := xRoles(op)
			if err != nil {
				t.Errorf("%s: %v", key, err)
				continue
			}
			want := make([]string, len(roles))
			for i, r := range roles {
				want[i] = string(r)
			}
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: x-roles %v, route table %v", key, got, want)
			}
			public := op.Security != nil && len(*op.Security) == 0
			if public != (roles == nil) {
				t.Errorf("%s: documented public %v, public in the route table %v", key, public, roles == nil)
			}
		}
	}
	for key := range table {
		if !documented[key] {
			t.Errorf("%s is in the route table but not documented", key)
		}
	}
}

func xRoles(op *openapi3.Operation) ([]string, error) {
	v, ok := op.Extensions["x-roles"]
	if !ok {
		return nil, errors.New("no x-roles")
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("x-roles is %T, want a list", v)
	}
	roles := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("x-roles holds %T", x)
		}
		roles = append(roles, s)
	}
	return roles, nil
}

// TestOpenAPIValidatorCatchesDrift makes sure the answer validation can
// fail: an undocumented field, a missing required field and a non-UTC time
// are each refused.
func TestOpenAPIValidatorCatchesDrift(t *testing.T) {
	o := mustOpenAPI(t)
	good := `{"subject":"zhang","action":"ride-train","allowed":true,"checked_at":"2026-01-01T00:00:00Z","reasons":[]}`
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"documented", good, true},
		{"extra field", strings.Replace(good, `"reasons":[]`, `"reasons":[],"score":3`, 1), false},
		{"missing field", strings.Replace(good, `"allowed":true,`, ``, 1), false},
		{"null array", strings.Replace(good, `"reasons":[]`, `"reasons":null`, 1), false},
		{"not UTC", strings.Replace(good, `00:00:00Z`, `08:00:00+08:00`, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", "/v1/checks", nil)
			route, params, err := o.router.FindRoute(req)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{"Content-Type": {"application/json"}}
			err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
				Status:                 200, Header: h, Body: io.NopCloser(strings.NewReader(tt.body)),
				Options: &openapi3filter.Options{IncludeResponseStatus: true,
					SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidator("date-time", utcTime)}},
			})
			if (err == nil) != tt.ok {
				t.Errorf("valid: got %v, want %v (err %v)", err == nil, tt.ok, err)
			}
		})
	}
}
