package socred

import (
	"encoding/json"
	"fmt"
	"net/mail"
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
func EncodeNotice(n Notice) ([]byte, error) {
	// What the store keeps beside the body (id, subject, time) is left out
	// of it, and so is each event's subject, which is the notice's: a
	// notice is about as large as a record, and ingest writes one per
	// record.
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

// DecodeNotice makes a notice of what a store keeps: its id, subject and
// time, and the body EncodeNotice made.
func DecodeNotice(id int64, subject string, at time.Time, body []byte) (Notice, error) {
	var n Notice
	if err := json.Unmarshal(body, &n); err != nil {
		return n, fmt.Errorf("notice %d: %w", id, err)
	}
	n.ID, n.Subject, n.At = id, subject, at
	for i := range n.Events {
		if n.Events[i].Subject == "" {
			n.Events[i].Subject = subject
		}
	}
	return n, nil
}

// IdempotencyKey is the key a delivery of the notice carries, the same at
// every attempt and from every server.
func (n *Notice) IdempotencyKey() string { return fmt.Sprintf("notice-%d", n.ID) }

// RecordNotice is the notice of a record stored about r.Subject.
func RecordNotice(r *Record, rule string) Notice {
	n := Notice{Subject: r.Subject, At: r.AcceptedAt, Kind: NoticeRecordAccepted, Record: r.ID}
	if rule == "" {
		rule = r.Rule
	}
	if d := r.DerivedFrom; d != nil {
		n.Kind = NoticeRecordDerived
		n.Message = fmt.Sprintf("%s recorded %q (%+d points in %s) against you by your relation %q to %s (record %s, derived from record %s).",
			r.Reporter, rule, r.Points, r.Scheme, d.Relation, d.Subject, r.ID, d.Record)
		return n
	}
	n.Message = fmt.Sprintf("%s recorded %q (%+d points in %s) about you on %s (record %s).",
		r.Reporter, rule, r.Points, r.Scheme, r.OccurredAt.UTC().Format("2006-01-02"), r.ID)
	return n
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
	for _, e := range events {
		n.Events = append(n.Events, e)
		n.Message += " " + eventMessage(&e)
		if n.List == "" && e.Listing != nil {
			n.List = e.Listing.List
		}
	}
	return n
}

func eventMessage(e *Event) string {
	var msg string
	switch e.Kind {
	case EventScoreChanged:
		msg = fmt.Sprintf("Your %s score changed from %d to %d.", e.Scheme, e.OldScore, e.NewScore)
	case EventGradeChanged:
		msg = fmt.Sprintf("Your %s grade changed from %s to %s.", e.Scheme, orNone(e.OldGrade), orNone(e.NewGrade))
	case EventListed:
		msg = "You were put on the list " + listDesc(e.Listing) + "."
	case EventDelisted:
		msg = "You are no longer on the list " + listName(e.Listing) + "."
	case EventRecordCounting:
		msg = fmt.Sprintf("Record %s now counts.", e.Record)
	case EventRecordStopped:
		msg = fmt.Sprintf("Record %s no longer counts.", e.Record)
	case EventTermChanged:
		msg = "The term of your entry on the list " + listDesc(e.Listing) + " changed."
	case EventPublished:
		msg = "Your entry on the list " + listDesc(e.Listing) + " is now on the public register."
	default:
		msg = strings.ReplaceAll(string(e.Kind), "-", " ") + "."
	}
	return msg
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

// listName names a listing's list, and the relation it reaches the
// subject through.
func listName(l *Listing) string {
	if l == nil {
		return "(unknown)"
	}
	s := fmt.Sprintf("%q", l.List)
	if l.Via != nil {
		s += fmt.Sprintf(" through %s (%s)", l.Via.Subject, l.Via.Relation)
	}
	return s
}

// listDesc is listName with the listing's end, if it has one.
func listDesc(l *Listing) string {
	s := listName(l)
	if l != nil && l.Until != nil {
		s += " until " + l.Until.UTC().Format("2006-01-02")
	}
	return s
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
