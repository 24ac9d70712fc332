package sqlite

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// checkLog makes checks and file accesses durable without a SQLite
// transaction each. A SQLite commit of a group of checks rewrites every
// page the group touched (the checks table, the audit log's block, the
// notices) and syncs the write-ahead log: about 0.7 ms a group, measured,
// with the cores idle while it syncs. The check log instead appends each
// group, numbered, to a file whose blocks are already written (so the sync
// writes the group alone, about 0.3 ms), answers the callers, and copies
// the groups into the database behind them, thousands in one transaction
// (drain). Every other write, and every read of what the groups hold
// (a subject's checks, accesses and notices; the audit log), first drains
// what is pending, so the database reads as if each group had been
// committed in turn; a restarted store replays the groups the database
// lacks before it serves.
//
// The log is two files of checkLogSize bytes beside the database, written
// in turn: a file is started over (from its first byte) only once every
// group in it is in the database, so a group is in the database or in a
// file. A group is a record: its payload's length, the CRC-32C of what
// follows, its sequence number, the database's index_owner (files left
// beside a database that is not theirs are ignored), and the payload.
// Replay reads each file from its start while the records are whole and
// their numbers follow one another; the database keeps the number of the
// last group it holds (meta check_log_seq), committed with the groups.
type checkLog struct {
	// Under the store's lmu, which also numbers checks, accesses, notices
	// and audit leaves:
	files  [2]*os.File
	cur    int       // the file appended to
	pos    int64     // where the next record goes in it
	last   [2]uint64 // the last group written to each file since it started over
	seq    uint64    // the last group numbered
	buf    []byte
	broken error // a failed sync: the store commits every write in the database from then on
	// ready is set once the files are erased and filled (see prefill);
	// until then groups are committed in the database.
	ready  atomic.Bool
	closed bool
	owner  uint64 // the database's index_owner, in every group: files beside another database are not its
	syncs  syncer // syncs the files; safe for concurrent use

	mu      sync.Mutex
	pending []*logGroup // appended, not yet in the database, in order
	rows    int         // checks and accesses pending
	applied uint64      // the last group in the database
	durable uint64      // every group up to it is synced
	kick    chan struct{}
}

// logGroup is a write of checks, accesses and their notices and audit
// entries, numbered when appended to the log.
type logGroup struct {
	seq      uint64
	checks   []socred.CheckEntry // LogIndex filled in
	accesses []socred.Access
	audit    []socred.AuditEntry // Ref naming the check, no Receipt
	notices  []socred.Notice     // Subject and At
	bodies   [][]byte            // the notices, encoded
	deliver  bool

	firstCheck, firstAccess, firstNotice, firstLeaf int64
}

// checkLogSize is each file's size; checkLogSwitch is how full the one
// being appended to gets before the store moves to the other, once every
// group there is in the database. A group larger than a quarter of a file
// is committed in the database instead.
var (
	checkLogSize   int64 = 8 << 20
	checkLogSwitch int64 = 2 << 20
)

// The log is drained when drainRows checks and accesses are pending, and
// at least every drainEvery. A drain takes a core for about 5 µs a row:
// drains of 8,192 rows held one of the two for about 40 ms every half
// second at 17,000 checks/s, and the checks answered meanwhile made much
// of the slowest hundredth (p99 9.8–17.4 ms over six runs, 13.5 on
// average; with 2,048, 10.3–12.9 over six, 11.9; 1,024 did no better).
var (
	drainRows  = 2048
	drainEvery = 250 * time.Millisecond
)

// checkLogPaths returns the two files of the database at path.
func checkLogPaths(path string) [2]string {
	return [2]string{path + "-checks-0", path + "-checks-1"}
}

const groupHeader = 24 // length, CRC, sequence number, the database's index_owner

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errLocked is lockFile's answer when another open file holds the lock.
var errLocked = errors.New("locked by another process")

