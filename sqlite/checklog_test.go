package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
	"github.com/socred/socred/storetest"
)

// slowDrains keeps the background drain from running during a test, and
// sets the log's file sizes; it restores both at the end.
func slowDrains(tb testing.TB, size, switchAt int64) {
	oldEvery, oldRows, oldSize, oldSwitch := drainEvery, drainRows, checkLogSize, checkLogSwitch
	drainEvery, drainRows, checkLogSize, checkLogSwitch = time.Hour, 1<<30, size, switchAt
	tb.Cleanup(func() { drainEvery, drainRows, checkLogSize, checkLogSwitch = oldEvery, oldRows, oldSize, oldSwitch })
}

// crash stops the store as a killed process would: the check log's pending
// groups stay in its files alone.
func crash(s *Store) {
	s.cancel()
	s.wg.Wait()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.closed = true
	s.lmu.Lock()
	s.clog.closed = true
	s.clog.closeFiles()
	s.lmu.Unlock()
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	s.xwClosed = true
	s.r.close()
	s.xw.Close()
	s.w.Close()
}

// openAt opens the store at path, and waits until its check log's files
// are filled.
func openAt(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	for start := time.Now(); s.clog != nil && !s.clog.ready.Load(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			tb.Fatal("the check log's files are not filled after 10 s")
		}
	}
	return s
}

// twin commits every write to a store with a check log and to one in
// memory, which has none, so that the two can be compared.
type twin struct {
	tb        testing.TB
	log, bare *Store
	n         int
}

func newTwin(tb testing.TB, path string) *twin {
	bare, err := Open(context.Background(), filepath.Join(tb.TempDir(), "bare.db"), func(s *Store) { s.noCheckLog = true })
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bare.Close() })
	tw := &twin{tb: tb, log: openAt(tb, path), bare: bare}
	if tw.log.clog == nil {
		tb.Fatal("a store on disk has no check log")
	}
	return tw
}

// checks commits a group of n checks (every third denied, with a notice)
// and an access, through Commit as the journal does, to both stores, and
// fails unless they give the same receipts.
func (tw *twin) checks(n int) {
	tw.tb.Helper()
	build := func() *socred.Write {
		w := &socred.Write{Now: time.Unix(1_800_000_000, 0).UTC()}
		for range n {
			tw.n++
			c := socred.CheckEntry{Subject: "s" + strconv.Itoa(tw.n%7), At: w.Now.Add(time.Duration(tw.n) * time.Millisecond),
				By: "rail", TokenID: "t1", Action: "ride-high-speed-train", Purpose: "p" + strconv.Itoa(tw.n), Allowed: tw.n%3 != 0, LogIndex: new(int64)}
			w.Checks = append(w.Checks, c)
			var ev [32]byte
			copy(ev[:], fmt.Sprint(tw.n))
			w.Audit = append(w.Audit, socred.AuditEntry{Kind: audit.KindCheck, Event: ev, Receipt: c.LogIndex})
			if !c.Allowed {
				w.Notices, w.Deliver = append(w.Notices, socred.CheckNotice(&c)), true
			}
		}
		a := socred.Access{Subject: "s" + strconv.Itoa(tw.n%7), At: w.Now, By: "clerk", Role: socred.RoleAuthority, TokenID: "t2", Purpose: "review", LogIndex: new(int64)}
		w.Accesses = []socred.Access{a}
		if n%2 == 1 {
			// A logged read among the checks' entries (on other writes,
			// an unlogged one).
			var ev [32]byte
			copy(ev[:], "access "+fmt.Sprint(tw.n))
			w.Audit = append(w.Audit[:n/2:n/2], append([]socred.AuditEntry{{Kind: audit.KindAccess, Event: ev, Receipt: a.LogIndex}}, w.Audit[n/2:]...)...)
		} else {
			w.Accesses[0].LogIndex = nil
		}
		return w
	}
	a := build()
	tw.n -= n
	b := build()
	if err := tw.log.Commit(context.Background(), a); err != nil {
		tw.tb.Fatal(err)
	}
	if err := tw.bare.Commit(context.Background(), b); err != nil {
		tw.tb.Fatal(err)
	}
	for i := range a.Checks {
		if *a.Checks[i].LogIndex != *b.Checks[i].LogIndex {
			tw.tb.Fatalf("check %d: receipt %d with the log, %d without", i, *a.Checks[i].LogIndex, *b.Checks[i].LogIndex)
		}
	}
	if x, y := a.Accesses[0].LogIndex, b.Accesses[0].LogIndex; (x == nil) != (y == nil) || x != nil && *x != *y {
		tw.tb.Fatalf("access: receipt %v with the log, %v without", x, y)
	}
}

