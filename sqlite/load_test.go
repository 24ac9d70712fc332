package sqlite_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/sqlite"
)

// batchLoader is a socred.RecordsLoader that keeps what it is given.
type batchLoader struct {
	mu       sync.Mutex
	subjects []*socred.Subject
	records  map[int64]socred.CountingRecord
	largest  int // the largest batch
}

func (l *batchLoader) Subject(s *socred.Subject) error {
	l.subjects = append(l.subjects, s)
	return nil
}
func (l *batchLoader) Relation(socred.Relation) error { return nil }
func (l *batchLoader) Record(*socred.CountingRecord) error {
	return fmt.Errorf("Record called on a RecordsLoader")
}
func (l *batchLoader) Records(rs []socred.CountingRecord) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.largest = max(l.largest, len(rs))
	for _, r := range rs {
		if _, ok := l.records[r.ID]; ok {
			return fmt.Errorf("record %d loaded twice", r.ID)
		}
		l.records[r.ID] = r
	}
	clear(rs) // the store's again
	return nil
}
func (l *batchLoader) Designation(*socred.Designation) error   { return nil }
func (l *batchLoader) Listing(string, string, time.Time) error { return nil }
func (l *batchLoader) Settled(time.Time, int64) error          { return nil }

// Load hands a RecordsLoader its records in batches, from several
// connections, each record once and whole, and the subjects with their
// groups.
func TestLoadInBatches(t *testing.T) {
	defer sqlite.SetLoadSplitMin(0)()
	s := mustOpen(t, filepath.Join(t.TempDir(), "socred.db"))
	defer s.Close()
	var subjects []*socred.Subject
	for i := range 30 {
		sub := &socred.Subject{ID: "subject-" + strconv.Itoa(i), Kind: socred.Person, Name: "S" + strconv.Itoa(i), Region: "rongcheng", Groups: []string{}}
		if i%4 == 0 {
			sub.Groups = []string{"taxi-driver", "g" + strconv.Itoa(i%8)}
		}
		subjects = append(subjects, sub)
	}
	want := map[int64]socred.CountingRecord{}
	var recs []*socred.Record
	for i := 1; i <= 5000; i++ {
		r := rec(i, subjects[i*7%len(subjects)].ID)
		r.Points = int64(i % 50)
		r.OccurredAt = t0.Add(time.Duration(i) * time.Microsecond)
		if i%3 == 0 {
			r.Rule = "blood"
		}
		recs = append(recs, r)
		want[int64(i)] = socred.CountingRecord{ID: int64(i), Subject: r.Subject, Scheme: r.Scheme, Rule: r.Rule, Points: r.Points,
			OccurredAt: r.OccurredAt.UnixNano(), CountsUntil: r.CountsUntil.UnixNano()}
	}
	if err := s.Commit(ctx, &socred.Write{Now: t0, Subjects: subjects}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &socred.Write{Now: t0, Records: recs}); err != nil {
		t.Fatal(err)
	}
	l := &batchLoader{records: map[int64]socred.CountingRecord{}}
	if err := s.Load(ctx, l); err != nil {
		t.Fatal(err)
	}
	if len(l.records) != len(want) {
		t.Errorf("got %d records, want %d", len(l.records), len(want))
	}
	for id, w := range want {
		if got := l.records[id]; got != w {
			t.Fatalf("record %d: got %+v, want %+v", id, got, w)
		}
	}
	if l.largest < 2 || l.largest > 1024 {
		t.Errorf("got batches of up to %d records, want more than one and at most 1024", l.largest)
	}
	byID := func(a, b *socred.Subject) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(l.subjects, byID)
	slices.SortFunc(subjects, byID)
	if len(l.subjects) != len(subjects) {
		t.Fatalf("got %d subjects, want %d", len(l.subjects), len(subjects))
	}
	for i, got := range l.subjects {
		w := subjects[i]
		if got.ID != w.ID || got.Kind != w.Kind || got.Name != w.Name || got.Region != w.Region || got.Groups == nil || !slices.Equal(got.Groups, w.Groups) {
			t.Errorf("subject %d: got %+v, want %+v", i, got, w)
		}
	}
}
