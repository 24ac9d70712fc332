package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// Commit writes w in one transaction: the small statements in one pipelined
// batch, which ends by taking the audit log's lock, then the log's block,
// then the records, checks and accesses with COPY.
func (s *Store) Commit(ctx context.Context, w *socred.Write) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("commit: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	edge, err := s.commit(ctx, tx, w)
	if err != nil {
		return mapError(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return mapError(fmt.Errorf("commit: %w", err))
	}
	if edge != nil {
		s.keepEdge(edge)
	}
	return nil
}

// commit writes w in tx and returns the audit log's edge after it (nil
// when w logs nothing).
func (s *Store) commit(ctx context.Context, tx pgx.Tx, w *socred.Write) (*audit.Edge, error) {
	now := micros(w.Now)
	if w.Seq > 0 {
		if err := appendChange(ctx, tx, w); err != nil {
			return nil, err
		}
	}
	b := &pgx.Batch{}
	queueSubjects(b, w.Subjects, now)
	queueRelations(b, w.Relate, w.Unrelate, now)
	for _, d := range w.Designations {
		queueDesignation(b, d, now)
	}
	queueEvents(b, w.Events)
	for _, t := range w.Tokens {
		acts, _ := json.Marshal(nonNil(t.Actions))
		b.Queue(`INSERT INTO tokens (id, hash, role, authority, subject, actions, name, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.ID, t.Hash, string(t.Role), t.Authority, t.Subject, string(acts), t.Name, micros(t.CreatedAt))
	}
	for _, r := range w.Revoke {
		b.Queue(`UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, micros(r.At), r.ID)
	}
	for _, a := range w.Appeals {
		var decided *int64
		if a.DecidedAt != nil {
			v := micros(*a.DecidedAt)
			decided = &v
		}
		var suspended *int64
		if a.SuspendedAt != nil {
			v := micros(*a.SuspendedAt)
			suspended = &v
		}
		b.Queue(`INSERT INTO appeals (id, subject, record, list, designation, statement, filed_at, review_due, status, decided_at, decided_by, decider_token, reasons, suspended_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (id) DO UPDATE SET status = excluded.status, decided_at = excluded.decided_at, decided_by = excluded.decided_by,
				decider_token = excluded.decider_token, reasons = excluded.reasons, suspended_at = excluded.suspended_at`,
			a.ID, a.Subject, a.Record, a.List, a.Designation, a.Statement, micros(a.FiledAt), micros(a.ReviewDue), string(a.Status),
			decided, a.DecidedBy, a.DeciderToken, a.Reasons, suspended)
	}
	for _, ref := range w.Suspend {
		b.Queue(`UPDATE records SET suspended_at = $1 WHERE subject = $2 AND id = $3`, now, ref.Subject, ref.ID)
	}
	for _, ref := range w.Reinstate {
		b.Queue(`UPDATE records SET suspended_at = NULL WHERE subject = $1 AND id = $2`, ref.Subject, ref.ID)
	}
	for _, r := range w.Repairs {
		var decided *int64
		if r.DecidedAt != nil {
			v := micros(*r.DecidedAt)
			decided = &v
		}
		ev, _ := json.Marshal(nonNil(r.Evidence))
		b.Queue(`INSERT INTO repairs (id, subject, list, designation, route, evidence, statement, filed_at, status, decided_at, decided_by, decider_token, reasons)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (id) DO UPDATE SET status = excluded.status, decided_at = excluded.decided_at, decided_by = excluded.decided_by,
				decider_token = excluded.decider_token, reasons = excluded.reasons`,
			r.ID, r.Subject, r.List, r.Designation, r.Route, string(ev), r.Statement, micros(r.FiledAt), string(r.Status),
			decided, r.DecidedBy, r.DeciderToken, r.Reasons)
	}
	for _, ref := range w.Overturn {
		b.Queue(`UPDATE records SET overturned_at = $1 WHERE subject = $2 AND id = $3 AND overturned_at IS NULL`, now, ref.Subject, ref.ID)
	}
	for _, p := range w.Purges {
		b.Queue(`INSERT INTO purges (at, record, subject) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, micros(p.At), p.Record, p.Subject)
	}
	for _, d := range w.PurgeDesignations {
		if d.PurgedAt == nil {
			return nil, fmt.Errorf("purge of designation %s: no moment", d.ID)
		}
		b.Queue(`UPDATE designations SET reason = '', case_ref = '', end_reason = '', purged_at = $1 WHERE id = $2 AND purged_at IS NULL`, micros(*d.PurgedAt), d.ID)
		b.Queue(`UPDATE listings SET reason = '', case_ref = '' WHERE subject = $1 AND designation = $2`, d.Subject, d.ID)
	}
	if w.Expire.Checks > 0 {
		b.Queue(`DELETE FROM checks WHERE id <= $1`, w.Expire.Checks)
	}
	if w.Expire.Accesses > 0 {
		b.Queue(`DELETE FROM accesses WHERE id <= $1`, w.Expire.Accesses)
	}
	for _, c := range w.Contacts {
		if c.Email == "" {
			b.Queue(`DELETE FROM contacts WHERE subject = $1`, c.Subject)
		} else {
			b.Queue(`INSERT INTO contacts (subject, email, updated_at) VALUES ($1, $2, $3)
				ON CONFLICT (subject) DO UPDATE SET email = excluded.email, updated_at = excluded.updated_at`, c.Subject, c.Email, now)
		}
	}
	if w.Settled != nil {
		b.Queue(`UPDATE meta SET value = $1 WHERE key = 'settled'`, micros(*w.Settled))
	}
	var auditing *auditAppend
	if len(w.Audit) > 0 {
		auditing = s.queueAudit(b, w)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
	}
	// The log before the records and checks: it gives them their receipts.
	var (
		edge                *audit.Edge
		checkIDs, accessIDs []int64
	)
	if auditing != nil {
		var err error
		if edge, err = auditing.append(ctx, tx, w); err != nil {
			return nil, err
		}
		checkIDs, accessIDs = auditing.checkIDs, auditing.accessIDs
	}
	if err := copyRecords(ctx, tx, w.Records); err != nil {
		return nil, err
	}
	if err := erase(ctx, tx, w); err != nil {
		return nil, err
	}
	if err := copyChecks(ctx, tx, w.Checks, checkIDs); err != nil {
		return nil, err
	}
	if err := copyNotices(ctx, tx, w); err != nil {
		return nil, err
	}
	for _, d := range w.PurgeDesignations {
		if err := redactNotices(ctx, tx, d.ID); err != nil {
			return nil, fmt.Errorf("purge of designation %s: %w", d.ID, err)
		}
	}
	if err := copyAccesses(ctx, tx, w.Accesses, accessIDs); err != nil {
		return nil, err
	}
	return edge, nil
}

// erase carries out w's purges, after the audit log gave them their
// receipts. The first purge's moment and receipt stay: a record purged
// twice (two purges of it fell due) keeps them.
func erase(ctx context.Context, tx pgx.Tx, w *socred.Write) error {
	if len(w.Erase) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, e := range w.Erase {
		id, err := strconv.ParseInt(e.Record.ID, 10, 64)
		if err != nil {
			return fmt.Errorf("purge of record %q: %w", e.Record.ID, err)
		}
		b.Queue(`UPDATE records SET evidence = '', purged_at = COALESCE(purged_at, $1), purge_log_index = COALESCE(purge_log_index, $2)
			WHERE subject = $3 AND id = $4`, micros(w.Now), e.Receipt, e.Record.Subject, id)
		if !e.At.IsZero() {
			b.Queue(`DELETE FROM purges WHERE at = $1 AND record = $2`, micros(e.At), id)
		}
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	return nil
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// queueSubjects creates or replaces the subjects with one statement. A
// statement may not upsert a row twice, so the last version of a subject
// wins; the rows go in id order, so that concurrent writes lock them in the
// same order.
func queueSubjects(b *pgx.Batch, subs []*socred.Subject, now int64) {
	if len(subs) == 0 {
		return
	}
	last := make(map[string]*socred.Subject, len(subs))
	for _, sub := range subs {
		last[sub.ID] = sub
	}
	ids := slices.Sorted(maps.Keys(last))
	kinds, names, regions, groups := make([]string, len(ids)), make([]string, len(ids)), make([]string, len(ids)), make([]string, len(ids))
	registrars := make([]string, len(ids))
	for i, id := range ids {
		sub := last[id]
		g, _ := json.Marshal(nonNil(sub.Groups))
		kinds[i], names[i], regions[i], groups[i], registrars[i] = string(sub.Kind), sub.Name, sub.Region, string(g), sub.RegisteredBy
	}
	b.Queue(`INSERT INTO subjects (id, kind, name, region, groups, created_at, updated_at, registered_by)
		SELECT id, kind, name, region, groups, $6, $6, registered_by
		FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $7::TEXT[]) AS s (id, kind, name, region, groups, registered_by)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, region = excluded.region,
			groups = excluded.groups, updated_at = excluded.updated_at`,
		ids, kinds, names, regions, groups, now, registrars)
}

// queueRelations adds the relations in relate, then removes those in
// unrelate.
func queueRelations(b *pgx.Batch, relate, unrelate []socred.Relation, now int64) {
	columns := func(rs []socred.Relation) (from, typ, to []string) {
		from, typ, to = make([]string, len(rs)), make([]string, len(rs)), make([]string, len(rs))
		for i, r := range rs {
			from[i], typ[i], to[i] = r.From, r.Type, r.To
		}
		return from, typ, to
	}
	if len(relate) > 0 {
		from, typ, to := columns(relate)
		b.Queue(`INSERT INTO relations (from_id, type, to_id, created_at)
			SELECT from_id, type, to_id, $4 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS r (from_id, type, to_id)
			ON CONFLICT DO NOTHING`, from, typ, to, now)
	}
	if len(unrelate) > 0 {
		from, typ, to := columns(unrelate)
		b.Queue(`DELETE FROM relations WHERE (from_id, type, to_id) IN
			(SELECT from_id, type, to_id FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS r (from_id, type, to_id))`, from, typ, to)
	}
}

func queueDesignation(b *pgx.Batch, d *socred.Designation, now int64) {
	b.Queue(`INSERT INTO designations (id, list, subject, authority, reason, case_ref, since, until, ended_at, end_reason, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, case_ref = excluded.case_ref, until = excluded.until, ended_at = excluded.ended_at, end_reason = excluded.end_reason`,
		d.ID, d.List, d.Subject, d.Authority, d.Reason, d.Case, micros(d.Since), micros(d.Until), nullMicros(d.EndedAt), d.EndReason, now)
}

// queueEvents keeps the listings table in step with the engine's events
// about subjects' own listings. Applying an event twice changes nothing.
func queueEvents(b *pgx.Batch, events []socred.Event) {
	for i := range events {
		e := &events[i]
		l := e.Listing
		if l == nil || l.Via != nil {
			continue
		}
		switch e.Kind {
		case socred.EventListed:
			b.Queue(`INSERT INTO listings (subject, list, designation, since, until, reason, case_ref, authority, legal_basis)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
				e.Subject, l.List, l.Designation, micros(l.Since), nullMicros(l.Until), l.Reason, l.Case, l.Authority, l.LegalBasis)
		case socred.EventDelisted:
			b.Queue(`UPDATE listings SET ended_at = $1 WHERE subject = $2 AND list = $3 AND designation = $4 AND ended_at IS NULL`,
				micros(e.At), e.Subject, l.List, l.Designation)
		case socred.EventTermChanged:
			b.Queue(`UPDATE listings SET until = $1 WHERE subject = $2 AND list = $3 AND designation = $4 AND ended_at IS NULL`,
				nullMicros(l.Until), e.Subject, l.List, l.Designation)
		}
	}
}

