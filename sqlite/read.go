package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/socred/socred"
	sqlite3 "zombiezen.com/go/sqlite"
)

func notFound(format string, args ...any) error {
	return socred.Errorf(socred.ENOTFOUND, format, args...)
}

// Subject returns a subject.
func (s *Store) Subject(ctx context.Context, id string) (*socred.Subject, error) {
	var sub *socred.Subject
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT id, kind, name, region, groups, registered_by FROM subjects WHERE id = ?`)
		stmt.BindText(1, id)
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			var err error
			sub, err = scanSubject(stmt)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	if sub == nil {
		return nil, notFound("subject %q not found", id)
	}
	return sub, nil
}

// scanSubject reads the columns id, kind, name, region, groups.
func scanSubject(stmt *sqlite3.Stmt) (*socred.Subject, error) {
	sub := &socred.Subject{ID: stmt.ColumnText(0), Kind: socred.SubjectKind(stmt.ColumnText(1)),
		Name: stmt.ColumnText(2), Region: stmt.ColumnText(3), RegisteredBy: stmt.ColumnText(5)}
	if err := json.Unmarshal([]byte(stmt.ColumnText(4)), &sub.Groups); err != nil {
		return nil, fmt.Errorf("subject %s groups: %w", sub.ID, err)
	}
	return sub, nil
}

// Relations returns the relations from or to a subject.
func (s *Store) Relations(ctx context.Context, subject string) ([]socred.Relation, error) {
	out := []socred.Relation{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT from_id, type, to_id FROM relations WHERE from_id = ?1
			UNION SELECT from_id, type, to_id FROM relations WHERE to_id = ?1 ORDER BY 1, 2, 3`)
		stmt.BindText(1, subject)
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			out = append(out, socred.Relation{From: stmt.ColumnText(0), Type: stmt.ColumnText(1), To: stmt.ColumnText(2)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("relations: %w", err)
	}
	return out, nil
}

// recordColumns are a record's columns, as scanRecordAt reads them.
const recordColumns = `records.id, records.reporter, COALESCE(records.key, ''), records.subject, records.scheme, records.rule,
	records.points, records.occurred_at, records.counts_until, records.evidence, records.derived_from,
	COALESCE(records.derived_subject, ''), COALESCE(records.derived_relation, ''), records.accepted_at, records.overturned_at,
	records.purged_at, records.suspended_at, records.log_index, records.purge_log_index`

const recordSelect = `SELECT ` + recordColumns + ` FROM records`

func scanRecord(stmt *sqlite3.Stmt) *socred.Record { return scanRecordAt(stmt, 0) }

// scanRecordAt reads recordColumns from the statement's column off on.
func scanRecordAt(stmt *sqlite3.Stmt, off int) *socred.Record {
	r := &socred.Record{
		ID: itoa64(stmt.ColumnInt64(off)), Reporter: stmt.ColumnText(off + 1), Key: stmt.ColumnText(off + 2), Subject: stmt.ColumnText(off + 3),
		Scheme: stmt.ColumnText(off + 4), Rule: stmt.ColumnText(off + 5), Points: stmt.ColumnInt64(off + 6),
		OccurredAt: fromMicros(stmt.ColumnInt64(off + 7)), CountsUntil: fromMicros(stmt.ColumnInt64(off + 8)), Evidence: stmt.ColumnText(off + 9),
		AcceptedAt: fromMicros(stmt.ColumnInt64(off + 13)), Overturned: !stmt.ColumnIsNull(off + 14),
	}
	if !stmt.ColumnIsNull(off + 10) {
		r.DerivedFrom = &socred.Derivation{Record: itoa64(stmt.ColumnInt64(off + 10)), Subject: stmt.ColumnText(off + 11), Relation: stmt.ColumnText(off + 12)}
	}
	if r.Overturned {
		t := fromMicros(stmt.ColumnInt64(off + 14))
		r.OverturnedAt = &t
	}
	if !stmt.ColumnIsNull(off + 15) {
		t := fromMicros(stmt.ColumnInt64(off + 15))
		r.PurgedAt = &t
	}
	r.Suspended = !stmt.ColumnIsNull(off + 16)
	r.LogIndex = columnNullInt(stmt, off+17)
	r.PurgeLogIndex = columnNullInt(stmt, off+18)
	return r
}

