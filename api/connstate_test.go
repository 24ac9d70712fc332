package api

import (
	"net"
	"net/http"
	"testing"
)

// ConnState counts a request begun once, from its connection's first
// Active until it is Idle, Closed or Hijacked, whatever order the states
// come in.
func TestConnStateCountsRequestsBegun(t *testing.T) {
	var begun int
	a := &API{requests: func(d int) { begun += d }}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	c3, c4 := net.Pipe()
	defer c3.Close()
	defer c4.Close()
	steps := []struct {
		conn net.Conn
		st   http.ConnState
		want int
	}{
		{c1, http.StateNew, 0},
		{c1, http.StateActive, 1},
		{c1, http.StateActive, 1}, // still the same request's connection
		{c2, http.StateNew, 1},
		{c2, http.StateClosed, 1}, // closed before any request
		{c3, http.StateActive, 2},
		{c3, http.StateActive, 2},
		{c1, http.StateIdle, 1},
		{c1, http.StateClosed, 1}, // closed idle: counted off already
		{c3, http.StateHijacked, 0},
		{c4, http.StateActive, 1},
		{c4, http.StateClosed, 0}, // closed while answering
	}
	for i, s := range steps {
		a.ConnState(s.conn, s.st)
		if begun != s.want {
			t.Fatalf("step %d (%v): %d requests begun, want %d", i, s.st, begun, s.want)
		}
	}
	held := 0
	a.active.Range(func(any, any) bool { held++; return true })
	if held != 0 {
		t.Fatalf("%d connections still held", held)
	}
}
