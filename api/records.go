package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// recordsInput is the body of POST /v1/records.
type recordsInput struct {
	Records []recordInput `json:"records"`
}

// recordInput is one record of the body: socred.RecordInput, with a time
// read as RFC 3339 has it.
type recordInput struct {
	Key        string  `json:"key"`
	Subject    string  `json:"subject"`
	Scheme     string  `json:"scheme"`
	Rule       string  `json:"rule"`
	OccurredAt rfc3339 `json:"occurred_at"`
	Evidence   string  `json:"evidence"`
}

func (r *recordInput) input() socred.RecordInput {
	return socred.RecordInput{Key: r.Key, Subject: r.Subject, Scheme: r.Scheme, Rule: r.Rule,
		OccurredAt: time.Time(r.OccurredAt), Evidence: r.Evidence}
}

func inputs(recs []recordInput) []socred.RecordInput {
	out := make([]socred.RecordInput, len(recs))
	for i := range recs {
		out[i] = recs[i].input()
	}
	return out
}

// rfc3339 is a time in JSON as RFC 3339 writes it: time.Time's JSON
// reading, which also takes the lower-case "t" and "z" that RFC 3339
// allows (its section 5.6: "2026-01-02t03:04:05z").
type rfc3339 time.Time

func (t *rfc3339) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' && bytes.ContainsAny(data, "tz") {
		data = bytes.ToUpper(data)
	}
	return (*time.Time)(t).UnmarshalJSON(data)
}

// recordsOutput is the answer of POST /v1/records.
type recordsOutput struct {
	Records []service.RecordResult `json:"records"`
}

// submitRecords handles POST /v1/records.
func (a *API) submitRecords(w http.ResponseWriter, r *http.Request, c *socred.Caller) error {
	data, err := body(r)
	if err != nil {
		if len(data) > MaxBody {
			return notABatch(err)
		}
		return err
	}
	var in recordsInput
	if err := unmarshal(data, &in); err != nil {
		if len(data) > MaxBody {
			// Too many records is the first reason, as it is for a body
			// within 1 MiB (firstBadRecord).
			if raw, ok := rawRecords(data); ok {
				if berr := service.BatchSize(len(raw)); berr != nil {
					err = berr
				}
			}
			return notABatch(err)
		}
		return a.firstBadRecord(r.Context(), c, data, err)
	}
	if len(data) > MaxBody {
		if err := service.BatchSize(len(in.Records)); err != nil {
			return notABatch(err)
		}
	}
	results, err := a.svc.SubmitRecords(r.Context(), c, inputs(in.Records))
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

// notABatch is the answer to a body over 1 MiB, which API.md refuses with
// 413 unless an endpoint says otherwise, that is not a well-formed batch of
// at most MaxBatch records, the one thing a larger body of this endpoint
// may be: err is why it is not.
func notABatch(err error) error {
	e := &socred.Error{Code: socred.ETOOLARGE, Message: err.Error()}
	var se *socred.Error
	if errors.As(err, &se) {
		e.Field, e.Message = se.Field, se.Message
	}
	e.Message += " (a body over " + byteSize(MaxBody) + " is refused unless it is a well-formed batch of at most " +
		strconv.Itoa(service.MaxBatch) + " records)"
	return e
}

// firstBadRecord returns the error of the first bad record of a batch the
// JSON decoder refused with err: an earlier record the service refuses (an
// unknown subject, say) comes before the one the decoder named.
func (a *API) firstBadRecord(ctx context.Context, c *socred.Caller, data []byte, err error) error {
	var e *socred.Error
	if !errors.As(err, &e) {
		return err
	}
	index, ok := strings.CutPrefix(e.Field, "records[")
	if end := strings.IndexByte(index, ']'); ok && end > 0 {
		index = index[:end]
	} else {
		return err
	}
	k, perr := strconv.Atoi(index)
	if perr != nil || k <= 0 {
		return err
	}
	raw, ok := rawRecords(data)
	if !ok || len(raw) <= k {
		return err
	}
	if berr := service.BatchSize(len(raw)); berr != nil {
		return berr
	}
	earlier := make([]recordInput, k)
	for i := range earlier {
		if unmarshal(raw[i], &earlier[i]) != nil {
			return err
		}
	}
	if verr := a.svc.ValidateRecords(ctx, c, inputs(earlier)); verr != nil {
		return verr
	}
	return err
}

// rawRecords returns the records of a batch the decoder refused, each
// undecoded, if the body is an object whose records are an array.
func rawRecords(data []byte) ([]json.RawMessage, bool) {
	var raw struct{ Records []json.RawMessage }
	if json.Unmarshal(data, &raw) != nil {
		return nil, false
	}
	return raw.Records, true
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
