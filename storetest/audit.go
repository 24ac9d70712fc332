package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// testAuditKeys: the first keys stored are the ones every later call gets.
func testAuditKeys(t *testing.T, s socred.Store) {
	first := socred.AuditKeys{Signer: "PRIVATE+KEY+a", Verifier: "a+1+x", Salt: []byte{1, 2, 3}}
	got, err := s.AuditKeys(ctx, first)
	if err != nil || got.Signer != first.Signer || got.Verifier != first.Verifier || !bytes.Equal(got.Salt, first.Salt) {
		t.Fatalf("first: got %+v, %v", got, err)
	}
	got, err = s.AuditKeys(ctx, socred.AuditKeys{Signer: "PRIVATE+KEY+b", Verifier: "b", Salt: []byte{9}})
	if err != nil || got.Signer != first.Signer || !bytes.Equal(got.Salt, first.Salt) {
		t.Fatalf("second: got %+v, %v, want the first keys", got, err)
	}
}

// auditModel is the log a test expects: every leaf appended, in order.
type auditModel struct {
	leaves []audit.Leaf
}

func (m *auditModel) hashes(t *testing.T) []audit.Hash {
	t.Helper()
	var stored []audit.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]audit.Hash, error) {
		out := make([]audit.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for n := range m.leaves {
		hs, err := tlog.StoredHashesForRecordHash(int64(n), m.leaves[n].Hash(), r)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	return stored
}

// testAudit: entries are appended in the write's transaction, in order,
// with receipts on records and checks; a failed write appends nothing; the
// blocks, hashes and sources read back are the log the writes made.
func testAudit(t *testing.T, s socred.Store) {
	var m auditModel
	keys := socred.AuditKeys{Salt: []byte("salt")}
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("p1"), person("p2")}})
	var checkIDs []int64
	id := int64(0)
	for w := range 40 {
		write := &socred.Write{Now: t0.Add(time.Duration(w) * time.Minute)}
		for range w % 7 {
			id++
			r := record(id, "k"+strconv.FormatInt(id, 10), "p1", t0)
			r.LogIndex = new(int64)
			write.Records = append(write.Records, r)
			write.Audit = append(write.Audit, socred.AuditEntry{Kind: audit.KindRecord, Ref: r.ID, Event: keys.RecordEvent(r), Receipt: r.LogIndex})
			m.leaves = append(m.leaves, audit.Leaf{Kind: audit.KindRecord, Ref: r.ID, Event: keys.RecordEvent(r)})
		}
		for k := range w % 3 {
			c := socred.CheckEntry{Subject: "p2", At: write.Now, By: "airline", TokenID: "t1", Action: "fly", Allowed: k == 0, LogIndex: new(int64)}
			write.Checks = append(write.Checks, c)
			write.Audit = append(write.Audit, socred.AuditEntry{Kind: audit.KindCheck, Event: keys.CheckEvent(&c), Receipt: c.LogIndex})
			m.leaves = append(m.leaves, audit.Leaf{Kind: audit.KindCheck, Event: keys.CheckEvent(&c)}) // Ref: the store's id
			if k == 1 {
				// A read of the file between the checks, logged too.
				a := socred.Access{Subject: "p2", At: write.Now, By: "court", Role: socred.RoleAuthority, TokenID: "t2", Purpose: "case " + strconv.Itoa(w), LogIndex: new(int64)}
				write.Accesses = append(write.Accesses, a)
				write.Audit = append(write.Audit, socred.AuditEntry{Kind: audit.KindAccess, Event: keys.AccessEvent(&a), Receipt: a.LogIndex})
				m.leaves = append(m.leaves, audit.Leaf{Kind: audit.KindAccess, Event: keys.AccessEvent(&a)}) // Ref: the store's id
			}
		}
		if w%5 == 0 {
			e := socred.AuditEntry{Kind: audit.KindPack, Ref: fmt.Sprintf("pack-%d", w), Event: [32]byte{byte(w)}}
			write.Audit = append(write.Audit, e)
			m.leaves = append(m.leaves, audit.Leaf{Kind: e.Kind, Ref: e.Ref, Event: e.Event})
		}
		before := len(m.leaves) - len(write.Audit)
		commit(t, s, write)
		for i, e := range write.Audit {
			if e.Receipt != nil && *e.Receipt != int64(before+i) {
				t.Fatalf("write %d entry %d: receipt %d, want %d", w, i, *e.Receipt, before+i)
			}
		}
		// The store keeps nothing of the write's arrays once Commit
		// returns: a caller may reuse them (the service's journal does).
		for i := range write.Checks {
			write.Checks[i] = socred.CheckEntry{Subject: "p1", Action: "reused"}
		}
		for i := range write.Accesses {
			write.Accesses[i] = socred.Access{Subject: "p1", Purpose: "reused"}
		}
		for i := range write.Audit {
			write.Audit[i] = socred.AuditEntry{Kind: audit.KindPack, Ref: "reused"}
		}
		// A write that fails appends nothing.
		if w == 20 {
			bad := &socred.Write{Now: write.Now, Records: []*socred.Record{record(id, "k1", "p1", t0)},
				Audit: []socred.AuditEntry{{Kind: audit.KindRecord, Ref: "1", Event: [32]byte{1}}}}
			if err := s.Commit(ctx, bad); err == nil {
				t.Fatal("a write with a stored key was committed")
			}
		}
	}
	n, err := s.AuditSize(ctx)
	if err != nil || n != int64(len(m.leaves)) {
		t.Fatalf("size: got %d, %v, want %d", n, err, len(m.leaves))
	}

	// The blocks: every leaf, in order, checks named by their ids, and the
	// hashes the leaves make.
	var leaves []audit.Leaf
	var blocks []socred.AuditBlock
	for from := int64(0); from < n; {
		blocks, err := s.AuditBlocks(ctx, from, 7)
		if err != nil || len(blocks) == 0 {
			t.Fatalf("blocks from %d: %d, %v", from, len(blocks), err)
		}
		for _, b := range blocks {
			if b.First != int64(len(leaves)) {
				t.Fatalf("block at %d, want %d", b.First, len(leaves))
			}
			ls, err := audit.ParseLeaves(b.Leaves)
			if err != nil {
				t.Fatal(err)
			}
			leaves = append(leaves, ls...)
			blocks = append(blocks, b)
		}
		from = int64(len(leaves))
	}
	checks, err := s.Checks(ctx, "p2", socred.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.LogIndex == nil {
			t.Fatalf("check %d without its receipt", c.ID)
		}
		checkIDs = append(checkIDs, c.ID)
		m.leaves[*c.LogIndex].Ref = strconv.FormatInt(c.ID, 10)
	}
	accesses, err := s.Accesses(ctx, "p2", socred.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accesses {
		if a.LogIndex == nil || m.leaves[*a.LogIndex].Kind != audit.KindAccess {
			t.Fatalf("access %d (%s) without its receipt, or with another's: %v", a.ID, a.Purpose, a.LogIndex)
		}
		m.leaves[*a.LogIndex].Ref = strconv.FormatInt(a.ID, 10)
	}
	if len(accesses) == 0 {
		t.Fatal("no accesses read back")
	}
	if len(leaves) != len(m.leaves) {
		t.Fatalf("%d leaves read, want %d", len(leaves), len(m.leaves))
	}
	for i := range leaves {
		if leaves[i] != m.leaves[i] {
			t.Fatalf("leaf %d: got %v %q, want %v %q", i, leaves[i].Kind, leaves[i].Ref, m.leaves[i].Kind, m.leaves[i].Ref)
		}
	}
	// Each block keeps the hashes at audit.KeptLevel and above that its
	// leaves added.
	want := m.hashes(t)
	for i, b := range blocks { // #nosec G602 -- i < len(blocks), so blocks[i+1:] is in range
		end := n
		if next := blocks[i+1:]; len(next) > 0 {
			end = next[0].First
		}
		kept := audit.Keep(b.First, want[tlog.StoredHashCount(b.First):tlog.StoredHashCount(end)])
		if !bytes.Equal(kept, b.Hashes) {
			t.Fatalf("block at %d: kept hashes differ", b.First)
		}
	}
	// Every hash by index, as proofs read them, those below the kept
	// level from the leaves.
	idx := make([]int64, len(want))
	for i := range idx {
		idx[i] = int64(len(want) - 1 - i)
	}
	hs, err := s.AuditHashes(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range idx {
		if hs[i] != want[x] {
			t.Fatalf("hash %d read by index differs", x)
		}
	}

	// The records' and checks' receipts, read back, and the sources.
	recs, err := s.SubjectRecords(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != int(id) {
		t.Fatalf("%d records, want %d", len(recs), id)
	}
	for _, r := range recs {
		if r.LogIndex == nil || m.leaves[*r.LogIndex].Ref != r.ID || m.leaves[*r.LogIndex].Event != keys.RecordEvent(r) {
			t.Fatalf("record %s: receipt %v does not name it, or its event hash differs read back", r.ID, r.LogIndex)
		}
	}
	nrec, nchk, nacc := 0, 0, 0
	err = s.AuditSources(ctx, func(r *socred.Record, c *socred.CheckEntry, a *socred.Access) error {
		switch {
		case r != nil:
			nrec++
			if l := m.leaves[*r.LogIndex]; l.Event != keys.RecordEvent(r) {
				t.Errorf("source record %s hashes differently", r.ID)
			}
		case c != nil:
			nchk++
			if l := m.leaves[*c.LogIndex]; l.Event != keys.CheckEvent(c) || l.Ref != strconv.FormatInt(c.ID, 10) {
				t.Errorf("source check %d hashes differently", c.ID)
			}
		case a != nil:
			nacc++
			if l := m.leaves[*a.LogIndex]; l.Event != keys.AccessEvent(a) || l.Ref != strconv.FormatInt(a.ID, 10) {
				t.Errorf("source access %d hashes differently", a.ID)
			}
		}
		return nil
	})
	if err != nil || nrec != int(id) || nchk != len(checkIDs) || nacc != len(accesses) {
		t.Fatalf("sources: %d records, %d checks, %d accesses, %v; want %d, %d, %d", nrec, nchk, nacc, err, id, len(checkIDs), len(accesses))
	}
}

// testCheckpoints: kept once per size, read largest first.
func testCheckpoints(t *testing.T, s socred.Store) {
	for _, c := range []socred.Checkpoint{
		{Size: 3, At: t0, Note: []byte("three")},
		{Size: 10, At: t0.Add(time.Hour), Note: []byte("ten")},
		{Size: 3, At: t0.Add(2 * time.Hour), Note: []byte("three again")},
	} {
		if err := s.SaveCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Checkpoints(ctx, socred.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Size != 10 || string(got[0].Note) != "ten" || got[1].Size != 3 || string(got[1].Note) != "three" ||
		!got[1].At.Equal(t0) {
		t.Fatalf("got %+v", got)
	}
	if got, _ := s.Checkpoints(ctx, socred.Page{Limit: 1}); len(got) != 1 || got[0].Size != 10 {
		t.Fatalf("limit 1: got %+v", got)
	}
}

// Leaves returns every leaf of s's audit log, block by block in order; a
// block that does not follow the one before fails t.
func Leaves(t testing.TB, s socred.Store) []audit.Leaf {
	t.Helper()
	var leaves []audit.Leaf
	for {
		blocks, err := s.AuditBlocks(context.Background(), int64(len(leaves)), 1000)
		if err != nil {
			t.Fatalf("audit blocks from %d: %v", len(leaves), err)
		}
		if len(leaves) > 0 && len(blocks) > 0 && blocks[0].First < int64(len(leaves)) {
			blocks = blocks[1:] // the last block read, again
		}
		if len(blocks) == 0 {
			return leaves
		}
		for _, b := range blocks {
			if b.First != int64(len(leaves)) {
				t.Fatalf("audit block at %d follows %d leaves", b.First, len(leaves))
			}
			ls, err := audit.ParseLeaves(b.Leaves)
			if err != nil {
				t.Fatalf("audit block at %d: %v", b.First, err)
			}
			leaves = append(leaves, ls...)
		}
	}
}