// loggable says whether w holds only what the check log keeps: checks,
// accesses, the denials' notices and the checks' and accesses' audit
// entries (one each at most, named by the store).
func loggable(w *socred.Write) bool {
	if len(w.Checks)+len(w.Accesses) == 0 {
		return false
	}
	others := len(w.Subjects) + len(w.Relate) + len(w.Unrelate) + len(w.Records) + len(w.Designations) + len(w.Events) +
		len(w.Tokens) + len(w.Revoke) + len(w.Appeals) + len(w.Repairs) + len(w.Overturn) + len(w.Suspend) + len(w.Reinstate) +
		len(w.Purges) + len(w.Erase) + len(w.PurgeDesignations) + len(w.Contacts) + len(w.DueSubjects) + len(w.ChangeBody)
	if others > 0 || w.Settled != nil || w.Due != nil || w.Seq != 0 || w.Expire != (socred.Expiry{}) {
		return false
	}
	// The log keeps no leads (socred.NoticeLeads): a check's notice has
	// none.
	if len(w.NoticeBodies) != 0 && len(w.NoticeBodies) != len(w.Notices) || len(w.NoticeLeads) > 0 {
		return false
	}
	for i := range w.Notices {
		// A group keeps a notice's body alone: one describing a designated
		// entry would not be indexed for its purge when replayed.
		if len(socred.NoticeDesignations(&w.Notices[i])) > 0 {
			return false
		}
	}
	checks, accesses := 0, 0
	for _, e := range w.Audit {
		switch {
		case e.Ref != "":
			return false
		case e.Kind == audit.KindCheck:
			checks++
		case e.Kind == audit.KindAccess:
			accesses++
		default:
			return false
		}
	}
	return checks <= len(w.Checks) && accesses <= len(w.Accesses)
}

// openCheckLog opens (making them if needed) the log's files of a
// database on disk, and copies into the database the groups it lacks.
// It runs after the migrations and before the subject indexes are read.
func (s *Store) openCheckLog() (err error) {
	if s.path == ":memory:" || s.noCheckLog {
		return nil
	}
	l := &checkLog{kick: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			l.closeFiles() // #nosec G104 -- already failing
		}
	}()
	for i, p := range checkLogPaths(s.path) {
		if l.files[i], err = openLogFile(p); err != nil {
			return fmt.Errorf("sqlite: check log: %w", err)
		}
	}
	// One store at a time owns the log: another process opening the
	// database (socred audit verify --db beside a running server) reads
	// what is committed, without the groups the owner has not yet copied
	// in, and must not replay them.
	if err := lockFile(l.files[0]); err != nil {
		if errors.Is(err, errLocked) {
			s.log.Warn("the database's check log is open in another process: opened without it; checks that process has not yet copied in are not seen")
			l.closeFiles() // #nosec G104 -- unused
			return nil
		}
		return fmt.Errorf("sqlite: check log: %w", err)
	}
	applied, err := sqlitex.ResultInt64(s.w.Prep(`SELECT value FROM meta WHERE key = 'check_log_seq'`))
	if err != nil {
		return fmt.Errorf("sqlite: check log: %w", err)
	}
	owner, err := sqlitex.ResultInt64(s.w.Prep(`SELECT value FROM meta WHERE key = 'index_owner'`))
	if err != nil {
		return fmt.Errorf("sqlite: check log: %w", err)
	}
	l.owner = uint64(owner)                             // #nosec G115 -- an identifier, compared only
	l.applied, l.seq = uint64(applied), uint64(applied) // #nosec G115 -- a count from 0, never negative
	var groups []*logGroup
	for _, f := range l.files {
		gs, top, err := readGroups(f, l.owner)
		if err != nil {
			return fmt.Errorf("sqlite: check log: %w", err)
		}
		l.seq = max(l.seq, top)
		for _, g := range gs {
			if g.seq > l.applied {
				groups = append(groups, g)
			}
		}
	}
	slices.SortFunc(groups, func(a, b *logGroup) int { return cmp.Compare(a.seq, b.seq) })
	for i, g := range groups {
		if g.seq != l.applied+uint64(i)+1 {
			// Cannot happen: each file is read from its start up to its
			// first group that is not whole, and a file is synced before
			// the log moves to the other. Keep what follows on unbroken.
			s.log.Error("check log: groups missing; replaying up to the gap", "after", l.applied+uint64(i), "next", g.seq)
			groups = groups[:i]
			break
		}
	}
	if len(groups) > 0 {
		checks := 0
		for _, g := range groups {
			checks += len(g.checks)
		}
		err := immediate(context.Background(), s.wi, func(conn *sqlite3.Conn) error {
			_, err := applyGroups(conn, nil, groups)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: check log replay: %w", err)
		}
		s.log.Info("check log replayed", "groups", len(groups), "checks", checks)
	}
	// Everything in the files is in the database now: writing starts over
	// in the first file, numbered after every group either holds, once
	// prefill has erased both (groups go to the database until then).
	l.applied, l.durable = l.seq, l.seq
	s.clog = l
	return nil
}

// openLogFile opens (making it if needed, and then syncing its directory)
// a file of the log.
func openLogFile(path string) (*os.File, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the database's own path
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close() // #nosec G104 -- already failing
			return nil, err
		}
	}
	return f, nil
}

