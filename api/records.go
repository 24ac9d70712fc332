package api

import (
	"net/http"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// recordsInput is the body of POST /v1/records.
type recordsInput struct {
	Records []socred.RecordInput `json:"records"`
}

// recordsOutput is the answer of POST /v1/records.
type recordsOutput struct {
	Records []service.RecordResult `json:"records"`
}

// submitRecords handles POST /v1/records.
func (a *API) submitRecords(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	var in recordsInput
	if err := decode(r, &in); err != nil {
		return err
	}
	results, err := a.svc.SubmitRecords(r.Context(), c, in.Records)
	if err != nil {
		return err
	}
	a.metrics.recordsIngested(results)
	for i := range results {
		results[i].Derived = orEmpty(results[i].Derived)
	}
	writeJSON(w, http.StatusOK, recordsOutput{Records: orEmpty(results)})
	return nil
}

// check handles POST /v1/checks.
func (a *API) check(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	var in service.CheckInput
	if err := decode(r, &in); err != nil {
		return err
	}
	d, err := a.svc.Check(r.Context(), c, in)
	if err != nil {
		return err
	}
	a.metrics.checked(d)
	d.Reasons = orEmpty(d.Reasons)
	writeDecision(w, &d)
	return nil
}
