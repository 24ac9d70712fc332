package service

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/socred/socred"
)

// batchStore records the checks of each commit it is given. While hold is
// set, a commit waits until release is called; fail, when set, is the
// error of every commit.
type batchStore struct {
	socred.Store // nil: the journal only commits
	mu           sync.Mutex
	batches      []int
	hold         chan struct{} // closed by release
	entered      chan struct{} // a commit has begun to wait on hold
	fail         error
}

func (b *batchStore) Commit(_ context.Context, w *socred.Write) error {
	b.mu.Lock()
	hold := b.hold
	b.mu.Unlock()
	if hold != nil {
		b.entered <- struct{}{}
		<-hold
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range w.Checks {
		w.Checks[i].ID = int64(len(b.batches)*100 + i + 1)
	}
	b.batches = append(b.batches, len(w.Checks))
	return b.fail
}

// holding makes the next commits wait until release (or the test's end,
// so that a failing test does not leave the journal waiting).
func (b *batchStore) holding(t *testing.T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hold, b.entered = make(chan struct{}), make(chan struct{}, 16)
	t.Cleanup(b.release)
}

func (b *batchStore) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hold != nil {
		close(b.hold)
		b.hold = nil
	}
}

func (b *batchStore) commits() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.batches...)
}

// runJournal runs a journal over a batchStore until the test ends.
func runJournal(t *testing.T) (*journal, *batchStore) {
	t.Helper()
	store := &batchStore{}
	j := newJournal(store, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); j.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return j, store
}

func check(subject string) *socred.CheckEntry {
	return &socred.CheckEntry{Subject: subject, At: time.Unix(1, 0), By: "till", Action: "buy_train_ticket", Allowed: true}
}

// added adds a check in the background; the channel gives add's error.
func added(j *journal, subject string) chan error {
	errc := make(chan error, 1)
	go func() { errc <- j.add(context.Background(), check(subject), nil) }()
	return errc
}

func wantAdded(t *testing.T, errc chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the check is still waiting for its commit")
		return nil
	}
}

// waitNext waits until the journal's next batch holds n checks.
func waitNext(t *testing.T, j *journal, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j.mu.Lock()
		got := 0
		if j.next != nil {
			got = len(j.next.w.Checks)
		}
		j.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d checks in the next batch, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestJournalCommitsALoneCheckAtOnce(t *testing.T) {
	j, store := runJournal(t)
	for _, s := range []string{"a", "b"} {
		if err := wantAdded(t, added(j, s)); err != nil {
			t.Fatal(err)
		}
	}
	if got := store.commits(); len(got) != 2 || got[0] != 1 || got[1] != 1 {
		t.Fatalf("commits %v, want two of one check each", got)
	}
}

// Checks that arrive while a commit runs share the next commit, and none
// of them is answered before its own commit ends.
func TestJournalGathersWhatArrivesDuringACommit(t *testing.T) {
	j, store := runJournal(t)
	store.holding(t)
	first := added(j, "a")
	<-store.entered // the first commit has begun, and waits
	var rest []chan error
	for _, s := range []string{"b", "c", "d"} {
		rest = append(rest, added(j, s))
	}
	// Every one of them is in the next batch before the first commit ends.
	waitNext(t, j, 3)
	select {
	case <-first:
		t.Fatal("the first check was answered before its commit ended")
	case <-rest[0]:
		t.Fatal("a later check was answered before any commit of it")
	default:
	}
	store.release()
	for _, errc := range append(rest, first) {
		if err := wantAdded(t, errc); err != nil {
			t.Fatal(err)
		}
	}
	if got := store.commits(); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("commits %v, want one of the first check, then one of the three", got)
	}
}

func TestJournalGivesACommitsErrorToEachOfItsCallers(t *testing.T) {
	j, store := runJournal(t)
	boom := errors.New("disk full")
	store.fail = boom
	store.holding(t)
	first := added(j, "a")
	<-store.entered
	second, third := added(j, "b"), added(j, "c")
	waitNext(t, j, 2)
	store.release()
	for _, errc := range []chan error{first, second, third} {
		if err := wantAdded(t, errc); !errors.Is(err, boom) {
			t.Fatalf("add returned %v, want %v", err, boom)
		}
	}
}

// A caller that gives up waiting gets its context's error; the check is
// still committed.
func TestJournalCallerGivesUp(t *testing.T) {
	j, store := runJournal(t)
	store.holding(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- j.add(ctx, check("a"), nil) }()
	<-store.entered
	cancel()
	if err := wantAdded(t, errc); !errors.Is(err, context.Canceled) {
		t.Fatalf("add returned %v, want %v", err, context.Canceled)
	}
	store.release()
	if err := wantAdded(t, added(j, "b")); err != nil {
		t.Fatal(err)
	}
	if got := store.commits(); len(got) != 2 || got[0] != 1 {
		t.Fatalf("commits %v, want the abandoned check's, then the next", got)
	}
}
