package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/socred/socred"
)

func notFound(format string, args ...any) error {
	return socred.Errorf(socred.ENOTFOUND, format, args...)
}

// Subject returns a subject.
func (s *Store) Subject(ctx context.Context, id string) (*socred.Subject, error) {
	sub, err := scanSubject(s.pool.QueryRow(ctx, `SELECT id, kind, name, region, groups, registered_by FROM subjects WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("subject %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	return sub, nil
}

// scanSubject reads the columns id, kind, name, region, groups.
func scanSubject(row pgx.Row) (*socred.Subject, error) {
	var (
		sub    socred.Subject
		groups string
	)
	if err := row.Scan(&sub.ID, &sub.Kind, &sub.Name, &sub.Region, &groups, &sub.RegisteredBy); err != nil {
		return nil, err
	}
	if groups == "[]" {
		sub.Groups = []string{}
	} else if err := json.Unmarshal([]byte(groups), &sub.Groups); err != nil {
		return nil, fmt.Errorf("subject %s groups: %w", sub.ID, err)
	}
	return &sub, nil
}

// Relations returns the relations from or to a subject.
func (s *Store) Relations(ctx context.Context, subject string) ([]socred.Relation, error) {
	rows, _ := s.pool.Query(ctx, `SELECT from_id, type, to_id FROM relations WHERE from_id = $1
		UNION SELECT from_id, type, to_id FROM relations WHERE to_id = $1 ORDER BY 1, 2, 3`, subject)
	out, err := pgx.AppendRows(make([]socred.Relation, 0), rows, func(row pgx.CollectableRow) (socred.Relation, error) {
		var r socred.Relation
		err := row.Scan(&r.From, &r.Type, &r.To)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("relations: %w", err)
	}
	return out, nil
}

const recordSelect = `SELECT r.id, r.reporter, COALESCE(r.key, ''), r.subject, r.scheme, r.rule, r.points, r.occurred_at, r.counts_until,
	r.evidence, r.derived_from, COALESCE(r.derived_subject, ''), COALESCE(r.derived_relation, ''), r.accepted_at, r.overturned_at, r.purged_at, r.suspended_at IS NOT NULL,
	r.log_index, r.purge_log_index FROM records r`

func scanRecord(row pgx.CollectableRow) (*socred.Record, error) { return scanRecordAfter(row) }

// scanRecordAfter scans first into the destinations before, then the
// record's columns.
func scanRecordAfter(row pgx.CollectableRow, before ...any) (*socred.Record, error) {
	var (
		r                               socred.Record
		id, occurred, until, accepted   int64
		derivedFrom, purged, overturned *int64
		derivedSubject, derivedRelation string
	)
	err := row.Scan(append(before, &id, &r.Reporter, &r.Key, &r.Subject, &r.Scheme, &r.Rule, &r.Points, &occurred, &until,
		&r.Evidence, &derivedFrom, &derivedSubject, &derivedRelation, &accepted, &overturned, &purged, &r.Suspended, &r.LogIndex, &r.PurgeLogIndex)...)
	if err != nil {
		return nil, err
	}
	if purged != nil {
		t := fromMicros(*purged)
		r.PurgedAt = &t
	}
	if overturned != nil {
		t := fromMicros(*overturned)
		r.Overturned, r.OverturnedAt = true, &t
	}
	r.ID = strconv.FormatInt(id, 10)
	r.OccurredAt, r.CountsUntil, r.AcceptedAt = fromMicros(occurred), fromMicros(until), fromMicros(accepted)
	if derivedFrom != nil {
		r.DerivedFrom = &socred.Derivation{Record: strconv.FormatInt(*derivedFrom, 10), Subject: derivedSubject, Relation: derivedRelation}
	}
	return &r, nil
}

// RecordsByKey returns a reporter's records with the given keys.
func (s *Store) RecordsByKey(ctx context.Context, reporter string, keys []string) (map[string]*socred.Record, error) {
	out := make(map[string]*socred.Record)
	if len(keys) == 0 {
		return out, nil
	}
	rows, _ := s.pool.Query(ctx, recordSelect+` JOIN record_keys k ON r.subject = k.subject AND r.id = k.id
		WHERE k.reporter = $1 AND k.key = ANY($2)`, reporter, keys)
	recs, err := pgx.CollectRows(rows, scanRecord)
	if err != nil {
		return nil, fmt.Errorf("records by key: %w", err)
	}
	for _, r := range recs {
		out[r.Key] = r
	}
	return out, nil
}

// SubjectRecords returns a subject's records, oldest first.
func (s *Store) SubjectRecords(ctx context.Context, subject string) ([]*socred.Record, error) {
	rows, _ := s.pool.Query(ctx, recordSelect+` WHERE r.subject = $1 ORDER BY r.id`, subject)
	out, err := pgx.AppendRows(make([]*socred.Record, 0), rows, scanRecord)
	if err != nil {
		return nil, fmt.Errorf("subject records: %w", err)
	}
	return out, nil
}

const designationSelect = `SELECT id, list, subject, authority, reason, case_ref, since, until, ended_at, end_reason, purged_at FROM designations`

func scanDesignation(row pgx.CollectableRow) (*socred.Designation, error) {
	var (
		d             socred.Designation
		since, until  int64
		ended, purged *int64
	)
	if err := row.Scan(&d.ID, &d.List, &d.Subject, &d.Authority, &d.Reason, &d.Case, &since, &until, &ended, &d.EndReason, &purged); err != nil {
		return nil, err
	}
	d.Since, d.Until, d.EndedAt, d.PurgedAt = fromMicros(since), fromMicros(until), timeOrNil(ended), timeOrNil(purged)
	return &d, nil
}

// DesignationLists returns the lists holding designations not purged.
func (s *Store) DesignationLists(ctx context.Context) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT DISTINCT list FROM designations WHERE purged_at IS NULL ORDER BY list`)
	out, err := pgx.AppendRows(make([]string, 0), rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("designation lists: %w", err)
	}
	return out, nil
}

// EndedDesignations returns designations of the list that ended by
// endedBy, not purged, and not the matter of an appeal open or decided
// after endedBy.
func (s *Store) EndedDesignations(ctx context.Context, list string, endedBy time.Time, limit int) ([]*socred.Designation, error) {
	rows, _ := s.pool.Query(ctx, designationSelect+` d WHERE list = $1 AND purged_at IS NULL AND COALESCE(ended_at, until) <= $2
		AND NOT EXISTS (SELECT 1 FROM appeals a WHERE a.designation = d.id AND (a.status = 'open' OR a.decided_at > $2))
		ORDER BY COALESCE(ended_at, until), id LIMIT $3`, list, micros(endedBy), limit)
	out, err := pgx.AppendRows(make([]*socred.Designation, 0), rows, scanDesignation)
	if err != nil {
		return nil, fmt.Errorf("ended designations: %w", err)
	}
	return out, nil
}

// SubjectDesignations returns every designation of a subject.
func (s *Store) SubjectDesignations(ctx context.Context, subject string) ([]*socred.Designation, error) {
	rows, _ := s.pool.Query(ctx, designationSelect+` WHERE subject = $1 ORDER BY since, id`, subject)
	out, err := pgx.AppendRows(make([]*socred.Designation, 0), rows, scanDesignation)
	if err != nil {
		return nil, fmt.Errorf("designations: %w", err)
	}
	return out, nil
}

// Designation returns a designation by id.
func (s *Store) Designation(ctx context.Context, id string) (*socred.Designation, error) {
	rows, _ := s.pool.Query(ctx, designationSelect+` WHERE id = $1`, id)
	d, err := pgx.CollectOneRow(rows, scanDesignation)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("designation %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("designation: %w", err)
	}
	return d, nil
}

// ActiveDesignation returns the subject's designation on a list in force at now.
func (s *Store) ActiveDesignation(ctx context.Context, list, subject string, now time.Time) (*socred.Designation, error) {
	rows, _ := s.pool.Query(ctx, designationSelect+` WHERE subject = $1 AND list = $2
		AND since <= $3 AND until > $3 AND (ended_at IS NULL OR ended_at > $3) ORDER BY since DESC LIMIT 1`, subject, list, micros(now))
	d, err := pgx.CollectOneRow(rows, scanDesignation)
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, _ := s.pool.Query(ctx, `SELECT subject, list, designation, since, until, reason, case_ref, authority, legal_basis
		FROM listings WHERE list = $1 AND ended_at IS NULL ORDER BY since, id LIMIT $2 OFFSET $3`, list, lim, off)
	out, err := pgx.AppendRows(make([]socred.Listing, 0), rows, func(row pgx.CollectableRow) (socred.Listing, error) {
		var (
			l     socred.Listing
			since int64
			until *int64
		)
		err := row.Scan(&l.Subject, &l.List, &l.Designation, &since, &until, &l.Reason, &l.Case, &l.Authority, &l.LegalBasis)
		l.Since, l.Until = fromMicros(since), timeOrNil(until)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("list entries: %w", err)
	}
	return out, nil
}

// PastListings returns a subject's own entries that ended, newest first.
func (s *Store) PastListings(ctx context.Context, subject string, page socred.Page) ([]socred.Listing, error) {
	lim, off := limit(page)
	rows, _ := s.pool.Query(ctx, `SELECT l.list, l.designation, l.since, l.ended_at, l.reason, l.case_ref, l.authority, l.legal_basis,
			COALESCE(CASE WHEN d.ended_at = l.ended_at THEN d.end_reason END, '')
		FROM listings l LEFT JOIN designations d ON d.id = l.designation AND l.designation <> ''
		WHERE l.subject = $1 AND l.ended_at IS NOT NULL ORDER BY l.ended_at DESC, l.id DESC LIMIT $2 OFFSET $3`, subject, lim, off)
	out, err := pgx.AppendRows(make([]socred.Listing, 0), rows, func(row pgx.CollectableRow) (socred.Listing, error) {
		var (
			l            socred.Listing
			since, ended int64
		)
		err := row.Scan(&l.List, &l.Designation, &since, &ended, &l.Reason, &l.Case, &l.Authority, &l.LegalBasis, &l.EndReason)
		until := fromMicros(ended)
		l.Subject, l.Since, l.Until = subject, fromMicros(since), &until
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("past listings: %w", err)
	}
	return out, nil
}

// Checks returns a subject's checks, newest first.
func (s *Store) Checks(ctx context.Context, subject string, page socred.Page) ([]socred.CheckEntry, error) {
	lim, off := limit(page)
	rows, _ := s.pool.Query(ctx, checkSelect+` WHERE subject = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, subject, lim, off)
	out, err := pgx.AppendRows(make([]socred.CheckEntry, 0), rows, scanCheck)
	if err != nil {
		return nil, fmt.Errorf("checks: %w", err)
	}
	return out, nil
}

const checkSelect = `SELECT id, subject, at, by, token_id, action, purpose, allowed, log_index FROM checks`

func scanCheck(row pgx.CollectableRow) (socred.CheckEntry, error) {
	var (
		c  socred.CheckEntry
		at int64
	)
	err := row.Scan(&c.ID, &c.Subject, &at, &c.By, &c.TokenID, &c.Action, &c.Purpose, &c.Allowed, &c.LogIndex)
	c.At = fromMicros(at)
	return c, err
}

// Accesses returns the reads of a subject's file by others, newest first.
func (s *Store) Accesses(ctx context.Context, subject string, page socred.Page) ([]socred.Access, error) {
	lim, off := limit(page)
	rows, _ := s.pool.Query(ctx, accessSelect+` WHERE subject = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, subject, lim, off)
	out, err := pgx.AppendRows(make([]socred.Access, 0), rows, func(row pgx.CollectableRow) (socred.Access, error) { return scanAccess(row) })
	if err != nil {
		return nil, fmt.Errorf("accesses: %w", err)
	}
	return out, nil
}

const accessSelect = `SELECT id, subject, at, by, role, token_id, purpose, log_index FROM accesses`

func scanAccess(row pgx.Row) (socred.Access, error) {
	var (
		a  socred.Access
		at int64
	)
	err := row.Scan(&a.ID, &a.Subject, &at, &a.By, &a.Role, &a.TokenID, &a.Purpose, &a.LogIndex)
	a.At = fromMicros(at)
	return a, err
}

// Register returns the published entries matching the query. The published
// lists and, for each, the latest since whose grace period has passed at
// now are joined in as arrays, so the statement is the same for any number
// of lists.
func (s *Store) Register(ctx context.Context, q socred.RegisterQuery) ([]socred.RegisterEntry, error) {
	lim, off := limit(q.Page)
	if len(q.Lists) == 0 {
		return []socred.RegisterEntry{}, nil
	}
	lists := make([]string, 0, len(q.Lists))
	latest := make([]int64, 0, len(q.Lists))
	for id, after := range q.Lists {
		// since + after <= now, with calendar durations: since <= now - after.
		lists = append(lists, id)
		latest = append(latest, micros(after.SubFrom(q.Now)))
	}
	rows, _ := s.pool.Query(ctx, `SELECT l.list, s.name, l.subject, l.since, l.until, l.authority, l.legal_basis, l.reason, l.case_ref
		FROM listings l
		JOIN unnest($2::TEXT[], $3::BIGINT[]) AS p (list, latest) ON p.list = l.list
		JOIN subjects s ON s.id = l.subject
		WHERE l.ended_at IS NULL AND (l.until IS NULL OR l.until > $1) AND l.since <= p.latest
			AND ($4 = '' OR s.id = $4 OR s.name ILIKE $5 ESCAPE '\')
		ORDER BY l.since DESC, l.id DESC LIMIT $6 OFFSET $7`,
		micros(q.Now), lists, latest, q.Q, "%"+likeEscape(q.Q)+"%", lim, off)
	out, err := pgx.AppendRows(make([]socred.RegisterEntry, 0), rows, func(row pgx.CollectableRow) (socred.RegisterEntry, error) {
		var (
			e     socred.RegisterEntry
			since int64
			until *int64
		)
		err := row.Scan(&e.List, &e.Name, &e.Subject, &since, &until, &e.Authority, &e.LegalBasis, &e.Reason, &e.Case)
		e.Since, e.Until = fromMicros(since), timeOrNil(until)
		return e, err
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
	return s.token(ctx, `hash = $1`, hash)
}

// Token returns a token by its id.
func (s *Store) Token(ctx context.Context, id string) (*socred.Token, error) {
	return s.token(ctx, `id = $1`, id)
}

func (s *Store) token(ctx context.Context, where string, arg any) (*socred.Token, error) {
	var (
		t         socred.Token
		actions   string
		createdAt int64
		revokedAt *int64
	)
	err := s.pool.QueryRow(ctx, `SELECT id, hash, role, authority, subject, actions, name, created_at, revoked_at FROM tokens WHERE `+where, arg).
		Scan(&t.ID, &t.Hash, &t.Role, &t.Authority, &t.Subject, &actions, &t.Name, &createdAt, &revokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("token not found")
	}
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if err := json.Unmarshal([]byte(actions), &t.Actions); err != nil {
		return nil, fmt.Errorf("token %s actions: %w", t.ID, err)
	}
	if len(t.Actions) == 0 {
		t.Actions = nil
	}
	t.CreatedAt, t.RevokedAt = fromMicros(createdAt), timeOrNil(revokedAt)
	return &t, nil
}

// Changes returns up to limit changes of the feed after seq, oldest first.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]socred.Change, error) {
	rows, _ := s.pool.Query(ctx, `SELECT seq, at, body FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	out, err := pgx.AppendRows(make([]socred.Change, 0), rows, func(row pgx.CollectableRow) (socred.Change, error) {
		var (
			seq, at int64
			body    []byte
		)
		if err := row.Scan(&seq, &at, &body); err != nil {
			return socred.Change{}, err
		}
		return socred.DecodeChange(seq, fromMicros(at), body)
	})
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	return out, nil
}

// FeedHead returns the number of the last change stored.
func (s *Store) FeedHead(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(seq), 0) FROM changes`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("feed head: %w", err)
	}
	return seq, nil
}

// RecordsByRef returns the records named, in id order; records not found
// are left out.
func (s *Store) RecordsByRef(ctx context.Context, refs []socred.RecordRef) ([]*socred.Record, error) {
	ids, subjects := make([]int64, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		ids[i], subjects[i] = r.ID, r.Subject
	}
	rows, _ := s.pool.Query(ctx, recordSelect+` JOIN unnest($1::text[], $2::bigint[]) AS x (subject, id)
		ON r.subject = x.subject AND r.id = x.id ORDER BY r.id`, subjects, ids)
	out, err := pgx.AppendRows(make([]*socred.Record, 0, len(refs)), rows, scanRecord)
	if err != nil {
		return nil, fmt.Errorf("records by ref: %w", err)
	}
	return out, nil
}

// Notices returns a subject's notices, newest first.
func (s *Store) Notices(ctx context.Context, subject string, page socred.Page) ([]socred.Notice, error) {
	lim, off := limit(page)
	rows, _ := s.pool.Query(ctx, `SELECT id, subject, at, body FROM notices WHERE subject = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, subject, lim, off)
	out, err := pgx.AppendRows(make([]socred.Notice, 0), rows, scanNotice)
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	return out, nil
}

// PendingNotices returns up to limit notices not yet delivered, oldest
// first, and claims them for this store for its lease: those another
// store sharing the database claimed, and whose lease has not ended, are
// left to it (skipped, as are those another is claiming at the moment).
func (s *Store) PendingNotices(ctx context.Context, limit int) ([]socred.Notice, error) {
	rows, _ := s.pool.Query(ctx, `
		WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS us),
		free AS (
			SELECT subject, id FROM notices, now
			WHERE pending AND (claimed_until IS NULL OR claimed_until < now.us OR claimed_by = $1)
			ORDER BY id LIMIT $2
			FOR UPDATE OF notices SKIP LOCKED)
		UPDATE notices n SET claimed_by = $1, claimed_until = now.us + $3
		FROM free, now
		WHERE n.subject = free.subject AND n.id = free.id
		RETURNING n.id, n.subject, n.at, n.body`, s.claimer, limit, s.lease.Microseconds())
	out, err := pgx.AppendRows(make([]socred.Notice, 0), rows, scanNotice)
	if err != nil {
		return nil, fmt.Errorf("pending notices: %w", err)
	}
	slices.SortFunc(out, func(a, b socred.Notice) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// MarkDelivered records that the notices were delivered.
func (s *Store) MarkDelivered(ctx context.Context, ids []int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE notices SET pending = false WHERE id = ANY($1) AND pending`, ids); err != nil {
		return mapError(fmt.Errorf("mark delivered: %w", err))
	}
	return nil
}

func scanNotice(row pgx.CollectableRow) (socred.Notice, error) {
	var (
		id, at  int64
		subject string
		body    []byte
	)
	if err := row.Scan(&id, &subject, &at, &body); err != nil {
		return socred.Notice{}, err
	}
	return socred.DecodeNotice(id, subject, fromMicros(at), body)
}

// Contact returns the subject's contact.
func (s *Store) Contact(ctx context.Context, subject string) (socred.Contact, error) {
	c := socred.Contact{Subject: subject}
	err := s.pool.QueryRow(ctx, `SELECT email FROM contacts WHERE subject = $1`, subject).Scan(&c.Email)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, socred.Errorf(socred.ENOTFOUND, "subject %q has no contact", subject)
	}
	if err != nil {
		return c, fmt.Errorf("contact: %w", err)
	}
	return c, nil
}

// ExpiredLogs returns, for checks and for accesses, the last id of the
// oldest rows (up to limit) that were all made before before. The
// scheduler asks at every tick, and mostly nothing is that old: the oldest
// row alone says so.
func (s *Store) ExpiredLogs(ctx context.Context, before time.Time, limit int) (socred.Expiry, error) {
	var e socred.Expiry
	for _, t := range []struct {
		table string
		last  *int64
	}{{"checks", &e.Checks}, {"accesses", &e.Accesses}} {
		var oldest int64
		err := s.pool.QueryRow(ctx, `SELECT at FROM `+t.table+` ORDER BY id LIMIT 1`).Scan(&oldest)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && oldest >= micros(before) {
			continue
		}
		if err == nil {
			// The last of the run before the first row not that old.
			err = s.pool.QueryRow(ctx, `WITH o AS MATERIALIZED (SELECT id, at FROM `+t.table+` ORDER BY id LIMIT $1)
				SELECT COALESCE(MAX(id), 0) FROM o WHERE id < COALESCE((SELECT MIN(id) FROM o WHERE at >= $2), 9223372036854775807)`,
				limit, micros(before)).Scan(t.last)
		}
		if err != nil {
			return socred.Expiry{}, fmt.Errorf("expired %s: %w", t.table, err)
		}
	}
	return e, nil
}

// DuePurges returns up to limit purges that fell due by now, then records
// purged with no entry of the purge in the audit log.
func (s *Store) DuePurges(ctx context.Context, now time.Time, limit int) ([]socred.Erasure, error) {
	type due struct {
		at int64
		r  *socred.Record
	}
	rows, _ := s.pool.Query(ctx, `SELECT p.at, x.* FROM purges p CROSS JOIN LATERAL (`+recordSelect+`
		WHERE r.subject = p.subject AND r.id = p.record) x WHERE p.at <= $1 ORDER BY p.at, p.record LIMIT $2`, micros(now), limit)
	ds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (due, error) {
		var d due
		var err error
		d.r, err = scanRecordAfter(row, &d.at)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("due purges: %w", err)
	}
	out := make([]socred.Erasure, 0, len(ds))
	for _, d := range ds {
		out = append(out, socred.Erase(d.r, fromMicros(d.at), now))
	}
	if len(out) >= limit {
		return out, nil
	}
	rows, _ = s.pool.Query(ctx, recordSelect+` WHERE r.purged_at IS NOT NULL AND r.purge_log_index IS NULL ORDER BY r.subject, r.id LIMIT $1`, limit-len(out))
	rs, err := pgx.CollectRows(rows, scanRecord)
	if err != nil {
		return nil, fmt.Errorf("due purges: %w", err)
	}
	for _, r := range rs {
		out = append(out, socred.Erase(r, time.Time{}, now))
	}
	return out, nil
}

const appealSelect = `SELECT id, subject, record, list, designation, statement, filed_at, review_due, status, decided_at, decided_by, decider_token, reasons, suspended_at FROM appeals`

func scanAppeal(row pgx.CollectableRow) (*socred.Appeal, error) {
	var (
		a          socred.Appeal
		filed, due int64
		decided    *int64
		status     string
	)
	var suspended *int64
	err := row.Scan(&a.ID, &a.Subject, &a.Record, &a.List, &a.Designation, &a.Statement, &filed, &due, &status, &decided, &a.DecidedBy, &a.DeciderToken, &a.Reasons, &suspended)
	if err != nil {
		return nil, err
	}
	if suspended != nil {
		t := fromMicros(*suspended)
		a.SuspendedAt = &t
	}
	a.FiledAt, a.ReviewDue, a.Status = fromMicros(filed), fromMicros(due), socred.AppealStatus(status)
	if decided != nil {
		t := fromMicros(*decided)
		a.DecidedAt = &t
	}
	return &a, nil
}

// Appeal returns an appeal.
func (s *Store) Appeal(ctx context.Context, id string) (*socred.Appeal, error) {
	rows, _ := s.pool.Query(ctx, appealSelect+` WHERE id = $1`, id)
	as, err := pgx.CollectRows(rows, scanAppeal)
	if err != nil {
		return nil, fmt.Errorf("appeal: %w", err)
	}
	if len(as) == 0 {
		return nil, socred.Errorf(socred.ENOTFOUND, "appeal %q not found", id)
	}
	return as[0], nil
}

// SubjectAppeals returns a subject's appeals, oldest first.
func (s *Store) SubjectAppeals(ctx context.Context, subject string) ([]*socred.Appeal, error) {
	rows, _ := s.pool.Query(ctx, appealSelect+` WHERE subject = $1 ORDER BY filed_at, id`, subject)
	out, err := pgx.AppendRows(make([]*socred.Appeal, 0), rows, scanAppeal)
	if err != nil {
		return nil, fmt.Errorf("appeals: %w", err)
	}
	return out, nil
}

// DerivedRecords returns the records derived from a record.
func (s *Store) DerivedRecords(ctx context.Context, record socred.RecordRef) ([]*socred.Record, error) {
	rows, _ := s.pool.Query(ctx, recordSelect+` WHERE r.derived_from = $1 ORDER BY r.id`, record.ID)
	out, err := pgx.AppendRows(make([]*socred.Record, 0), rows, scanRecord)
	if err != nil {
		return nil, fmt.Errorf("derived records: %w", err)
	}
	return out, nil
}

const repairSelect = `SELECT id, subject, list, designation, route, evidence, statement, filed_at, status, decided_at, decided_by, decider_token, reasons FROM repairs`

func scanRepair(row pgx.CollectableRow) (*socred.Repair, error) {
	var (
		r       socred.Repair
		ev      string
		filed   int64
		decided *int64
		status  string
	)
	err := row.Scan(&r.ID, &r.Subject, &r.List, &r.Designation, &r.Route, &ev, &r.Statement, &filed, &status, &decided, &r.DecidedBy, &r.DeciderToken, &r.Reasons)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(ev), &r.Evidence); err != nil {
		return nil, fmt.Errorf("repair %s evidence: %w", r.ID, err)
	}
	r.FiledAt, r.Status = fromMicros(filed), socred.RepairStatus(status)
	if decided != nil {
		t := fromMicros(*decided)
		r.DecidedAt = &t
	}
	return &r, nil
}

// Repair returns a repair application.
func (s *Store) Repair(ctx context.Context, id string) (*socred.Repair, error) {
	rows, _ := s.pool.Query(ctx, repairSelect+` WHERE id = $1`, id)
	rs, err := pgx.CollectRows(rows, scanRepair)
	if err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	if len(rs) == 0 {
		return nil, socred.Errorf(socred.ENOTFOUND, "repair application %q not found", id)
	}
	return rs[0], nil
}

// SubjectRepairs returns a subject's repair applications, oldest first.
func (s *Store) SubjectRepairs(ctx context.Context, subject string) ([]*socred.Repair, error) {
	rows, _ := s.pool.Query(ctx, repairSelect+` WHERE subject = $1 ORDER BY filed_at, id`, subject)
	out, err := pgx.AppendRows(make([]*socred.Repair, 0), rows, scanRepair)
	if err != nil {
		return nil, fmt.Errorf("repairs: %w", err)
	}
	return out, nil
}

// OverdueAppeals returns open appeals past their review_due whose entry is
// not yet suspended.
func (s *Store) OverdueAppeals(ctx context.Context, now time.Time, limit int) ([]*socred.Appeal, error) {
	rows, _ := s.pool.Query(ctx, appealSelect+` WHERE status = 'open' AND suspended_at IS NULL AND review_due <= $1 ORDER BY review_due, id LIMIT $2`, micros(now), limit)
	out, err := pgx.AppendRows(make([]*socred.Appeal, 0), rows, scanAppeal)
	if err != nil {
		return nil, fmt.Errorf("overdue appeals: %w", err)
	}
	return out, nil
}
