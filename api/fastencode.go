package api

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/socred/socred"
)

// The answer the server writes most — a check's decision — is written by
// an encoder made for its shape, into the same bytes encoding/json would
// write (HTML escaping off, a newline after): FuzzDecisionEncoding holds it
// to that. It writes only the plain cases, strings that need no escape
// and times encoding/json takes, and leaves anything else to
// encoding/json; measured, it costs about a sixth of encoding/json's time
// (BenchmarkDecisionEncoding).

// appendDecision appends d, as encoding/json would encode it, to b, and
// reports whether it could; when it could not, b is returned as it was.
func appendDecision(b []byte, d *socred.Decision) ([]byte, bool) {
	start := len(b)
	ok := true
	b = append(b, `{"subject":`...)
	b, ok = appendPlainString(b, d.Subject, ok)
	b = append(b, `,"action":`...)
	b, ok = appendPlainString(b, d.Action, ok)
	b = append(b, `,"allowed":`...)
	b = strconv.AppendBool(b, d.Allowed)
	b = append(b, `,"checked_at":`...)
	b, ok = appendTime(b, d.CheckedAt, ok)
	b = append(b, `,"reasons":`...)
	if d.Reasons == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range d.Reasons {
			if i > 0 {
				b = append(b, ',')
			}
			b, ok = appendReason(b, &d.Reasons[i], ok)
		}
		b = append(b, ']')
	}
	if d.Why != "" {
		b = append(b, `,"why":`...)
		b, ok = appendPlainString(b, d.Why, ok)
	}
	if d.LogIndex != nil {
		b = append(b, `,"log_index":`...)
		b = strconv.AppendInt(b, *d.LogIndex, 10)
	}
	b = append(b, "}\n"...)
	if !ok {
		return b[:start], false
	}
	return b, true
}

func appendReason(b []byte, r *socred.Reason, ok bool) ([]byte, bool) {
	b = append(b, `{"list":`...)
	b, ok = appendPlainString(b, r.List, ok)
	b = append(b, `,"measure":`...)
	b, ok = appendPlainString(b, r.Measure, ok)
	b = append(b, `,"effect":`...)
	b, ok = appendPlainString(b, string(r.Effect), ok)
	b = append(b, `,"authority":`...)
	b, ok = appendPlainString(b, r.Authority, ok)
	b = append(b, `,"legal_basis":`...)
	b, ok = appendPlainString(b, r.LegalBasis, ok)
	b = append(b, `,"since":`...)
	b, ok = appendTime(b, r.Since, ok)
	b = append(b, `,"until":`...)
	if r.Until == nil {
		b = append(b, "null"...)
	} else {
		b, ok = appendTime(b, *r.Until, ok)
	}
	b = append(b, `,"via":`...)
	if r.Via == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"subject":`...)
		b, ok = appendPlainString(b, r.Via.Subject, ok)
		b = append(b, `,"relation":`...)
		b, ok = appendPlainString(b, r.Via.Relation, ok)
		b = append(b, '}')
	}
	if r.Why != "" {
		b = append(b, `,"why":`...)
		b, ok = appendPlainString(b, r.Why, ok)
	}
	if r.Remedy != "" {
		b = append(b, `,"remedy":`...)
		b, ok = appendPlainString(b, r.Remedy, ok)
	}
	return append(b, '}'), ok
}

// appendPlainString appends s quoted, as encoding/json (HTML escaping off)
// would write it, if s is valid UTF-8 with no control character, U+2028 or
// U+2029 (a quote and a backslash are escaped); ok is false from then on if
// it is not.
func appendPlainString(b []byte, s string, ok bool) ([]byte, bool) {
	if !ok {
		return b, false
	}
	start := len(b)
	b = append(b, '"')
	from := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c < 0x20:
				return b[:start], false
			case c == '"' || c == '\\':
				b = append(b, s[from:i]...)
				b = append(b, '\\', c)
				from = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return b[:start], false
		}
		i += size
	}
	b = append(b, s[from:]...)
	return append(b, '"'), true
}

// appendTime appends t quoted in RFC 3339 with nanoseconds, as
// time.Time's MarshalJSON does, for the years it takes (0 to 9999) and
// offsets of whole minutes under a day; ok is false from then on for any
// other.
func appendTime(b []byte, t time.Time, ok bool) ([]byte, bool) {
	if !ok {
		return b, false
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off%60 != 0 || off <= -24*60*60 || off >= 24*60*60 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}
