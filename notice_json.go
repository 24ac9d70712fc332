package socred

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendNoticeBody appends the stored form of n (EncodeNotice): the JSON
// encoding/json makes of n with its id, subject and time zeroed and its
// events' subjects left out, byte for byte (a test holds it to that).
func appendNoticeBody(b []byte, n *Notice) ([]byte, error) {
	b = append(b, `{"kind":`...)
	b = appendJSONString(b, string(n.Kind))
	b = append(b, `,"message":`...)
	b = appendJSONString(b, n.Message)
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
			if b, err = appendEventBody(b, &n.Events[i]); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendEventBody appends e as encoding/json would, without its subject.
func appendEventBody(b []byte, e *Event) ([]byte, error) {
	b = append(b, `{"kind":`...)
	b = appendJSONString(b, string(e.Kind))
	b = append(b, `,"at":`...)
	b, err := appendJSONTime(b, e.At)
	if err != nil {
		return nil, err
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

// appendJSONTime appends t as time.Time's MarshalJSON does.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
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
// to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			j, _ := json.Marshal(s) // a string always marshals
			return append(b, j...)
		}
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		b = append(b, s[start:i]...)
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
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
