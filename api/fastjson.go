package api

import (
	"unicode/utf8"

	"github.com/socred/socred/service"
)

// The two bodies the server reads most — a check, and a batch of records
// (a thousand in a request) — are read first by a decoder written for
// their shape: an object of known fields whose values are plain strings.
// It takes only the plainest form of them, and anything else (an escape
// in a string, a null, a field in another case, a number, an unknown
// field, a syntax error) it leaves to encoding/json, which then decides,
// and words any error, exactly as before. What it accepts, it decodes as
// encoding/json does (FuzzFastDecode holds it to that), at about a fifth
// of the cost.

// fastUnmarshal decodes data into v, if v is one of the bodies above and
// data is in the form this decoder takes, and reports whether it did. When
// it did not, v is as it was.
func fastUnmarshal(data []byte, v any) bool {
	switch v := v.(type) {
	case *service.CheckInput:
		var in service.CheckInput
		if !fastDocument(data, func(s *scanner) bool { return s.checkInput(&in) }) {
			return false
		}
		*v = in
		return true
	case *recordsInput:
		var in recordsInput
		if !fastDocument(data, func(s *scanner) bool { return s.recordsInput(&in) }) {
			return false
		}
		*v = in
		return true
	}
	return false
}

// fastDocument scans data as one value read by value, with nothing but
// white space around it.
func fastDocument(data []byte, value func(*scanner) bool) bool {
	s := &scanner{data: data}
	s.space()
	if !value(s) {
		return false
	}
	s.space()
	return s.pos == len(s.data)
}

// scanner reads JSON from data at pos. Each method returns false for
// anything it does not take.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// byte consumes c, after white space.
func (s *scanner) byte(c byte) bool {
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// str reads a string without escapes, of valid UTF-8, and returns its
// contents and its JSON form (with the quotes).
func (s *scanner) str() (contents, raw []byte, ok bool) {
	if !s.byte('"') {
		return nil, nil, false
	}
	start := s.pos
	ascii := true
	for ; s.pos < len(s.data); s.pos++ {
		c := s.data[s.pos]
		switch {
		case c == '"':
			contents = s.data[start:s.pos]
			s.pos++
			if !ascii && !utf8.Valid(contents) {
				return nil, nil, false // encoding/json would replace the bad bytes
			}
			return contents, s.data[start-1 : s.pos], true
		case c == '\\' || c < 0x20:
			return nil, nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, nil, false
}

// object reads an object, calling field with each key; field reads the
// value.
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.byte('{') {
		return false
	}
	if s.byte('}') {
		return true
	}
	// A name given twice is left to encoding/json and the check after it
	// (duplicateName), as is an object of more names than a body has.
	var seen [8][]byte
	n := 0
	for {
		key, _, ok := s.str()
		if !ok || !s.byte(':') || n == len(seen) {
			return false
		}
		for _, k := range seen[:n] {
			if string(k) == string(key) {
				return false
			}
		}
		seen[n] = key
		n++
		s.space()
		if !field(key) {
			return false
		}
		if s.byte('}') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// text reads a string value into *dst.
func (s *scanner) text(dst *string) bool {
	v, _, ok := s.str()
	if ok {
		*dst = string(v)
	}
	return ok
}

func (s *scanner) checkInput(in *service.CheckInput) bool {
	return s.object(func(key []byte) bool {
		switch string(key) {
		case "subject":
			return s.text(&in.Subject)
		case "action":
			return s.text(&in.Action)
		case "purpose":
			return s.text(&in.Purpose)
		}
		return false
	})
}

func (s *scanner) recordsInput(in *recordsInput) bool {
	return s.object(func(key []byte) bool {
		// A repeated key is left to encoding/json, which decodes the
		// second array over the first.
		if string(key) != "records" || in.Records != nil || !s.byte('[') {
			return false
		}
		recs := make([]recordInput, 0, len(s.data)/200)
		if !s.byte(']') {
			for {
				var r recordInput
				if !s.recordInput(&r) {
					return false
				}
				recs = append(recs, r)
				if s.byte(']') {
					break
				}
				if !s.byte(',') {
					return false
				}
			}
		}
		in.Records = recs
		return true
	})
}

func (s *scanner) recordInput(r *recordInput) bool {
	return s.object(func(key []byte) bool {
		switch string(key) {
		case "key":
			return s.text(&r.Key)
		case "subject":
			return s.text(&r.Subject)
		case "scheme":
			return s.text(&r.Scheme)
		case "rule":
			return s.text(&r.Rule)
		case "evidence":
			return s.text(&r.Evidence)
		case "occurred_at":
			_, raw, ok := s.str()
			if !ok {
				return false
			}
			// What encoding/json calls.
			return r.OccurredAt.UnmarshalJSON(raw) == nil
		}
		return false
	})
}