// other commits a write that is not the check log's to both stores.
func (tw *twin) other() {
	tw.tb.Helper()
	for _, s := range []*Store{tw.log, tw.bare} {
		w := &socred.Write{Now: time.Unix(1_800_000_000, 0).UTC(), Audit: []socred.AuditEntry{{Kind: audit.KindPack, Ref: "pack" + strconv.Itoa(tw.n)}}}
		if err := s.Commit(context.Background(), w); err != nil {
			tw.tb.Fatal(err)
		}
	}
}

// same fails unless both stores hold the same audit log, checks, accesses
// and notices.
func (tw *twin) same(s *Store) {
	tw.tb.Helper()
	ctx := context.Background()
	n1, err1 := s.AuditSize(ctx)
	n2, err2 := tw.bare.AuditSize(ctx)
	if err1 != nil || err2 != nil || n1 != n2 {
		tw.tb.Fatalf("audit size %d (%v) with the log, %d (%v) without", n1, err1, n2, err2)
	}
	root := func(s *Store) tlog.Hash {
		h, err := tlog.TreeHash(n1, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return s.AuditHashes(ctx, idx) }))
		if err != nil {
			tw.tb.Fatal(err)
		}
		return h
	}
	if root(s) != root(tw.bare) {
		tw.tb.Fatalf("the audit logs of %d leaves differ", n1)
	}
	page := socred.Page{Limit: 1 << 20}
	for i := range 7 {
		sub := "s" + strconv.Itoa(i)
		c1, err1 := s.Checks(ctx, sub, page)
		c2, err2 := tw.bare.Checks(ctx, sub, page)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(c1, c2) {
			tw.tb.Fatalf("checks of %s differ (%v, %v):\n%+v\n%+v", sub, err1, err2, c1, c2)
		}
		a1, err1 := s.Accesses(ctx, sub, page)
		a2, err2 := tw.bare.Accesses(ctx, sub, page)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(a1, a2) {
			tw.tb.Fatalf("accesses of %s differ (%v, %v)", sub, err1, err2)
		}
		m1, err1 := s.Notices(ctx, sub, page)
		m2, err2 := tw.bare.Notices(ctx, sub, page)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(m1, m2) {
			tw.tb.Fatalf("notices of %s differ (%v, %v)", sub, err1, err2)
		}
	}
	p1, err1 := s.PendingNotices(ctx, 1<<20)
	p2, err2 := tw.bare.PendingNotices(ctx, 1<<20)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(p1, p2) {
		tw.tb.Fatalf("pending notices differ (%v, %v): %d and %d", err1, err2, len(p1), len(p2))
	}
}

// TestCheckLogReplaysAfterACrash: groups acknowledged but never copied into
// the database are there after a restart, numbered as they were answered,
// and what comes after follows on.
func TestCheckLogReplaysAfterACrash(t *testing.T) {
	slowDrains(t, 1<<20, 256<<10)
	path := filepath.Join(t.TempDir(), "socred.db")
	tw := newTwin(t, path)
	tw.other()
	tw.checks(3)
	tw.checks(1)
	tw.other() // takes the pending groups into the database with it
	if n := tw.log.clog.count(); n != 0 {
		t.Fatalf("%d groups pending after another write, want none", n)
	}
	tw.checks(5)
	tw.checks(2)
	if n := tw.log.clog.count(); n != 2 {
		t.Fatalf("%d groups pending, want 2", n)
	}
	crash(tw.log)
	s := openAt(t, path)
	defer s.Close()
	tw.same(s)
	tw.log = s
	tw.checks(4)
	tw.other()
	tw.checks(1)
	tw.same(s)
}

