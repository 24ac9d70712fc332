package socred

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Notice tells a subject of something socred did about them: a record
// accepted or derived, a change in their standing, a check denied. Every
// notice is kept with the subject and shown in their file, and delivered
// through the channels the server is configured with.
type Notice struct {
	// ID is assigned by the store; deliveries carry "notice-<ID>" as their
	// idempotency key.
	ID      int64      `json:"id,omitzero"`
	Subject string     `json:"subject,omitempty"`
	At      time.Time  `json:"at,omitzero"`
	Kind    NoticeKind `json:"kind"`
	Message string     `json:"message"`
	// Record, List, Action and By name what the notice is about, where
	// they apply.
	Record string `json:"record,omitempty"`
	List   string `json:"list,omitempty"`
	Action string `json:"action,omitempty"`
	By     string `json:"by,omitempty"`
	// Events are the changes in standing the notice reports, if any: a
	// record's notice carries the changes it made to its subject's
	// standing.
	Events []Event `json:"events,omitempty"`
}

// NoticeKind says what a notice is about: one of the engine's event kinds,
// or one of the kinds below.
type NoticeKind string

// Notice kinds besides the engine's events.
const (
	NoticeRecordAccepted NoticeKind = "record-accepted"
	NoticeRecordDerived  NoticeKind = "record-derived"
	NoticeCheckDenied    NoticeKind = "check-denied"
)

// EncodeNotice is the form in which stores keep a notice: JSON, without
// the id, which the store assigns.
//
// What the store keeps beside the body (id, subject, time) is left out of
// it, and so is what the body says twice: each event's subject, which is
// the notice's; each event's time, but for the microseconds by which it
// follows the notice's; and the sentences of the message that describe the events, which are made again
// from the events when the notice is read. A notice is about as large as a
// record, and ingest writes one per record: the notices were more than
// half of the database's bytes, and a record's notice with one event is
// a fifth smaller for these, 283 bytes against 366 (noticeBodyForms in
// notice_json.go lists the forms). The event sentences are thus part of the stored form:
// their wording (appendEventMessage) is what a stored notice says.
//
// A store that keeps records' leads once (NoticeLeads) has its notices
// encoded by NoticeLeads.AppendNotice instead: a record's notice then
// names its lead, and is 180 to 220 bytes.
//
// The encoding is written out (notice_json.go) because ingest encodes a
// notice per record: encoding/json took a tenth of its CPU.
func EncodeNotice(n Notice) ([]byte, error) {
	b, _, err := appendNoticeBody(make([]byte, 0, NoticeBodySize(&n)), &n, nil)
	return b, err
}

// NoticeBodySize is about as large as n's body gets (EncodeNotice): the
// fields around its message and each event's (about 150 bytes without a
// listing), so that a buffer of that size is not grown by copying.
func NoticeBodySize(n *Notice) int { return 128 + len(n.Message) + 192*len(n.Events) }

// AppendNotice appends the form EncodeNotice makes of n to dst.
func AppendNotice(dst []byte, n *Notice) ([]byte, error) {
	b, _, err := appendNoticeBody(dst, n, nil)
	return b, err
}

// DecodeNotice makes a notice of what a store keeps: its id, subject and
// time, and the body EncodeNotice made, in any of its forms, of this build
// or of the builds before; a body that names its lead (NoticeLeads) is
// read by the store's NoticeLeads.Decode.
func DecodeNotice(id int64, subject string, at time.Time, body []byte) (Notice, error) {
	return decodeNotice(id, subject, at, body, nil)
}

func decodeNotice(id int64, subject string, at time.Time, body []byte, leads *NoticeLeads) (Notice, error) {
	var stored storedNotice
	if err := json.Unmarshal(body, &stored); err != nil {
		return Notice{}, fmt.Errorf("notice %d: %w", id, err)
	}
	n := stored.Notice
	n.ID, n.Subject, n.At = id, subject, at
	if len(stored.Events) > 0 {
		n.Events = make([]Event, len(stored.Events))
		for i := range stored.Events {
			e := &stored.Events[i]
			n.Events[i] = e.Event
			if e.Subject == "" {
				n.Events[i].Subject = subject
			}
			if e.At != nil {
				n.Events[i].At = *e.At
			} else {
				n.Events[i].At = time.UnixMicro(at.UnixMicro() + e.AfterUS).UTC()
			}
		}
	}
	switch {
	case stored.Message != nil:
		n.Message = *stored.Message
	case len(n.Events) == 0:
		return Notice{}, fmt.Errorf("notice %d: neither a message nor events to make one of", id)
	default:
		var b []byte
		lead := stored.Lead != nil || stored.LeadRef != nil
		switch {
		case stored.LeadRef != nil:
			var err error
			if b, err = resolveLead(leads, id, *stored.LeadRef, stored.On, n.Record); err != nil {
				return Notice{}, err
			}
		case stored.Lead != nil:
			b = append(b, *stored.Lead...)
		}
		for i := range n.Events {
			if i > 0 || lead {
				b = append(b, ' ')
			}
			b = appendEventMessage(b, &n.Events[i])
		}
		n.Message = string(b)
	}
	return n, nil
}

