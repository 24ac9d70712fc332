package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/socred/socred"
)

// Commit writes w in one transaction.
func (s *Store) Commit(ctx context.Context, w *socred.Write) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	firstCheck, firstAccess := s.checks.reserve(len(w.Checks)), s.accesses.reserve(len(w.Accesses))
	if err := s.commit(ctx, w, firstCheck, firstAccess); err != nil {
		s.checks.release(firstCheck)
		s.accesses.release(firstAccess)
		return err
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

func (s *Store) commit(ctx context.Context, w *socred.Write, firstCheck, firstAccess int64) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	now := micros(w.Now)
	for _, sub := range w.Subjects {
		if err := putSubject(ctx, tx, sub, now); err != nil {
			return err
		}
	}
	for _, r := range w.Relate {
		if _, err := tx.ExecContext(ctx, `INSERT INTO relations (from_id, type, to_id, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, r.From, r.Type, r.To, now); err != nil {
			return fmt.Errorf("relate: %w", err)
		}
	}
	for _, r := range w.Unrelate {
		if _, err := tx.ExecContext(ctx, `DELETE FROM relations WHERE from_id = ? AND type = ? AND to_id = ?`, r.From, r.Type, r.To); err != nil {
			return fmt.Errorf("unrelate: %w", err)
		}
	}
	if err := insertRecords(ctx, tx, w.Records); err != nil {
		return err
	}
	for _, d := range w.Designations {
		if err := putDesignation(ctx, tx, d, now); err != nil {
			return err
		}
	}
	if err := applyEvents(ctx, tx, w.Events); err != nil {
		return err
	}
	if err := insertChecks(ctx, tx, w.Checks, firstCheck); err != nil {
		return err
	}
	if err := insertAccesses(ctx, tx, w.Accesses, firstAccess); err != nil {
		return err
	}
	for _, t := range w.Tokens {
		acts, _ := json.Marshal(nonNil(t.Actions))
		if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, hash, role, authority, subject, actions, name, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, t.Hash, string(t.Role), t.Authority, t.Subject, string(acts), t.Name, micros(t.CreatedAt)); err != nil {
			return fmt.Errorf("token: %w", err)
		}
	}
	if w.Settled != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'settled'`, micros(*w.Settled)); err != nil {
			return fmt.Errorf("settled: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func putSubject(ctx context.Context, tx *sql.Tx, sub *socred.Subject, now int64) error {
	groups, _ := json.Marshal(nonNil(sub.Groups))
	_, err := tx.ExecContext(ctx, `INSERT INTO subjects (id, kind, name, region, groups, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, region = excluded.region,
			groups = excluded.groups, updated_at = excluded.updated_at`,
		sub.ID, string(sub.Kind), sub.Name, sub.Region, string(groups), now, now)
	if err != nil {
		return fmt.Errorf("subject %s: %w", sub.ID, err)
	}
	return nil
}

// recordCols are the columns of one record row, in insert order.
const recordCols = 14

// insertRecords appends records with multi-row statements.
func insertRecords(ctx context.Context, tx *sql.Tx, recs []*socred.Record) error {
	const perStmt = 64
	var full *sql.Stmt
	args := make([]any, 0, perStmt*recordCols)
	for start := 0; start < len(recs); start += perStmt {
		chunk := recs[start:min(start+perStmt, len(recs))]
		args = args[:0]
		for _, r := range chunk {
			var key, dsub, drel any
			var dfrom any
			if r.Key != "" {
				key = r.Key
			}
			if d := r.DerivedFrom; d != nil {
				dfrom, dsub, drel = d.Record, d.Subject, d.Relation
			}
			args = append(args, r.ID, r.Reporter, key, r.Subject, r.Scheme, r.Rule, r.Points,
				micros(r.OccurredAt), micros(r.CountsUntil), r.Evidence, dfrom, dsub, drel, micros(r.AcceptedAt))
		}
		var err error
		if len(chunk) == perStmt {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, recordInsert(perStmt)); err != nil {
					return fmt.Errorf("records: %w", err)
				}
				defer full.Close()
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, recordInsert(len(chunk)), args...)
		}
		if err != nil {
			if isConstraint(err) {
				return socred.Errorf(socred.ECONFLICT, "a record with one of these keys was stored concurrently; submit the batch again")
			}
			return fmt.Errorf("records: %w", err)
		}
	}
	return nil
}

func recordInsert(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO records (id, reporter, key, subject, scheme, rule, points, occurred_at, counts_until,
		evidence, derived_from, derived_subject, derived_relation, accepted_at) VALUES `)
	row := "(" + strings.Repeat("?, ", recordCols-1) + "?)"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

func putDesignation(ctx context.Context, tx *sql.Tx, d *socred.Designation, now int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO designations (id, list, subject, authority, reason, case_ref, since, until, ended_at, end_reason, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET until = excluded.until, ended_at = excluded.ended_at, end_reason = excluded.end_reason`,
		d.ID, d.List, d.Subject, d.Authority, d.Reason, d.Case, micros(d.Since), micros(d.Until), nullMicros(d.EndedAt), d.EndReason, now)
	if err != nil {
		return fmt.Errorf("designation %s: %w", d.ID, err)
	}
	return nil
}

