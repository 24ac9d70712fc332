package engine

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
)

// The world's map is keyed by each subject's own id string, whatever copy
// of it a change names the subject by: Apply takes the keys from the plan,
// and a key that is the very string callers look up with (the service
// hands records the subject's own) is found by its address.
func TestWorldKeysAreTheSubjectsOwnIDs(t *testing.T) {
	p, probs, err := pack.Load(packs.Example)
	if err != nil || p == nil {
		t.Fatalf("example pack: %v %v", err, probs)
	}
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWorld(e)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var n int64
	newID := func() int64 { n++; return n }
	apply := func(c Change) {
		t.Helper()
		plan, err := w.Plan(c, now, newID)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Apply(plan); err != nil {
			t.Fatal(err)
		}
	}
	apply(Change{Subjects: []*socred.Subject{{ID: "zhang", Kind: socred.Person, Name: "Zhang", Region: "rongcheng"}}})
	apply(Change{Touch: []string{strings.Clone("zhang")}})
	apply(Change{Records: []*socred.Record{{ID: "1000", Subject: strings.Clone("zhang"), Scheme: "rongcheng", Rule: "blood-donation",
		Points: 5, OccurredAt: now, CountsUntil: now.AddDate(1, 0, 0), Reporter: "rongcheng-credit-office", AcceptedAt: now}}})
	for id, ent := range w.subjects {
		if unsafe.StringData(id) != unsafe.StringData(ent.Subject.ID) {
			t.Errorf("subject %s: the world's key is a copy of the subject's id", id)
		}
	}
}
