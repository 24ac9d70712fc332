package service_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
	"github.com/socred/socred/service"
)

// racing is a store whose AuditSources first lets another write through,
// as a server still writing does while audit verify reads, and may change
// the receipts it hands on.
type racing struct {
	socred.Store
	before  func()
	receipt func(*int64) *int64
	// blocks, if set, is called before each read of the log's blocks.
	blocks func()
}

func (r racing) AuditBlocks(ctx context.Context, from int64, limit int) ([]socred.AuditBlock, error) {
	if r.blocks != nil {
		r.blocks()
	}
	return r.Store.AuditBlocks(ctx, from, limit)
}

func (r racing) AuditSources(ctx context.Context, fn func(*socred.Record, *socred.CheckEntry, *socred.Access) error) error {
	r.before()
	return r.Store.AuditSources(ctx, func(rec *socred.Record, c *socred.CheckEntry, a *socred.Access) error {
		if c != nil && r.receipt != nil {
			c.LogIndex = r.receipt(c.LogIndex)
		}
		return fn(rec, c, a)
	})
}

// A check logged while verify reads the log is left for the next verify;
// a receipt beyond the log as it stands once the rows are read is an error.
func TestVerifyWhileWriting(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	allowed(t, svc, "wang", "ride-high-speed-train")
	keys, err := store.AuditKeys(ctx, socred.AuditKeys{})
	if err != nil {
		t.Fatal(err)
	}
	check := func() {
		ch := socred.CheckEntry{Subject: "wang", At: time.Now().UTC(), By: "rail", TokenID: "t", Action: "ride-high-speed-train", Allowed: true, LogIndex: new(int64)}
		w := &socred.Write{Now: ch.At, Checks: []socred.CheckEntry{ch},
			Audit: []socred.AuditEntry{{Kind: audit.KindCheck, Event: keys.CheckEvent(&ch), Receipt: ch.LogIndex}}}
		if err := store.Commit(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := service.VerifyLog(ctx, racing{Store: store, before: check})
	if err != nil || rep.Later != 1 {
		t.Fatalf("a check logged while verifying: %+v, %v; want it left for the next verify", rep, err)
	}
	next, err := service.VerifyLog(ctx, store)
	if err != nil || next.Later != 0 {
		t.Fatalf("the next verify: %+v, %v", next, err)
	}
	// The check left over was not counted as hashed again; the next verify counts it.
	if next.Checks != rep.Checks+1 {
		t.Errorf("checks hashed again: %d while writing, %d next; want the one left over counted only next", rep.Checks, next.Checks)
	}
	// A check logged after verify read the log's size and before it read
	// the blocks: its block is verified with the others, and its row
	// claims its entry.
	var once sync.Once
	rep, err = service.VerifyLog(ctx, racing{Store: store, before: func() {}, blocks: func() { once.Do(check) }})
	if err != nil || rep.Later != 0 || rep.Entries != next.Entries+1 || rep.Checks != next.Checks+1 {
		t.Fatalf("a check logged while verify read the blocks: %+v, %v; want it verified with the rest (after %+v)", rep, err, next)
	}
	// Blocks that the log's size does not cover are an error still.
	if _, err := service.VerifyLog(ctx, shrunk{store}); err == nil || !strings.Contains(err.Error(), "its blocks hold") {
		t.Errorf("blocks past the log's size: got %v", err)
	}
	far := func(*int64) *int64 { n := int64(1 << 40); return &n }
	if _, err := service.VerifyLog(ctx, racing{Store: store, before: func() {}, receipt: far}); err == nil || !strings.Contains(err.Error(), "beyond the log's") {
		t.Errorf("a receipt beyond the log: got %v", err)
	}
}

// shrunk says the log holds one entry fewer than its blocks do.
type shrunk struct{ socred.Store }

func (s shrunk) AuditSize(ctx context.Context) (int64, error) {
	n, err := s.Store.AuditSize(ctx)
	return n - 1, err
}
