package sqlite

import (
	"context"
	"fmt"
	"time"

	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// The write-ahead log is copied into the database file (checkpointed) by a
// connection of its own, in the background, not by the writer: SQLite's
// automatic checkpoint runs in the commit that crosses its threshold, and
// with 16 KiB pages it copied up to 16 MiB and synced the database file
// while that commit's callers — a group of checks, a group of record
// batches — waited. A passive checkpoint never blocks the writer or the
// readers; it copies what it can and leaves the rest for the next one.
// Once the log has grown past walRestartFrames, a restarting checkpoint
// follows it under the store's write lock: new writers wait while it
// copies what the passive one left and syncs (see checkpoint).

// checkpointEvery is the least time between two background checkpoints.
// Each costs a sync of the database file, so under sustained writes it
// gathers this much of them.
const checkpointEvery = 250 * time.Millisecond

// openCheckpointer turns the writer's automatic checkpoints off and starts
// the background one, if the database is in WAL mode.
func (s *Store) openCheckpointer(ctx context.Context) error {
	mode, err := sqlitex.ResultText(s.w.Prep("PRAGMA journal_mode"))
	if err != nil {
		return fmt.Errorf("sqlite: journal mode: %w", err)
	}
	if mode != "wal" {
		return nil // an in-memory database, allowed unsafe: nothing to copy
	}
	conn, err := sqlite3.OpenConn(s.path, sqlite3.OpenReadWrite)
	if err != nil {
		return fmt.Errorf("sqlite: checkpointer: %w", err)
	}
	conn.SetBusyTimeout(busyTimeout)
	if err := pragmas(conn, "synchronous = FULL"); err != nil {
		conn.Close() // #nosec G104 -- already failing; the connection is unused, and closing it only frees it
		return err
	}
	if err := pragmas(s.w, "wal_autocheckpoint = 0"); err != nil {
		conn.Close() // #nosec G104 -- already failing; the connection is unused, and closing it only frees it
		return err
	}
	s.walKick = make(chan struct{}, 1)
	s.wg.Add(1)
	go s.checkpointLoop(ctx, conn)
	return nil
}

// wrote tells the checkpointer that a transaction committed.
func (s *Store) wrote() {
	select {
	case s.walKick <- struct{}{}:
	default:
	}
}

// checkpointLoop checkpoints after commits, at most once per
// checkpointEvery, and once more when the store closes.
func (s *Store) checkpointLoop(ctx context.Context, conn *sqlite3.Conn) {
	defer s.wg.Done()
	defer conn.Close() // #nosec G307 -- the last checkpoint's error is logged below; closing only frees the connection
	for {
		select {
		case <-ctx.Done():
			if err := s.checkpoint(conn); err != nil {
				s.log.Warn("wal checkpoint at close", "err", err)
			}
			return
		case <-s.walKick:
		}
		if err := s.checkpoint(conn); err != nil {
			s.log.Warn("wal checkpoint", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(checkpointEvery):
		}
	}
}

// checkpoint copies the log into the database without waiting for anyone
// (PASSIVE), and, once the log holds walRestartFrames or more, also makes
// the next transaction write it from its start (RESTART). A passive
// checkpoint alone never lets the log start over while commits keep
// coming — each one appends frames the checkpoint has not copied yet — so
// the file grew for as long as the load lasted (from 13 to 42 MB in 10 s
// of checks), and every commit's sync had the file's new size to write as
// well. A log written over in place syncs faster: a commit of 22 checks
// took 0.72-0.85 ms against 0.93-1.07 ms over 10,000 commits
// (BenchmarkCommitChecks).
//
// The restart needs the writer's lock, and SQLite's busy handler gives a
// waiting checkpoint no turn: under commits back to back (an ingest) it
// polled while the writer took the lock again at once, and the log grew
// to 155 MB in 10 s of records. So the restart takes the store's write
// lock first, waiting behind one commit at most, and new commits wait
// behind the restart; it waits at most walRestartWait for readers of older
// snapshots, and when they keep it that long it gives up, to try again
// after the next commits.
func (s *Store) checkpoint(conn *sqlite3.Conn) error {
	var frames int64
	err := sqlitex.ExecuteTransient(conn, "PRAGMA wal_checkpoint(PASSIVE)", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite3.Stmt) error {
			frames = stmt.ColumnInt64(1) // busy, log, checkpointed
			return nil
		},
	})
	if err != nil || frames < walRestartFrames {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	conn.SetBusyTimeout(walRestartWait)
	defer conn.SetBusyTimeout(busyTimeout)
	return sqlitex.ExecuteTransient(conn, "PRAGMA wal_checkpoint(RESTART)", nil)
}

// walRestartFrames is the size of the log, in frames (pages), past which
// the checkpointer restarts it: 512 pages of 16 KiB, 8 MiB.
var walRestartFrames int64 = 512

// walRestartWait bounds how long a restart waits for readers.
const walRestartWait = 20 * time.Millisecond