// TestCheckLogStopsAtATornGroup: a group whose record was not written whole
// is not replayed, and the next group takes its numbers.
func TestCheckLogStopsAtATornGroup(t *testing.T) {
	slowDrains(t, 1<<20, 256<<10)
	path := filepath.Join(t.TempDir(), "socred.db")
	tw := newTwin(t, path)
	tw.checks(3)
	tw.checks(2)
	end := tw.log.clog.pos
	tw.log.lmu.Lock()
	g := tw.log.number(&socred.Write{Checks: []socred.CheckEntry{{Subject: "s1", By: "rail", Action: "fly"}}}, nil)
	rec := tw.log.clog.encode(g)
	tw.log.unnumber(g)
	tw.log.lmu.Unlock()
	crash(tw.log)
	// The third group's record, its last sector not written as by a crash
	// mid-write.
	f, err := os.OpenFile(checkLogPaths(path)[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	rec[len(rec)-1] ^= 0xff
	if _, err := f.WriteAt(rec, end); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s := openAt(t, path)
	defer s.Close()
	tw.same(s)
	if s.clog.seq != 2 {
		t.Errorf("the log numbers from %d, want 2: the torn group does not count", s.clog.seq)
	}
	tw.log = s
	tw.checks(2)
	tw.same(s)
}

// TestCheckLogMovesBetweenFiles: with small files the log moves from one to
// the other, drains when neither has room, commits a group too large for
// it in the database, and replays across both files after a crash.
func TestCheckLogMovesBetweenFiles(t *testing.T) {
	slowDrains(t, 16<<10, 4<<10)
	path := filepath.Join(t.TempDir(), "socred.db")
	tw := newTwin(t, path)
	moves, last := 0, 0
	for i := range 150 {
		tw.checks(1 + i%5)
		if c := tw.log.clog.cur; c != last {
			moves, last = moves+1, c
		}
		if i == 75 {
			before := tw.log.clog.count()
			tw.checks(60) // larger than a quarter of a file
			if n := tw.log.clog.count(); n != 0 || before == 0 {
				// It is committed in the database, with what was pending.
				t.Fatalf("a group too large for the log: %d groups pending before it, %d after, want some and none", before, n)
			}
		}
	}
	if moves < 4 {
		t.Errorf("the log moved between its files %d times, want at least 4", moves)
	}
	if tw.log.clog.count() == 0 {
		t.Fatal("nothing pending before the crash")
	}
	crash(tw.log)
	s := openAt(t, path)
	defer s.Close()
	tw.same(s)
}

// TestLoggableKnowsEveryField: a write with anything but checks, accesses,
// their notices and their audit entries is committed in the database, so a
// field added to socred.Write must be known here.
func TestLoggableKnowsEveryField(t *testing.T) {
	base := func() *socred.Write {
		return &socred.Write{Checks: []socred.CheckEntry{{Subject: "s"}}, Audit: []socred.AuditEntry{{Kind: audit.KindCheck}}}
	}
	if !loggable(base()) {
		t.Fatal("a write of one check is not loggable")
	}
	ours := map[string]bool{"Now": true, "Checks": true, "Accesses": true, "Notices": true, "Deliver": true, "NoticeBodies": true, "Audit": true}
	typ := reflect.TypeFor[socred.Write]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if ours[f.Name] {
			continue
		}
		w := base()
		v := reflect.ValueOf(w).Elem().Field(i)
		switch v.Kind() {
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
		case reflect.Int64:
			v.SetInt(1)
		case reflect.Struct: // of numbers (Expire)
			if v.NumField() == 0 || v.Field(0).Kind() != reflect.Int64 {
				t.Fatalf("socred.Write.%s (%s): loggable does not know it", f.Name, f.Type)
			}
			v.Field(0).SetInt(1)
		default:
			t.Fatalf("socred.Write.%s (%s): loggable does not know it", f.Name, f.Type)
		}
		if loggable(w) {
			t.Errorf("a write with %s is loggable", f.Name)
		}
	}
	w := base()
	w.Audit[0].Kind = audit.KindRecord
	if loggable(w) {
		t.Error("a write with a record's audit entry is loggable")
	}
}

// TestDecodeGroupRoundTrip: a group decodes to what was encoded, and no
// shorter prefix of it decodes.
func TestDecodeGroupRoundTrip(t *testing.T) {
	n, m := int64(40), int64(42)
	g := &logGroup{seq: 9, firstCheck: 5, firstAccess: 2, firstNotice: 3, firstLeaf: 40, deliver: true,
		checks: []socred.CheckEntry{{Subject: "s1", At: time.UnixMicro(1_800_000_000_123_456).UTC(), By: "rail", TokenID: "t", Action: "fly", Purpose: "trip", LogIndex: &n}},
		accesses: []socred.Access{{Subject: "s1", At: time.UnixMicro(7).UTC(), By: "clerk", Role: socred.RoleAuthority, TokenID: "u", Purpose: "x"},
			{Subject: "s2", At: time.UnixMicro(8).UTC(), By: "clerk", Role: socred.RoleAuthority, TokenID: "u", Purpose: "y", LogIndex: &m}},
		// The second access's receipt is its entry's place, 40 + 2.
		audit:   []socred.AuditEntry{{Kind: audit.KindCheck, Ref: "5", Event: [32]byte{1, 2, 3}}, {Kind: audit.KindPack, Ref: "p"}, {Kind: audit.KindAccess, Ref: "3", Event: [32]byte{4}}},
		notices: []socred.Notice{{Subject: "s1", At: time.UnixMicro(8).UTC()}},
		bodies:  [][]byte{[]byte(`{"kind":"check_denied"}`)},
	}
	rec := (&checkLog{}).encode(g)
	got, err := decodeGroup(rec[groupHeader:])
	if err != nil {
		t.Fatal(err)
	}
	got.seq = g.seq
	if !reflect.DeepEqual(got, g) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, g)
	}
	for i := range len(rec) - groupHeader {
		if _, err := decodeGroup(rec[groupHeader : groupHeader+i]); err == nil {
			t.Fatalf("the first %d bytes of a payload of %d decode", i, len(rec)-groupHeader)
		}
	}
}