// applyEvents keeps the listings table in step with the engine's events
// about subjects' own listings. Applying an event twice changes nothing.
func applyEvents(ctx context.Context, tx *sql.Tx, events []socred.Event) error {
	for i := range events {
		e := &events[i]
		l := e.Listing
		if l == nil || l.Via != nil {
			continue
		}
		var err error
		switch e.Kind {
		case socred.EventListed:
			_, err = tx.ExecContext(ctx, `INSERT INTO listings (subject, list, designation, since, until, reason, case_ref, authority, legal_basis)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				e.Subject, l.List, l.Designation, micros(l.Since), nullMicros(l.Until), l.Reason, l.Case, l.Authority, l.LegalBasis)
		case socred.EventDelisted:
			_, err = tx.ExecContext(ctx, `UPDATE listings SET ended_at = ? WHERE subject = ? AND list = ? AND designation = ? AND ended_at IS NULL`,
				micros(e.At), e.Subject, l.List, l.Designation)
		case socred.EventTermChanged:
			_, err = tx.ExecContext(ctx, `UPDATE listings SET until = ? WHERE subject = ? AND list = ? AND designation = ? AND ended_at IS NULL`,
				nullMicros(l.Until), e.Subject, l.List, l.Designation)
		}
		if err != nil {
			return fmt.Errorf("listing %s of %s: %w", l.List, e.Subject, err)
		}
	}
	return nil
}

func insertChecks(ctx context.Context, tx *sql.Tx, cs []socred.CheckEntry, first int64) error {
	if len(cs) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO checks (id, subject, at, by, token_id, action, purpose, allowed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i, c := range cs {
		if _, err := stmt.ExecContext(ctx, first+int64(i), c.Subject, micros(c.At), c.By, c.TokenID, c.Action, c.Purpose, c.Allowed); err != nil {
			return fmt.Errorf("check: %w", err)
		}
	}
	return nil
}

func insertAccesses(ctx context.Context, tx *sql.Tx, as []socred.Access, first int64) error {
	for i, a := range as {
		if _, err := tx.ExecContext(ctx, `INSERT INTO accesses (id, subject, at, by, role, token_id, purpose) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			first+int64(i), a.Subject, micros(a.At), a.By, string(a.Role), a.TokenID, a.Purpose); err != nil {
			return fmt.Errorf("access: %w", err)
		}
	}
	return nil
}

// ReserveIDs reserves n record ids.
func (s *Store) ReserveIDs(ctx context.Context, n int) (int64, error) {
	var first int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `UPDATE meta SET value = value + ? WHERE key = 'next_record_id' RETURNING value - ?`, n, n).Scan(&first)
	})
	if err != nil {
		return 0, fmt.Errorf("reserve ids: %w", err)
	}
	return first, nil
}