// prefill writes zeros over both files of the log, checkLogSize bytes
// each, and syncs them; then the log takes groups. Blocks already written
// make a later write and sync change no block map or file size (a sync of
// a group in a file it grows took about twice as long), and erasing what
// the files held before this start means that no group of an earlier run
// (one left whole after a torn one, never acknowledged) can ever be read
// as following a group of this one. It runs in the background when the
// store opens, and stops with it: done at open, it made opening a new
// database take 70-200 ms instead of 25-45 ms.
func (s *Store) prefill(ctx context.Context) {
	defer s.wg.Done()
	l := s.clog
	zeros := make([]byte, 1<<20)
	for _, f := range l.files {
		var err error
		for off := int64(0); err == nil && off < checkLogSize; {
			if ctx.Err() != nil {
				return
			}
			n := min(int64(len(zeros)), checkLogSize-off)
			_, err = f.WriteAt(zeros[:n], off)
			off += n
		}
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("check log: the files could not be filled; checks are committed in the database", "err", err)
			}
			return
		}
	}
	l.ready.Store(true)
}

func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- the database's directory
	if err != nil {
		return err
	}
	defer d.Close() // #nosec G307 -- read-only; Sync's error is the one that matters
	return d.Sync()
}

// readGroups reads a file's groups from its start while they are whole,
// numbered in turn and the database's (owner), and returns them with the
// highest number it saw.
func readGroups(f *os.File, owner uint64) ([]*logGroup, uint64, error) {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return nil, 0, err
	}
	var out []*logGroup
	var prev uint64
	for pos := 0; pos+groupHeader <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[pos:]))
		sum := binary.LittleEndian.Uint32(data[pos+4:])
		if n > len(data)-pos-groupHeader {
			break
		}
		rec := data[pos+8 : pos+groupHeader+n]
		if crc32.Checksum(rec, castagnoli) != sum {
			break
		}
		seq := binary.LittleEndian.Uint64(rec)
		if seq == 0 || prev != 0 && seq != prev+1 || binary.LittleEndian.Uint64(rec[8:]) != owner {
			break // a group of another database is not this one's
		}
		g, err := decodeGroup(rec[16:])
		if err != nil {
			break // a record that cannot have been written whole
		}
		g.seq, prev = seq, seq
		out = append(out, g)
		pos += groupHeader + n
	}
	return out, prev, nil
}

// appendLog appends w to the check log and returns once it is durable.
func (s *Store) appendLog(ctx context.Context, w *socred.Write) error {
	bodies := w.NoticeBodies
	if len(bodies) != len(w.Notices) {
		bodies = make([][]byte, len(w.Notices))
		for i := range w.Notices {
			var err error
			if bodies[i], err = socred.EncodeNotice(w.Notices[i]); err != nil {
				return fmt.Errorf("notice: %w", err)
			}
		}
	}
	l := s.clog
	for {
		s.lmu.Lock()
		if l.closed {
			s.lmu.Unlock()
			return errClosed
		}
		if l.broken != nil || !l.ready.Load() {
			s.lmu.Unlock()
			return s.commitTx(ctx, w)
		}
		g := s.number(w, bodies)
		rec := l.encode(g)
		if int64(len(rec)) > checkLogSize/4 {
			s.unnumber(g)
			s.lmu.Unlock()
			return s.commitTx(ctx, w)
		}
		if ok, err := l.room(int64(len(rec))); err != nil || !ok {
			s.unnumber(g)
			if err != nil {
				l.broken = err
			}
			s.lmu.Unlock()
			if err != nil {
				s.log.Error("check log: a sync failed; committing checks in the database from now on", "err", err)
				return s.commitTx(ctx, w)
			}
			// Both files hold groups not yet in the database.
			if err := s.drain(ctx); err != nil {
				return err
			}
			continue
		}
		if err := l.write(rec); err != nil {
			s.unnumber(g)
			l.broken = err
			s.lmu.Unlock()
			s.log.Error("check log: a write failed; committing checks in the database from now on", "err", err)
			return s.commitTx(ctx, w)
		}
		l.mu.Lock()
		l.pending = append(l.pending, g)
		l.rows += len(g.checks) + len(g.accesses)
		full := l.rows >= drainRows
		l.mu.Unlock()
		f := l.files[l.cur]
		s.lmu.Unlock()
		// Synced outside the lock, so that the next group is written and
		// synced beside this one (the disk takes concurrent syncs at about
		// twice the rate). A sync returns once every page written to the
		// file before it began is on the disk, this group's and every
		// earlier one's (the file before a move was synced then).
		if err := l.syncs.datasync(f); err != nil {
			s.lmu.Lock()
			l.broken = err
			s.lmu.Unlock()
			s.log.Error("check log: a sync failed; committing checks in the database from now on", "err", err)
			// The group is pending still: made durable in the database,
			// it is acknowledged.
			return s.drain(ctx)
		}
		l.mu.Lock()
		l.durable = max(l.durable, g.seq)
		l.mu.Unlock()
		if full {
			select {
			case l.kick <- struct{}{}:
			default:
			}
		}
		return nil
	}
}

