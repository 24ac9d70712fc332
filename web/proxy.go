package web

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustProxies returns h behind reverse proxies at the addresses in
// trusted: a request from one of them is taken to come from the client its
// X-Forwarded-For names (the right-most address not itself a trusted
// proxy), so that failed sign-ins are counted by client, and over HTTPS
// when X-Forwarded-Proto says so, so that cookies are marked Secure and
// kept. Requests from other addresses are taken as they come: their
// headers are not believed. With no trusted proxies it returns h.
func TrustProxies(h http.Handler, trusted []netip.Prefix) http.Handler {
	if len(trusted) == 0 {
		return h
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !isTrusted(peer.Addr()) {
			h.ServeHTTP(rw, r)
			return
		}
		client := netip.Addr{}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a hop that is no address: believe nothing before it
			}
			client = a.Unmap()
			if !isTrusted(client) {
				break
			}
		}
		r2 := r.Clone(r.Context())
		if client.IsValid() {
			r2.RemoteAddr = net.JoinHostPort(client.String(), "0")
		}
		if strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https") {
			r2 = r2.WithContext(context.WithValue(r2.Context(), forwardedHTTPS{}, true))
		}
		h.ServeHTTP(rw, r2)
	})
}

// forwardedHTTPS marks a request a trusted proxy received over HTTPS.
type forwardedHTTPS struct{}

// ParsePrefixes parses a comma-separated list of CIDR prefixes or single
// addresses.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