// copyRecords stores the records' idempotency keys, whose unique violation
// reports a key stored before, then the records.
func copyRecords(ctx context.Context, tx pgx.Tx, recs []*socred.Record) error {
	if len(recs) == 0 {
		return nil
	}
	ids := make([]int64, len(recs))
	keyed := make([]int, 0, len(recs))
	for i, r := range recs {
		id, err := strconv.ParseInt(r.ID, 10, 64)
		if err != nil {
			return fmt.Errorf("record id %q: %w", r.ID, err)
		}
		ids[i] = id
		if r.Key != "" {
			keyed = append(keyed, i)
		}
	}
	if len(keyed) > 0 {
		row := make([]any, 4)
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"record_keys"}, []string{"reporter", "key", "subject", "id"},
			pgx.CopyFromSlice(len(keyed), func(i int) ([]any, error) {
				r := recs[keyed[i]]
				row[0], row[1], row[2], row[3] = r.Reporter, r.Key, r.Subject, ids[keyed[i]]
				return row, nil // pgx encodes a row before it asks for the next
			}))
		if err != nil {
			return fmt.Errorf("record keys: %w", err)
		}
	}
	row := make([]any, len(recordColumns))
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"records"}, recordColumns, pgx.CopyFromSlice(len(recs), func(i int) ([]any, error) {
		r := recs[i]
		row[0], row[1], row[2], row[3] = r.Subject, ids[i], r.Reporter, nullText(r.Key)
		row[4], row[5], row[6], row[7], row[8] = r.Scheme, r.Rule, r.Points, micros(r.OccurredAt), micros(r.CountsUntil)
		row[9], row[10], row[11], row[12] = r.Evidence, nil, nil, nil
		if d := r.DerivedFrom; d != nil {
			from, err := strconv.ParseInt(d.Record, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("record %s derived from %q: %w", r.ID, d.Record, err)
			}
			row[10], row[11], row[12] = from, d.Subject, d.Relation
		}
		row[13], row[14] = micros(r.AcceptedAt), r.LogIndex
		return row, nil
	}))
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	return nil
}

