package demo_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/demo"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
	"github.com/socred/socred/service"
	"github.com/socred/socred/sqlite"
)

func seed(t *testing.T, n int) (*service.Service, demo.Stats) {
	t.Helper()
	ctx := context.Background()
	p, _, err := pack.Load(packs.Example)
	if err != nil || p == nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "socred.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := service.New(store, p)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	clock := demo.NewClock(end.AddDate(0, 0, -60))
	svc.Now = clock.Now
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(ctx) })
	days := 0
	st, err := demo.Seed(ctx, svc, clock, demo.Options{Subjects: n, Days: 60, End: end, Seed: 7, RecordsPerSubject: 12, ChecksPerDay: 10,
		Progress: func(d, _ int) { days = d }})
	if err != nil {
		t.Fatal(err)
	}
	if days != 60 {
		t.Errorf("progress reached day %d, want 60", days)
	}
	return svc, st
}

func TestSeed(t *testing.T) {
	svc, st := seed(t, 500)
	if st.Subjects != 500 || svc.Population() != 500 {
		t.Errorf("subjects: stats %d, service %d, want 500", st.Subjects, svc.Population())
	}
	if st.Records < 500 || st.Relations < 10 || st.Designations < 1 || st.Checks != 600 || st.Appeals < 1 || st.Reads < 1 {
		t.Errorf("stats %+v: want records, relations, designations, 600 checks, appeals and reads of files", st)
	}
	// The review board read each appellant's file before deciding, and the
	// subject sees it under "who looked at me".
	reads := 0
	for i := range 500 {
		for _, id := range []string{"p-" + strconv.Itoa(i), "org-" + strconv.Itoa(i)} {
			own := &socred.Caller{Token: &socred.Token{ID: "t-" + id, Role: socred.RoleSubject, Subject: id, Name: id}}
			f, err := svc.File(context.Background(), own, id, "")
			if socred.ErrorCode(err) == socred.ENOTFOUND {
				continue
			}
			if err != nil {
				t.Fatal(id, err)
			}
			for _, a := range f.Accesses {
				if a.Role != socred.RoleReviewer || a.By != "Rongcheng credit review board" || !strings.HasPrefix(a.Purpose, "appeal ") {
					t.Errorf("%s: access %+v, want the review board's read for an appeal", id, a)
				}
				reads++
			}
		}
	}
	if reads != st.Reads {
		t.Errorf("the subjects' files show %d reads, the seeding counted %d", reads, st.Reads)
	}
	admin := &socred.Caller{Token: &socred.Token{Role: socred.RoleAdmin, Name: "t"}}
	// The story subjects are left untouched for the README's walk-through.
	f, err := svc.File(context.Background(), admin, demo.Zhang, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 0 || len(f.Relations) != 1 || f.Relations[0].To != demo.Li {
		t.Errorf("zhang: %d records, relations %v; want none and guarantor of li", len(f.Records), f.Relations)
	}
	// The same seed seeds the same history.
	_, again := seed(t, 500)
	if again != st {
		t.Errorf("same seed: got %+v, then %+v", st, again)
	}
}
