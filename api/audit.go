package api

import (
	"net/http"
	"strconv"

	"github.com/socred/socred"
)

// auditCheckpoint handles GET /v1/audit/checkpoint: the log's latest
// checkpoint, a signed note in the C2SP tlog-checkpoint format, to save
// and check later with `socred audit verify --url URL --checkpoint FILE`.
func (a *API) auditCheckpoint(w http.ResponseWriter, r *http.Request, _ *socred.Caller) error {
	cp, err := a.svc.AuditCheckpoint(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(cp.Note) // #nosec G104 -- the status is sent; a failed write means the client went away
	return nil
}

// auditKey handles GET /v1/audit/key: the verifier key of the log's
// checkpoints.
func (a *API) auditKey(w http.ResponseWriter, r *http.Request, _ *socred.Caller) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(a.svc.AuditVerifier() + "\n")) // #nosec G104 -- the status is sent; a failed write means the client went away
	return nil
}

// auditProof handles GET /v1/audit/proof/{index}?size=N: the inclusion
// proof of an entry (a receipt's log_index) in the log of N entries, by
// default the size of the latest checkpoint.
func (a *API) auditProof(w http.ResponseWriter, r *http.Request, _ *socred.Caller) error {
	index, err := strconv.ParseInt(r.PathValue("index"), 10, 64)
	if err != nil || index < 0 {
		return socred.FieldErrorf("index", "must be a non-negative integer, not %q", r.PathValue("index"))
	}
	var size int64
	if s := r.URL.Query().Get("size"); s != "" {
		if size, err = strconv.ParseInt(s, 10, 64); err != nil || size < 1 {
			return socred.FieldErrorf("size", "must be a positive integer, not %q", s)
		}
	}
	p, err := a.svc.AuditProof(r.Context(), index, size)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// auditConsistency handles GET /v1/audit/consistency?from=N&to=M: the
// proof that the log of N entries is a prefix of the log of M entries.
func (a *API) auditConsistency(w http.ResponseWriter, r *http.Request, _ *socred.Caller) error {
	q := r.URL.Query()
	var n [2]int64
	for i, name := range []string{"from", "to"} {
		s := q.Get(name)
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 1 {
			return socred.FieldErrorf(name, "must be a positive integer, not %q", s)
		}
		n[i] = v
	}
	p, err := a.svc.AuditConsistency(r.Context(), n[0], n[1])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}
