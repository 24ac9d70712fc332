package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// auditAppend is a write's append to the audit log. The write's batch
// takes the log's lock and, through the callbacks queueAudit sets, reads
// its size and the ids of the write's checks; append then stores the
// block.
type auditAppend struct {
	kept      *audit.Edge // the store's edge when the batch was queued, or nil
	size      int64
	checkIDs  []int64
	accessIDs []int64
}

// entriesOf counts the entries of kind k that the store names: those of
// w's checks or accesses.
func entriesOf(w *socred.Write, k audit.Kind) int {
	n := 0
	for i := range w.Audit {
		if w.Audit[i].Kind == k && w.Audit[i].Ref == "" {
			n++
		}
	}
	return n
}

// queueAudit queues in b, the write's batch, what appending w.Audit needs
// to read once it holds the log's lock. The lock is the row lock on meta
// 'audit_size', taken after the batch's other statements, so that it is
// held for as little as can be: it serialises appenders, from this server
// or another. Once it holds it, an appender only inserts rows (the block,
// records, checks, notices, accesses) and locks no row that a writer
// waiting for the lock may hold, so it adds no deadlock to the batch's row
// locks. A write with a change locks meta 'feed_seq' first, so the two are
// always taken in the same order.
func (s *Store) queueAudit(b *pgx.Batch, w *socred.Write) *auditAppend {
	a := &auditAppend{kept: s.keptEdge()}
	b.Queue(`SELECT value FROM meta WHERE key = 'audit_size' FOR UPDATE`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&a.size)
	})
	// Check and access entries are named by the rows' ids, so the write
	// takes them from the tables' sequences rather than letting COPY do it.
	if entriesOf(w, audit.KindCheck) > 0 && len(w.Checks) > 0 {
		queueIDs(b, "checks", len(w.Checks), &a.checkIDs)
	}
	if entriesOf(w, audit.KindAccess) > 0 && len(w.Accesses) > 0 {
		queueIDs(b, "accesses", len(w.Accesses), &a.accessIDs)
	}
	return a
}

// queueIDs queues in b the taking of n ids from table's sequence, into ids.
func queueIDs(b *pgx.Batch, table string, n int, ids *[]int64) {
	b.Queue(`SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)`, table, n).
		Query(func(rows pgx.Rows) (err error) {
			*ids, err = pgx.AppendRows(make([]int64, 0, n), rows, pgx.RowTo[int64])
			return err
		})
}

