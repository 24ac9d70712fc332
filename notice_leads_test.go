package socred

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A record's notice encoded with leads names its lead by reference, reads
// back as the same notice as its body spelt out does, and is smaller by
// all but the reference.
func TestRecordNoticeNamesItsLead(t *testing.T) {
	n, r, at := redLightNotice()
	leads := NewNoticeLeads()
	body, lead, err := leads.AppendNotice(nil, &n)
	if err != nil {
		t.Fatal(err)
	}
	const text = `rongcheng-credit-office recorded "Crossing or driving against a red light" (-5 points in rongcheng)`
	if lead.Text != text || lead.Ref != leadRef(text) {
		t.Fatalf("lead %+v, want %q under %d", lead, text, leadRef(text))
	}
	want := `{"kind":"record-accepted","lead_ref":` + itoa(lead.Ref) + `,"on":"2026-12-01","record":"13694","events":[{"kind":"score-changed","scheme":"rongcheng","old_score":997,"new_score":992}]}`
	if string(body) != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	spelt, err := EncodeNotice(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > len(spelt)-len(text)+len(`,"lead_ref":4294967296,"on":""`)-len(`,"lead":" about you on "`) {
		t.Errorf("%d bytes, %d spelt out", len(body), len(spelt))
	}
	got, err := leads.Decode(9, r.Subject, at, body)
	if err != nil {
		t.Fatal(err)
	}
	n.ID = 9
	if !reflect.DeepEqual(got, n) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, n)
	}
	// Read back by a store that keeps the lead, as it does after it is
	// reopened.
	reopened := NewNoticeLeads(lead)
	if got, err := reopened.Decode(9, r.Subject, at, body); err != nil || !reflect.DeepEqual(got, n) {
		t.Fatalf("read back by the leads kept: %v\n%+v", err, got)
	}
	// Without the lead: an error, not a notice without it.
	if _, err := DecodeNotice(9, r.Subject, at, body); err == nil || !strings.Contains(err.Error(), "lead "+itoa(lead.Ref)+" is not kept") {
		t.Fatalf("read without its lead: %v", err)
	}
	if _, err := NewNoticeLeads().Decode(9, r.Subject, at, body); err == nil {
		t.Fatal("read by leads that do not keep it: no error")
	}
}

// A lead whose reference another text has is spelt out; so is a derived
// record's, which names the related subject, and one that does not end
// with its day and record.
func TestLeadsSpeltOut(t *testing.T) {
	at := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	r := &Record{ID: "7", Reporter: "court", Subject: "s1", Scheme: "rongcheng", Rule: "default", Points: -50, OccurredAt: at, AcceptedAt: at}
	e := Event{Kind: EventScoreChanged, Subject: r.Subject, At: at, Scheme: "rongcheng", OldScore: 1000, NewScore: 950}
	n := RecordNotice(r, "Judgment default").WithEvents(e)
	text := `court recorded "Judgment default" (-50 points in rongcheng)`
	taken := NewNoticeLeads(NoticeLead{Ref: leadRef(text), Text: "another lead"})

	derived := *r
	derived.DerivedFrom = &Derivation{Record: "6", Subject: "s2", Relation: "guarantor-of"}
	d := RecordNotice(&derived, "Judgment default").WithEvents(e)

	other := n
	other.Message = "a lead of its own. " + eventMessage(&e)
	noDay := n
	noDay.Message = `court recorded "Judgment default" about you on 2026-12-1x (record 7). ` + eventMessage(&e)
	unclosed := n
	unclosed.Message = `court recorded "Judgment default" about you on 2026-12-01 (record 7 ` + eventMessage(&e)

	for name, n := range map[string]Notice{"reference taken": n, "derived": d, "not ending with its record": other, "not a day": noDay,
		"not closed": unclosed} {
		leads := taken
		if name != "reference taken" {
			leads = NewNoticeLeads()
		}
		body, lead, err := leads.AppendNotice(nil, &n)
		if err != nil {
			t.Fatal(err)
		}
		spelt, err := EncodeNotice(n)
		if err != nil {
			t.Fatal(err)
		}
		if lead != (NoticeLead{}) || string(body) != string(spelt) {
			t.Errorf("%s: lead %+v, body\n%s\nwant\n%s", name, lead, body, spelt)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A body that names its lead without a day, as the first such bodies did
// (their leads kept with the day), reads back with the lead kept whole.
func TestLeadWithItsDay(t *testing.T) {
	at := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	text := `court recorded "Judgment default" (-50 points in rongcheng) about you on 2026-12-01`
	ref := leadRef(text)
	body := `{"kind":"record-accepted","lead_ref":` + itoa(ref) + `,"record":"7","events":[{"kind":"score-changed","scheme":"rongcheng","old_score":1000,"new_score":950}]}`
	n, err := NewNoticeLeads(NoticeLead{Ref: ref, Text: text}).Decode(3, "s1", at, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	const want = `court recorded "Judgment default" (-50 points in rongcheng) about you on 2026-12-01 (record 7). Your rongcheng score changed from 1000 to 950.`
	if n.Message != want {
		t.Fatalf("message\n%s\nwant\n%s", n.Message, want)
	}
}
