package socred

import (
	"slices"
	"testing"
	"time"
)

// A write's change encodes and decodes to the same references: records,
// overturned, suspended and reinstated ones.
func TestChangeBodyRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	w := &Write{
		Records:   []*Record{{ID: "7", Subject: "a"}, {ID: "9", Subject: "b"}},
		Overturn:  []RecordRef{{ID: 1, Subject: "li"}, {ID: 2, Subject: "zhang"}},
		Suspend:   []RecordRef{{ID: 3, Subject: "li"}},
		Reinstate: []RecordRef{{ID: 4, Subject: "wang"}},
		Due:       &at, DueSubjects: []string{"a"},
	}
	body, err := ChangeBody(w)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeChange(5, at, body)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Records, []RecordRef{{ID: 7, Subject: "a"}, {ID: 9, Subject: "b"}}) || !slices.Equal(c.Overturn, w.Overturn) ||
		!slices.Equal(c.Suspend, w.Suspend) || !slices.Equal(c.Reinstate, w.Reinstate) || c.Seq != 5 || !c.Due.Equal(at) {
		t.Errorf("decoded %+v", c)
	}
	if _, err := DecodeChange(6, at, []byte(`{"records": {"ids": [1, 2], "subjects": ["a"]}}`)); err == nil {
		t.Error("mismatched ids and subjects decoded")
	}
	if _, err := ChangeBody(&Write{Records: []*Record{{ID: "x"}}}); err == nil {
		t.Error("a record id that is not a number encoded")
	}
}
