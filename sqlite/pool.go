package sqlite

import (
	"context"
	"errors"
	"sync"

	sqlite3 "zombiezen.com/go/sqlite"
)

// readPool hands out query-only connections, opening them as needed up to
// its size. The connection used last is handed out first, so that under a
// light load a few connections with warm page caches serve every read.
type readPool struct {
	path  string
	slots chan struct{} // one token per connection in use

	mu     sync.Mutex
	idle   []*interruptible
	closed bool
}

func newReadPool(path string, size int) *readPool {
	return &readPool{path: path, slots: make(chan struct{}, size)}
}

// take returns a connection whose statements ctx interrupts. The caller
// gives it back with put.
func (p *readPool) take(ctx context.Context) (*interruptible, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	conn, err := p.conn()
	if err != nil {
		<-p.slots
		return nil, err
	}
	conn.watch(ctx)
	return conn, nil
}

func (p *readPool) conn() (*interruptible, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errClosed
	}
	if n := len(p.idle); n > 0 {
		conn := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return conn, nil
	}
	p.mu.Unlock()
	// Readers need no journal or sync settings: those are the writer's.
	conn, err := sqlite3.OpenConn(p.path, sqlite3.OpenReadWrite)
	if err != nil {
		return nil, err
	}
	conn.SetBusyTimeout(busyTimeout)
	if err := attachIndex(conn, p.path); err != nil {
		conn.Close() // #nosec G104 -- already failing; the connection is unused, and closing it only frees it
		return nil, err
	}
	if err := pragmas(conn, "foreign_keys = ON", cacheSize, "query_only = ON"); err != nil {
		conn.Close() // #nosec G104 -- already failing; the connection is unused, and closing it only frees it
		return nil, err
	}
	return newInterruptible(conn), nil
}

// put gives back a connection from take.
func (p *readPool) put(conn *interruptible) {
	conn.unwatch()
	p.mu.Lock()
	p.idle = append(p.idle, conn)
	p.mu.Unlock()
	<-p.slots
}

// close waits for the connections in use to come back and closes them all;
// take fails from then on.
func (p *readPool) close() error {
	for range cap(p.slots) {
		p.slots <- struct{}{}
	}
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for range cap(p.slots) {
		<-p.slots
	}
	var errs []error
	for _, i := range idle {
		errs = append(errs, i.conn.Close())
	}
	return errors.Join(errs...)
}
