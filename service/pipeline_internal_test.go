package service

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
	"github.com/socred/socred/sqlite"
)

// gatedStore holds the first commit of records until released.
type gatedStore struct {
	socred.Store
	once             sync.Once
	started, release chan struct{}
}

func (g *gatedStore) Commit(ctx context.Context, w *socred.Write) error {
	if len(w.Records) > 0 {
		g.once.Do(func() {
			close(g.started)
			<-g.release
		})
	}
	return g.Store.Commit(ctx, w)
}

// ingestService opens a service over a new database (through wrap, when
// given) with the example pack and subjects a and b, and returns it with
// an admin caller; the test closes both.
func ingestService(t *testing.T, wrap func(socred.Store) socred.Store) (*Service, *socred.Caller) {
	t.Helper()
	ctx := context.Background()
	p, probs, err := pack.Load(packs.Example)
	if err != nil || p == nil {
		t.Fatalf("example pack: %v %v", err, probs)
	}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "socred.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	var st socred.Store = store
	if wrap != nil {
		st = wrap(store)
	}
	svc, err := New(st, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(ctx) })
	admin := &socred.Caller{Token: &socred.Token{ID: "admin", Role: socred.RoleAdmin, Name: "admin"}}
	if _, err := svc.PutSubjects(ctx, admin, []*socred.Subject{
		{ID: "a", Kind: socred.Person, Name: "A", Region: "rongcheng"},
		{ID: "b", Kind: socred.Person, Name: "B", Region: "rongcheng"},
	}); err != nil {
		t.Fatal(err)
	}
	return svc, admin
}

// donation is a record of a blood donation by subject an hour ago.
func donation(svc *Service, key, subject string) socred.RecordInput {
	return socred.RecordInput{Key: key, Subject: subject, Scheme: "rongcheng", Rule: "blood-donation", OccurredAt: svc.now().Add(-time.Hour)}
}

// submitDonation submits a batch of one donation by subject, keyed by the
// subject, and returns where its outcome will be sent.
func submitDonation(svc *Service, admin *socred.Caller, subject string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := svc.SubmitRecords(context.Background(), admin, []socred.RecordInput{donation(svc, "k-"+subject, subject)})
		done <- err
	}()
	return done
}

// A batch that arrives while the group before it commits is planned beside
// that commit, not after it: the ingest leader, with nothing queued, waits
// for batches as well as for the store, so that planning and committing
// overlap (two cores busy, not one after the other).
func TestIngestPlansBesideTheCommit(t *testing.T) {
	ctx := context.Background()
	var gate *gatedStore
	svc, admin := ingestService(t, func(store socred.Store) socred.Store {
		gate = &gatedStore{Store: store, started: make(chan struct{}), release: make(chan struct{})}
		return gate
	})

	beside := make(chan bool, 4)
	testHookPrepared = func(next, inFlight *flight) {
		for _, req := range next.reqs {
			if req.recs[0].Subject == "b" {
				beside <- inFlight != nil && !inFlight.ended
			}
		}
	}
	defer func() { testHookPrepared = nil }()

	submit := func(subject string) <-chan error { return submitDonation(svc, admin, subject) }
	doneA := submit("a")
	<-gate.started // a's group is committing, held
	doneB := submit("b")
	select {
	case ok := <-beside:
		if !ok {
			t.Error("b's batch was planned, but not beside a's commit")
		}
	case <-time.After(10 * time.Second):
		t.Error("b's batch was not planned while a's group committed")
	}
	close(gate.release)
	for subject, done := range map[string]<-chan error{"a": doneA, "b": doneB} {
		if err := <-done; err != nil {
			t.Errorf("%s: %v", subject, err)
		}
	}
	for _, subject := range []string{"a", "b"} {
		f, err := svc.File(ctx, admin, subject, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Records) != 1 {
			t.Errorf("%s's file: %d records, want 1", subject, len(f.Records))
		}
	}
}

// A panic while a group's notices or audit entries are made (in goroutines
// of their own, behind the plan) fails that group's batches with an error
// and stores none of them; the server goes on ingesting.
func TestIngestSurvivesAPanicMakingNotices(t *testing.T) {
	ctx := context.Background()
	svc, admin := ingestService(t, nil)
	for _, what := range []string{"notices", "audit entries"} {
		var once sync.Once
		testHookMake = func(w string) {
			if w == what {
				once.Do(func() { panic("injected") })
			}
		}
		_, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{donation(svc, "k-"+what, "a")})
		testHookMake = nil
		if err == nil || !strings.Contains(err.Error(), "making "+what) {
			t.Errorf("a panic making %s: error %v, want one naming it", what, err)
		}
	}
	if _, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{donation(svc, "k-after", "a")}); err != nil {
		t.Fatalf("after the panics: %v", err)
	}
	f, err := svc.File(ctx, admin, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 1 {
		t.Errorf("a's file: %d records, want 1 (the failed batches store none)", len(f.Records))
	}
}

// subjectGates holds the commit of records of each gated subject until
// released.
type subjectGates struct {
	socred.Store
	started, release map[string]chan struct{}
}

func (g *subjectGates) Commit(ctx context.Context, w *socred.Write) error {
	for _, r := range w.Records {
		if started, ok := g.started[r.Subject]; ok {
			close(started)
			<-g.release[r.Subject]
			break
		}
	}
	return g.Store.Commit(ctx, w)
}