var recordColumns = []string{"subject", "id", "reporter", "key", "scheme", "rule", "points", "occurred_at", "counts_until",
	"evidence", "derived_from", "derived_subject", "derived_relation", "accepted_at", "log_index"}

// copyChecks appends checks with the ids given, or, when ids is nil, ids
// the table gives them.
func copyChecks(ctx context.Context, tx pgx.Tx, cs []socred.CheckEntry, ids []int64) error {
	if len(cs) == 0 {
		return nil
	}
	cols := []string{"subject", "at", "by", "token_id", "action", "purpose", "allowed", "log_index", "id"}
	if ids == nil {
		cols = cols[:len(cols)-1]
	} else if len(ids) != len(cs) {
		return fmt.Errorf("checks: %d ids for %d checks", len(ids), len(cs))
	}
	row := make([]any, len(cols))
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"checks"}, cols,
		pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) {
			c := &cs[i]
			row[0], row[1], row[2], row[3], row[4], row[5], row[6] = c.Subject, micros(c.At), c.By, c.TokenID, c.Action, c.Purpose, c.Allowed
			row[7] = c.LogIndex
			if ids != nil {
				row[8] = ids[i]
			}
			return row, nil
		}))
	if err != nil {
		return fmt.Errorf("checks: %w", err)
	}
	return nil
}

