package api

import (
	"context"
	"net/http"

	"github.com/socred/socred"
)

// schemesOutput is the answer of GET /v1/schemes: the loaded pack.
type schemesOutput struct {
	Authorities []*socred.Authority    `json:"authorities"`
	Relations   []*socred.RelationType `json:"relations"`
	Actions     []*socred.Action       `json:"actions"`
	Schemes     []schemeView           `json:"schemes"`
	Lists       []*socred.List         `json:"lists"`
	Measures    []*socred.Measure      `json:"measures"`
	Hash        string                 `json:"hash"`
}

// schemeView is a scheme whose grade bands say their minimum whenever they
// have one (socred.Band omits a minimum of 0).
type schemeView struct {
	*socred.Scheme
	Grades []bandView     `json:"grades"`
	Rules  []*socred.Rule `json:"rules"`
}

type bandView struct {
	Grade string `json:"grade"`
	Min   *int64 `json:"min,omitempty"`
}

// schemes handles GET /v1/schemes.
func (a *API) schemes(w http.ResponseWriter, r *http.Request, _ *socred.Caller) error {
	p := a.svc.Pack()
	out := schemesOutput{
		Authorities: orEmpty(p.Authorities),
		Relations:   orEmpty(p.Relations),
		Actions:     orEmpty(p.Actions),
		Schemes:     make([]schemeView, len(p.Schemes)),
		Lists:       orEmpty(p.Lists),
		Measures:    orEmpty(p.Measures),
		Hash:        p.Hash,
	}
	for i, sc := range p.Schemes {
		v := schemeView{Scheme: sc, Grades: make([]bandView, len(sc.Grades)), Rules: orEmpty(sc.Rules)}
		for j, b := range sc.Grades {
			v.Grades[j] = bandView{Grade: b.Grade}
			if b.HasMin {
				v.Grades[j].Min = &b.Min
			}
		}
		out.Schemes[i] = v
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// healthOutput is the answer of GET /healthz.
type healthOutput struct {
	Status string `json:"status"`
}

// health handles GET /healthz: 200 when the store answers, else 503.
func (a *API) health(w http.ResponseWriter, r *http.Request, _ *socred.Caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := a.svc.Health(ctx); err != nil {
		a.log.ErrorContext(r.Context(), "health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, healthOutput{Status: "unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, healthOutput{Status: "ok"})
	return nil
}
