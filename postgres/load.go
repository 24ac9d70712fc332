package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/socred/socred"
)

// Load streams the state the engine needs, in the order socred.Loader
// documents, from one read-only repeatable-read transaction (a consistent
// snapshot). Rows are handed to l as they arrive, never collected.
func (s *Store) Load(ctx context.Context, l socred.Loader) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("load: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := load(ctx, tx, l); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func load(ctx context.Context, tx pgx.Tx, l socred.Loader) error {
	var settled, seq int64
	if err := tx.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'settled'`).Scan(&settled); err != nil {
		return fmt.Errorf("load settled: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'feed_seq'`).Scan(&seq); err != nil {
		return fmt.Errorf("load feed: %w", err)
	}

	rows, _ := tx.Query(ctx, `SELECT id, kind, name, region, groups, registered_by FROM subjects`)
	err := each(rows, func() error {
		sub, err := scanSubject(rows)
		if err != nil {
			return err
		}
		return l.Subject(sub)
	})
	if err != nil {
		return fmt.Errorf("load subjects: %w", err)
	}

	rows, _ = tx.Query(ctx, `SELECT from_id, type, to_id FROM relations`)
	var rel socred.Relation
	err = each(rows, func() error {
		if err := rows.Scan(&rel.From, &rel.Type, &rel.To); err != nil {
			return err
		}
		return l.Relation(rel)
	})
	if err != nil {
		return fmt.Errorf("load relations: %w", err)
	}

	if err := loadRecords(ctx, tx, settled, l); err != nil {
		return fmt.Errorf("load records: %w", err)
	}

	rows, _ = tx.Query(ctx, designationSelect+` WHERE ended_at IS NULL AND until > $1`, settled)
	err = each(rows, func() error {
		d, err := scanDesignation(rows)
		if err != nil {
			return err
		}
		return l.Designation(d)
	})
	if err != nil {
		return fmt.Errorf("load designations: %w", err)
	}

	rows, _ = tx.Query(ctx, `SELECT subject, list, since FROM listings WHERE ended_at IS NULL AND designation = ''`)
	var (
		subject, list string
		since         int64
	)
	err = each(rows, func() error {
		if err := rows.Scan(&subject, &list, &since); err != nil {
			return err
		}
		return l.Listing(subject, list, fromMicros(since))
	})
	if err != nil {
		return fmt.Errorf("load listings: %w", err)
	}
	var t time.Time
	if settled > 0 {
		t = fromMicros(settled)
	}
	return l.Settled(t, seq)
}

// loadRecords streams the records that count at settled or will. It is
// the hot loop of a start (10M records): it asks for every column in binary
// and decodes them itself, which costs about half the CPU of pgx's Scan,
// and shares the strings of the few schemes and rules.
func loadRecords(ctx context.Context, tx pgx.Tx, settled int64, l socred.Loader) error {
	rows, _ := tx.Query(ctx, `SELECT id, subject, scheme, rule, points, occurred_at, counts_until, overturned_at IS NOT NULL OR suspended_at IS NOT NULL
		FROM records WHERE counts_until > $1`, pgx.QueryResultFormats{pgx.BinaryFormatCode}, settled)
	var (
		r     socred.CountingRecord
		names = map[string]string{}
	)
	name := func(b []byte) string {
		s, ok := names[string(b)]
		if !ok {
			s = string(b)
			names[s] = s
		}
		return s
	}
	return each(rows, func() error {
		v := rows.RawValues()
		if len(v) != 8 || len(v[0]) != 8 || len(v[4]) != 8 || len(v[5]) != 8 || len(v[6]) != 8 || len(v[7]) != 1 {
			return fmt.Errorf("unexpected row encoding %q", v)
		}
		r = socred.CountingRecord{
			ID: int8Of(v[0]), Subject: string(v[1]), Scheme: name(v[2]), Rule: name(v[3]),
			Points:      int8Of(v[4]),
			OccurredAt:  int8Of(v[5]) * 1000,
			CountsUntil: int8Of(v[6]) * 1000,
			Overturned:  v[7][0] != 0,
		}
		return l.Record(&r)
	})
}

// int8Of decodes a PostgreSQL int8 in binary format: 8 bytes, big-endian,
// two's complement.
func int8Of(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b)) // #nosec G115 -- reinterprets the bits, as the format means
}

// each calls fn for every row of rows, which it closes.
func each(rows pgx.Rows, fn func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(); err != nil {
			return err
		}
	}
	return rows.Err()
}
