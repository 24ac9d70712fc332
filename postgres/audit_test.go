package postgres_test

import (
	"bytes"
	"strconv"
	"sync"
	"testing"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
	"github.com/socred/socred/postgres"
	"github.com/socred/socred/postgres/postgrestest"
)

// auditWrite is a write of a record, two checks and a pack entry, each
// logged, the record and checks with their receipts.
func auditWrite(keys *socred.AuditKeys, id int) *socred.Write {
	r := record(id, "k"+strconv.Itoa(id), "s"+strconv.Itoa(id%7))
	r.LogIndex = new(int64)
	w := &socred.Write{Now: t0, Records: []*socred.Record{r}}
	w.Audit = append(w.Audit, socred.AuditEntry{Kind: audit.KindRecord, Ref: r.ID, Event: keys.RecordEvent(r), Receipt: r.LogIndex})
	for k := range 2 {
		c := socred.CheckEntry{Subject: r.Subject, At: t0, By: "airline", TokenID: "t1", Action: "fly", Allowed: k == 0, LogIndex: new(int64)}
		w.Checks = append(w.Checks, c)
		w.Audit = append(w.Audit, socred.AuditEntry{Kind: audit.KindCheck, Event: keys.CheckEvent(&c), Receipt: c.LogIndex})
	}
	w.Audit = append(w.Audit, socred.AuditEntry{Kind: audit.KindPack, Ref: "pack-" + r.ID, Event: [32]byte{byte(id)}, Receipt: new(int64)})
	return w
}

