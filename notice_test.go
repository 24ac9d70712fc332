package socred

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The written-out notice encoding and messages equal, byte for byte, what
// encoding/json and fmt made of them before: stored notices read back the
// same, old and new.

func referenceBody(n Notice) ([]byte, error) {
	n.ID, n.Subject, n.At = 0, "", time.Time{}
	if len(n.Events) > 0 {
		evs := make([]Event, len(n.Events))
		for i, e := range n.Events {
			e.Subject = ""
			evs[i] = e
		}
		n.Events = evs
	}
	return json.Marshal(&n)
}

func referenceRecordMessage(r *Record, rule string) string {
	if rule == "" {
		rule = r.Rule
	}
	if d := r.DerivedFrom; d != nil {
		return fmt.Sprintf("%s recorded %q (%+d points in %s) against you by your relation %q to %s (record %s, derived from record %s).",
			r.Reporter, rule, r.Points, r.Scheme, d.Relation, d.Subject, r.ID, d.Record)
	}
	return fmt.Sprintf("%s recorded %q (%+d points in %s) about you on %s (record %s).",
		r.Reporter, rule, r.Points, r.Scheme, r.OccurredAt.UTC().Format("2006-01-02"), r.ID)
}

func referenceListName(l *Listing) string {
	if l == nil {
		return "(unknown)"
	}
	s := fmt.Sprintf("%q", l.List)
	if l.Via != nil {
		s += fmt.Sprintf(" through %s (%s)", l.Via.Subject, l.Via.Relation)
	}
	return s
}

func referenceListDesc(l *Listing) string {
	s := referenceListName(l)
	if l != nil && l.Until != nil {
		s += " until " + l.Until.UTC().Format("2006-01-02")
	}
	return s
}

func referenceEventMessage(e *Event) string {
	switch e.Kind {
	case EventScoreChanged:
		return fmt.Sprintf("Your %s score changed from %d to %d.", e.Scheme, e.OldScore, e.NewScore)
	case EventGradeChanged:
		return fmt.Sprintf("Your %s grade changed from %s to %s.", e.Scheme, orNone(e.OldGrade), orNone(e.NewGrade))
	case EventListed:
		return "You were put on the list " + referenceListDesc(e.Listing) + "."
	case EventDelisted:
		if e.Listing != nil && e.Listing.EndReason != "" {
			return "You are no longer on the list " + referenceListName(e.Listing) + ": " + e.Listing.EndReason + "."
		}
		return "You are no longer on the list " + referenceListName(e.Listing) + "."
	case EventRecordCounting:
		return fmt.Sprintf("Record %s now counts.", e.Record)
	case EventRecordStopped:
		return fmt.Sprintf("Record %s no longer counts.", e.Record)
	case EventTermChanged:
		return "The term of your entry on the list " + referenceListDesc(e.Listing) + " changed."
	case EventPublished:
		return "Your entry on the list " + referenceListDesc(e.Listing) + " is now on the public register."
	default:
		return strings.ReplaceAll(string(e.Kind), "-", " ") + "."
	}
}

// text draws strings that are mostly plain, sometimes with quotes, HTML
// characters, control characters, non-ASCII letters and invalid UTF-8.
func text() *rapid.Generator[string] {
	ascii := make([]rune, 128)
	for i := range ascii {
		ascii[i] = rune(i)
	}
	return rapid.OneOf(
		rapid.StringOf(rapid.RuneFrom(ascii)),
		rapid.StringMatching(`[a-z0-9 .-]{0,12}`),
		rapid.String(),
		rapid.SampledFrom([]string{"", "<b>&amp;</b>", "\"quoted\"", "back\\slash", "\x00\n\t", "\u2028\u2029", "\xff\xfe", "Zhāng Wěi", "张伟"}),
	)
}

func drawTime(t *rapid.T, label string) time.Time {
	sec := rapid.Int64Range(-62135596800, 253402300799).Draw(t, label+"_sec") // years 1..9999
	ns := rapid.SampledFrom([]int64{0, 1, 500_000_000, 123_456_789}).Draw(t, label+"_ns")
	zone := rapid.SampledFrom([]*time.Location{time.UTC, time.FixedZone("", 8*3600), time.FixedZone("X", -5*3600-1800), time.FixedZone("UTC", 0)}).Draw(t, label+"_zone")
	return time.Unix(sec, ns).In(zone)
}

