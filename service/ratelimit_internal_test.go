package service

import (
	"net/http"
	"testing"
)

// Failed authentications are counted by address, and an IPv6 client by its
// /64, which one subscriber holds whole.
func TestClientAddr(t *testing.T) {
	for remote, want := range map[string]string{
		"198.51.100.7:4000":          "198.51.100.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"[::ffff:198.51.100.7]:80":   "::ffff:198.51.100.7",
		"pipe":                       "pipe",
	} {
		r := &http.Request{RemoteAddr: remote}
		if got := ClientAddr(r); got != want {
			t.Errorf("ClientAddr(%q) = %q, want %q", remote, got, want)
		}
	}
}