// RecordsByKey returns a reporter's records with the given keys.
func (s *Store) RecordsByKey(ctx context.Context, reporter string, keys []string) (map[string]*socred.Record, error) {
	out := make(map[string]*socred.Record)
	if len(keys) == 0 {
		return out, nil
	}
	// In key order, neighbouring lookups share the index's pages.
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(recordSelect + ` WHERE reporter = ? AND key = ?`)
		stmt.BindText(1, reporter)
		for _, k := range keys {
			stmt.BindText(2, k)
			err := each(stmt, func(stmt *sqlite3.Stmt) error {
				r := scanRecord(stmt)
				out[r.Key] = r
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("records by key: %w", err)
	}
	return out, nil
}

// SubjectRecords returns a subject's records, oldest first.
func (s *Store) SubjectRecords(ctx context.Context, subject string) ([]*socred.Record, error) {
	var out []*socred.Record
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		ids, err := s.records.ids(conn, subject)
		if err != nil {
			return err
		}
		out = make([]*socred.Record, 0, len(ids))
		return byIDs(conn, recordSelect, ids, func(stmt *sqlite3.Stmt) {
			out = append(out, scanRecord(stmt))
		})
	})
	return out, err
}

// byIDs runs query (a SELECT without WHERE) for each of the ids in turn,
// calling scan for its row.
func byIDs(conn *sqlite3.Conn, query string, ids []int64, scan func(*sqlite3.Stmt)) error {
	stmt := conn.Prep(query + ` WHERE id = ?`)
	for _, id := range ids {
		stmt.BindInt64(1, id)
		err := each(stmt, func(stmt *sqlite3.Stmt) error {
			scan(stmt)
			return nil
		})
		if err != nil {
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

const designationSelect = `SELECT id, list, subject, authority, reason, case_ref, since, until, ended_at, end_reason, purged_at FROM designations`

func scanDesignation(stmt *sqlite3.Stmt) *socred.Designation {
	return &socred.Designation{
		ID: stmt.ColumnText(0), List: stmt.ColumnText(1), Subject: stmt.ColumnText(2), Authority: stmt.ColumnText(3),
		Reason: stmt.ColumnText(4), Case: stmt.ColumnText(5), Since: fromMicros(stmt.ColumnInt64(6)),
		Until: fromMicros(stmt.ColumnInt64(7)), EndedAt: columnNullMicros(stmt, 8), EndReason: stmt.ColumnText(9),
		PurgedAt: columnNullMicros(stmt, 10),
	}
}

// DesignationLists returns the lists holding designations not purged.
func (s *Store) DesignationLists(ctx context.Context) ([]string, error) {
	out := []string{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		return each(conn.Prep(`SELECT DISTINCT list FROM designations INDEXED BY designations_ended WHERE purged_at IS NULL ORDER BY list`), func(stmt *sqlite3.Stmt) error {
			out = append(out, stmt.ColumnText(0))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("designation lists: %w", err)
	}
	return out, nil
}

// EndedDesignations returns designations of the list that ended by
// endedBy, not purged, and not the matter of an appeal open or decided
// after endedBy.
func (s *Store) EndedDesignations(ctx context.Context, list string, endedBy time.Time, limit int) ([]*socred.Designation, error) {
	out := []*socred.Designation{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(designationSelect + ` INDEXED BY designations_ended
			WHERE list = ? AND purged_at IS NULL AND COALESCE(ended_at, until) <= ?
			AND id NOT IN (SELECT designation FROM appeals WHERE designation <> '' AND (status = 'open' OR decided_at > ?))
			ORDER BY COALESCE(ended_at, until), id LIMIT ?`)
		stmt.BindText(1, list)
		stmt.BindInt64(2, micros(endedBy))
		stmt.BindInt64(3, micros(endedBy))
		stmt.BindInt64(4, int64(limit))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			out = append(out, scanDesignation(stmt))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ended designations: %w", err)
	}
	return out, nil
}

// SubjectDesignations returns every designation of a subject.
func (s *Store) SubjectDesignations(ctx context.Context, subject string) ([]*socred.Designation, error) {
	out := []*socred.Designation{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(designationSelect + ` WHERE subject = ? ORDER BY since, id`)
		stmt.BindText(1, subject)
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			out = append(out, scanDesignation(stmt))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("designations: %w", err)
	}
	return out, nil
}

// Designation returns a designation by id.
func (s *Store) Designation(ctx context.Context, id string) (*socred.Designation, error) {
	var d *socred.Designation
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(designationSelect + ` WHERE id = ?`)
		stmt.BindText(1, id)
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			d = scanDesignation(stmt)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("designation: %w", err)
	}
	if d == nil {
		return nil, notFound("designation %q not found", id)
	}
	return d, nil
}

// ActiveDesignation returns the subject's designation on a list in force at now.
func (s *Store) ActiveDesignation(ctx context.Context, list, subject string, now time.Time) (*socred.Designation, error) {
	var d *socred.Designation
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(designationSelect + ` WHERE subject = ?1 AND list = ?2
			AND since <= ?3 AND until > ?3 AND (ended_at IS NULL OR ended_at > ?3) ORDER BY since DESC LIMIT 1`)
		stmt.BindText(1, subject)
		stmt.BindText(2, list)
		stmt.BindInt64(3, micros(now))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			d = scanDesignation(stmt)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("designation: %w", err)
	}
	if d == nil {
		return nil, notFound("subject %q is not on list %q", subject, list)
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
	out := []socred.Listing{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT subject, list, designation, since, until, reason, case_ref, authority, legal_basis
			FROM listings WHERE list = ? AND ended_at IS NULL ORDER BY since, id LIMIT ? OFFSET ?`)
		stmt.BindText(1, list)
		stmt.BindInt64(2, int64(lim))
		stmt.BindInt64(3, int64(off))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			out = append(out, socred.Listing{
				Subject: stmt.ColumnText(0), List: stmt.ColumnText(1), Designation: stmt.ColumnText(2),
				Since: fromMicros(stmt.ColumnInt64(3)), Until: columnNullMicros(stmt, 4), Reason: stmt.ColumnText(5),
				Case: stmt.ColumnText(6), Authority: stmt.ColumnText(7), LegalBasis: stmt.ColumnText(8),
			})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list entries: %w", err)
	}
	return out, nil
}

// PastListings returns a subject's own entries that ended, newest first.
func (s *Store) PastListings(ctx context.Context, subject string, page socred.Page) ([]socred.Listing, error) {
	lim, off := limit(page)
	out := []socred.Listing{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT l.list, l.designation, l.since, l.ended_at, l.reason, l.case_ref, l.authority, l.legal_basis,
				COALESCE(CASE WHEN d.ended_at = l.ended_at THEN d.end_reason END, '')
			FROM listings l LEFT JOIN designations d ON d.id = l.designation AND l.designation <> ''
			WHERE l.subject = ? AND l.ended_at IS NOT NULL ORDER BY l.ended_at DESC, l.id DESC LIMIT ? OFFSET ?`)
		stmt.BindText(1, subject)
		stmt.BindInt64(2, int64(lim))
		stmt.BindInt64(3, int64(off))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			ended := fromMicros(stmt.ColumnInt64(3))
			out = append(out, socred.Listing{
				Subject: subject, List: stmt.ColumnText(0), Designation: stmt.ColumnText(1),
				Since: fromMicros(stmt.ColumnInt64(2)), Until: &ended, Reason: stmt.ColumnText(4),
				Case: stmt.ColumnText(5), Authority: stmt.ColumnText(6), LegalBasis: stmt.ColumnText(7), EndReason: stmt.ColumnText(8),
			})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("past listings: %w", err)
	}
	return out, nil
}

// Checks returns a subject's checks, newest first.
func (s *Store) Checks(ctx context.Context, subject string, page socred.Page) ([]socred.CheckEntry, error) {
	// What the check log holds goes to the database first.
	if err := s.drain(ctx); err != nil {
		return nil, err
	}
	out := []socred.CheckEntry{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		ids, err := s.checks.ids(conn, subject)
		if err != nil {
			return err
		}
		return byIDs(conn, checkSelect, newest(ids, page), func(stmt *sqlite3.Stmt) {
			out = append(out, scanCheck(stmt))
		})
	})
	if err != nil {
		return nil, fmt.Errorf("checks: %w", err)
	}
	return out, nil
}

const checkSelect = `SELECT id, subject, at, by, token_id, action, purpose, allowed, log_index FROM checks`

func scanCheck(stmt *sqlite3.Stmt) socred.CheckEntry {
	return socred.CheckEntry{
		ID: stmt.ColumnInt64(0), Subject: stmt.ColumnText(1), At: fromMicros(stmt.ColumnInt64(2)), By: stmt.ColumnText(3),
		TokenID: stmt.ColumnText(4), Action: stmt.ColumnText(5), Purpose: stmt.ColumnText(6), Allowed: stmt.ColumnBool(7),
		LogIndex: columnNullInt(stmt, 8),
	}
}

// columnNullInt reads an integer column that may be NULL.
func columnNullInt(stmt *sqlite3.Stmt, col int) *int64 {
	if stmt.ColumnIsNull(col) {
		return nil
	}
	n := stmt.ColumnInt64(col)
	return &n
}

// Accesses returns the reads of a subject's file by others, newest first.
func (s *Store) Accesses(ctx context.Context, subject string, page socred.Page) ([]socred.Access, error) {
	// What the check log holds goes to the database first.
	if err := s.drain(ctx); err != nil {
		return nil, err
	}
	out := []socred.Access{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		ids, err := s.accesses.ids(conn, subject)
		if err != nil {
			return err
		}
		return byIDs(conn, accessSelect, newest(ids, page), func(stmt *sqlite3.Stmt) {
			out = append(out, scanAccess(stmt))
		})
	})
	if err != nil {
		return nil, fmt.Errorf("accesses: %w", err)
	}
	return out, nil
}

const accessSelect = `SELECT id, subject, at, by, role, token_id, purpose, log_index FROM accesses`

func scanAccess(stmt *sqlite3.Stmt) socred.Access {
	return socred.Access{
		ID: stmt.ColumnInt64(0), Subject: stmt.ColumnText(1), At: fromMicros(stmt.ColumnInt64(2)), By: stmt.ColumnText(3),
		Role: socred.Role(stmt.ColumnText(4)), TokenID: stmt.ColumnText(5), Purpose: stmt.ColumnText(6), LogIndex: columnNullInt(stmt, 7),
	}
}

// Register returns the published entries matching the query.
func (s *Store) Register(ctx context.Context, q socred.RegisterQuery) ([]socred.RegisterEntry, error) {
	lim, off := limit(q.Page)
	out := []socred.RegisterEntry{}
	if len(q.Lists) == 0 {
		return out, nil
	}
	// One condition per published list, in a fixed order so that a query
	// of as many lists reuses the cached statement.
	ids := make([]string, 0, len(q.Lists))
	for id := range q.Lists {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	query := `SELECT l.list, s.name, l.subject, l.since, l.until, l.authority, l.legal_basis, l.reason, l.case_ref
		FROM listings l JOIN subjects s ON s.id = l.subject
		WHERE l.ended_at IS NULL AND (l.until IS NULL OR l.until > ?) AND (` +
		strings.TrimSuffix(strings.Repeat("(l.list = ? AND l.since <= ?) OR ", len(ids)), " OR ") + `)`
	if q.Q != "" {
		query += ` AND (s.id = ? OR s.name LIKE ? ESCAPE '\')`
	}
	query += ` ORDER BY l.since DESC, l.id DESC LIMIT ? OFFSET ?`
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(query)
		stmt.BindInt64(1, micros(q.Now))
		n := 2
		for _, id := range ids {
			// since + after <= now, with calendar durations: since <= now - after.
			stmt.BindText(n, id)
			stmt.BindInt64(n+1, micros(q.Lists[id].SubFrom(q.Now)))
			n += 2
		}
		if q.Q != "" {
			stmt.BindText(n, q.Q)
			stmt.BindText(n+1, "%"+likeEscape(q.Q)+"%")
			n += 2
		}
		stmt.BindInt64(n, int64(lim))
		stmt.BindInt64(n+1, int64(off))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			out = append(out, socred.RegisterEntry{
				List: stmt.ColumnText(0), Name: stmt.ColumnText(1), Subject: stmt.ColumnText(2),
				Since: fromMicros(stmt.ColumnInt64(3)), Until: columnNullMicros(stmt, 4), Authority: stmt.ColumnText(5),
				LegalBasis: stmt.ColumnText(6), Reason: stmt.ColumnText(7), Case: stmt.ColumnText(8),
			})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	return out, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// TokenByHash returns the token whose secret hashes to hash.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (*socred.Token, error) {
	return s.token(ctx, `hash = ?`, func(stmt *sqlite3.Stmt) { stmt.BindBytes(1, hash) })
}

// Token returns a token by its id.
func (s *Store) Token(ctx context.Context, id string) (*socred.Token, error) {
	return s.token(ctx, `id = ?`, func(stmt *sqlite3.Stmt) { stmt.BindText(1, id) })
}

func (s *Store) token(ctx context.Context, where string, bind func(*sqlite3.Stmt)) (*socred.Token, error) {
	var t *socred.Token
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT id, hash, role, authority, subject, actions, name, created_at, revoked_at FROM tokens WHERE ` + where)
		bind(stmt)
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			t = &socred.Token{ID: stmt.ColumnText(0), Hash: make([]byte, stmt.ColumnLen(1)), Role: socred.Role(stmt.ColumnText(2)),
				Authority: stmt.ColumnText(3), Subject: stmt.ColumnText(4), Name: stmt.ColumnText(6), CreatedAt: fromMicros(stmt.ColumnInt64(7)),
				RevokedAt: columnNullMicros(stmt, 8)}
			stmt.ColumnBytes(1, t.Hash)
			return json.Unmarshal([]byte(stmt.ColumnText(5)), &t.Actions)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if t == nil {
		return nil, notFound("token not found")
	}
	if len(t.Actions) == 0 {
		t.Actions = nil
	}
	return t, nil
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// Changes returns up to limit changes of the feed after seq, oldest first.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]socred.Change, error) {
	var out []socred.Change
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT seq, at, body FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`)
		stmt.BindInt64(1, after)
		stmt.BindInt64(2, int64(limit))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			body := make([]byte, stmt.ColumnLen(2))
			stmt.ColumnBytes(2, body)
			c, err := socred.DecodeChange(stmt.ColumnInt64(0), fromMicros(stmt.ColumnInt64(1)), body)
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	return out, nil
}

// RecordsByRef returns the records named, in id order; records not found
// are left out.
func (s *Store) RecordsByRef(ctx context.Context, refs []socred.RecordRef) ([]*socred.Record, error) {
	ids := make([]int64, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]*socred.Record, 0, len(ids))
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		return byIDs(conn, recordSelect, ids, func(stmt *sqlite3.Stmt) { out = append(out, scanRecord(stmt)) })
	})
	if err != nil {
		return nil, fmt.Errorf("records by ref: %w", err)
	}
	return out, nil
}

