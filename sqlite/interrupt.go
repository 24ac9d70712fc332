package sqlite

import (
	"context"

	sqlite3 "zombiezen.com/go/sqlite"
)

// interruptible is a connection whose statements the end of a context
// interrupts. The driver's SetInterrupt starts a goroutine for every
// channel it is given, and to take one back waits for that goroutine to
// run: under load every read and every commit waited so for the scheduler
// (an execution trace of an ingest run had 0.4 s of goroutines runnable
// and not running in it over 5.7 s, the commits' and the planner's among
// them). An interruptible gives its connection one channel for good,
// closed through context.AfterFunc when a watched context ends, and a new
// channel only after that. Used by one goroutine at a time.
type interruptible struct {
	conn *sqlite3.Conn
	done chan struct{} // the connection's interrupt; closed when a watched context ends
	// stop ends the outermost watch (nil if its context never ends);
	// depth counts the watches begun and not ended: a watch inside another
	// (a commit inside the store's opening) is the outer one's.
	stop  func() bool
	depth int
}

func newInterruptible(conn *sqlite3.Conn) *interruptible {
	i := &interruptible{conn: conn, done: make(chan struct{})}
	conn.SetInterrupt(i.done)
	return i
}

// watch makes ctx's end interrupt the connection's statements until
// unwatch.
func (i *interruptible) watch(ctx context.Context) {
	if i.depth++; i.depth == 1 && ctx.Done() != nil {
		done := i.done
		if ctx.Err() != nil {
			// Ended already: interrupted before the first statement, as
			// the driver does with a closed channel.
			close(done)
			i.stop = fired
			return
		}
		i.stop = context.AfterFunc(ctx, func() { close(done) })
	}
}

// fired is the stop of a watch whose context had ended.
func fired() bool { return false }

// unwatch ends a watch. A connection interrupted gets a new channel (the
// driver fails every statement while its channel is closed); one left with
// a statement that has a row pending has it reset, as the driver does when
// given a channel, so that no read transaction stays open.
func (i *interruptible) unwatch() {
	if i.depth--; i.depth == 0 && i.stop != nil {
		stop := i.stop
		i.stop = nil
		if !stop() {
			<-i.done // the AfterFunc has started, and closes it
			i.done = make(chan struct{})
			i.conn.SetInterrupt(i.done)
			return
		}
	}
	if i.conn.CheckReset() != "" {
		i.conn.SetInterrupt(i.done)
	}
}