// storedNotice is a notice's body as DecodeNotice reads it: its message
// whole, or the lead of it before the events' sentences, or neither; each
// event with or without its time.
type storedNotice struct {
	Notice
	Message *string       `json:"message"`
	Lead    *string       `json:"lead"`
	LeadRef *int64        `json:"lead_ref"` // a lead kept once (NoticeLeads)
	On      string        `json:"on"`       // and the day it names
	Events  []storedEvent `json:"events"`
}

type storedEvent struct {
	Event
	At      *time.Time `json:"at"`
	AfterUS int64      `json:"after_us"` // when At is not written: microseconds after the notice's time
}

// IdempotencyKey is the key a delivery of the notice carries, the same at
// every attempt and from every server.
func (n *Notice) IdempotencyKey() string { return fmt.Sprintf("notice-%d", n.ID) }

// RecordNotice is the notice of a record stored about r.Subject.
func RecordNotice(r *Record, rule string) Notice {
	n, _ := RecordNoticeWith(r, rule, nil, nil)
	return n
}

// RecordNoticeWith is RecordNotice(r, rule).WithEvents(events...), made in
// one step: ingest makes one per record. The notice's events share the
// slice passed in (clipped); buf is room for building the message, and is
// returned for the next call.
func RecordNoticeWith(r *Record, rule string, events []Event, buf []byte) (Notice, []byte) {
	n := Notice{Subject: r.Subject, At: r.AcceptedAt, Kind: NoticeRecordAccepted, Record: r.ID}
	if rule == "" {
		rule = r.Rule
	}
	// Built with appends, not fmt.
	b := buf[:0]
	b = append(b, r.Reporter...)
	b = append(b, " recorded "...)
	b = strconv.AppendQuote(b, rule)
	b = append(b, " ("...)
	if r.Points >= 0 {
		b = append(b, '+')
	}
	b = strconv.AppendInt(b, r.Points, 10)
	b = append(b, " points in "...)
	b = append(b, r.Scheme...)
	if d := r.DerivedFrom; d != nil {
		n.Kind = NoticeRecordDerived
		b = append(b, ") against you by your relation "...)
		b = strconv.AppendQuote(b, d.Relation)
		b = append(b, " to "...)
		b = append(b, d.Subject...)
		b = append(b, " (record "...)
		b = append(b, r.ID...)
		b = append(b, ", derived from record "...)
		b = append(b, d.Record...)
		b = append(b, ")."...)
	} else {
		b = append(b, ") about you on "...)
		b = r.OccurredAt.UTC().AppendFormat(b, "2006-01-02")
		b = append(b, " (record "...)
		b = append(b, r.ID...)
		b = append(b, ")."...)
	}
	for i := range events {
		e := &events[i]
		b = appendEventMessage(append(b, ' '), e)
		if n.List == "" && e.Listing != nil {
			n.List = e.Listing.List
		}
	}
	if len(events) > 0 {
		n.Events = slices.Clip(events)
	}
	n.Message = string(b)
	return n, b
}

// EventNotice is the notice of an event.
func EventNotice(e Event) Notice {
	n := Notice{Subject: e.Subject, At: e.At, Kind: NoticeKind(e.Kind), Record: e.Record, Events: []Event{e}}
	if e.Listing != nil {
		n.List = e.Listing.List
	}
	n.Message = eventMessage(&e)
	return n
}

// WithEvents returns the notice with events added, and their messages.
func (n Notice) WithEvents(events ...Event) Notice {
	msg := append(make([]byte, 0, len(n.Message)+64*len(events)), n.Message...)
	for _, e := range events {
		n.Events = append(n.Events, e)
		msg = appendEventMessage(append(msg, ' '), &e)
		if n.List == "" && e.Listing != nil {
			n.List = e.Listing.List
		}
	}
	n.Message = string(msg)
	return n
}

func eventMessage(e *Event) string { return string(appendEventMessage(nil, e)) }

