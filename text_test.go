package socred

import "testing"

func TestValidText(t *testing.T) {
	for _, tc := range []struct {
		s          string
		line, text bool // ValidText(s, false), ValidText(s, true)
	}{
		{"Zhang Wei", true, true},
		{"张伟", true, true},
		{"Ünal Çelik", true, true},
		{"محمد", true, true},
		{"", true, true},
		{"two\nlines", false, true},
		{"tab\there", false, true},
		{"crlf\r\n", false, true},
		{"nul\x00", false, false},
		{"bell\a", false, false},
		{"del\x7f", false, false},
		{"c1\u0085", false, false},
		{"Wang\u202eLI GNAHZ", false, false}, // right-to-left override
		{"\u202aembedded", false, false},
		{"\u2066isolate\u2069", false, false},
		{"bad \xff byte", false, false},
		{"cut \xe5\xbc", false, false},
		{"\ufffd as a character", true, true},
	} {
		if got := ValidText(tc.s, false); got != tc.line {
			t.Errorf("ValidText(%q, false) = %v, want %v", tc.s, got, tc.line)
		}
		if got := ValidText(tc.s, true); got != tc.text {
			t.Errorf("ValidText(%q, true) = %v, want %v", tc.s, got, tc.text)
		}
	}
}