// copyAccesses appends accesses with the ids given, or, when ids is nil,
// ids the table gives them.
func copyAccesses(ctx context.Context, tx pgx.Tx, as []socred.Access, ids []int64) error {
	if len(as) == 0 {
		return nil
	}
	cols := []string{"subject", "at", "by", "role", "token_id", "purpose", "log_index", "id"}
	if ids == nil {
		cols = cols[:len(cols)-1]
	} else if len(ids) != len(as) {
		return fmt.Errorf("accesses: %d ids for %d accesses", len(ids), len(as))
	}
	row := make([]any, len(cols))
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"accesses"}, cols,
		pgx.CopyFromSlice(len(as), func(i int) ([]any, error) {
			a := &as[i]
			row[0], row[1], row[2], row[3], row[4], row[5] = a.Subject, micros(a.At), a.By, string(a.Role), a.TokenID, a.Purpose
			row[6] = a.LogIndex
			if ids != nil {
				row[7] = ids[i]
			}
			return row, nil
		}))
	if err != nil {
		return fmt.Errorf("accesses: %w", err)
	}
	return nil
}

// ReserveIDs reserves n record ids. The row lock on the counter orders
// concurrent reservations, from this server or another.
func (s *Store) ReserveIDs(ctx context.Context, n int) (int64, error) {
	var first int64
	err := s.pool.QueryRow(ctx, `UPDATE meta SET value = value + $1 WHERE key = 'next_record_id' RETURNING value - $1`, int64(n)).Scan(&first)
	if err != nil {
		return 0, fmt.Errorf("reserve ids: %w", err)
	}
	return first, nil
}