func drawListing(t *rapid.T) *Listing {
	if !rapid.Bool().Draw(t, "has_listing") {
		return nil
	}
	l := &Listing{List: text().Draw(t, "list"), Kind: ListKind(text().Draw(t, "list_kind")), Subject: text().Draw(t, "listing_subject"),
		Since: drawTime(t, "since"), Reason: text().Draw(t, "reason"), Authority: text().Draw(t, "authority"), EndReason: text().Draw(t, "end_reason")}
	if rapid.Bool().Draw(t, "has_until") {
		u := drawTime(t, "until")
		l.Until = &u
	}
	if rapid.Bool().Draw(t, "has_via") {
		l.Via = &Via{Subject: text().Draw(t, "via_subject"), Relation: text().Draw(t, "via_relation")}
	}
	return l
}

func drawEvent(t *rapid.T) Event {
	kinds := []EventKind{EventScoreChanged, EventGradeChanged, EventListed, EventDelisted, EventRecordCounting,
		EventRecordStopped, EventTermChanged, EventPublished, "some-other-kind"}
	return Event{
		Kind: rapid.SampledFrom(kinds).Draw(t, "kind"), Subject: text().Draw(t, "subject"), At: drawTime(t, "at"),
		Scheme: text().Draw(t, "scheme"), OldScore: rapid.Int64().Draw(t, "old"), NewScore: rapid.SampledFrom([]int64{0, 1, -1, 995, -1 << 63, 1<<63 - 1}).Draw(t, "new"),
		OldGrade: text().Draw(t, "old_grade"), NewGrade: text().Draw(t, "new_grade"), Record: text().Draw(t, "record"), Listing: drawListing(t),
	}
}

// drawNotice draws a notice whose message is any text, or is made of its
// events' sentences as a record's or an event's notice is, and whose
// events' times are often the notice's, or a little after it.
func drawNotice(t *rapid.T) Notice {
	n := Notice{ID: rapid.Int64().Draw(t, "id"), Subject: text().Draw(t, "subject"), At: drawTime(t, "at"),
		Kind: NoticeKind(text().Draw(t, "kind")), Record: text().Draw(t, "record"),
		List: text().Draw(t, "list"), Action: text().Draw(t, "action"), By: text().Draw(t, "by")}
	if rapid.Bool().Draw(t, "at_stored") {
		n.At = time.UnixMicro(n.At.UnixMicro()).UTC() // as a store gives it back
	}
	var sentences []string
	for range rapid.IntRange(0, 3).Draw(t, "events") {
		e := drawEvent(t)
		switch rapid.IntRange(0, 2).Draw(t, "at_form") {
		case 1:
			e.At = n.At
		case 2: // planned a little after the notice's time, or before
			e.At = n.At.Add(time.Duration(rapid.Int64Range(-2e6, 2e6).Draw(t, "after_us")) * time.Microsecond)
			if rapid.Bool().Draw(t, "in_utc") {
				e.At = e.At.UTC()
			}
		}
		n.Events = append(n.Events, e)
		sentences = append(sentences, referenceEventMessage(&e))
	}
	switch rapid.IntRange(0, 3).Draw(t, "message_form") {
	case 0:
		n.Message = text().Draw(t, "message")
	case 1:
		n.Message = strings.Join(append([]string{text().Draw(t, "lead")}, sentences...), " ")
	case 2:
		n.Message = strings.Join(sentences, " ")
	case 3: // a record's lead, ending with its day and record (NoticeLeads)
		n.Kind = NoticeRecordAccepted
		day := drawTime(t, "day").UTC().Format("2006-01-02")
		lead := text().Draw(t, "lead") + " about you on " + day + " (record " + n.Record + ")."
		n.Message = strings.Join(append([]string{lead}, sentences...), " ")
	}
	return n
}

