package service

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/socred/socred"
)

// batchStore records the checks of each commit it is given.
type batchStore struct {
	socred.Store // nil: the journal only commits
	mu           sync.Mutex
	batches      []int
}

func (b *batchStore) Commit(_ context.Context, w *socred.Write) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range w.Checks {
		w.Checks[i].ID = int64(len(b.batches)*100 + i + 1)
	}
	b.batches = append(b.batches, len(w.Checks))
	return nil
}

func (b *batchStore) commits() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.batches...)
}

// lingeringJournal runs a journal over a batchStore whose linger steps last
// an hour, so that a batch is committed only when the journal knows that
// nobody else can join it (or it is full).
func lingeringJournal(t *testing.T) (*journal, *batchStore) {
	t.Helper()
	store := &batchStore{}
	j := newJournal(store, slog.New(slog.DiscardHandler))
	j.step = time.Hour
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
func added(j *journal, on *arrival, subject string) chan error {
	errc := make(chan error, 1)
	go func() { errc <- j.add(context.Background(), on, check(subject), nil) }()
	return errc
}

func wantAdded(t *testing.T, errc chan error) {
	t.Helper()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the check is still waiting: the journal lingered for callers that could not come")
	}
}

func TestJournalCommitsAtOnceWithNobodyOnTheWay(t *testing.T) {
	j, store := lingeringJournal(t)
	wantAdded(t, added(j, nil, "a"))
	wantAdded(t, added(j, nil, "b"))
	if got := store.commits(); len(got) != 2 || got[0] != 1 || got[1] != 1 {
		t.Fatalf("commits %v, want two of one check each", got)
	}
}

func TestJournalWaitsForTheCallerOnItsWay(t *testing.T) {
	j, store := lingeringJournal(t)
	on := j.expect() // a check being decided
	first := added(j, nil, "a")
	select {
	case <-first:
		t.Fatal("the first check was committed while another was on its way")
	case <-time.After(50 * time.Millisecond):
	}
	wantAdded(t, added(j, &on, "b"))
	wantAdded(t, first)
	if got := store.commits(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("commits %v, want one of both checks", got)
	}
	if c := j.coming.Load(); c != 0 {
		t.Fatalf("%d callers still counted on their way", c)
	}
}

func TestJournalStopsWaitingWhenTheCallerTurnsBack(t *testing.T) {
	j, store := lingeringJournal(t)
	on := j.expect()
	first := added(j, nil, "a")
	select {
	case <-first:
		t.Fatal("the first check was committed while another was on its way")
	case <-time.After(50 * time.Millisecond):
	}
	on.done() // refused, say: it never adds an entry
	on.done() // and done twice is done once
	wantAdded(t, first)
	if got := store.commits(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("commits %v, want one of one check", got)
	}
}

func TestJournalWaitsForRequestsBegun(t *testing.T) {
	j, store := lingeringJournal(t)
	j.requests(1) // the request of the first check
	j.requests(1) // another, still being read
	first := added(j, nil, "a")
	select {
	case <-first:
		t.Fatal("the first check was committed while another request was begun")
	case <-time.After(50 * time.Millisecond):
	}
	j.requests(-1) // the other request ends without a check
	wantAdded(t, first)
	j.requests(-1)
	if got := store.commits(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("commits %v, want one of one check", got)
	}
	if a, w := j.active.Load(), j.waiting.Load(); a != 0 || w != 0 {
		t.Fatalf("active %d, waiting %d after every request ended", a, w)
	}
}

func TestArrivalWithoutAJournal(t *testing.T) {
	var j *journal // a service not open
	on := j.expect()
	on.done()
	var none *arrival
	none.done()
}
