package api

import (
	"net/http"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// entriesOutput is the answer of the list endpoints.
type entriesOutput[T any] struct {
	Entries []T `json:"entries"`
}

// designate handles POST /v1/lists/{list}/entries.
func (a *API) designate(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	if err := a.svc.MayDesignate(c, r.PathValue("list")); err != nil {
		return err
	}
	var in service.DesignationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	l, err := a.svc.Designate(r.Context(), c, r.PathValue("list"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, l)
	return nil
}

// extend handles PATCH /v1/lists/{list}/entries/{subject}.
func (a *API) extend(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	if err := a.svc.MayDesignate(c, r.PathValue("list")); err != nil {
		return err
	}
	var in service.ExtensionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	l, err := a.svc.ExtendDesignation(r.Context(), c, r.PathValue("list"), r.PathValue("subject"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

// undesignateInput is the body of DELETE /v1/lists/{list}/entries/{subject}.
type undesignateInput struct {
	Reason string `json:"reason"`
}

// undesignate handles DELETE /v1/lists/{list}/entries/{subject}.
func (a *API) undesignate(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	if err := a.svc.MayDesignate(c, r.PathValue("list")); err != nil {
		return err
	}
	var in undesignateInput
	if err := decode(r, &in); err != nil {
		return err
	}
	l, err := a.svc.Undesignate(r.Context(), c, r.PathValue("list"), r.PathValue("subject"), in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

// listEntries handles GET /v1/lists/{list}/entries?limit=&offset=.
func (a *API) listEntries(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	ls, err := a.svc.ListEntries(r.Context(), c, r.PathValue("list"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entriesOutput[socred.Listing]{Entries: orEmpty(ls)})
	return nil
}

// register handles GET /v1/register?list=&q=&limit=&offset=, the public
// register.
func (a *API) register(w http.ResponseWriter, r *http.Request, _ *socred.Caller) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	es, err := a.svc.Register(r.Context(), q.Get("list"), q.Get("q"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entriesOutput[socred.RegisterEntry]{Entries: orEmpty(es)})
	return nil
}