// A notice's body, in whatever form EncodeNotice keeps it, and with its
// lead named where NoticeLeads keep it, reads back as the body the builds
// before kept (encoding/json's, every field whole) does: the same notice,
// from the id, subject and time a store keeps, and the lead it names.
func TestNoticeBodyReadsBackAsBefore(t *testing.T) {
	leads := NewNoticeLeads()
	rapid.Check(t, func(t *rapid.T) {
		n := drawNotice(t)
		at := time.UnixMicro(n.At.UnixMicro()).UTC()
		before, wantErr := referenceBody(n)
		body, err := EncodeNotice(n)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("error %v, encoding/json's %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("not JSON: %s", body)
		}
		want, err := DecodeNotice(n.ID, n.Subject, at, before)
		if err != nil {
			t.Fatalf("the body before: %v", err)
		}
		named, lead, err := leads.AppendNotice(nil, &n)
		if err != nil {
			t.Fatalf("with leads: %v", err)
		}
		// Read by leads that keep only the one the body names, as a store
		// keeps it with the notice.
		var kept *NoticeLeads
		if lead.Ref != 0 {
			kept = NewNoticeLeads(lead)
		}
		for _, b := range [][]byte{body, named} {
			got, err := kept.Decode(n.ID, n.Subject, at, b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("read back\n%+v\nthe body before reads back\n%+v\nbody %s", got, want, b)
			}
			if len(b) > len(before) {
				t.Fatalf("the body (%d bytes) is larger than before (%d)", len(b), len(before))
			}
		}
	})
}