// A batch committed by another handler's leadership is answered at once,
// while that leader goes on committing: its client can send the next one.
// (A handler waiting for the writer lock to lead answered only once the
// leader stopped, which under load starved the queue.)
func TestIngestAnswersBeforeTheLeaderStops(t *testing.T) {
	ctx := context.Background()
	gates := &subjectGates{started: map[string]chan struct{}{}, release: map[string]chan struct{}{}}
	for _, s := range []string{"a", "b", "c"} {
		gates.started[s], gates.release[s] = make(chan struct{}), make(chan struct{})
	}
	svc, admin := ingestService(t, func(store socred.Store) socred.Store {
		gates.Store = store
		return gates
	})
	released := map[string]bool{}
	release := func(subject string) {
		if !released[subject] {
			released[subject] = true
			close(gates.release[subject])
		}
	}
	// Before the service closes (cleanups run last first), on failure too.
	t.Cleanup(func() {
		for _, s := range []string{"a", "b", "c"} {
			release(s)
		}
	})
	if _, err := svc.PutSubjects(ctx, admin, []*socred.Subject{{ID: "c", Kind: socred.Person, Name: "C", Region: "rongcheng"}}); err != nil {
		t.Fatal(err)
	}
	prepared := make(chan string, 8)
	testHookPrepared = func(next, _ *flight) {
		for _, req := range next.reqs {
			prepared <- req.recs[0].Subject
		}
	}
	defer func() { testHookPrepared = nil }()
	waitFor := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not happen in 10 s", what)
		}
	}
	waitPrepared := func(subject string) {
		t.Helper()
		for {
			select {
			case s := <-prepared:
				if s == subject {
					return
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s's batch was not planned in 10 s", subject)
			}
		}
	}
	submit := func(subject string) <-chan error { return submitDonation(svc, admin, subject) }
	doneA := submit("a") // a's handler leads
	waitFor(gates.started["a"], "a's commit")
	doneB := submit("b")
	waitPrepared("b")
	release("a")
	waitFor(gates.started["b"], "b's commit")
	doneC := submit("c")
	waitPrepared("c") // beside b's commit: the leader goes on with c
	release("b")
	waitFor(gates.started["c"], "c's commit")
	// c's commit is held, and a's handler still leads: b is answered all
	// the same.
	select {
	case err := <-doneB:
		if err != nil {
			t.Fatalf("b: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b's batch, committed, was not answered while the leader went on")
	}
	release("c")
	for subject, done := range map[string]<-chan error{"a": doneA, "c": doneC} {
		if err := <-done; err != nil {
			t.Errorf("%s: %v", subject, err)
		}
	}
}

// A record's subject is named, once its batch is checked, by the subject's
// own id string, so that the maps keyed by subject find it by address: the
// decoded copy a request brings is dropped.
func TestCheckedRecordsShareTheSubjectsID(t *testing.T) {
	svc, _ := ingestService(t, nil)
	own := svc.world.Entry("a").Subject.ID
	recs := []*socred.Record{{Subject: strings.Clone(own), Scheme: "rongcheng", Rule: "blood-donation"}}
	if unsafe.StringData(recs[0].Subject) == unsafe.StringData(own) {
		t.Fatal("the test's copy shares the subject's string")
	}
	if err := svc.checkSubjects(recs); err != nil {
		t.Fatal(err)
	}
	if unsafe.StringData(recs[0].Subject) != unsafe.StringData(own) {
		t.Error("the checked record keeps its own copy of the subject's id")
	}
}

// bodyStore keeps the change bodies of the writes of records it is given.
type bodyStore struct {
	socred.Store
	mu     sync.Mutex
	bodies [][]byte
	want   [][]byte // what ChangeBody makes of the write itself
}

func (b *bodyStore) Commit(ctx context.Context, w *socred.Write) error {
	if len(w.Records) > 0 {
		plain := *w
		plain.ChangeBody = nil
		want, err := socred.ChangeBody(&plain)
		if err != nil {
			return err
		}
		b.mu.Lock()
		b.bodies, b.want = append(b.bodies, w.ChangeBody), append(b.want, want)
		b.mu.Unlock()
	}
	return b.Store.Commit(ctx, w)
}

// An ingest's write comes to the store with its change feed entry made,
// off the commit's path, and made of the write as it is committed.
func TestIngestMakesTheChangeBody(t *testing.T) {
	bodies := &bodyStore{}
	svc, admin := ingestService(t, func(store socred.Store) socred.Store {
		bodies.Store = store
		return bodies
	})
	for _, subject := range []string{"a", "b"} {
		if err := <-submitDonation(svc, admin, subject); err != nil {
			t.Fatal(err)
		}
	}
	bodies.mu.Lock()
	defer bodies.mu.Unlock()
	if len(bodies.bodies) == 0 {
		t.Fatal("no write of records came to the store")
	}
	for i, body := range bodies.bodies {
		if body == nil {
			t.Errorf("write %d of records: no change body made by the writer", i)
		} else if string(body) != string(bodies.want[i]) {
			t.Errorf("write %d: change body %s, want %s", i, body, bodies.want[i])
		}
	}
}