// checkLog reads the whole log back and checks it is one log of n leaves:
// blocks that follow each other from leaf 0, and stored hashes, read by
// block and by index, that are the ones the leaves make.
func checkLog(t *testing.T, s *postgres.Store, n int64) []audit.Leaf {
	t.Helper()
	size, err := s.AuditSize(ctx)
	if err != nil || size != n {
		t.Fatalf("size: got %d, %v, want %d", size, err, n)
	}
	blocks, err := s.AuditBlocks(ctx, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	var (
		leaves []audit.Leaf
		stored []audit.Hash // every stored hash, as the leaves make them
	)
	edge, _ := audit.NewEdge(0, nil)
	for _, b := range blocks {
		if b.First != int64(len(leaves)) {
			t.Fatalf("a block at leaf %d follows %d leaves: the log forked or has a gap", b.First, len(leaves))
		}
		ls, err := audit.ParseLeaves(b.Leaves)
		if err != nil || len(ls) == 0 {
			t.Fatalf("block at %d: %d leaves, %v", b.First, len(ls), err)
		}
		hashes := make([]audit.Hash, len(ls))
		for i := range ls {
			hashes[i] = ls[i].Hash()
		}
		added, next, err := edge.Append(hashes)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(audit.Keep(b.First, added), b.Hashes) {
			t.Fatalf("block at %d: the hashes kept differ from those its leaves make", b.First)
		}
		edge, stored = next, append(stored, added...)
		leaves = append(leaves, ls...)
	}
	if int64(len(leaves)) != n {
		t.Fatalf("%d leaves in the blocks, want %d", len(leaves), n)
	}
	idx := make([]int64, len(stored))
	for i := range idx {
		idx[i] = int64(len(idx) - 1 - i) // in no block's order
	}
	byIndex, err := s.AuditHashes(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range idx {
		if byIndex[i] != stored[x] {
			t.Fatalf("hash %d read by index differs from the one the leaves make", x)
		}
	}
	return leaves
}

// Two stores on one database, as two servers would be, each appending from
// two goroutines at once: one log comes of it, every write's entries
// together and in order, with no fork.
func TestAuditConcurrentStores(t *testing.T) {
	url := postgrestest.Schema(t, database(t))
	stores := []*postgres.Store{mustOpen(t, url), mustOpen(t, url)}
	defer stores[0].Close()
	defer stores[1].Close()
	keys := &socred.AuditKeys{Salt: []byte("salt")}
	const goroutines, writes, entries = 2, 50, 4
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		done   []*socred.Write
		failed []error
	)
	for si, s := range stores {
		for g := range goroutines {
			wg.Go(func() {
				for i := range writes {
					w := auditWrite(keys, 1+(si*goroutines+g)*writes+i)
					err := s.Commit(ctx, w)
					mu.Lock()
					if err != nil {
						failed = append(failed, err)
					} else {
						done = append(done, w)
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, err := range failed {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	total := int64(len(stores) * goroutines * writes * entries)
	leaves := checkLog(t, stores[1], total)

	// Every write's entries are together, in order, where its receipts say.
	taken := make([]bool, total)
	for _, w := range done {
		at := *w.Audit[0].Receipt
		for i, e := range w.Audit {
			x := *e.Receipt
			if x != at+int64(i) || x >= total || taken[x] {
				t.Fatalf("write of record %s: entry %d has receipt %d (first %d)", w.Records[0].ID, i, x, at)
			}
			taken[x] = true
			want := audit.Leaf{Kind: e.Kind, Ref: e.Ref, Event: e.Event}
			if e.Kind == audit.KindCheck {
				want.Ref = leaves[x].Ref // the check's id, compared below
			}
			if leaves[x] != want {
				t.Fatalf("leaf %d: got %v %q, want %v %q", x, leaves[x].Kind, leaves[x].Ref, want.Kind, want.Ref)
			}
		}
	}
	// The records and checks stored keep their receipts, which name them.
	nrec, nchk := 0, 0
	err := stores[0].AuditSources(ctx, func(r *socred.Record, c *socred.CheckEntry, _ *socred.Access) error {
		switch {
		case r != nil:
			nrec++
			if l := leaves[*r.LogIndex]; l.Kind != audit.KindRecord || l.Ref != r.ID || l.Event != keys.RecordEvent(r) {
				t.Errorf("record %s: leaf %d does not log it", r.ID, *r.LogIndex)
			}
		case c != nil:
			nchk++
			if l := leaves[*c.LogIndex]; l.Kind != audit.KindCheck || l.Ref != strconv.FormatInt(c.ID, 10) || l.Event != keys.CheckEvent(c) {
				t.Errorf("check %d: leaf %d does not log it", c.ID, *c.LogIndex)
			}
		}
		return nil
	})
	if err != nil || nrec != len(done) || nchk != 2*len(done) {
		t.Fatalf("sources: %d records, %d checks, %v; want %d, %d", nrec, nchk, err, len(done), 2*len(done))
	}

	// One store appends more than the other can catch up with from the
	// blocks alone; the other then reads its edge's hashes.
	big := &socred.Write{Now: t0}
	for i := range 5000 {
		big.Audit = append(big.Audit, socred.AuditEntry{Kind: audit.KindPack, Ref: "big-" + strconv.Itoa(i), Event: [32]byte{1, byte(i)}})
	}
	if err := stores[0].Commit(ctx, big); err != nil {
		t.Fatal(err)
	}
	if err := stores[1].Commit(ctx, auditWrite(keys, 100_000)); err != nil {
		t.Fatal(err)
	}
	if err := stores[0].Commit(ctx, auditWrite(keys, 100_001)); err != nil {
		t.Fatal(err)
	}
	checkLog(t, stores[0], total+5000+2*entries)
}

// BenchmarkCommitRecordsAudited is BenchmarkCommitRecords with every record
// logged in the audit log, as the service logs them.
func BenchmarkCommitRecordsAudited(b *testing.B) {
	const batch = 1000
	s := mustOpen(b, postgrestest.Schema(b, database(b)))
	defer s.Close()
	keys := &socred.AuditKeys{Salt: []byte("salt")}
	next := 1
	for b.Loop() {
		w := &socred.Write{Now: t0, Records: records(next, batch)}
		for _, r := range w.Records {
			r.LogIndex = new(int64)
			w.Audit = append(w.Audit, socred.AuditEntry{Kind: audit.KindRecord, Ref: r.ID, Event: keys.RecordEvent(r), Receipt: r.LogIndex})
		}
		if err := s.Commit(ctx, w); err != nil {
			b.Fatal(err)
		}
		next += batch
	}
	b.ReportMetric(float64(next-1)/b.Elapsed().Seconds(), "records/s")
}