// append appends w's entries to the log as one block, at the size the
// batch locked, and fills in their receipts. It returns the log's edge
// after them, for the store to keep once the transaction commits.
func (a *auditAppend) append(ctx context.Context, tx pgx.Tx, w *socred.Write) (*audit.Edge, error) {
	if n := entriesOf(w, audit.KindCheck); n > len(w.Checks) {
		return nil, fmt.Errorf("audit: %d check entries for %d checks", n, len(w.Checks))
	}
	if n := entriesOf(w, audit.KindAccess); n > len(w.Accesses) {
		return nil, fmt.Errorf("audit: %d access entries for %d accesses", n, len(w.Accesses))
	}
	if len(a.checkIDs) != 0 && len(a.checkIDs) != len(w.Checks) {
		return nil, fmt.Errorf("audit: %d check ids reserved for %d checks", len(a.checkIDs), len(w.Checks))
	}
	if len(a.accessIDs) != 0 && len(a.accessIDs) != len(w.Accesses) {
		return nil, fmt.Errorf("audit: %d access ids reserved for %d accesses", len(a.accessIDs), len(w.Accesses))
	}
	slices.Sort(a.checkIDs)
	slices.Sort(a.accessIDs)
	edge := a.kept
	if edge == nil || edge.Size() != a.size {
		var err error
		// Another server appended since: read the edge at the locked size.
		if edge, err = audit.NewEdge(a.size, hashReader(ctx, tx)); err != nil {
			return nil, fmt.Errorf("audit edge: %w", err)
		}
	}
	leaves, hashes := make([]audit.Leaf, len(w.Audit)), make([]audit.Hash, len(w.Audit))
	checks, accesses, blockSize := 0, 0, 0
	for i := range w.Audit {
		e := &w.Audit[i]
		leaves[i] = audit.Leaf{Kind: e.Kind, Ref: e.Ref, Event: e.Event}
		switch {
		case e.Kind == audit.KindCheck && e.Ref == "":
			leaves[i].Ref = strconv.FormatInt(a.checkIDs[checks], 10)
			checks++
		case e.Kind == audit.KindAccess && e.Ref == "":
			leaves[i].Ref = strconv.FormatInt(a.accessIDs[accesses], 10)
			accesses++
		}
		blockSize += binary.MaxVarintLen16 + 1 + len(e.Event) + len(leaves[i].Ref)
		hashes[i] = e.LeafHash(&leaves[i])
		if e.Receipt != nil {
			*e.Receipt = a.size + int64(i)
		}
	}
	added, next, err := edge.Append(hashes)
	if err != nil {
		return nil, fmt.Errorf("audit append: %w", err)
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO audit_log (first, leaves, hashes) VALUES ($1, $2, $3)`, a.size, audit.AppendLeaves(make([]byte, 0, blockSize), leaves), audit.Keep(a.size, added))
	b.Queue(`UPDATE meta SET value = $1 WHERE key = 'audit_size'`, next.Size())
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("audit append: %w", err)
	}
	return next, nil
}

// keptEdge returns the edge the store kept, or nil.
func (s *Store) keptEdge() *audit.Edge {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.edge
}

// keepEdge keeps the edge of a committed append, unless the store already
// keeps a larger one: commits from several goroutines may finish in any
// order, and the log only grows.
func (s *Store) keepEdge(e *audit.Edge) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.edge == nil || e.Size() > s.edge.Size() {
		s.edge = e
	}
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// blocksQuery reads the blocks that hold the leaf ranges [$1[i], $2[i]),
// in one statement however many ranges.
const blocksQuery = `SELECT first, leaves, hashes FROM audit_log WHERE first IN (
		SELECT b.first FROM unnest($1::BIGINT[], $2::BIGINT[]) AS r (lo, hi)
		CROSS JOIN LATERAL (SELECT first FROM audit_log
			WHERE first >= COALESCE((SELECT MAX(first) FROM audit_log WHERE first <= r.lo), 0) AND first < r.hi) AS b)
	ORDER BY first`

// hashReader reads stored hashes of the log with q: it reads every block
// the hashes need in one statement, then audit.ReadHashes takes them from
// the blocks (those below audit.KeptLevel from the leaves).
func hashReader(ctx context.Context, q querier) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]audit.Hash, error) {
		los, his := make([]int64, len(idx)), make([]int64, len(idx))
		for i, x := range idx {
			if x < 0 {
				return nil, fmt.Errorf("audit: no hash %d", x)
			}
			level, n := tlog.SplitStoredHashIndex(x)
			los[i], his[i] = n<<level, (n+1)<<level
			if level >= audit.KeptLevel {
				los[i] = his[i] - 1 // the block of the leaf that completed it
			}
		}
		rows, _ := q.Query(ctx, blocksQuery, los, his)
		var blocks []audit.Block
		var b audit.Block
		err := each(rows, func() error {
			if err := rows.Scan(&b.First, &b.Leaves, &b.Hashes); err != nil {
				return err
			}
			blocks = append(blocks, b)
			b = audit.Block{}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return audit.ReadHashes(func(from, to int64) ([]audit.Block, error) {
			// The block holding from, and those after it that start
			// before to.
			i := sort.Search(len(blocks), func(i int) bool { return blocks[i].First > from }) - 1
			i = max(i, 0)
			j := sort.Search(len(blocks), func(j int) bool { return blocks[j].First >= to })
			if i >= j {
				return nil, nil
			}
			return blocks[i:j], nil
		}, idx)
	})
}

// AuditKeys returns the log's keys, storing first when none are kept.
func (s *Store) AuditKeys(ctx context.Context, first socred.AuditKeys) (socred.AuditKeys, error) {
	var keys socred.AuditKeys
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return keys, fmt.Errorf("audit keys: %w", err)
	}
	defer tx.Rollback(ctx)
	b := &pgx.Batch{}
	for _, k := range []struct {
		name  string
		value []byte
	}{{"signer", []byte(first.Signer)}, {"verifier", []byte(first.Verifier)}, {"salt", first.Salt}} {
		if len(first.Salt) == 0 {
			break // only reading
		}
		if k.value == nil {
			k.value = []byte{} // pgx sends a nil slice as NULL
		}
		b.Queue(`INSERT INTO audit_keys (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING`, k.name, k.value)
	}
	// A statement sees what committed before it started: keys stored
	// concurrently by another server, whose insert this one waited for.
	b.Queue(`SELECT name, value FROM audit_keys`).Query(func(rows pgx.Rows) error {
		var (
			name  string
			value []byte
		)
		_, err := pgx.ForEachRow(rows, []any{&name, &value}, func() error {
			switch name {
			case "signer":
				keys.Signer = string(value)
			case "verifier":
				keys.Verifier = string(value)
			case "salt":
				keys.Salt = value
			}
			return nil
		})
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return socred.AuditKeys{}, mapError(fmt.Errorf("audit keys: %w", err))
	}
	if err := tx.Commit(ctx); err != nil {
		return socred.AuditKeys{}, mapError(fmt.Errorf("audit keys: %w", err))
	}
	return keys, nil
}

// AuditSize returns the number of leaves in the log.
func (s *Store) AuditSize(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'audit_size'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit size: %w", err)
	}
	return n, nil
}

// AuditHashes reads stored hashes of the log by index.
func (s *Store) AuditHashes(ctx context.Context, indexes []int64) ([]audit.Hash, error) {
	out, err := hashReader(ctx, s.pool).ReadHashes(indexes)
	if err != nil {
		return nil, fmt.Errorf("audit hashes: %w", err)
	}
	return out, nil
}

// AuditBlocks returns up to limit blocks, from the one holding leaf from.
// A negative limit, as in the SQLite store, is no limit.
func (s *Store) AuditBlocks(ctx context.Context, from int64, limit int) ([]socred.AuditBlock, error) {
	var lim *int64
	if limit >= 0 {
		l := int64(limit)
		lim = &l
	}
	rows, _ := s.pool.Query(ctx, `SELECT first, leaves, hashes FROM audit_log
		WHERE first >= COALESCE((SELECT MAX(first) FROM audit_log WHERE first <= $1), 0) ORDER BY first LIMIT $2`, from, lim)
	out, err := pgx.AppendRows(make([]socred.AuditBlock, 0), rows, func(row pgx.CollectableRow) (socred.AuditBlock, error) {
		var b socred.AuditBlock
		err := row.Scan(&b.First, &b.Leaves, &b.Hashes)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit blocks: %w", err)
	}
	return out, nil
}

// SaveCheckpoint keeps a checkpoint, unless one of its size is kept.
func (s *Store) SaveCheckpoint(ctx context.Context, c socred.Checkpoint) error {
	note := c.Note
	if note == nil {
		note = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_checkpoints (size, at, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		c.Size, micros(c.At), note)
	if err != nil {
		return mapError(fmt.Errorf("save checkpoint: %w", err))
	}
	return nil
}

// Checkpoints returns the kept checkpoints, largest first.
func (s *Store) Checkpoints(ctx context.Context, page socred.Page) ([]socred.Checkpoint, error) {
	lim, off := limit(page)
	rows, _ := s.pool.Query(ctx, `SELECT size, at, note FROM audit_checkpoints ORDER BY size DESC LIMIT $1 OFFSET $2`, lim, off)
	out, err := pgx.AppendRows(make([]socred.Checkpoint, 0), rows, func(row pgx.CollectableRow) (socred.Checkpoint, error) {
		var (
			c  socred.Checkpoint
			at int64
		)
		err := row.Scan(&c.Size, &at, &c.Note)
		c.At = fromMicros(at)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	return out, nil
}

// AuditSources calls fn with every record, check and access that has a leaf, from
// one read-only repeatable-read transaction (a consistent snapshot). Rows
// are handed to fn as they arrive, never collected.
func (s *Store) AuditSources(ctx context.Context, fn func(*socred.Record, *socred.CheckEntry, *socred.Access) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("audit sources: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, _ := tx.Query(ctx, recordSelect+` WHERE r.log_index IS NOT NULL OR r.purge_log_index IS NOT NULL`)
	err = each(rows, func() error {
		r, err := scanRecord(rows)
		if err != nil {
			return err
		}
		return fn(r, nil, nil)
	})
	if err != nil {
		return fmt.Errorf("audit sources: records: %w", err)
	}
	rows, _ = tx.Query(ctx, checkSelect+` WHERE log_index IS NOT NULL`)
	err = each(rows, func() error {
		c, err := scanCheck(rows)
		if err != nil {
			return err
		}
		return fn(nil, &c, nil)
	})
	if err != nil {
		return fmt.Errorf("audit sources: checks: %w", err)
	}
	rows, _ = tx.Query(ctx, accessSelect+` WHERE log_index IS NOT NULL`)
	err = each(rows, func() error {
		a, err := scanAccess(rows)
		if err != nil {
			return err
		}
		return fn(nil, nil, &a)
	})
	if err != nil {
		return fmt.Errorf("audit sources: accesses: %w", err)
	}
	return tx.Commit(ctx)
}
