package web

import "testing"

// TestSafeNext: only a path on this site is a place to go after sign-in,
// not one a browser reads as another host.
func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/me":                 "/me",
		"/console?done=ok":    "/console?done=ok",
		"":                    "",
		"me":                  "",
		"https://example.org": "",
		"//example.org":       "",
		"/\\example.org":      "",
		"/\t/example.org":     "",
		"/\r\n/example.org":   "",
		"/\x00/example.org":   "",
		"/\x7f":               "",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}