// appendChange stores w as change w.Seq of the feed, or returns
// socred.ErrStale when the last change stored is not w.Seq-1. It runs first
// in the transaction: the row lock on meta 'feed_seq' then makes concurrent
// writers commit one at a time, in the order of their numbers, and a writer
// that waited finds the number taken. It wakes the servers that listen.
func appendChange(ctx context.Context, tx pgx.Tx, w *socred.Write) error {
	tag, err := tx.Exec(ctx, `UPDATE meta SET value = $1 WHERE key = 'feed_seq' AND value = $2`, w.Seq, w.Seq-1)
	if err != nil {
		if isSerializationFailure(err) {
			return fmt.Errorf("change %d: %w", w.Seq, socred.ErrStale)
		}
		return fmt.Errorf("feed: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("change %d: %w", w.Seq, socred.ErrStale)
	}
	body, err := socred.ChangeBody(w)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO changes (seq, at, body) VALUES ($1, $2, $3)`, w.Seq, micros(w.Now), body)
	// The feed serves servers that are running; a day of it is plenty.
	// Each change removes a few of the oldest, which keeps up.
	b.Queue(`DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE seq < $1 ORDER BY seq LIMIT 4) AND at < $2`,
		w.Seq, micros(w.Now.Add(-socred.FeedRetention)))
	b.Queue(`SELECT pg_notify('`+feedChannel+`', $1)`, strconv.FormatInt(w.Seq, 10))
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	return nil
}

// copyNotices appends notices; the table numbers them.
func copyNotices(ctx context.Context, tx pgx.Tx, w *socred.Write) error {
	ns := w.Notices
	if len(ns) == 0 {
		return nil
	}
	row := make([]any, 5)
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"notices"}, []string{"subject", "at", "body", "pending", "designations"},
		pgx.CopyFromSlice(len(ns), func(i int) ([]any, error) {
			n := &ns[i]
			var body []byte
			if len(w.NoticeBodies) == len(ns) {
				body = w.NoticeBodies[i]
			} else {
				var err error
				if body, err = socred.EncodeNotice(*n); err != nil {
					return nil, err
				}
			}
			// The designations it describes an entry of, for the purge of
			// their text (redactNotices); NULL for most.
			row[0], row[1], row[2], row[3], row[4] = n.Subject, micros(n.At), body, w.Deliver, socred.NoticeDesignations(n)
			return row, nil
		}))
	if err != nil {
		return fmt.Errorf("notices: %w", err)
	}
	return nil
}

// redactNotices clears designation d's reason, case and end reason from
// every notice that describes an entry of it (socred.RedactNotice): the
// subject's own and those of subjects it reached through a relation.
func redactNotices(ctx context.Context, tx pgx.Tx, d string) error {
	rows, _ := tx.Query(ctx, `SELECT id, subject, at, body FROM notices WHERE designations @> ARRAY[$1]::text[]`, d)
	ns, err := pgx.CollectRows(rows, scanNotice)
	if err != nil {
		return fmt.Errorf("notices of designation %s: %w", d, err)
	}
	b := &pgx.Batch{}
	for i := range ns {
		n := &ns[i]
		socred.RedactNotice(n, d)
		body, err := socred.EncodeNotice(*n)
		if err != nil {
			return fmt.Errorf("notice %d: %w", n.ID, err)
		}
		b.Queue(`UPDATE notices SET body = $1, designations = NULLIF(array_remove(designations, $2), '{}') WHERE subject = $3 AND id = $4`,
			body, d, n.Subject, n.ID)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("notices of designation %s: %w", d, err)
	}
	return nil
}
