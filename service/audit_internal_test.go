package service

import (
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// A record is logged purged once: two purges of it falling due in one
// write make one entry, and a record whose purge is logged already makes
// none; a write planned again gets its receipts anew.
func TestAuditLogsAPurgeOnce(t *testing.T) {
	s := &Service{}
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(id string, logged *int64) *socred.Record {
		return &socred.Record{ID: id, Subject: "wang", Scheme: "rongcheng", Rule: "littering", PurgedAt: &now, PurgeLogIndex: logged}
	}
	seven := int64(7)
	w := &socred.Write{Now: now, Erase: []socred.Erasure{
		{Record: rec("1", nil), At: now.Add(-time.Hour)},
		{Record: rec("1", nil), At: now},
		{Record: rec("2", &seven), At: now},
		{Record: rec("3", nil)},
	}}
	for range 2 {
		s.audit(w)
		if len(w.Audit) != 2 || w.Audit[0].Kind != audit.KindPurge || w.Audit[0].Ref != "1" || w.Audit[1].Ref != "3" {
			t.Fatalf("entries: got %+v", w.Audit)
		}
		if w.Erase[0].Receipt == nil || w.Erase[1].Receipt != nil || w.Erase[2].Receipt != nil || w.Erase[3].Receipt == nil {
			t.Fatalf("receipts: got %v %v %v %v", w.Erase[0].Receipt, w.Erase[1].Receipt, w.Erase[2].Receipt, w.Erase[3].Receipt)
		}
	}
	s.SetAuditOff(true)
	s.audit(w)
	if len(w.Audit) != 0 || w.Erase[0].Receipt != nil || w.Erase[3].Receipt != nil {
		t.Fatalf("with the log off: got %+v, receipts %v %v", w.Audit, w.Erase[0].Receipt, w.Erase[3].Receipt)
	}
}
