package api

import (
	"net/http"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// createToken handles POST /v1/tokens.
func (a *API) createToken(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	var in service.TokenInput
	if err := decode(r, &in); err != nil {
		return err
	}
	tok, err := a.svc.CreateToken(r.Context(), c, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tok)
	return nil
}

// revokeToken handles DELETE /v1/tokens/{id}.
func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	t, err := a.svc.RevokeToken(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// subjectInput is the body of PUT /v1/subjects/{id}. The id comes from the
// path; a body may repeat it (a subject read back and put again) but not
// contradict it.
type subjectInput struct {
	ID     string             `json:"id"`
	Kind   socred.SubjectKind `json:"kind"`
	Name   string             `json:"name"`
	Region string             `json:"region"`
	Groups []string           `json:"groups"`
}

// putSubject handles PUT /v1/subjects/{id}: 201 when the subject is new,
// 200 when it replaced (or equalled) one.
func (a *API) putSubject(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	var in subjectInput
	if err := decode(r, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	if in.ID != "" && in.ID != id {
		return socred.FieldErrorf("id", "%q differs from the id in the path, %q", in.ID, id)
	}
	sub := &socred.Subject{ID: id, Kind: in.Kind, Name: in.Name, Region: in.Region, Groups: in.Groups}
	created, err := a.svc.PutSubject(r.Context(), c, sub)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, subjectView(sub))
	return nil
}

// getSubject handles GET /v1/subjects/{id}.
func (a *API) getSubject(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	sub, err := a.svc.Subject(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, subjectView(sub))
	return nil
}

// getFile handles GET /v1/subjects/{id}/file?purpose=.
func (a *API) getFile(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	f, err := a.svc.File(r.Context(), c, r.PathValue("id"), r.URL.Query().Get("purpose"))
	if err != nil {
		return err
	}
	v := *f
	v.Subject = subjectView(f.Subject)
	v.Scores = orEmpty(v.Scores)
	v.Records = orEmpty(v.Records)
	v.Listings = orEmpty(v.Listings)
	v.Relations = orEmpty(v.Relations)
	v.Checks = orEmpty(v.Checks)
	v.Accesses = orEmpty(v.Accesses)
	v.Appeals = orEmpty(v.Appeals)
	v.Notices = orEmpty(v.Notices)
	v.Repairs = orEmpty(v.Repairs)
	writeJSON(w, http.StatusOK, &v)
	return nil
}

// subjectView returns a copy of s whose groups are never null.
func subjectView(s *socred.Subject) *socred.Subject {
	if s == nil {
		return nil
	}
	v := *s
	v.Groups = orEmpty(v.Groups)
	return &v
}

// relate handles PUT /v1/relations: 201 when the relation is new, 200 when
// it existed.
func (a *API) relate(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	var in socred.Relation
	if err := decode(r, &in); err != nil {
		return err
	}
	created, err := a.svc.Relate(r.Context(), c, in)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, in)
	return nil
}

// unrelate handles DELETE /v1/relations.
func (a *API) unrelate(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	var in socred.Relation
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := a.svc.Unrelate(r.Context(), c, in); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}

// putContact handles PUT /v1/subjects/{id}/contact.
func (a *API) putContact(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	var in struct {
		Email string `json:"email"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	ct := socred.Contact{Subject: r.PathValue("id"), Email: in.Email}
	if err := a.svc.SetContact(r.Context(), c, ct); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ct)
	return nil
}

// exportFile handles GET /v1/subjects/{id}/export.
func (a *API) exportFile(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	x, err := a.svc.Export(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := *x
	v.Subject = subjectView(x.Subject)
	v.Scores, v.Listings, v.Relations = orEmpty(v.Scores), orEmpty(v.Listings), orEmpty(v.Relations)
	v.Recipients.Checks, v.Recipients.Accesses = orEmpty(v.Recipients.Checks), orEmpty(v.Recipients.Accesses)
	v.Notices = orEmpty(v.Notices)
	w.Header().Set("Content-Disposition", `attachment; filename="socred-`+x.Subject.ID+`.json"`)
	writeJSON(w, http.StatusOK, &v)
	return nil
}

// fileAppeal handles POST /v1/appeals.
func (a *API) fileAppeal(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	var in service.AppealInput
	if err := decode(r, &in); err != nil {
		return err
	}
	ap, err := a.svc.FileAppeal(r.Context(), c, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ap)
	return nil
}

// decideAppeal handles POST /v1/appeals/{id}/decision.
func (a *API) decideAppeal(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	var in service.DecisionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	ap, err := a.svc.DecideAppeal(r.Context(), c, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ap)
	return nil
}

// applyRepair handles POST /v1/repairs.
func (a *API) applyRepair(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	var in service.RepairInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rp, err := a.svc.ApplyRepair(r.Context(), c, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rp)
	return nil
}

// decideRepair handles POST /v1/repairs/{id}/decision.
func (a *API) decideRepair(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	var in service.RepairDecisionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rp, err := a.svc.DecideRepair(r.Context(), c, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rp)
	return nil
}

type appealsOutput struct {
	Appeals []*socred.Appeal `json:"appeals"`
}

type repairsOutput struct {
	Repairs []*socred.Repair `json:"repairs"`
}

// openAppeals handles GET /v1/appeals: the appeals not yet decided.
func (a *API) openAppeals(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	as, err := a.svc.OpenAppeals(r.Context(), c, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, appealsOutput{Appeals: orEmpty(as)})
	return nil
}

// getAppeal handles GET /v1/appeals/{id}.
func (a *API) getAppeal(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	ap, err := a.svc.Appeal(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ap)
	return nil
}

// pendingRepairs handles GET /v1/repairs: the applications not yet decided.
func (a *API) pendingRepairs(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	rs, err := a.svc.PendingRepairs(r.Context(), c, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, repairsOutput{Repairs: orEmpty(rs)})
	return nil
}

// getRepair handles GET /v1/repairs/{id}.
func (a *API) getRepair(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	rp, err := a.svc.Repair(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rp)
	return nil
}
