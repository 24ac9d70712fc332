package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/socred/socred"
)

// Load streams the state the engine needs, in the order socred.Loader
// documents, from one read transaction (a consistent snapshot).
func (s *Store) Load(ctx context.Context, l socred.Loader) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var settled int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'settled'`).Scan(&settled); err != nil {
		return fmt.Errorf("load settled: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, kind, name, region, groups FROM subjects`)
	if err != nil {
		return fmt.Errorf("load subjects: %w", err)
	}
	for rows.Next() {
		var sub socred.Subject
		var kind, groups string
		if err := rows.Scan(&sub.ID, &kind, &sub.Name, &sub.Region, &groups); err != nil {
			rows.Close()
			return err
		}
		sub.Kind = socred.SubjectKind(kind)
		if err := json.Unmarshal([]byte(groups), &sub.Groups); err != nil {
			rows.Close()
			return fmt.Errorf("subject %s: %w", sub.ID, err)
		}
		if err := l.Subject(&sub); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}

	if rows, err = tx.QueryContext(ctx, `SELECT from_id, type, to_id FROM relations`); err != nil {
		return fmt.Errorf("load relations: %w", err)
	}
	for rows.Next() {
		var r socred.Relation
		if err := rows.Scan(&r.From, &r.Type, &r.To); err != nil {
			rows.Close()
			return err
		}
		if err := l.Relation(r); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}

	if rows, err = tx.QueryContext(ctx, `SELECT id, subject, scheme, rule, points, occurred_at, counts_until, overturned_at IS NOT NULL
		FROM records WHERE counts_until > ?`, settled); err != nil {
		return fmt.Errorf("load records: %w", err)
	}
	var r socred.CountingRecord
	for rows.Next() {
		var occurred, until int64
		if err := rows.Scan(&r.ID, &r.Subject, &r.Scheme, &r.Rule, &r.Points, &occurred, &until, &r.Overturned); err != nil {
			rows.Close()
			return err
		}
		r.OccurredAt, r.CountsUntil = occurred*1000, until*1000
		if err := l.Record(&r); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}

	if rows, err = tx.QueryContext(ctx, designationSelect+` WHERE ended_at IS NULL AND until > ?`, settled); err != nil {
		return fmt.Errorf("load designations: %w", err)
	}
	for rows.Next() {
		d, err := scanDesignation(rows)
		if err != nil {
			rows.Close()
			return err
		}
		if err := l.Designation(d); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}

	if rows, err = tx.QueryContext(ctx, `SELECT subject, list, since FROM listings WHERE ended_at IS NULL AND designation = ''`); err != nil {
		return fmt.Errorf("load listings: %w", err)
	}
	for rows.Next() {
		var subject, list string
		var since int64
		if err := rows.Scan(&subject, &list, &since); err != nil {
			rows.Close()
			return err
		}
		if err := l.Listing(subject, list, fromMicros(since)); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	var t time.Time
	if settled > 0 {
		t = fromMicros(settled)
	}
	return l.Settled(t)
}
