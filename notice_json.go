package socred

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendNoticeBody appends the stored form of n (EncodeNotice): the JSON
// encoding/json makes of n with its id, subject and time zeroed, its
// events' subjects left out, each event's time as microseconds after the
// notice's (appendEventBody), and its message in one of three forms
// (noticeBodyForms); with leads, a record's lead by reference where leads
// keep it (NoticeLeads), and the lead it names.
func appendNoticeBody(b []byte, n *Notice, leads *NoticeLeads) ([]byte, NoticeLead, error) {
	b = append(b, `{"kind":`...)
	b = appendJSONString(b, string(n.Kind))
	var named NoticeLead
	switch lead, form := noticeBodyForm(n); form {
	case formLead:
		if text, on, ok := keptLead(n, lead); ok && leads != nil {
			if ref, ok := leads.ref(text); ok {
				named = NoticeLead{Ref: ref, Text: text}
				b = appendJSONInt(b, `,"lead_ref":`, ref)
				b = appendJSONField(b, `,"on":`, on)
				break
			}
		}
		b = append(b, `,"lead":`...)
		b = appendJSONString(b, lead)
	case formMessage:
		b = append(b, `,"message":`...)
		b = appendJSONString(b, n.Message)
	}
	b = appendJSONField(b, `,"record":`, n.Record)
	b = appendJSONField(b, `,"list":`, n.List)
	b = appendJSONField(b, `,"action":`, n.Action)
	b = appendJSONField(b, `,"by":`, n.By)
	if len(n.Events) > 0 {
		b = append(b, `,"events":[`...)
		for i := range n.Events {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendEventBody(b, &n.Events[i], n.At); err != nil {
				return nil, NoticeLead{}, err
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), named, nil
}

// noticeBodyForms: a notice's body keeps its message in one of three forms.
//
//   - "message": the message whole, as the builds before kept every
//     notice's: a check's denial, or a message that is not made of its
//     events' sentences.
//   - "lead": the message up to the sentences of its events, which follow
//     it, each after a space: a record's notice (RecordNoticeWith), or
//     any notice given events by WithEvents. A record's lead may instead
//     be named by "lead_ref" and its day "on", where a store keeps it
//     once (NoticeLeads).
//   - neither: the message is its events' sentences, joined by spaces: an
//     event's notice (EventNotice).
type bodyForm int

const (
	formMessage bodyForm = iota
	formLead
	formEvents
)

// noticeBodyForm says which form n's message takes in its body, and the
// lead, if it has one.
func noticeBodyForm(n *Notice) (string, bodyForm) {
	if len(n.Events) == 0 {
		return "", formMessage
	}
	msg := n.Message
	var buf [256]byte
	for i := len(n.Events) - 1; i >= 0; i-- {
		if !sentenceReadsBack(&n.Events[i]) {
			return "", formMessage
		}
		s := appendEventMessage(buf[:0], &n.Events[i])
		if len(msg) < len(s) || msg[len(msg)-len(s):] != string(s) {
			return "", formMessage
		}
		msg = msg[:len(msg)-len(s)]
		if i == 0 && msg == "" {
			return "", formEvents
		}
		// A lead, or the sentence before, ends in the space before this
		// one; a lead is not empty.
		if len(msg) < 2 || msg[len(msg)-1] != ' ' {
			return "", formMessage
		}
		msg = msg[:len(msg)-1]
	}
	return msg, formLead
}

// sentenceReadsBack reports whether e's sentence is made the same of e as
// its body reads back: whether the text it takes from e is valid UTF-8,
// which JSON keeps byte for byte (encoding/json replaces other bytes).
func sentenceReadsBack(e *Event) bool {
	ok := utf8.ValidString(string(e.Kind)) && utf8.ValidString(e.Scheme) && utf8.ValidString(e.OldGrade) &&
		utf8.ValidString(e.NewGrade) && utf8.ValidString(e.Record)
	if l := e.Listing; ok && l != nil {
		ok = utf8.ValidString(l.List) && utf8.ValidString(l.EndReason)
		if v := l.Via; ok && v != nil {
			ok = utf8.ValidString(v.Subject) && utf8.ValidString(v.Relation)
		}
	}
	return ok
}

// appendEventBody appends e as encoding/json would, without its subject,
// and with its time as microseconds after at, the notice's, where that
// reads back the same: where e's time is whole microseconds and written in
// UTC (encoding/json reads it back in UTC), as the engine's are, and
// where it is shorter: within a day of the notice's. A store keeps the
// notice's time to the microsecond (Store.Commit); an event's is that or a
// few milliseconds later, when its record's batch was planned: "after_us"
// is left out when 0.
func appendEventBody(b []byte, e *Event, at time.Time) ([]byte, error) {
	b = append(b, `{"kind":`...)
	b = appendJSONString(b, string(e.Kind))
	const day = int64(24 * time.Hour / time.Microsecond)
	_, offset := e.At.Zone()
	if after := e.At.UnixMicro() - at.UnixMicro(); offset == 0 && e.At.Nanosecond()%1000 == 0 && -day <= after && after <= day &&
		validJSONYear(e.At) {
		b = appendJSONInt(b, `,"after_us":`, after)
	} else {
		b = append(b, `,"at":`...)
		var err error
		if b, err = appendJSONTime(b, e.At); err != nil {
			return nil, err
		}
	}
	b = appendJSONField(b, `,"scheme":`, e.Scheme)
	b = appendJSONInt(b, `,"old_score":`, e.OldScore)
	b = appendJSONInt(b, `,"new_score":`, e.NewScore)
	b = appendJSONField(b, `,"old_grade":`, e.OldGrade)
	b = appendJSONField(b, `,"new_grade":`, e.NewGrade)
	b = appendJSONField(b, `,"record":`, e.Record)
	if e.Listing != nil {
		// Rare in a notice (an entry on or off a list): left to
		// encoding/json.
		l, err := json.Marshal(e.Listing)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"listing":`...)
		b = append(b, l...)
	}
	return append(b, '}'), nil
}

// appendJSONField appends name and s, unless s is empty (omitempty).
func appendJSONField(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, name...), s)
}

// appendJSONInt appends name and n, unless n is 0 (omitempty).
func appendJSONInt(b []byte, name string, n int64) []byte {
	if n == 0 {
		return b
	}
	b = append(b, name...)
	return strconv.AppendInt(b, n, 10)
}

// validJSONYear reports whether t's year is one time.Time's MarshalJSON
// writes (0 to 9999); it fails on the others.
func validJSONYear(t time.Time) bool {
	y := t.Year()
	return 0 <= y && y <= 9999
}

// appendJSONTime appends t as time.Time's MarshalJSON does.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if !validJSONYear(t) {
		j, err := t.MarshalJSON() // fails, naming the year
		return append(b, j...), err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendJSONString appends s quoted as encoding/json quotes it. ASCII is
// escaped here as encoding/json escapes it (quotes, backslashes, control
// characters, and <, > and & for HTML); strings with other bytes are left
// to encoding/json. One pass, one table lookup a byte: notices' texts are
// escaped for every record ingested.
func appendJSONString(b []byte, s string) []byte {
	start := len(b)
	b = append(b, '"')
	from := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if jsonPlain[c] {
			continue
		}
		if c >= utf8.RuneSelf {
			j, _ := json.Marshal(s) // a string always marshals
			return append(b[:start], j...)
		}
		b = append(b, s[from:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		from = i + 1
	}
	b = append(b, s[from:]...)
	return append(b, '"')
}

// jsonPlain says which bytes appendJSONString copies as they are: ASCII
// but for control characters, the quote, the backslash and <, > and &.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
