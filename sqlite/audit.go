package sqlite

import (
	"context"
	"fmt"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"
	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// appendAudit appends w's audit entries to the log as one block, fills in
// their receipts and returns the log's edge after them (nil when w logs
// nothing), for the caller to keep once the transaction commits. Checks
// and accesses are named by their ids, from firstCheck and firstAccess.
// start is the edge as the caller last knew it (nil, or of another size,
// and it is read from the log).
func appendAudit(conn *sqlite3.Conn, start *audit.Edge, w *socred.Write, firstCheck, firstAccess int64) (*audit.Edge, error) {
	if len(w.Audit) == 0 {
		return nil, nil
	}
	size, err := sqlitex.ResultInt64(conn.Prep(`SELECT value FROM meta WHERE key = 'audit_size'`))
	if err != nil {
		return nil, fmt.Errorf("audit size: %w", err)
	}
	edge := start
	if edge == nil || edge.Size() != size {
		if edge, err = audit.NewEdge(size, hashReader(conn)); err != nil {
			return nil, fmt.Errorf("audit edge: %w", err)
		}
	}
	leaves, hashes := make([]audit.Leaf, len(w.Audit)), make([]audit.Hash, len(w.Audit))
	checks, accesses := 0, 0
	for i := range w.Audit {
		e := &w.Audit[i]
		leaves[i] = audit.Leaf{Kind: e.Kind, Ref: e.Ref, Event: e.Event}
		switch {
		case e.Kind == audit.KindCheck && e.Ref == "":
			if checks >= len(w.Checks) {
				return nil, fmt.Errorf("audit: more check entries than the write's %d checks", len(w.Checks))
			}
			leaves[i].Ref = strconv.FormatInt(firstCheck+int64(checks), 10)
			checks++
		case e.Kind == audit.KindAccess && e.Ref == "":
			if accesses >= len(w.Accesses) {
				return nil, fmt.Errorf("audit: more access entries than the write's %d accesses", len(w.Accesses))
			}
			leaves[i].Ref = strconv.FormatInt(firstAccess+int64(accesses), 10)
			accesses++
		}
		hashes[i] = e.LeafHash(&leaves[i])
		if e.Receipt != nil {
			*e.Receipt = size + int64(i)
		}
	}
	added, next, err := edge.Append(hashes)
	if err != nil {
		return nil, fmt.Errorf("audit append: %w", err)
	}
	stmt := conn.Prep(`INSERT INTO audit_log (first, leaves, hashes) VALUES (?, ?, ?)`)
	stmt.BindInt64(1, size)
	stmt.BindBytes(2, audit.AppendLeaves(nil, leaves))
	stmt.BindBytes(3, audit.Keep(size, added))
	if err := exec(stmt); err != nil {
		return nil, fmt.Errorf("audit append: %w", err)
	}
	stmt = conn.Prep(`UPDATE meta SET value = ? WHERE key = 'audit_size'`)
	stmt.BindInt64(1, next.Size())
	if err := exec(stmt); err != nil {
		return nil, fmt.Errorf("audit size: %w", err)
	}
	return next, nil
}

// hashReader reads stored hashes of the log on conn.
func hashReader(conn *sqlite3.Conn) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]audit.Hash, error) {
		return audit.ReadHashes(func(from, to int64) ([]audit.Block, error) { return blocks(conn, from, to) }, idx)
	})
}

// blocks reads the blocks that hold leaves from up to to.
func blocks(conn *sqlite3.Conn, from, to int64) ([]audit.Block, error) {
	var out []audit.Block
	stmt := conn.Prep(`SELECT first, leaves, hashes FROM audit_log
		WHERE first >= COALESCE((SELECT MAX(first) FROM audit_log WHERE first <= ?1), 0) AND first < ?2 ORDER BY first`)
	stmt.BindInt64(1, from)
	stmt.BindInt64(2, to)
	err := each(stmt, func(stmt *sqlite3.Stmt) error {
		out = append(out, scanBlock(stmt))
		return nil
	})
	return out, err
}

func scanBlock(stmt *sqlite3.Stmt) audit.Block {
	b := audit.Block{First: stmt.ColumnInt64(0), Leaves: make([]byte, stmt.ColumnLen(1)), Hashes: make([]byte, stmt.ColumnLen(2))}
	stmt.ColumnBytes(1, b.Leaves)
	stmt.ColumnBytes(2, b.Hashes)
	return b
}