// Notices returns a subject's notices, newest first.
func (s *Store) Notices(ctx context.Context, subject string, page socred.Page) ([]socred.Notice, error) {
	// What the check log holds goes to the database first.
	if err := s.drain(ctx); err != nil {
		return nil, err
	}
	out := []socred.Notice{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		ids, err := s.notices.ids(conn, subject)
		if err != nil {
			return err
		}
		var scanErr error
		err = byIDs(conn, `SELECT id, subject, at, body FROM notices`, newest(ids, page), func(stmt *sqlite3.Stmt) {
			n, err := s.scanNotice(stmt)
			if err != nil && scanErr == nil {
				scanErr = err
			}
			out = append(out, n)
		})
		return errors.Join(err, scanErr)
	})
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	return out, nil
}

// PendingNotices returns up to limit notices not yet delivered, oldest
// first.
func (s *Store) PendingNotices(ctx context.Context, limit int) ([]socred.Notice, error) {
	// What the check log holds goes to the database first.
	if err := s.drain(ctx); err != nil {
		return nil, err
	}
	var out []socred.Notice
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT id, subject, at, body FROM notices WHERE pending <> 0 ORDER BY id LIMIT ?`)
		stmt.BindInt64(1, int64(limit))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			n, err := s.scanNotice(stmt)
			out = append(out, n)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pending notices: %w", err)
	}
	return out, nil
}

// MarkDelivered records that the notices were delivered.
func (s *Store) MarkDelivered(ctx context.Context, ids []int64) error {
	// What the check log holds goes to the database first.
	if err := s.drain(ctx); err != nil {
		return err
	}
	return s.write(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`UPDATE notices SET pending = 0 WHERE id = ?`)
		for _, id := range ids {
			stmt.BindInt64(1, id)
			if err := exec(stmt); err != nil {
				return fmt.Errorf("mark delivered: %w", err)
			}
		}
		return nil
	})
}

func (s *Store) scanNotice(stmt *sqlite3.Stmt) (socred.Notice, error) {
	return scanNotice(stmt, s.leads)
}

// scanNotice reads a notice of a row (id, subject, at, body), its body
// decoded with leads.
func scanNotice(stmt *sqlite3.Stmt, leads *socred.NoticeLeads) (socred.Notice, error) {
	body := make([]byte, stmt.ColumnLen(3))
	stmt.ColumnBytes(3, body)
	return leads.Decode(stmt.ColumnInt64(0), stmt.ColumnText(1), fromMicros(stmt.ColumnInt64(2)), body)
}

// Contact returns the subject's contact.
func (s *Store) Contact(ctx context.Context, subject string) (socred.Contact, error) {
	c := socred.Contact{Subject: subject}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT email FROM contacts WHERE subject = ?`)
		stmt.BindText(1, subject)
		found := false
		err := each(stmt, func(stmt *sqlite3.Stmt) error {
			c.Email, found = stmt.ColumnText(0), true
			return nil
		})
		if err == nil && !found {
			err = socred.Errorf(socred.ENOTFOUND, "subject %q has no contact", subject)
		}
		return err
	})
	return c, err
}

