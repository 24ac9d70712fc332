package sqlite

import (
	"context"
	"fmt"

	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// indexPath is the index file of the database at path (see subjectIndex):
// beside it, or in memory beside an in-memory database.
func indexPath(path string) string {
	if path == ":memory:" {
		return path
	}
	return path + "-index"
}

// indexSchema is the index file's: the runs of each subject index (see
// indexRun; <table>_by_subject is run 0, older versions' one table), and
// the mark up to which each is merged. owner holds the database's
// index_owner.
const indexSchema = `
CREATE TABLE IF NOT EXISTS marks (tbl TEXT PRIMARY KEY, merged INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (tbl TEXT NOT NULL, run INTEGER NOT NULL, rows INTEGER NOT NULL, packed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tbl, run)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS owner (value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records_by_subject (subject TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (subject, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checks_by_subject (subject TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (subject, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accesses_by_subject (subject TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (subject, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notices_by_subject (subject TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (subject, id)) WITHOUT ROWID;
`

// openIndex opens the index file (making it if needed) with its own
// writer, after the database is migrated. An index file that belongs to
// another database, or none, is emptied, and filled from the subject
// indexes an older schema kept in the database itself, if there are any;
// those are dropped from the database once copied.
func (s *Store) openIndex(ctx context.Context) error {
	xw, err := sqlite3.OpenConn(indexPath(s.path), sqlite3.OpenReadWrite|sqlite3.OpenCreate)
	if err != nil {
		return fmt.Errorf("sqlite: index file: %w", err)
	}
	s.xw, s.xwi = xw, newInterruptible(xw)
	s.xwi.watch(ctx)
	defer s.xwi.unwatch()
	xw.SetBusyTimeout(busyTimeout)
	// Its contents follow from the database: synced at checkpoints only
	// (WAL with synchronous=NORMAL keeps it consistent across crashes).
	if err := pragmas(xw, "page_size = 4096", "journal_mode = WAL", "synchronous = NORMAL", "temp_store = MEMORY", "cache_size = -65536"); err != nil {
		return err
	}
	if err := sqlitex.ExecuteScript(xw, indexSchema, nil); err != nil {
		return fmt.Errorf("sqlite: index file: %w", err)
	}
	// An index file of a build before packed runs (indexRun) lists its
	// runs without saying so: all hold a row per id.
	packed, err := sqlitex.ResultBool(xw.Prep(`SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = 'packed'`))
	if err != nil {
		return fmt.Errorf("sqlite: index file: %w", err)
	}
	if !packed {
		if err := sqlitex.ExecuteTransient(xw, `ALTER TABLE runs ADD COLUMN packed INTEGER NOT NULL DEFAULT 0`, nil); err != nil {
			return fmt.Errorf("sqlite: index file: %w", err)
		}
	}
	owner, err := sqlitex.ResultInt64(s.w.Prep(`SELECT value FROM meta WHERE key = 'index_owner'`))
	if err != nil {
		return fmt.Errorf("sqlite: index owner: %w", err)
	}
	have, err := sqlitex.ResultInt64(xw.Prep(`SELECT COALESCE(MAX(value), 0) FROM owner`))
	if err != nil {
		return fmt.Errorf("sqlite: index file: %w", err)
	}
	legacy, err := s.legacyIndexes()
	if err != nil {
		return err
	}
	if have != owner {
		if err := s.resetIndex(owner, legacy); err != nil {
			return fmt.Errorf("sqlite: index file: %w", err)
		}
	}
	if len(legacy) > 0 {
		return s.dropLegacyIndexes(legacy)
	}
	return nil
}

// legacyIndexes lists the subject indexes kept in the database itself by
// schema versions before 11.
func (s *Store) legacyIndexes() ([]string, error) {
	var tables []string
	stmt := s.w.Prep(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE '%\_by\_subject' ESCAPE '\' ORDER BY name`)
	err := each(stmt, func(stmt *sqlite3.Stmt) error {
		tables = append(tables, stmt.ColumnText(0))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: legacy indexes: %w", err)
	}
	return tables, nil
}

// resetIndex empties the index file, copies the database's legacy subject
// indexes and their marks into it, and makes it the database's.
func (s *Store) resetIndex(owner int64, legacy []string) (err error) {
	xw := s.xw
	if len(legacy) > 0 {
		attach := xw.Prep(`ATTACH DATABASE ? AS legacy`)
		attach.BindText(1, s.path)
		if err := exec(attach); err != nil {
			return err
		}
		defer func() {
			if derr := sqlitex.ExecuteTransient(xw, `DETACH DATABASE legacy`, nil); err == nil {
				err = derr
			}
		}()
	}
	end, err := sqlitex.ImmediateTransaction(xw)
	if err != nil {
		return err
	}
	defer end(&err)
	var runs []string
	err = each(xw.Prep(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE '%\_by\_subject\_%' ESCAPE '\'`), func(stmt *sqlite3.Stmt) error {
		runs = append(runs, stmt.ColumnText(0))
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range runs {
		if err := sqlitex.ExecuteTransient(xw, `DROP TABLE `+name, nil); err != nil {
			return err
		}
	}
	for _, x := range s.indexes() {
		if err := sqlitex.ExecuteTransient(xw, `DELETE FROM `+x.table+`_by_subject`, nil); err != nil {
			return err
		}
	}
	if err := sqlitex.ExecuteScript(xw, `DELETE FROM marks; DELETE FROM runs; DELETE FROM owner;`, nil); err != nil {
		return err
	}
	for _, table := range legacy {
		x := s.index(table)
		if x == nil {
			continue
		}
		if err := sqlitex.ExecuteTransient(xw, `INSERT INTO `+table+` (subject, id) SELECT subject, id FROM legacy.`+table, nil); err != nil {
			return err
		}
		stmt := xw.Prep(`INSERT INTO marks (tbl, merged) SELECT ?, value FROM legacy.meta WHERE key = ?`)
		stmt.BindText(1, x.table)
		stmt.BindText(2, x.table+"_indexed")
		if err := exec(stmt); err != nil {
			return err
		}
	}
	stmt := xw.Prep(`INSERT INTO owner (value) VALUES (?)`)
	stmt.BindInt64(1, owner)
	return exec(stmt)
}

// index returns the subject index kept in table (such as
// "records_by_subject"), or nil.
func (s *Store) index(table string) *subjectIndex {
	for _, x := range s.indexes() {
		if x.table+"_by_subject" == table {
			return x
		}
	}
	return nil
}

// dropLegacyIndexes drops the subject indexes copied into the index file
// from the database.
func (s *Store) dropLegacyIndexes(legacy []string) (err error) {
	end, err := sqlitex.ImmediateTransaction(s.w)
	if err != nil {
		return err
	}
	defer end(&err)
	for _, table := range legacy {
		if err := sqlitex.ExecuteTransient(s.w, `DROP TABLE `+table, nil); err != nil {
			return fmt.Errorf("sqlite: drop %s: %w", table, err)
		}
	}
	return sqlitex.ExecuteTransient(s.w, `DELETE FROM meta WHERE key LIKE '%\_indexed' ESCAPE '\'`, nil)
}

// indexWrite runs fn in an immediate transaction of the index file's
// writer. Merges, its only users once the store is open, hold mergeMu.
func (s *Store) indexWrite(ctx context.Context, fn func(conn *sqlite3.Conn) error) error {
	if s.xwClosed {
		return errClosed
	}
	return immediate(ctx, s.xwi, fn)
}

// attachIndex makes the index file readable on conn as "idx".
func attachIndex(conn *sqlite3.Conn, path string) error {
	stmt := conn.Prep(`ATTACH DATABASE ? AS idx`)
	stmt.BindText(1, indexPath(path))
	if err := exec(stmt); err != nil {
		return fmt.Errorf("sqlite: attach the index file: %w", err)
	}
	return nil
}