// TestCheckLogUnderConcurrentWrites: groups of checks appended from several
// goroutines, beside other writes, reads and background drains, each end
// up in the database once, their receipts naming their own leaves, and the
// audit log holds every entry and no other.
func TestCheckLogUnderConcurrentWrites(t *testing.T) {
	slowDrains(t, 64<<10, 16<<10)
	drainEvery, drainRows = 5*time.Millisecond, 40
	s := openAt(t, filepath.Join(t.TempDir(), "socred.db"))
	defer s.Close()
	ctx := context.Background()
	const writers, groups, others = 4, 150, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	for k := range writers {
		wg.Go(func() {
			for i := range groups {
				w := &socred.Write{}
				for j := range 1 + i%4 {
					c := socred.CheckEntry{Subject: "s" + strconv.Itoa((k+i+j)%5), By: "rail", Action: "fly", Purpose: strconv.Itoa(k*1000 + i), LogIndex: new(int64)}
					w.Checks = append(w.Checks, c)
					w.Audit = append(w.Audit, socred.AuditEntry{Kind: audit.KindCheck, Receipt: c.LogIndex})
				}
				if err := s.Commit(ctx, w); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range others {
			w := &socred.Write{Audit: []socred.AuditEntry{{Kind: audit.KindPack, Ref: "pack" + strconv.Itoa(i)}}}
			if err := s.Commit(ctx, w); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() {
		for i := range 40 {
			if _, err := s.Checks(ctx, "s"+strconv.Itoa(i%5), socred.Page{Limit: 10}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	leaves := storetest.Leaves(t, s)
	checks := 0
	for sub := range 5 {
		cs, err := s.Checks(ctx, "s"+strconv.Itoa(sub), socred.Page{Limit: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			i := *c.LogIndex
			if i < 0 || i >= int64(len(leaves)) || leaves[i].Kind != audit.KindCheck || leaves[i].Ref != strconv.FormatInt(c.ID, 10) {
				t.Fatalf("check %d: receipt %d does not name its leaf", c.ID, i)
			}
		}
		checks += len(cs)
	}
	want := 0
	for i := range groups {
		want += writers * (1 + i%4)
	}
	if checks != want || len(leaves) != want+others {
		t.Errorf("%d checks and %d leaves, want %d and %d", checks, len(leaves), want, want+others)
	}
}

// TestCheckLogIgnoresAnotherDatabasesFiles: the log's files left beside a
// database that is not theirs are not replayed into it.
func TestCheckLogIgnoresAnotherDatabasesFiles(t *testing.T) {
	slowDrains(t, 1<<20, 256<<10)
	dir := t.TempDir()
	tw := newTwin(t, filepath.Join(dir, "a.db"))
	tw.checks(3)
	crash(tw.log)
	other := filepath.Join(dir, "b.db")
	openAt(t, other).Close()
	for i, p := range checkLogPaths(filepath.Join(dir, "a.db")) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(checkLogPaths(other)[i], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := openAt(t, other)
	defer s.Close()
	if cs, err := s.Checks(context.Background(), "s1", socred.Page{Limit: 100}); err != nil || len(cs) != 0 {
		t.Errorf("another database's checks replayed: %d (%v)", len(cs), err)
	}
	if s.clog.seq != 0 {
		t.Errorf("the log numbers from %d, want 0", s.clog.seq)
	}
}

// FuzzDecodeGroup: any bytes as a group's payload decode, or are refused,
// without a panic or an allocation beyond their length's worth; what
// decodes encodes to a payload that decodes to the same group.
func FuzzDecodeGroup(f *testing.F) {
	n := int64(7)
	g := &logGroup{firstCheck: 3, firstAccess: 1, firstNotice: 2, firstLeaf: 9, deliver: true,
		checks:   []socred.CheckEntry{{Subject: "zhang", At: time.UnixMicro(1_800_000_000_000_000).UTC(), By: "rail", TokenID: "t", Action: "ride-train", Purpose: "G1234", LogIndex: &n}},
		accesses: []socred.Access{{Subject: "zhang", At: time.UnixMicro(5).UTC(), By: "clerk", Role: socred.RoleAuthority, TokenID: "u", Purpose: "review"}},
		audit:    []socred.AuditEntry{{Kind: audit.KindCheck, Ref: "3", Event: [32]byte{9}}},
		notices:  []socred.Notice{{Subject: "zhang", At: time.UnixMicro(6).UTC()}},
		bodies:   [][]byte{[]byte(`{"kind":"check_denied"}`)},
	}
	f.Add((&checkLog{}).encode(g)[groupHeader:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		g, err := decodeGroup(p)
		if err != nil {
			return
		}
		again, err := decodeGroup((&checkLog{}).encode(g)[groupHeader:])
		if err != nil {
			t.Fatalf("a decoded group's encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, g) {
			t.Fatalf("decoded\n%+v\nre-encoded and decoded\n%+v", g, again)
		}
	})
}

// TestCheckLogWaitsForItsFiles: until its files are erased and filled,
// groups are committed in the database; then they go to the log. A
// reopened store erases what the files held before taking groups.
func TestCheckLogWaitsForItsFiles(t *testing.T) {
	slowDrains(t, 1<<20, 256<<10)
	path := filepath.Join(t.TempDir(), "socred.db")
	tw := newTwin(t, path)
	tw.log.clog.ready.Store(false)
	tw.checks(2)
	if n := tw.log.clog.count(); n != 0 {
		t.Fatalf("%d groups pending before the files are filled, want none", n)
	}
	tw.log.clog.ready.Store(true)
	tw.checks(2)
	if n := tw.log.clog.count(); n != 1 {
		t.Fatalf("%d groups pending once the files are filled, want 1", n)
	}
	tw.same(tw.log)
	tw.log.Close()
	if data, err := os.ReadFile(checkLogPaths(path)[0]); err != nil || bytes.Count(data, []byte{0}) == len(data) {
		t.Fatalf("the first file holds no group (%v)", err)
	}
	tw.log = openAt(t, path)
	defer tw.log.Close()
	for _, p := range checkLogPaths(path) {
		data, err := os.ReadFile(p)
		if err != nil || int64(len(data)) != checkLogSize || bytes.Count(data, []byte{0}) != len(data) {
			t.Fatalf("%s after a start: %v, %d bytes, want %d zeros", p, err, len(data), checkLogSize)
		}
	}
	tw.checks(1)
	tw.same(tw.log)
}

// TestCheckLogHasOneOwner: a second store opened on a database whose log
// another holds opens without it — it reads what is committed and replays
// nothing — while the first keeps its log.
func TestCheckLogHasOneOwner(t *testing.T) {
	slowDrains(t, 1<<20, 256<<10)
	path := filepath.Join(t.TempDir(), "socred.db")
	tw := newTwin(t, path)
	defer tw.log.Close()
	tw.checks(3)
	second := openAt(t, path)
	if second.clog != nil {
		t.Fatal("a second store took the log another holds")
	}
	if cs, err := second.Checks(context.Background(), "s1", socred.Page{Limit: 100}); err != nil || len(cs) != 0 {
		t.Errorf("the second store sees %d checks (%v); the first has copied none in", len(cs), err)
	}
	second.Close()
	tw.checks(2)
	tw.same(tw.log)
}

// TestDrainKeepsEveryCheck: a drain of many groups, written with INSERTs of
// many rows and of one, stores every check as it was committed, each under
// its own id.
func TestDrainKeepsEveryCheck(t *testing.T) {
	slowDrains(t, 64<<20, 48<<20)
	s := openAt(t, filepath.Join(t.TempDir(), "socred.db"))
	defer s.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	var want []socred.CheckEntry
	for i := range 45 { // 112 checks: three statements of 32 rows, 16 of one
		w := &socred.Write{}
		for j := range 1 + i%4 {
			n := len(want) + len(w.Checks)
			c := socred.CheckEntry{Subject: "s" + strconv.Itoa(n%3), At: t0.Add(time.Duration(n) * time.Second), By: "rail-" + strconv.Itoa(n),
				TokenID: "tok-" + strconv.Itoa(j), Action: "act-" + strconv.Itoa(n%7), Purpose: "purpose " + strconv.Itoa(n), Allowed: n%5 != 0}
			if n%2 == 0 {
				c.LogIndex = new(int64(n))
				w.Audit = append(w.Audit, socred.AuditEntry{Kind: audit.KindCheck, Receipt: c.LogIndex})
			}
			w.Checks = append(w.Checks, c)
		}
		if err := s.Commit(ctx, w); err != nil {
			t.Fatal(err)
		}
		want = append(want, w.Checks...)
	}
	var got []socred.CheckEntry
	for sub := range 3 {
		cs, err := s.Checks(ctx, "s"+strconv.Itoa(sub), socred.Page{Limit: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, cs...)
	}
	slices.SortFunc(got, func(a, b socred.CheckEntry) int { return cmp.Compare(a.ID, b.ID) })
	if len(got) != len(want) {
		t.Fatalf("%d checks stored, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.ID != got[0].ID+int64(i) || g.Subject != w.Subject || !g.At.Equal(w.At) || g.By != w.By || g.Action != w.Action ||
			g.Purpose != w.Purpose || g.Allowed != w.Allowed || (g.LogIndex == nil) != (w.LogIndex == nil) {
			t.Fatalf("check %d: stored %+v, committed %+v", i, g, w)
		}
	}
}