// DuePurges returns up to limit purges that fell due by now, then records
// purged with no entry of the purge in the audit log.
func (s *Store) DuePurges(ctx context.Context, now time.Time, limit int) ([]socred.Erasure, error) {
	var out []socred.Erasure
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT p.at, ` + recordColumns + ` FROM purges p JOIN records ON records.id = p.record
			WHERE p.at <= ? ORDER BY p.at, p.record LIMIT ?`)
		stmt.BindInt64(1, micros(now))
		stmt.BindInt64(2, int64(limit))
		if err := each(stmt, func(stmt *sqlite3.Stmt) error {
			out = append(out, socred.Erase(scanRecordAt(stmt, 1), fromMicros(stmt.ColumnInt64(0)), now))
			return nil
		}); err != nil {
			return err
		}
		if len(out) >= limit {
			return nil
		}
		stmt = conn.Prep(recordSelect + ` INDEXED BY records_purge_unlogged WHERE purged_at IS NOT NULL AND purge_log_index IS NULL ORDER BY id LIMIT ?`)
		stmt.BindInt64(1, int64(limit-len(out)))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			out = append(out, socred.Erase(scanRecord(stmt), time.Time{}, now))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("due purges: %w", err)
	}
	return out, nil
}

// ExpiredLogs returns, for checks and for accesses, the last id of the
// oldest rows (up to limit) that were all made before before. It reads no
// further than the first row not that old: the scheduler asks at every
// tick, and mostly nothing is. It does not drain the check log, whose
// groups are the newest (seconds old): a drain at every tick would cut
// the log's copies into the database into small transactions under load;
// they are read once drained, and the commit of an expiry writes them
// before it deletes.
func (s *Store) ExpiredLogs(ctx context.Context, before time.Time, limit int) (socred.Expiry, error) {
	var e socred.Expiry
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		for _, t := range []struct {
			query string
			last  *int64
		}{
			{`SELECT id, at FROM checks ORDER BY id LIMIT ?`, &e.Checks},
			{`SELECT id, at FROM accesses ORDER BY id LIMIT ?`, &e.Accesses},
		} {
			stmt := conn.Prep(t.query)
			stmt.BindInt64(1, int64(limit))
			err := each(stmt, func(stmt *sqlite3.Stmt) error {
				if stmt.ColumnInt64(1) >= micros(before) {
					return errPrefixEnded
				}
				*t.last = stmt.ColumnInt64(0)
				return nil
			})
			if err != nil && !errors.Is(err, errPrefixEnded) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return socred.Expiry{}, fmt.Errorf("expired checks and accesses: %w", err)
	}
	return e, nil
}

// errPrefixEnded stops ExpiredLogs' reading at the first row not expired.
var errPrefixEnded = errors.New("a row not expired")

const appealSelect = `SELECT id, subject, record, list, designation, statement, filed_at, review_due, status, decided_at, decided_by, decider_token, reasons, suspended_at FROM appeals`

func scanAppeal(stmt *sqlite3.Stmt) *socred.Appeal {
	a := &socred.Appeal{ID: stmt.ColumnText(0), Subject: stmt.ColumnText(1), Record: stmt.ColumnText(2), List: stmt.ColumnText(3),
		Designation: stmt.ColumnText(4), Statement: stmt.ColumnText(5), FiledAt: fromMicros(stmt.ColumnInt64(6)),
		ReviewDue: fromMicros(stmt.ColumnInt64(7)), Status: socred.AppealStatus(stmt.ColumnText(8)),
		DecidedBy: stmt.ColumnText(10), DeciderToken: stmt.ColumnText(11), Reasons: stmt.ColumnText(12)}
	if !stmt.ColumnIsNull(9) {
		t := fromMicros(stmt.ColumnInt64(9))
		a.DecidedAt = &t
	}
	if !stmt.ColumnIsNull(13) {
		t := fromMicros(stmt.ColumnInt64(13))
		a.SuspendedAt = &t
	}
	return a
}

// OverdueAppeals returns open appeals past their review_due whose entry is
// not yet suspended.
func (s *Store) OverdueAppeals(ctx context.Context, now time.Time, limit int) ([]*socred.Appeal, error) {
	out := []*socred.Appeal{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(appealSelect + ` WHERE status = 'open' AND suspended_at IS NULL AND review_due <= ? ORDER BY review_due, id LIMIT ?`)
		stmt.BindInt64(1, micros(now))
		stmt.BindInt64(2, int64(limit))
		return each(stmt, func(stmt *sqlite3.Stmt) error { out = append(out, scanAppeal(stmt)); return nil })
	})
	if err != nil {
		return nil, fmt.Errorf("overdue appeals: %w", err)
	}
	return out, nil
}

// Appeal returns an appeal.
func (s *Store) Appeal(ctx context.Context, id string) (*socred.Appeal, error) {
	var a *socred.Appeal
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(appealSelect + ` WHERE id = ?`)
		stmt.BindText(1, id)
		return each(stmt, func(stmt *sqlite3.Stmt) error { a = scanAppeal(stmt); return nil })
	})
	if err != nil {
		return nil, fmt.Errorf("appeal: %w", err)
	}
	if a == nil {
		return nil, socred.Errorf(socred.ENOTFOUND, "appeal %q not found", id)
	}
	return a, nil
}

// SubjectAppeals returns a subject's appeals, oldest first.
func (s *Store) SubjectAppeals(ctx context.Context, subject string) ([]*socred.Appeal, error) {
	out := []*socred.Appeal{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(appealSelect + ` WHERE subject = ? ORDER BY filed_at, id`)
		stmt.BindText(1, subject)
		return each(stmt, func(stmt *sqlite3.Stmt) error { out = append(out, scanAppeal(stmt)); return nil })
	})
	if err != nil {
		return nil, fmt.Errorf("appeals: %w", err)
	}
	return out, nil
}

// DerivedRecords returns the records derived from a record.
func (s *Store) DerivedRecords(ctx context.Context, record socred.RecordRef) ([]*socred.Record, error) {
	out := []*socred.Record{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(recordSelect + ` WHERE derived_from = ? ORDER BY id`)
		stmt.BindInt64(1, record.ID)
		return each(stmt, func(stmt *sqlite3.Stmt) error { out = append(out, scanRecord(stmt)); return nil })
	})
	if err != nil {
		return nil, fmt.Errorf("derived records: %w", err)
	}
	return out, nil
}

const repairSelect = `SELECT id, subject, list, designation, route, evidence, statement, filed_at, status, decided_at, decided_by, decider_token, reasons FROM repairs`

func scanRepair(stmt *sqlite3.Stmt) (*socred.Repair, error) {
	r := &socred.Repair{ID: stmt.ColumnText(0), Subject: stmt.ColumnText(1), List: stmt.ColumnText(2), Designation: stmt.ColumnText(3),
		Route: stmt.ColumnText(4), Statement: stmt.ColumnText(6), FiledAt: fromMicros(stmt.ColumnInt64(7)),
		Status: socred.RepairStatus(stmt.ColumnText(8)), DecidedBy: stmt.ColumnText(10), DeciderToken: stmt.ColumnText(11), Reasons: stmt.ColumnText(12)}
	if err := json.Unmarshal([]byte(stmt.ColumnText(5)), &r.Evidence); err != nil {
		return nil, fmt.Errorf("repair %s evidence: %w", r.ID, err)
	}
	if !stmt.ColumnIsNull(9) {
		t := fromMicros(stmt.ColumnInt64(9))
		r.DecidedAt = &t
	}
	return r, nil
}

// Repair returns a repair application.
func (s *Store) Repair(ctx context.Context, id string) (*socred.Repair, error) {
	var r *socred.Repair
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(repairSelect + ` WHERE id = ?`)
		stmt.BindText(1, id)
		return each(stmt, func(stmt *sqlite3.Stmt) (err error) { r, err = scanRepair(stmt); return err })
	})
	if err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	if r == nil {
		return nil, socred.Errorf(socred.ENOTFOUND, "repair application %q not found", id)
	}
	return r, nil
}

// SubjectRepairs returns a subject's repair applications, oldest first.
func (s *Store) SubjectRepairs(ctx context.Context, subject string) ([]*socred.Repair, error) {
	out := []*socred.Repair{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(repairSelect + ` WHERE subject = ? ORDER BY filed_at, id`)
		stmt.BindText(1, subject)
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			r, err := scanRepair(stmt)
			out = append(out, r)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("repairs: %w", err)
	}
	return out, nil
}
