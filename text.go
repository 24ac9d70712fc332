package socred

import "unicode/utf8"

// ValidText reports whether s is text a field may hold: valid UTF-8 with no
// control characters (a line break or a tab only where multiline) and none
// of the bidirectional embedding, override and isolate characters, which
// make text display as other text (a name shown reversed on the public
// board, say).
func ValidText(s string, multiline bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && !(multiline && (c == '\n' || c == '\t' || c == '\r')) || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return false
		case r >= 0x80 && r <= 0x9f: // C1 controls
			return false
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return false
		}
		i += n
	}
	return true
}

// TextRule says what ValidText refuses, for error messages.
const TextRule = "UTF-8 without control characters or bidirectional overrides"

// InvalidUTF8 returns the offset of the first byte of data that is not part
// of valid UTF-8, or len(data) when there is none.
func InvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(data)
}