// number gives w's rows their ids and its audit entries their leaves, in
// a new group. The caller holds lmu.
func (s *Store) number(w *socred.Write, bodies [][]byte) *logGroup {
	l := s.clog
	l.seq++
	g := &logGroup{seq: l.seq, checks: slices.Clone(w.Checks), accesses: slices.Clone(w.Accesses),
		notices: w.Notices, bodies: bodies, deliver: w.Deliver, audit: make([]socred.AuditEntry, len(w.Audit))}
	g.firstCheck, g.firstAccess = s.checks.reserve(len(g.checks)), s.accesses.reserve(len(g.accesses))
	g.firstNotice, g.firstLeaf = s.notices.reserve(len(g.notices)), s.auditNext
	checks, accesses := 0, 0
	for i, e := range w.Audit {
		// The k-th check (access) entry names the write's k-th check
		// (access), as appendAudit would.
		switch e.Kind {
		case audit.KindCheck:
			e.Ref = strconv.FormatInt(g.firstCheck+int64(checks), 10)
			checks++
		case audit.KindAccess:
			e.Ref = strconv.FormatInt(g.firstAccess+int64(accesses), 10)
			accesses++
		}
		if e.Receipt != nil {
			*e.Receipt = g.firstLeaf + int64(i)
		}
		e.Receipt = nil
		g.audit[i] = e
	}
	s.auditNext += int64(len(g.audit))
	return g
}

// unnumber takes back what number gave g, the last group numbered.
func (s *Store) unnumber(g *logGroup) {
	s.clog.seq = g.seq - 1
	s.checks.release(g.firstCheck)
	s.accesses.release(g.firstAccess)
	s.notices.release(g.firstNotice)
	s.auditNext = g.firstLeaf
}

// room makes room for a record of n bytes, moving to the other file when
// this one is past checkLogSwitch (or cannot take it) and every group in
// the other is in the database; false means neither can take it yet. This
// file is synced before the move, so that a sync of the other also covers
// every group before it.
func (l *checkLog) room(n int64) (bool, error) {
	fits := l.pos+n <= checkLogSize
	if fits && l.pos < checkLogSwitch {
		return true, nil
	}
	other := 1 - l.cur
	l.mu.Lock()
	free := l.last[other] <= l.applied
	l.mu.Unlock()
	if !free {
		return fits, nil
	}
	if err := l.syncs.datasync(l.files[l.cur]); err != nil {
		return false, err
	}
	l.mu.Lock()
	l.durable = max(l.durable, l.last[l.cur])
	l.mu.Unlock()
	l.cur, l.pos, l.last[other] = other, 0, 0
	return true, nil
}

// write writes a record at the end of the current file, unsynced.
func (l *checkLog) write(rec []byte) error {
	if _, err := l.files[l.cur].WriteAt(rec, l.pos); err != nil {
		return err
	}
	l.pos += int64(len(rec))
	l.last[l.cur] = binary.LittleEndian.Uint64(rec[8:])
	return nil
}

