package sqlite

import (
	"strconv"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// SetLoadSplitMin sets how many records make Load read them on several
// connections, and returns a function that restores it.
func SetLoadSplitMin(n int64) (restore func()) {
	old := loadSplitMin
	loadSplitMin = n
	return func() { loadSplitMin = old }
}

// BenchChecks returns a write of group checks as the service's journal
// makes them under load, each with its audit entry and one in ten a denial
// with its notice; *n counts the checks made so far, and picks subjects of
// a million.
func BenchChecks(keys *socred.AuditKeys, at time.Time, group int, n *int) *socred.Write {
	w := &socred.Write{Now: at}
	for range group {
		*n++
		c := socred.CheckEntry{Subject: "s" + strconv.Itoa(*n*7919%1_000_000), At: at, By: "airline", TokenID: "tok",
			Action: "fly", Purpose: "ticket", Allowed: *n%10 != 0, LogIndex: new(int64)}
		w.Checks = append(w.Checks, c)
		w.Audit = append(w.Audit, socred.AuditEntry{Kind: audit.KindCheck, Event: keys.CheckEvent(&c)})
		if !c.Allowed {
			w.Notices = append(w.Notices, socred.CheckNotice(&c))
		}
	}
	return w
}
