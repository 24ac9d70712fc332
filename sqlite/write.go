package sqlite

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Commit writes w: checks and accesses alone to the check log, anything
// else in one transaction, with the groups the log holds before it.
func (s *Store) Commit(ctx context.Context, w *socred.Write) error {
	if s.clog != nil && loggable(w) {
		return s.appendLog(ctx, w)
	}
	return s.commitTx(ctx, w)
}

// commitTx writes w in one transaction, after the check log's pending
// groups.
func (s *Store) commitTx(ctx context.Context, w *socred.Write) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// lmu holds the check log back: nothing is numbered between the groups
	// committed here and w.
	s.lmu.Lock()
	defer s.lmu.Unlock()
	var groups []*logGroup
	if s.clog != nil {
		groups = s.clog.snapshot()
	}
	firstCheck, firstAccess := s.checks.reserve(len(w.Checks)), s.accesses.reserve(len(w.Accesses))
	firstNotice := s.notices.reserve(len(w.Notices))
	var edge, logEdge *audit.Edge
	err := s.writeLocked(ctx, func(conn *sqlite3.Conn) (err error) {
		start := s.edge
		if len(groups) > 0 {
			if logEdge, err = applyGroups(conn, start, groups); err != nil {
				return fmt.Errorf("check log: %w", err)
			}
			if logEdge != nil {
				start = logEdge
			}
		}
		// The log first: it gives records and checks their receipts.
		if edge, err = appendAudit(conn, start, w, firstCheck, firstAccess); err != nil {
			return err
		}
		if err := commit(conn, w, firstCheck, firstAccess); err != nil {
			return err
		}
		if err := insertNotices(conn, w, firstNotice); err != nil {
			return err
		}
		// After the write's own notices, which may describe them too.
		for _, d := range w.PurgeDesignations {
			if err := redactNotices(conn, s.leads, d.ID); err != nil {
				return fmt.Errorf("purge of designation %s: %w", d.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		s.checks.release(firstCheck)
		s.accesses.release(firstAccess)
		s.notices.release(firstNotice)
		return err
	}
	if len(groups) > 0 {
		s.logApplied(groups, logEdge)
	}
	if edge != nil {
		s.edge = edge
		s.auditNext = edge.Size()
	}
	if w.Expire != (socred.Expiry{}) {
		s.checks.expire(w.Expire.Checks)
		s.accesses.expire(w.Expire.Accesses)
	}
	if len(w.Notices) > 0 {
		subjects, ids := make([]string, len(w.Notices)), make([]int64, len(w.Notices))
		for i := range w.Notices {
			subjects[i], ids[i] = w.Notices[i].Subject, firstNotice+int64(i)
		}
		s.notices.add(subjects, ids)
	}
	// Committed: index the new rows by subject.
	if len(w.Records) > 0 {
		subjects, ids := make([]string, len(w.Records)), make([]int64, len(w.Records))
		for i, r := range w.Records {
			subjects[i] = r.Subject
			ids[i], _ = strconv.ParseInt(r.ID, 10, 64)
		}
		sortByID(subjects, ids)
		s.records.add(subjects, ids)
	}
	if len(w.Checks) > 0 {
		subjects, ids := make([]string, len(w.Checks)), make([]int64, len(w.Checks))
		for i := range w.Checks {
			subjects[i], ids[i] = w.Checks[i].Subject, firstCheck+int64(i)
		}
		s.checks.add(subjects, ids)
	}
	if len(w.Accesses) > 0 {
		subjects, ids := make([]string, len(w.Accesses)), make([]int64, len(w.Accesses))
		for i := range w.Accesses {
			subjects[i], ids[i] = w.Accesses[i].Subject, firstAccess+int64(i)
		}
		s.accesses.add(subjects, ids)
	}
	return nil
}

// sortByID sorts subjects and ids together by id.
func sortByID(subjects []string, ids []int64) {
	if slices.IsSorted(ids) {
		return
	}
	idx := make([]int, len(ids))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
	s2, i2 := slices.Clone(subjects), slices.Clone(ids)
	for k, i := range idx {
		subjects[k], ids[k] = s2[i], i2[i]
	}
}

func commit(conn *sqlite3.Conn, w *socred.Write, firstCheck, firstAccess int64) error {
	now := micros(w.Now)
	if w.Seq > 0 {
		if err := appendChange(conn, w); err != nil {
			return err
		}
	}
	for _, sub := range w.Subjects {
		if err := putSubject(conn, sub, now); err != nil {
			return err
		}
	}
	for _, r := range w.Relate {
		stmt := conn.Prep(`INSERT INTO relations (from_id, type, to_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		stmt.BindText(1, r.From)
		stmt.BindText(2, r.Type)
		stmt.BindText(3, r.To)
		stmt.BindInt64(4, now)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("relate: %w", err)
		}
	}
	for _, r := range w.Unrelate {
		stmt := conn.Prep(`DELETE FROM relations WHERE from_id = ? AND type = ? AND to_id = ?`)
		stmt.BindText(1, r.From)
		stmt.BindText(2, r.Type)
		stmt.BindText(3, r.To)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("unrelate: %w", err)
		}
	}
	if err := insertRecords(conn, w.Records); err != nil {
		return err
	}
	for _, d := range w.Designations {
		if err := putDesignation(conn, d, now); err != nil {
			return err
		}
	}
	if err := applyEvents(conn, w.Events); err != nil {
		return err
	}
	if err := insertChecks(conn, w.Checks, firstCheck); err != nil {
		return err
	}
	if err := insertAccesses(conn, w.Accesses, firstAccess); err != nil {
		return err
	}
	for _, t := range w.Tokens {
		acts, _ := json.Marshal(nonNil(t.Actions))
		stmt := conn.Prep(`INSERT INTO tokens (id, hash, role, authority, subject, actions, name, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		stmt.BindText(1, t.ID)
		stmt.BindBytes(2, t.Hash)
		stmt.BindText(3, string(t.Role))
		stmt.BindText(4, t.Authority)
		stmt.BindText(5, t.Subject)
		stmt.BindText(6, string(acts))
		stmt.BindText(7, t.Name)
		stmt.BindInt64(8, micros(t.CreatedAt))
		if err := exec(stmt); err != nil {
			return fmt.Errorf("token: %w", err)
		}
	}
	for _, r := range w.Revoke {
		stmt := conn.Prep(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`)
		stmt.BindInt64(1, micros(r.At))
		stmt.BindText(2, r.ID)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("revoke token %s: %w", r.ID, err)
		}
	}
	for _, a := range w.Appeals {
		stmt := conn.Prep(`INSERT INTO appeals (id, subject, record, list, designation, statement, filed_at, review_due, status, decided_at, decided_by, decider_token, reasons, suspended_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET status = excluded.status, decided_at = excluded.decided_at, decided_by = excluded.decided_by,
				decider_token = excluded.decider_token, reasons = excluded.reasons, suspended_at = excluded.suspended_at`)
		stmt.BindText(1, a.ID)
		stmt.BindText(2, a.Subject)
		stmt.BindText(3, a.Record)
		stmt.BindText(4, a.List)
		stmt.BindText(5, a.Designation)
		stmt.BindText(6, a.Statement)
		stmt.BindInt64(7, micros(a.FiledAt))
		stmt.BindInt64(8, micros(a.ReviewDue))
		stmt.BindText(9, string(a.Status))
		if a.DecidedAt != nil {
			stmt.BindInt64(10, micros(*a.DecidedAt))
		} else {
			stmt.BindNull(10)
		}
		stmt.BindText(11, a.DecidedBy)
		stmt.BindText(12, a.DeciderToken)
		stmt.BindText(13, a.Reasons)
		if a.SuspendedAt != nil {
			stmt.BindInt64(14, micros(*a.SuspendedAt))
		} else {
			stmt.BindNull(14)
		}
		if err := exec(stmt); err != nil {
			return fmt.Errorf("appeal %s: %w", a.ID, err)
		}
	}
	for _, ref := range w.Suspend {
		stmt := conn.Prep(`UPDATE records SET suspended_at = ? WHERE id = ?`)
		stmt.BindInt64(1, now)
		stmt.BindInt64(2, ref.ID)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("suspend %d: %w", ref.ID, err)
		}
	}
	for _, ref := range w.Reinstate {
		stmt := conn.Prep(`UPDATE records SET suspended_at = NULL WHERE id = ?`)
		stmt.BindInt64(1, ref.ID)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("reinstate %d: %w", ref.ID, err)
		}
	}
	for _, r := range w.Repairs {
		ev, _ := json.Marshal(nonNil(r.Evidence))
		stmt := conn.Prep(`INSERT INTO repairs (id, subject, list, designation, route, evidence, statement, filed_at, status, decided_at, decided_by, decider_token, reasons)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET status = excluded.status, decided_at = excluded.decided_at, decided_by = excluded.decided_by,
				decider_token = excluded.decider_token, reasons = excluded.reasons`)
		stmt.BindText(1, r.ID)
		stmt.BindText(2, r.Subject)
		stmt.BindText(3, r.List)
		stmt.BindText(4, r.Designation)
		stmt.BindText(5, r.Route)
		stmt.BindText(6, string(ev))
		stmt.BindText(7, r.Statement)
		stmt.BindInt64(8, micros(r.FiledAt))
		stmt.BindText(9, string(r.Status))
		if r.DecidedAt != nil {
			stmt.BindInt64(10, micros(*r.DecidedAt))
		} else {
			stmt.BindNull(10)
		}
		stmt.BindText(11, r.DecidedBy)
		stmt.BindText(12, r.DeciderToken)
		stmt.BindText(13, r.Reasons)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("repair %s: %w", r.ID, err)
		}
	}
	for _, ref := range w.Overturn {
		stmt := conn.Prep(`UPDATE records SET overturned_at = ? WHERE id = ? AND overturned_at IS NULL`)
		stmt.BindInt64(1, now)
		stmt.BindInt64(2, ref.ID)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("overturn %d: %w", ref.ID, err)
		}
	}
	for _, p := range w.Purges {
		stmt := conn.Prep(`INSERT OR IGNORE INTO purges (at, record, subject) VALUES (?, ?, ?)`)
		stmt.BindInt64(1, micros(p.At))
		stmt.BindInt64(2, p.Record)
		stmt.BindText(3, p.Subject)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("purge: %w", err)
		}
	}
	for _, d := range w.PurgeDesignations {
		if d.PurgedAt == nil {
			return fmt.Errorf("purge of designation %s: no moment", d.ID)
		}
		stmt := conn.Prep(`UPDATE designations SET reason = '', case_ref = '', end_reason = '', purged_at = ? WHERE id = ? AND purged_at IS NULL`)
		stmt.BindInt64(1, micros(*d.PurgedAt))
		stmt.BindText(2, d.ID)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("purge of designation %s: %w", d.ID, err)
		}
		stmt = conn.Prep(`UPDATE listings SET reason = '', case_ref = '' WHERE subject = ? AND designation = ?`)
		stmt.BindText(1, d.Subject)
		stmt.BindText(2, d.ID)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("purge of designation %s: %w", d.ID, err)
		}
	}
	if err := expire(conn, w.Expire); err != nil {
		return err
	}
	for _, e := range w.Erase {
		// The first purge's moment and receipt stay: a record purged twice
		// (two purges fell due) keeps them.
		stmt := conn.Prep(`UPDATE records SET evidence = '', purged_at = COALESCE(purged_at, ?),
			purge_log_index = COALESCE(purge_log_index, ?) WHERE id = ?`)
		stmt.BindInt64(1, now)
		if e.Receipt != nil {
			stmt.BindInt64(2, *e.Receipt)
		} else {
			stmt.BindNull(2)
		}
		id, err := strconv.ParseInt(e.Record.ID, 10, 64)
		if err != nil {
			return fmt.Errorf("purge of record %q: %w", e.Record.ID, err)
		}
		stmt.BindInt64(3, id)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("purge of record %d: %w", id, err)
		}
		if !e.At.IsZero() {
			del := conn.Prep(`DELETE FROM purges WHERE at = ? AND record = ?`)
			del.BindInt64(1, micros(e.At))
			del.BindInt64(2, id)
			if err := exec(del); err != nil {
				return fmt.Errorf("purge of record %d: %w", id, err)
			}
		}
	}
	for _, c := range w.Contacts {
		stmt := conn.Prep(`DELETE FROM contacts WHERE subject = ?`)
		stmt.BindText(1, c.Subject)
		if c.Email != "" {
			stmt = conn.Prep(`INSERT INTO contacts (subject, email, updated_at) VALUES (?, ?, ?)
				ON CONFLICT (subject) DO UPDATE SET email = excluded.email, updated_at = excluded.updated_at`)
			stmt.BindText(1, c.Subject)
			stmt.BindText(2, c.Email)
			stmt.BindInt64(3, now)
		}
		if err := exec(stmt); err != nil {
			return fmt.Errorf("contact: %w", err)
		}
	}
	if w.Settled != nil {
		stmt := conn.Prep(`UPDATE meta SET value = ? WHERE key = 'settled'`)
		stmt.BindInt64(1, micros(*w.Settled))
		if err := exec(stmt); err != nil {
			return fmt.Errorf("settled: %w", err)
		}
	}
	return nil
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func putSubject(conn *sqlite3.Conn, sub *socred.Subject, now int64) error {
	groups, _ := json.Marshal(nonNil(sub.Groups))
	stmt := conn.Prep(`INSERT INTO subjects (id, kind, name, region, groups, created_at, updated_at, registered_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, region = excluded.region,
			groups = excluded.groups, updated_at = excluded.updated_at`)
	stmt.BindText(1, sub.ID)
	stmt.BindText(2, string(sub.Kind))
	stmt.BindText(3, sub.Name)
	stmt.BindText(4, sub.Region)
	stmt.BindText(5, string(groups))
	stmt.BindInt64(6, now)
	stmt.BindInt64(7, now)
	stmt.BindText(8, sub.RegisteredBy)
	if err := exec(stmt); err != nil {
		return fmt.Errorf("subject %s: %w", sub.ID, err)
	}
	return nil
}

// insertRecords appends records with INSERTs of many rows (rowsInsert).
// Measured on 1,000-record writes, INSERTs of 64 rows are about 7% faster
// than stepping a one-row INSERT per record.
func insertRecords(conn *sqlite3.Conn, recs []*socred.Record) error {
	err := recordsInsert.run(conn, len(recs), func(stmt *sqlite3.Stmt, off, i int) error {
		return bindRecord(stmt, off, recs[i])
	})
	if isConstraint(err) {
		return socred.Errorf(socred.ECONFLICT, "a record with one of these keys was stored concurrently; submit the batch again")
	}
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	return nil
}

// recordCols are the columns of one record row, in insert order.
const recordCols = 15

var recordsInsert = newRowsInsert(`INSERT INTO records (id, reporter, key, subject, scheme, rule, points, occurred_at, counts_until,
		evidence, derived_from, derived_subject, derived_relation, accepted_at, log_index)`, recordCols, 64)

// rowsInsert is a table's multi-row INSERT, in statements of per rows,
// per/2, … and one: n rows take n/per statements of per rows and at most
// one of each smaller size for the rest, each prepared once a run — one
// statement step for many rows. (Preparing it again for every step, as the
// connection's cache does, resets it, clears its hundreds of parameters and
// finds its text of several kilobytes in a map.)
type rowsInsert struct {
	cols  int
	sizes []int    // per, per/2, … 1
	sql   []string // the statement of each size
}

func newRowsInsert(head string, cols, per int) *rowsInsert {
	ins := &rowsInsert{cols: cols}
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	for n := per; n > 0; n /= 2 {
		ins.sizes = append(ins.sizes, n)
		ins.sql = append(ins.sql, head+" VALUES "+strings.TrimSuffix(strings.Repeat(row+", ", n), ", "))
	}
	return ins
}

// run inserts n rows: bind binds row i to the cols parameters after the
// first off. Rows are bound in order, each once.
func (ins *rowsInsert) run(conn *sqlite3.Conn, n int, bind func(stmt *sqlite3.Stmt, off, i int) error) error {
	i := 0
	for k, size := range ins.sizes {
		if n-i < size {
			continue
		}
		stmt := conn.Prep(ins.sql[k])
		for ; n-i >= size; i += size {
			for j := range size {
				if err := bind(stmt, j*ins.cols, i+j); err != nil {
					return err
				}
			}
			if err := exec(stmt); err != nil {
				return err
			}
		}
	}
	return nil
}

// bindRecord binds r to the recordCols parameters after the first off.
func bindRecord(stmt *sqlite3.Stmt, off int, r *socred.Record) error {
	id, err := strconv.ParseInt(r.ID, 10, 64)
	if err != nil {
		return fmt.Errorf("record id %q: %w", r.ID, err)
	}
	stmt.BindInt64(off+1, id)
	stmt.BindText(off+2, r.Reporter)
	bindNullText(stmt, off+3, r.Key)
	stmt.BindText(off+4, r.Subject)
	stmt.BindText(off+5, r.Scheme)
	stmt.BindText(off+6, r.Rule)
	stmt.BindInt64(off+7, r.Points)
	stmt.BindInt64(off+8, micros(r.OccurredAt))
	stmt.BindInt64(off+9, micros(r.CountsUntil))
	stmt.BindText(off+10, r.Evidence)
	if d := r.DerivedFrom; d != nil {
		from, err := strconv.ParseInt(d.Record, 10, 64)
		if err != nil {
			return fmt.Errorf("record %s derived from %q: %w", r.ID, d.Record, err)
		}
		stmt.BindInt64(off+11, from)
		stmt.BindText(off+12, d.Subject)
		stmt.BindText(off+13, d.Relation)
	} else {
		stmt.BindNull(off + 11)
		stmt.BindNull(off + 12)
		stmt.BindNull(off + 13)
	}
	stmt.BindInt64(off+14, micros(r.AcceptedAt))
	bindNullInt(stmt, off+15, r.LogIndex)
	return nil
}

func putDesignation(conn *sqlite3.Conn, d *socred.Designation, now int64) error {
	stmt := conn.Prep(`INSERT INTO designations (id, list, subject, authority, reason, case_ref, since, until, ended_at, end_reason, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, case_ref = excluded.case_ref, until = excluded.until, ended_at = excluded.ended_at, end_reason = excluded.end_reason`)
	stmt.BindText(1, d.ID)
	stmt.BindText(2, d.List)
	stmt.BindText(3, d.Subject)
	stmt.BindText(4, d.Authority)
	stmt.BindText(5, d.Reason)
	stmt.BindText(6, d.Case)
	stmt.BindInt64(7, micros(d.Since))
	stmt.BindInt64(8, micros(d.Until))
	bindNullMicros(stmt, 9, d.EndedAt)
	stmt.BindText(10, d.EndReason)
	stmt.BindInt64(11, now)
	if err := exec(stmt); err != nil {
		return fmt.Errorf("designation %s: %w", d.ID, err)
	}
	return nil
}

// applyEvents keeps the listings table in step with the engine's events
// about subjects' own listings. Applying an event twice changes nothing.
func applyEvents(conn *sqlite3.Conn, events []socred.Event) error {
	for i := range events {
		e := &events[i]
		l := e.Listing
		if l == nil || l.Via != nil {
			continue
		}
		var stmt *sqlite3.Stmt
		switch e.Kind {
		case socred.EventListed:
			stmt = conn.Prep(`INSERT INTO listings (subject, list, designation, since, until, reason, case_ref, authority, legal_basis)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
			stmt.BindText(1, e.Subject)
			stmt.BindText(2, l.List)
			stmt.BindText(3, l.Designation)
			stmt.BindInt64(4, micros(l.Since))
			bindNullMicros(stmt, 5, l.Until)
			stmt.BindText(6, l.Reason)
			stmt.BindText(7, l.Case)
			stmt.BindText(8, l.Authority)
			stmt.BindText(9, l.LegalBasis)
		case socred.EventDelisted:
			stmt = conn.Prep(`UPDATE listings SET ended_at = ? WHERE subject = ? AND list = ? AND designation = ? AND ended_at IS NULL`)
			stmt.BindInt64(1, micros(e.At))
			stmt.BindText(2, e.Subject)
			stmt.BindText(3, l.List)
			stmt.BindText(4, l.Designation)
		case socred.EventTermChanged:
			stmt = conn.Prep(`UPDATE listings SET until = ? WHERE subject = ? AND list = ? AND designation = ? AND ended_at IS NULL`)
			bindNullMicros(stmt, 1, l.Until)
			stmt.BindText(2, e.Subject)
			stmt.BindText(3, l.List)
			stmt.BindText(4, l.Designation)
		default:
			continue
		}
		if err := exec(stmt); err != nil {
			return fmt.Errorf("listing %s of %s: %w", l.List, e.Subject, err)
		}
	}
	return nil
}

func insertChecks(conn *sqlite3.Conn, cs []socred.CheckEntry, first int64) error {
	return insertCheckRuns(conn, []checkRun{{first: first, checks: cs}})
}

// checkRun is checks with consecutive ids from first.
type checkRun struct {
	first  int64
	checks []socred.CheckEntry
}

// insertCheckRuns appends the checks of runs, in order, with INSERTs of
// many rows (rowsInsert), as for records. The drain writes a few hundred
// groups of a few dozen checks at a time.
func insertCheckRuns(conn *sqlite3.Conn, runs []checkRun) error {
	left := 0
	for _, r := range runs {
		left += len(r.checks)
	}
	run, k := 0, 0 // the next check to bind: runs[run].checks[k]
	err := checksInsert.run(conn, left, func(stmt *sqlite3.Stmt, off, _ int) error {
		for k == len(runs[run].checks) {
			run, k = run+1, 0
		}
		r := &runs[run]
		bindCheck(stmt, off, r.first+int64(k), &r.checks[k])
		k++
		return nil
	})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return nil
}

// checkCols are the columns of one check row, in insert order.
const checkCols = 9

var checksInsert = newRowsInsert(`INSERT INTO checks (id, subject, at, by, token_id, action, purpose, allowed, log_index)`, checkCols, 32)

// bindCheck binds check c, numbered id, to the checkCols parameters after
// the first off.
func bindCheck(stmt *sqlite3.Stmt, off int, id int64, c *socred.CheckEntry) {
	stmt.BindInt64(off+1, id)
	stmt.BindText(off+2, c.Subject)
	stmt.BindInt64(off+3, micros(c.At))
	stmt.BindText(off+4, c.By)
	stmt.BindText(off+5, c.TokenID)
	stmt.BindText(off+6, c.Action)
	stmt.BindText(off+7, c.Purpose)
	stmt.BindBool(off+8, c.Allowed)
	bindNullInt(stmt, off+9, c.LogIndex)
}

func insertAccesses(conn *sqlite3.Conn, as []socred.Access, first int64) error {
	if len(as) == 0 {
		return nil
	}
	stmt := conn.Prep(`INSERT INTO accesses (id, subject, at, by, role, token_id, purpose, log_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	for i := range as {
		a := &as[i]
		stmt.BindInt64(1, first+int64(i))
		stmt.BindText(2, a.Subject)
		stmt.BindInt64(3, micros(a.At))
		stmt.BindText(4, a.By)
		stmt.BindText(5, string(a.Role))
		stmt.BindText(6, a.TokenID)
		stmt.BindText(7, a.Purpose)
		bindNullInt(stmt, 8, a.LogIndex)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("access: %w", err)
		}
	}
	return nil
}

// ReserveIDs reserves n record ids.
func (s *Store) ReserveIDs(ctx context.Context, n int) (int64, error) {
	var first int64
	err := s.write(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`UPDATE meta SET value = value + ?1 WHERE key = 'next_record_id' RETURNING value - ?1`)
		stmt.BindInt64(1, int64(n))
		var err error
		first, err = sqlitex.ResultInt64(stmt)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reserve ids: %w", err)
	}
	return first, nil
}

// appendChange stores w as change w.Seq of the feed, or returns
// socred.ErrStale when the last change stored is not w.Seq-1.
func appendChange(conn *sqlite3.Conn, w *socred.Write) error {
	last, err := sqlitex.ResultInt64(conn.Prep(`SELECT value FROM meta WHERE key = 'feed_seq'`))
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	if last != w.Seq-1 {
		return fmt.Errorf("change %d after %d: %w", w.Seq, last, socred.ErrStale)
	}
	body, err := socred.ChangeBody(w)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	stmt := conn.Prep(`INSERT INTO changes (seq, at, body) VALUES (?, ?, ?)`)
	stmt.BindInt64(1, w.Seq)
	stmt.BindInt64(2, micros(w.Now))
	stmt.BindBytes(3, body)
	if err := exec(stmt); err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	stmt = conn.Prep(`UPDATE meta SET value = ? WHERE key = 'feed_seq'`)
	stmt.BindInt64(1, w.Seq)
	if err := exec(stmt); err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	// The feed serves servers that are running; a day of it is plenty.
	// Each change removes a few of the oldest, which keeps up.
	stmt = conn.Prep(`DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE seq < ? ORDER BY seq LIMIT 4) AND at < ?`)
	stmt.BindInt64(1, w.Seq)
	stmt.BindInt64(2, micros(w.Now.Add(-socred.FeedRetention)))
	if err := exec(stmt); err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	return nil
}

// insertNotices appends notices with INSERTs of many rows (rowsInsert), as
// insertRecords does, and keeps the leads their bodies name.
func insertNotices(conn *sqlite3.Conn, w *socred.Write, first int64) error {
	ns := w.Notices
	if len(w.NoticeBodies) == len(ns) {
		for _, l := range w.NoticeLeads {
			stmt := conn.Prep(`INSERT OR IGNORE INTO notice_leads (id, lead) VALUES (?, ?)`)
			stmt.BindInt64(1, l.Ref)
			stmt.BindText(2, l.Text)
			if err := exec(stmt); err != nil {
				return fmt.Errorf("notice lead: %w", err)
			}
		}
	}
	err := noticesInsert.run(conn, len(ns), func(stmt *sqlite3.Stmt, o, i int) error {
		nt := &ns[i]
		var body []byte
		if len(w.NoticeBodies) == len(ns) {
			body = w.NoticeBodies[i]
		} else {
			var err error
			if body, err = socred.EncodeNotice(*nt); err != nil {
				return err
			}
		}
		stmt.BindInt64(o+1, first+int64(i))
		stmt.BindText(o+2, nt.Subject)
		stmt.BindInt64(o+3, micros(nt.At))
		stmt.BindBytes(o+4, body)
		stmt.BindBool(o+5, w.Deliver)
		return nil
	})
	if err != nil {
		return fmt.Errorf("notice: %w", err)
	}
	// The notices that describe a designated entry, for the purge of its
	// text (redactNotices).
	for i := range ns {
		for _, d := range socred.NoticeDesignations(&ns[i]) {
			stmt := conn.Prep(`INSERT OR IGNORE INTO notice_designations (designation, notice) VALUES (?, ?)`)
			stmt.BindText(1, d)
			stmt.BindInt64(2, first+int64(i))
			if err := exec(stmt); err != nil {
				return fmt.Errorf("notice: %w", err)
			}
		}
	}
	return nil
}

// redactNotices clears designation d's reason, case and end reason from
// every notice that describes an entry of it (socred.RedactNotice): the
// subject's own and those of subjects it reached through a relation.
func redactNotices(conn *sqlite3.Conn, leads *socred.NoticeLeads, d string) error {
	var ns []socred.Notice
	stmt := conn.Prep(`SELECT n.id, n.subject, n.at, n.body FROM notice_designations x JOIN notices n ON n.id = x.notice WHERE x.designation = ?`)
	stmt.BindText(1, d)
	err := each(stmt, func(stmt *sqlite3.Stmt) error {
		n, err := scanNotice(stmt, leads)
		ns = append(ns, n)
		return err
	})
	if err != nil {
		return fmt.Errorf("notices of designation %s: %w", d, err)
	}
	for i := range ns {
		n := &ns[i]
		if !socred.RedactNotice(n, d) {
			continue
		}
		body, err := socred.EncodeNotice(*n)
		if err != nil {
			return fmt.Errorf("notice %d: %w", n.ID, err)
		}
		stmt := conn.Prep(`UPDATE notices SET body = ? WHERE id = ?`)
		stmt.BindBytes(1, body)
		stmt.BindInt64(2, n.ID)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("notice %d: %w", n.ID, err)
		}
	}
	stmt = conn.Prep(`DELETE FROM notice_designations WHERE designation = ?`)
	stmt.BindText(1, d)
	if err := exec(stmt); err != nil {
		return fmt.Errorf("notices of designation %s: %w", d, err)
	}
	return nil
}

var noticesInsert = newRowsInsert(`INSERT INTO notices (id, subject, at, body, pending)`, 5, 32)

// expire deletes the checks and accesses e names, and keeps the last id
// deleted of each (meta checks_expired, accesses_expired): ids are never
// given again below it, though the table be left empty.
func expire(conn *sqlite3.Conn, e socred.Expiry) error {
	for _, t := range []struct {
		table string
		last  int64
	}{{"checks", e.Checks}, {"accesses", e.Accesses}} {
		if t.last <= 0 {
			continue
		}
		stmt := conn.Prep(`DELETE FROM ` + t.table + ` WHERE id <= ?`)
		stmt.BindInt64(1, t.last)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("expire %s: %w", t.table, err)
		}
		stmt = conn.Prep(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)`)
		stmt.BindText(1, t.table+"_expired")
		stmt.BindInt64(2, t.last)
		if err := exec(stmt); err != nil {
			return fmt.Errorf("expire %s: %w", t.table, err)
		}
	}
	return nil
}