func (l *checkLog) closeFiles() error {
	errs := []error{l.syncs.close()}
	for _, f := range l.files {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}

// count returns how many groups are pending.
func (l *checkLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// snapshot returns the groups pending now.
func (l *checkLog) snapshot() []*logGroup {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clip(l.pending)
}

// synced returns the pending groups known to be on the disk (all of them
// once a sync failed): those a drain may take while others are appended.
func (l *checkLog) synced(broken bool) []*logGroup {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for n < len(l.pending) && (broken || l.pending[n].seq <= l.durable) {
		n++
	}
	return slices.Clip(l.pending[:n])
}

// drain copies the pending groups that are synced (all, once a sync
// failed) into the database: every group acknowledged is synced.
func (s *Store) drain(ctx context.Context) error {
	if s.clog == nil || s.clog.count() == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.lmu.Lock()
	broken := s.clog.broken != nil
	s.lmu.Unlock()
	return s.drainLocked(ctx, broken)
}

// drainLocked is drain for a caller holding wmu: of the groups synced, or
// of all that are pending.
func (s *Store) drainLocked(ctx context.Context, all bool) error {
	gs := s.clog.synced(all)
	if len(gs) == 0 {
		return nil
	}
	var edge *audit.Edge
	err := s.writeLocked(ctx, func(conn *sqlite3.Conn) (err error) {
		edge, err = applyGroups(conn, s.edge, gs)
		return err
	})
	if err != nil {
		return fmt.Errorf("check log: %w", err)
	}
	s.logApplied(gs, edge)
	return nil
}

// drainLoop drains the log when enough is pending, and regularly.
func (s *Store) drainLoop(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(drainEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.clog.kick:
		}
		if err := s.drain(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("check log drain failed", "err", err)
		}
	}
}

// logApplied records that gs, the first pending groups, were committed to
// the database, with the audit log's edge after them (nil if they logged
// nothing), and indexes their rows. The caller holds wmu.
func (s *Store) logApplied(gs []*logGroup, edge *audit.Edge) {
	l := s.clog
	rows := 0
	for _, g := range gs {
		rows += len(g.checks) + len(g.accesses)
	}
	l.mu.Lock()
	l.pending = slices.Clone(l.pending[len(gs):])
	l.rows -= rows
	l.applied = gs[len(gs)-1].seq
	l.mu.Unlock()
	if edge != nil {
		s.edge = edge
	}
	for _, g := range gs {
		index(s.checks, len(g.checks), g.firstCheck, func(i int) string { return g.checks[i].Subject })
		index(s.accesses, len(g.accesses), g.firstAccess, func(i int) string { return g.accesses[i].Subject })
		index(s.notices, len(g.notices), g.firstNotice, func(i int) string { return g.notices[i].Subject })
	}
}

// index adds n committed rows with consecutive ids from first to x.
func index(x *subjectIndex, n int, first int64, subject func(int) string) {
	if n == 0 {
		return
	}
	subjects, ids := make([]string, n), make([]int64, n)
	for i := range n {
		subjects[i], ids[i] = subject(i), first+int64(i)
	}
	x.add(subjects, ids)
}

// applyGroups inserts the groups' rows, and their audit entries as one
// block, and marks the last group as in the database. start is the audit
// log's edge as last known (may be nil); the edge after the groups is
// returned (nil if they logged nothing).
func applyGroups(conn *sqlite3.Conn, start *audit.Edge, gs []*logGroup) (*audit.Edge, error) {
	n := 0
	for _, g := range gs {
		n += len(g.audit)
	}
	var edge *audit.Edge
	if n > 0 {
		w := socred.Write{Audit: make([]socred.AuditEntry, 0, n)}
		for _, g := range gs {
			if next := gs[0].firstLeaf + int64(len(w.Audit)); g.firstLeaf != next {
				return nil, fmt.Errorf("group %d numbered its audit entries from %d, after %d", g.seq, g.firstLeaf, next)
			}
			w.Audit = append(w.Audit, g.audit...)
		}
		size, err := sqlitex.ResultInt64(conn.Prep(`SELECT value FROM meta WHERE key = 'audit_size'`))
		if err != nil {
			return nil, fmt.Errorf("audit size: %w", err)
		}
		if size != gs[0].firstLeaf {
			return nil, fmt.Errorf("group %d numbered its audit entries from %d, but the log holds %d", gs[0].seq, gs[0].firstLeaf, size)
		}
		// Every entry names its check already.
		if edge, err = appendAudit(conn, start, &w, 0, 0); err != nil {
			return nil, err
		}
	}
	runs := make([]checkRun, len(gs))
	for i, g := range gs {
		runs[i] = checkRun{first: g.firstCheck, checks: g.checks}
	}
	if err := insertCheckRuns(conn, runs); err != nil {
		return nil, err
	}
	for _, g := range gs {
		if err := insertAccesses(conn, g.accesses, g.firstAccess); err != nil {
			return nil, err
		}
		w := socred.Write{Notices: g.notices, NoticeBodies: g.bodies, Deliver: g.deliver}
		if err := insertNotices(conn, &w, g.firstNotice); err != nil {
			return nil, err
		}
	}
	stmt := conn.Prep(`UPDATE meta SET value = ? WHERE key = 'check_log_seq'`)
	stmt.BindInt64(1, int64(gs[len(gs)-1].seq)) // #nosec G115 -- numbers count up from 1
	if err := exec(stmt); err != nil {
		return nil, fmt.Errorf("check log mark: %w", err)
	}
	return edge, nil
}