// A record's notice keeps its lead and its events' figures, not their
// sentences or times: a fifth smaller than the body before.
func TestRecordNoticeBody(t *testing.T) {
	n, r, at := redLightNotice()
	body, err := EncodeNotice(n)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"kind":"record-accepted","lead":"rongcheng-credit-office recorded \"Crossing or driving against a red light\" (-5 points in rongcheng) about you on 2026-12-01 (record 13694).","record":"13694","events":[{"kind":"score-changed","scheme":"rongcheng","old_score":997,"new_score":992}]}`
	if string(body) != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	before, err := referenceBody(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > len(before)*4/5 {
		t.Errorf("%d bytes, %d before: not a fifth smaller", len(body), len(before))
	}
	got, err := DecodeNotice(9, r.Subject, at, body)
	if err != nil {
		t.Fatal(err)
	}
	n.ID = 9
	if !reflect.DeepEqual(got, n) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, n)
	}
}

// A body that is neither a message nor events is an error, not a notice
// with an empty message.
func TestNoticeBodyWithoutMessage(t *testing.T) {
	_, err := DecodeNotice(3, "P-1", time.Now(), []byte(`{"kind":"check-denied","by":"bank"}`))
	if err == nil || !strings.Contains(err.Error(), "notice 3") {
		t.Fatalf("err %v, want one naming notice 3", err)
	}
}

func TestNoticeMessagesMatchFmt(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := &Record{ID: text().Draw(t, "id"), Reporter: text().Draw(t, "reporter"), Subject: text().Draw(t, "subject"),
			Scheme: text().Draw(t, "scheme"), Rule: text().Draw(t, "rule"), Points: rapid.Int64().Draw(t, "points"),
			OccurredAt: drawTime(t, "occurred")}
		if rapid.Bool().Draw(t, "derived") {
			r.DerivedFrom = &Derivation{Record: text().Draw(t, "from"), Subject: text().Draw(t, "from_subject"), Relation: text().Draw(t, "relation")}
		}
		rule := text().Draw(t, "rule_name")
		n := RecordNotice(r, rule)
		if want := referenceRecordMessage(r, rule); n.Message != want {
			t.Fatalf("message %q, fmt's %q", n.Message, want)
		}
		e := drawEvent(t)
		want := referenceEventMessage(&e)
		if got := eventMessage(&e); got != want {
			t.Fatalf("event message %q, fmt's %q", got, want)
		}
		if got, want := n.WithEvents(e, e).Message, n.Message+" "+want+" "+want; got != want {
			t.Fatalf("with events %q, want %q", got, want)
		}
	})
}

// A record's notice made with its events in one step is the notice made
// and then given its events, whatever was left in the buffer passed in.
func TestRecordNoticeWithMatchesWithEvents(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := &Record{ID: text().Draw(t, "id"), Reporter: text().Draw(t, "reporter"), Subject: text().Draw(t, "subject"),
			Scheme: text().Draw(t, "scheme"), Rule: text().Draw(t, "rule"), Points: rapid.Int64().Draw(t, "points"),
			OccurredAt: drawTime(t, "occurred"), AcceptedAt: drawTime(t, "accepted")}
		if rapid.Bool().Draw(t, "derived") {
			r.DerivedFrom = &Derivation{Record: text().Draw(t, "from"), Subject: text().Draw(t, "from_subject"), Relation: text().Draw(t, "relation")}
		}
		var events []Event
		for range rapid.IntRange(0, 3).Draw(t, "events") {
			events = append(events, drawEvent(t))
		}
		rule := text().Draw(t, "rule_name")
		want := Notice{Subject: r.Subject, At: r.AcceptedAt, Kind: NoticeRecordAccepted, Record: r.ID,
			Message: referenceRecordMessage(r, rule)}
		if r.DerivedFrom != nil {
			want.Kind = NoticeRecordDerived
		}
		if len(events) > 0 {
			want = want.WithEvents(events...)
		}
		buf := []byte(text().Draw(t, "left_in_buf"))
		got, _ := RecordNoticeWith(r, rule, events, buf)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("made in one step\n%+v\nthen given its events\n%+v", got, want)
		}
		if len(events) > 0 && cap(got.Events) != len(events) {
			t.Fatalf("the notice's events have room beyond them (%d > %d): an append would write into the caller's", cap(got.Events), len(events))
		}
	})
}

func BenchmarkRecordNoticeEncoded(b *testing.B) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	r := &Record{ID: "1234567", Reporter: "rongcheng-police", Subject: "P-1", Scheme: "rongcheng", Rule: "dog-unleashed", Points: -5, OccurredAt: at, AcceptedAt: at}
	e := Event{Kind: EventScoreChanged, Subject: "P-1", At: at, Scheme: "rongcheng", OldScore: 1000, NewScore: 995, Record: "1234567"}
	b.ReportAllocs()
	for b.Loop() {
		n := RecordNotice(r, "Dog without a leash").WithEvents(e)
		if _, err := EncodeNotice(n); err != nil {
			b.Fatal(err)
		}
	}
}

// A field added to Notice or Event must be added to the written-out
// encoding too (notice_json.go): this test names the fields it writes.
func TestNoticeEncodingKnowsEveryField(t *testing.T) {
	for _, tc := range []struct {
		v     any
		wrote []string // in struct order; id, subject and at are kept beside the body
	}{
		{Notice{}, []string{"id", "subject", "at", "kind", "message", "record", "list", "action", "by", "events"}},
		{Event{}, []string{"kind", "subject", "at", "scheme", "old_score", "new_score", "old_grade", "new_grade", "record", "listing"}},
	} {
		typ := reflect.TypeOf(tc.v)
		var fields []string
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			fields = append(fields, name)
		}
		if !slices.Equal(fields, tc.wrote) {
			t.Errorf("%s has the JSON fields %v; appendNoticeBody writes %v: update notice_json.go and this list", typ.Name(), fields, tc.wrote)
		}
	}
}

// TestRedactNotice clears one designation's text from the notices that
// carry it, the subject's own and a related subject's, and leaves the rest.
func TestRedactNotice(t *testing.T) {
	at := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	until := at.AddDate(2, 0, 0)
	entry := func(id string, via *Via) *Listing {
		return &Listing{List: "judgment-defaulters", Kind: "black", Subject: "zhang", Since: at, Until: &until,
			Reason: "did not pay judgment (2026) Lu 1002 Zhi 88", Case: "(2026) Lu 1002 Zhi 88", Via: via,
			Authority: "spc", Designation: id, EndReason: "paid in full on 2027-05-02"}
	}
	ended := EventNotice(Event{Kind: EventDelisted, Subject: "zhang", At: at, Listing: entry("dsg-1", nil)})
	other := EventNotice(Event{Kind: EventDelisted, Subject: "zhang", At: at, Listing: entry("dsg-2", nil)})
	related := EventNotice(Event{Kind: EventListed, Subject: "li", At: at,
		Listing: entry("dsg-1", &Via{Subject: "zhang", Relation: "legal-representative-of"})})
	both := RecordNotice(&Record{ID: "7", Subject: "zhang", Reporter: "court", Rule: "r", Scheme: "s", AcceptedAt: at}, "").
		WithEvents(ended.Events[0], other.Events[0])
	if !strings.Contains(ended.Message, "paid in full") {
		t.Fatalf("the notice of the end does not quote its reason: %q", ended.Message)
	}
	if got := NoticeDesignations(&both); !slices.Equal(got, []string{"dsg-1", "dsg-2"}) {
		t.Errorf("NoticeDesignations = %q, want dsg-1 and dsg-2", got)
	}
	shared := ended.Events[0].Listing
	for _, n := range []*Notice{&ended, &related, &both} {
		if !RedactNotice(n, "dsg-1") {
			t.Errorf("%s: nothing redacted", n.Message)
		}
		for _, e := range n.Events {
			l := e.Listing
			if l.Designation == "dsg-1" && (l.Reason != "" || l.Case != "" || l.EndReason != "") {
				t.Errorf("%s: dsg-1 keeps %q, %q, %q", n.Message, l.Reason, l.Case, l.EndReason)
			}
			if l.Designation == "dsg-2" && (l.Reason == "" || l.EndReason == "") {
				t.Errorf("%s: dsg-2 lost its text", n.Message)
			}
		}
		if RedactNotice(n, "dsg-1") {
			t.Errorf("%s: redacted twice", n.Message)
		}
		body, err := EncodeNotice(*n)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(body, []byte("Lu 1002")) != (n == &both) { // both keeps dsg-2's
			t.Errorf("the body after redaction: %s", body)
		}
	}
	if ended.Message != `You are no longer on the list "judgment-defaulters".` {
		t.Errorf("message after redaction: %q", ended.Message)
	}
	if want := `You are no longer on the list "judgment-defaulters". You are no longer on the list "judgment-defaulters": paid in full on 2027-05-02.`; !strings.HasSuffix(both.Message, want) {
		t.Errorf("message after redaction: %q, want it to end %q", both.Message, want)
	}
	if shared.Reason == "" {
		t.Error("the redaction changed the listing the notice was made from")
	}
	if RedactNotice(&other, "dsg-1") {
		t.Error("a notice of another designation was redacted")
	}
}

func TestAppendJSONStringIsEncodingJSONs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		prefix := []byte(rapid.StringMatching(`[a-z{":,]{0,8}`).Draw(t, "prefix"))
		s := text().Draw(t, "s")
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got := appendJSONString(slices.Clip(prefix), s)
		if string(got[:len(prefix)]) != string(prefix) || string(got[len(prefix):]) != string(want) {
			t.Fatalf("appendJSONString(%q, %q) = %q; want %q and then encoding/json's %s", prefix, s, got, prefix, want)
		}
	})
}

func BenchmarkAppendJSONString(b *testing.B) {
	lead := `rongcheng-police recorded "Dog without a leash" (-5 points in rongcheng) about you on 2026-03-02 (record 1234567).`
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(lead)))
	for b.Loop() {
		buf = appendJSONString(buf[:0], lead)
	}
}

// redLightNotice is the notice of a record of a red light crossed, with
// the change in score it made, and the record and its time.
func redLightNotice() (Notice, *Record, time.Time) {
	at := time.Date(2026, 12, 1, 11, 27, 46, 469110000, time.UTC)
	r := &Record{ID: "13694", Reporter: "rongcheng-credit-office", Subject: "s00004112", Scheme: "rongcheng", Rule: "red-light",
		Points: -5, OccurredAt: at, AcceptedAt: at}
	e := Event{Kind: EventScoreChanged, Subject: r.Subject, At: at, Scheme: "rongcheng", OldScore: 997, NewScore: 992}
	n := RecordNotice(r, "Crossing or driving against a red light").WithEvents(e)
	return n, r, at
}
