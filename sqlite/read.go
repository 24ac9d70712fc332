package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/socred/socred"
)

func notFound(format string, args ...any) error {
	return socred.Errorf(socred.ENOTFOUND, format, args...)
}

// Subject returns a subject.
func (s *Store) Subject(ctx context.Context, id string) (*socred.Subject, error) {
	var sub socred.Subject
	var kind, groups string
	err := s.r.QueryRowContext(ctx, `SELECT id, kind, name, region, groups FROM subjects WHERE id = ?`, id).
		Scan(&sub.ID, &kind, &sub.Name, &sub.Region, &groups)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("subject %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	sub.Kind = socred.SubjectKind(kind)
	if err := json.Unmarshal([]byte(groups), &sub.Groups); err != nil {
		return nil, fmt.Errorf("subject %s groups: %w", id, err)
	}
	return &sub, nil
}

// Relations returns the relations from or to a subject.
func (s *Store) Relations(ctx context.Context, subject string) ([]socred.Relation, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT from_id, type, to_id FROM relations WHERE from_id = ?
		UNION SELECT from_id, type, to_id FROM relations WHERE to_id = ? ORDER BY 1, 2, 3`, subject, subject)
	if err != nil {
		return nil, fmt.Errorf("relations: %w", err)
	}
	defer rows.Close()
	out := []socred.Relation{}
	for rows.Next() {
		var r socred.Relation
		if err := rows.Scan(&r.From, &r.Type, &r.To); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const recordSelect = `SELECT id, reporter, COALESCE(key, ''), subject, scheme, rule, points, occurred_at, counts_until,
	evidence, derived_from, COALESCE(derived_subject, ''), COALESCE(derived_relation, ''), accepted_at, overturned_at FROM records`

func scanRecord(rows *sql.Rows) (*socred.Record, error) {
	var r socred.Record
	var id int64
	var occurred, until, accepted int64
	var dfrom, overturned sql.NullInt64
	var dsub, drel string
	if err := rows.Scan(&id, &r.Reporter, &r.Key, &r.Subject, &r.Scheme, &r.Rule, &r.Points, &occurred, &until,
		&r.Evidence, &dfrom, &dsub, &drel, &accepted, &overturned); err != nil {
		return nil, err
	}
	r.ID = itoa64(id)
	r.OccurredAt, r.CountsUntil, r.AcceptedAt = fromMicros(occurred), fromMicros(until), fromMicros(accepted)
	if dfrom.Valid {
		r.DerivedFrom = &socred.Derivation{Record: itoa64(dfrom.Int64), Subject: dsub, Relation: drel}
	}
	r.Overturned = overturned.Valid
	return &r, nil
}

// RecordsByKey returns a reporter's records with the given keys.
func (s *Store) RecordsByKey(ctx context.Context, reporter string, keys []string) (map[string]*socred.Record, error) {
	out := make(map[string]*socred.Record)
	const chunk = 500
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(start+chunk, len(keys))]
		args := make([]any, 0, len(part)+1)
		args = append(args, reporter)
		for _, k := range part {
			args = append(args, k)
		}
		rows, err := s.r.QueryContext(ctx, recordSelect+` WHERE reporter = ? AND key IN (?`+strings.Repeat(", ?", len(part)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("records by key: %w", err)
		}
		for rows.Next() {
			r, err := scanRecord(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[r.Key] = r
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SubjectRecords returns a subject's records, oldest first.
func (s *Store) SubjectRecords(ctx context.Context, subject string) ([]*socred.Record, error) {
	ids, err := s.records.ids(ctx, s.r, subject)
	if err != nil {
		return nil, err
	}
	out := make([]*socred.Record, 0, len(ids))
	err = byIDs(ctx, s.r, recordSelect, ids, func(rows *sql.Rows) error {
		r, err := scanRecord(rows)
		if err == nil {
			out = append(out, r)
		}
		return err
	})
	return out, err
}

// byIDs runs query (a SELECT without WHERE) for the ids, in order, calling
// scan for every row.
func byIDs(ctx context.Context, db *sql.DB, query string, ids []int64, scan func(*sql.Rows) error) error {
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		order := "ASC"
		if len(part) > 1 && part[0] > part[1] {
			order = "DESC"
		}
		rows, err := db.QueryContext(ctx, query+` WHERE id IN (?`+strings.Repeat(", ?", len(part)-1)+`) ORDER BY id `+order, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}

// newest returns the page of ids, newest first.
func newest(ids []int64, p socred.Page) []int64 {
	lim, off := limit(p)
	slices.Reverse(ids)
	if off >= len(ids) {
		return nil
	}
	return ids[off:min(off+lim, len(ids))]
}

const designationSelect = `SELECT id, list, subject, authority, reason, case_ref, since, until, ended_at, end_reason FROM designations`

func scanDesignation(sc interface{ Scan(...any) error }) (*socred.Designation, error) {
	var d socred.Designation
	var since, until int64
	var ended sql.NullInt64
	if err := sc.Scan(&d.ID, &d.List, &d.Subject, &d.Authority, &d.Reason, &d.Case, &since, &until, &ended, &d.EndReason); err != nil {
		return nil, err
	}
	d.Since, d.Until, d.EndedAt = fromMicros(since), fromMicros(until), fromNullMicros(ended)
	return &d, nil
}

// SubjectDesignations returns every designation of a subject.
func (s *Store) SubjectDesignations(ctx context.Context, subject string) ([]*socred.Designation, error) {
	rows, err := s.r.QueryContext(ctx, designationSelect+` WHERE subject = ? ORDER BY since, id`, subject)
	if err != nil {
		return nil, fmt.Errorf("designations: %w", err)
	}
	defer rows.Close()
	out := []*socred.Designation{}
	for rows.Next() {
		d, err := scanDesignation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ActiveDesignation returns the subject's designation on a list in force at now.
func (s *Store) ActiveDesignation(ctx context.Context, list, subject string, now time.Time) (*socred.Designation, error) {
	n := micros(now)
	d, err := scanDesignation(s.r.QueryRowContext(ctx, designationSelect+` WHERE subject = ? AND list = ?
		AND since <= ? AND until > ? AND (ended_at IS NULL OR ended_at > ?) ORDER BY since DESC LIMIT 1`, subject, list, n, n, n))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("subject %q is not on list %q", subject, list)
	}
	if err != nil {
		return nil, fmt.Errorf("designation: %w", err)
	}
	return d, nil
}

func limit(p socred.Page) (int, int) {
	l := p.Limit
	if l <= 0 || l > 1000 {
		l = 1000
	}
	return l, max(p.Offset, 0)
}

// ListEntries returns the current own entries on a list.
func (s *Store) ListEntries(ctx context.Context, list string, page socred.Page) ([]socred.Listing, error) {
	lim, off := limit(page)
	rows, err := s.r.QueryContext(ctx, `SELECT subject, list, designation, since, until, reason, case_ref, authority, legal_basis
		FROM listings WHERE list = ? AND ended_at IS NULL ORDER BY since, id LIMIT ? OFFSET ?`, list, lim, off)
	if err != nil {
		return nil, fmt.Errorf("list entries: %w", err)
	}
	defer rows.Close()
	out := []socred.Listing{}
	for rows.Next() {
		var l socred.Listing
		var since int64
		var until sql.NullInt64
		if err := rows.Scan(&l.Subject, &l.List, &l.Designation, &since, &until, &l.Reason, &l.Case, &l.Authority, &l.LegalBasis); err != nil {
			return nil, err
		}
		l.Since, l.Until = fromMicros(since), fromNullMicros(until)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Checks returns a subject's checks, newest first.
func (s *Store) Checks(ctx context.Context, subject string, page socred.Page) ([]socred.CheckEntry, error) {
	ids, err := s.checks.ids(ctx, s.r, subject)
	if err != nil {
		return nil, err
	}
	out := []socred.CheckEntry{}
	err = byIDs(ctx, s.r, `SELECT id, subject, at, by, token_id, action, purpose, allowed FROM checks`, newest(ids, page), func(rows *sql.Rows) error {
		var c socred.CheckEntry
		var at int64
		if err := rows.Scan(&c.ID, &c.Subject, &at, &c.By, &c.TokenID, &c.Action, &c.Purpose, &c.Allowed); err != nil {
			return err
		}
		c.At = fromMicros(at)
		out = append(out, c)
		return nil
	})
	return out, err
}

// Accesses returns the reads of a subject's file by others, newest first.
func (s *Store) Accesses(ctx context.Context, subject string, page socred.Page) ([]socred.Access, error) {
	ids, err := s.accesses.ids(ctx, s.r, subject)
	if err != nil {
		return nil, err
	}
	out := []socred.Access{}
	err = byIDs(ctx, s.r, `SELECT subject, at, by, role, token_id, purpose FROM accesses`, newest(ids, page), func(rows *sql.Rows) error {
		var a socred.Access
		var at int64
		var role string
		if err := rows.Scan(&a.Subject, &at, &a.By, &role, &a.TokenID, &a.Purpose); err != nil {
			return err
		}
		a.At, a.Role = fromMicros(at), socred.Role(role)
		out = append(out, a)
		return nil
	})
	return out, err
}

// Register returns the published entries matching the query.
func (s *Store) Register(ctx context.Context, q socred.RegisterQuery) ([]socred.RegisterEntry, error) {
	lim, off := limit(q.Page)
	out := []socred.RegisterEntry{}
	if len(q.Lists) == 0 {
		return out, nil
	}
	now := micros(q.Now)
	var where []string
	var args []any
	for id, after := range q.Lists {
		// since + after <= now, with calendar durations: since <= now - after.
		where = append(where, "(l.list = ? AND l.since <= ?)")
		args = append(args, id, micros(after.SubFrom(q.Now)))
	}
	query := `SELECT l.list, s.name, l.subject, l.since, l.until, l.authority, l.legal_basis, l.reason, l.case_ref
		FROM listings l JOIN subjects s ON s.id = l.subject
		WHERE l.ended_at IS NULL AND (l.until IS NULL OR l.until > ?) AND (` + strings.Join(where, " OR ") + `)`
	args = append([]any{now}, args...)
	if q.Q != "" {
		query += ` AND (s.id = ? OR s.name LIKE ? ESCAPE '\')`
		args = append(args, q.Q, "%"+likeEscape(q.Q)+"%")
	}
	query += ` ORDER BY l.since DESC, l.id DESC LIMIT ? OFFSET ?`
	args = append(args, lim, off)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e socred.RegisterEntry
		var since int64
		var until sql.NullInt64
		if err := rows.Scan(&e.List, &e.Name, &e.Subject, &since, &until, &e.Authority, &e.LegalBasis, &e.Reason, &e.Case); err != nil {
			return nil, err
		}
		e.Since, e.Until = fromMicros(since), fromNullMicros(until)
		out = append(out, e)
	}
	return out, rows.Err()
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// TokenByHash returns the token whose secret hashes to hash.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (*socred.Token, error) {
	var t socred.Token
	var role, actions string
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, hash, role, authority, subject, actions, name, created_at FROM tokens WHERE hash = ?`, hash).
		Scan(&t.ID, &t.Hash, &role, &t.Authority, &t.Subject, &actions, &t.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("token not found")
	}
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	t.Role, t.CreatedAt = socred.Role(role), fromMicros(created)
	if err := json.Unmarshal([]byte(actions), &t.Actions); err != nil {
		return nil, err
	}
	if len(t.Actions) == 0 {
		t.Actions = nil
	}
	return &t, nil
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