// AuditKeys returns the log's keys, storing first when none are kept.
func (s *Store) AuditKeys(ctx context.Context, first socred.AuditKeys) (socred.AuditKeys, error) {
	var keys socred.AuditKeys
	err := s.write(ctx, func(conn *sqlite3.Conn) error {
		if len(first.Salt) > 0 { // else only reading
			for name, v := range map[string][]byte{"signer": []byte(first.Signer), "verifier": []byte(first.Verifier), "salt": first.Salt} {
				stmt := conn.Prep(`INSERT INTO audit_keys (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING`)
				stmt.BindText(1, name)
				stmt.BindBytes(2, v)
				if err := exec(stmt); err != nil {
					return err
				}
			}
		}
		return each(conn.Prep(`SELECT name, value FROM audit_keys`), func(stmt *sqlite3.Stmt) error {
			v := make([]byte, stmt.ColumnLen(1))
			stmt.ColumnBytes(1, v)
			switch stmt.ColumnText(0) {
			case "signer":
				keys.Signer = string(v)
			case "verifier":
				keys.Verifier = string(v)
			case "salt":
				keys.Salt = v
			}
			return nil
		})
	})
	if err != nil {
		return keys, fmt.Errorf("audit keys: %w", err)
	}
	return keys, nil
}

// AuditSize returns the number of leaves in the log.
func (s *Store) AuditSize(ctx context.Context) (int64, error) {
	// What the check log holds goes to the database first.
	if err := s.drain(ctx); err != nil {
		return 0, err
	}
	var n int64
	err := s.read(ctx, func(conn *sqlite3.Conn) (err error) {
		n, err = sqlitex.ResultInt64(conn.Prep(`SELECT value FROM meta WHERE key = 'audit_size'`))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit size: %w", err)
	}
	return n, nil
}

// AuditHashes reads stored hashes of the log by index.
func (s *Store) AuditHashes(ctx context.Context, indexes []int64) ([]audit.Hash, error) {
	// What the check log holds goes to the database first.
	if err := s.drain(ctx); err != nil {
		return nil, err
	}
	var out []audit.Hash
	err := s.read(ctx, func(conn *sqlite3.Conn) (err error) {
		out, err = hashReader(conn).ReadHashes(indexes)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("audit hashes: %w", err)
	}
	return out, nil
}

// AuditBlocks returns up to limit blocks, from the one holding leaf from.
func (s *Store) AuditBlocks(ctx context.Context, from int64, limit int) ([]socred.AuditBlock, error) {
	// What the check log holds goes to the database first.
	if err := s.drain(ctx); err != nil {
		return nil, err
	}
	var out []socred.AuditBlock
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT first, leaves, hashes FROM audit_log
			WHERE first >= COALESCE((SELECT MAX(first) FROM audit_log WHERE first <= ?1), 0) ORDER BY first LIMIT ?2`)
		stmt.BindInt64(1, from)
		stmt.BindInt64(2, int64(limit))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			out = append(out, scanBlock(stmt))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("audit blocks: %w", err)
	}
	return out, nil
}

// SaveCheckpoint keeps a checkpoint, unless one of its size is kept.
func (s *Store) SaveCheckpoint(ctx context.Context, c socred.Checkpoint) error {
	err := s.write(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`INSERT INTO audit_checkpoints (size, at, note) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
		stmt.BindInt64(1, c.Size)
		stmt.BindInt64(2, micros(c.At))
		stmt.BindBytes(3, c.Note)
		return exec(stmt)
	})
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// Checkpoints returns the kept checkpoints, largest first.
func (s *Store) Checkpoints(ctx context.Context, page socred.Page) ([]socred.Checkpoint, error) {
	out := []socred.Checkpoint{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT size, at, note FROM audit_checkpoints ORDER BY size DESC LIMIT ? OFFSET ?`)
		lim, off := limit(page)
		stmt.BindInt64(1, int64(lim))
		stmt.BindInt64(2, int64(off))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			c := socred.Checkpoint{Size: stmt.ColumnInt64(0), At: fromMicros(stmt.ColumnInt64(1)), Note: make([]byte, stmt.ColumnLen(2))}
			stmt.ColumnBytes(2, c.Note)
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	return out, nil
}

// AuditSources calls fn with every record, check and access that has a
// leaf (a record stored before the log began, once its purge is logged).
func (s *Store) AuditSources(ctx context.Context, fn func(*socred.Record, *socred.CheckEntry, *socred.Access) error) error {
	// What the check log holds goes to the database first.
	if err := s.drain(ctx); err != nil {
		return err
	}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		err := each(conn.Prep(recordSelect+` WHERE log_index IS NOT NULL OR purge_log_index IS NOT NULL`), func(stmt *sqlite3.Stmt) error {
			return fn(scanRecord(stmt), nil, nil)
		})
		if err != nil {
			return err
		}
		err = each(conn.Prep(checkSelect+` WHERE log_index IS NOT NULL`), func(stmt *sqlite3.Stmt) error {
			c := scanCheck(stmt)
			return fn(nil, &c, nil)
		})
		if err != nil {
			return err
		}
		return each(conn.Prep(accessSelect+` WHERE log_index IS NOT NULL`), func(stmt *sqlite3.Stmt) error {
			a := scanAccess(stmt)
			return fn(nil, nil, &a)
		})
	})
	if err != nil {
		return fmt.Errorf("audit sources: %w", err)
	}
	return nil
}
