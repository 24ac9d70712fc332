package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Behind a trusted proxy a request comes from the client X-Forwarded-For
// names and is secure when X-Forwarded-Proto says https; from anyone else
// those headers are not believed.
func TestTrustProxies(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.0.2.7,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	var gotAddr string
	var gotSecure bool
	inner := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		gotAddr, gotSecure = r.RemoteAddr, secure(r)
	})
	h := TrustProxies(inner, trusted)
	for _, tc := range []struct {
		name, peer, xff, proto string
		addr                   string
		secure                 bool
	}{
		{"a trusted proxy", "10.1.2.3:5000", "203.0.113.9", "https", "203.0.113.9:0", true},
		{"a chain of trusted proxies", "10.1.2.3:5000", "203.0.113.9, 192.0.2.7, 10.9.9.9", "https", "203.0.113.9:0", true},
		{"a client's forged hop is skipped from the right", "10.1.2.3:5000", "198.51.100.1, 203.0.113.9", "http", "203.0.113.9:0", false},
		{"an IPv6 proxy", "[2001:db8::1]:443", "2001:db9::5", "HTTPS", "[2001:db9::5]:0", true},
		{"an untrusted peer's headers are ignored", "203.0.113.50:4000", "10.0.0.1", "https", "203.0.113.50:4000", false},
		{"a hop that is no address", "10.1.2.3:5000", "203.0.113.9, unknown", "", "10.1.2.3:5000", false},
		{"no header", "10.1.2.3:5000", "", "", "10.1.2.3:5000", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://socred.example.org/sign-in", nil)
			r.RemoteAddr = tc.peer
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if gotAddr != tc.addr || gotSecure != tc.secure {
				t.Errorf("got %s secure %v, want %s secure %v", gotAddr, gotSecure, tc.addr, tc.secure)
			}
		})
	}
	if _, err := ParsePrefixes("10.0.0.0/33"); err == nil {
		t.Error("10.0.0.0/33 parsed")
	}
	// With no trusted proxies, no one's headers are believed.
	r := httptest.NewRequest("GET", "http://socred.example.org/sign-in", nil)
	r.RemoteAddr = "10.1.2.3:5000"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.Header.Set("X-Forwarded-Proto", "https")
	TrustProxies(inner, nil).ServeHTTP(httptest.NewRecorder(), r)
	if gotAddr != "10.1.2.3:5000" || gotSecure {
		t.Errorf("without trusted proxies: got %s secure %v, want the peer, not secure", gotAddr, gotSecure)
	}
}