func appendEventMessage(b []byte, e *Event) []byte {
	switch e.Kind {
	case EventScoreChanged:
		b = append(b, "Your "...)
		b = append(b, e.Scheme...)
		b = append(b, " score changed from "...)
		b = strconv.AppendInt(b, e.OldScore, 10)
		b = append(b, " to "...)
		b = strconv.AppendInt(b, e.NewScore, 10)
		return append(b, '.')
	case EventGradeChanged:
		b = append(b, "Your "...)
		b = append(b, e.Scheme...)
		b = append(b, " grade changed from "...)
		b = append(b, orNone(e.OldGrade)...)
		b = append(b, " to "...)
		b = append(b, orNone(e.NewGrade)...)
		return append(b, '.')
	case EventListed:
		b = append(b, "You were put on the list "...)
		return append(appendListDesc(b, e.Listing), '.')
	case EventDelisted:
		b = append(b, "You are no longer on the list "...)
		b = appendListName(b, e.Listing)
		if e.Listing != nil && e.Listing.EndReason != "" {
			b = append(b, ": "...)
			b = append(b, e.Listing.EndReason...)
		}
		return append(b, '.')
	case EventRecordCounting:
		b = append(b, "Record "...)
		b = append(b, e.Record...)
		return append(b, " now counts."...)
	case EventRecordStopped:
		b = append(b, "Record "...)
		b = append(b, e.Record...)
		return append(b, " no longer counts."...)
	case EventTermChanged:
		b = append(b, "The term of your entry on the list "...)
		return append(appendListDesc(b, e.Listing), " changed."...)
	case EventPublished:
		b = append(b, "Your entry on the list "...)
		return append(appendListDesc(b, e.Listing), " is now on the public register."...)
	default:
		b = append(b, strings.ReplaceAll(string(e.Kind), "-", " ")...)
		return append(b, '.')
	}
}

// CheckNotice is the notice of a check that denied the subject an action.
func CheckNotice(c *CheckEntry) Notice {
	return Notice{Subject: c.Subject, At: c.At, Kind: NoticeCheckDenied, Action: c.Action, By: c.By,
		Message: fmt.Sprintf("%s was told you may not %s.", c.By, strings.ReplaceAll(c.Action, "-", " "))}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// appendListName names a listing's list, and the relation it reaches the
// subject through.
func appendListName(b []byte, l *Listing) []byte {
	if l == nil {
		return append(b, "(unknown)"...)
	}
	b = strconv.AppendQuote(b, l.List)
	if l.Via != nil {
		b = append(b, " through "...)
		b = append(b, l.Via.Subject...)
		b = append(b, " ("...)
		b = append(b, l.Via.Relation...)
		b = append(b, ')')
	}
	return b
}

// appendListDesc is appendListName with the listing's end, if it has one.
func appendListDesc(b []byte, l *Listing) []byte {
	b = appendListName(b, l)
	if l != nil && l.Until != nil {
		b = append(b, " until "...)
		b = l.Until.UTC().AppendFormat(b, "2006-01-02")
	}
	return b
}

// Contact is where a subject receives notices by e-mail. It is kept apart
// from the subject: no scheme, rule or list can see it.
type Contact struct {
	Subject string `json:"subject"`
	Email   string `json:"email"`
}

// Validate checks the address: one plain address, as RFC 5322 has it, of
// at most 254 bytes; empty removes the contact.
func (c *Contact) Validate() error {
	if c.Email == "" {
		return nil
	}
	a, err := mail.ParseAddress(c.Email)
	switch {
	case len(c.Email) > 254:
		return FieldErrorf("email", "at most 254 bytes")
	case err != nil:
		return FieldErrorf("email", "not an e-mail address: %v", err)
	case a.Name != "" || a.Address != c.Email:
		return FieldErrorf("email", "give the bare address, like zhang@example.cn")
	}
	return nil
}

// NoticeDesignations returns the designations whose entries n's events
// describe (their ids, in order, each once): the notices that carry an
// entry's reason, case or end reason.
func NoticeDesignations(n *Notice) []string {
	var ids []string
	for i := range n.Events {
		if l := n.Events[i].Listing; l != nil && l.Designation != "" && !slices.Contains(ids, l.Designation) {
			ids = append(ids, l.Designation)
		}
	}
	return ids
}

// RedactNotice clears from n what the purge of designation id clears from
// the designation itself: the reason, case and end reason of each entry of
// it that n's events describe (the subject's own, or one reaching it
// through a relation), and the end reason its message quotes. It reports
// whether n changed.
func RedactNotice(n *Notice, id string) bool {
	changed := false
	for i := range n.Events {
		e := &n.Events[i]
		l := e.Listing
		if l == nil || l.Designation != id || (l.Reason == "" && l.Case == "" && l.EndReason == "") {
			continue
		}
		// Each event's message is in the notice's as it was made
		// (EventNotice, WithEvents): replaced by the message of the event
		// redacted.
		before := eventMessage(e)
		redacted := *l
		redacted.Reason, redacted.Case, redacted.EndReason = "", "", ""
		e.Listing = &redacted
		n.Message = strings.Replace(n.Message, before, eventMessage(e), 1)
		changed = true
	}
	return changed
}
