package api_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
	"github.com/socred/socred/service"
	"github.com/socred/socred/sqlite"
)

// The audit log over HTTP, on the fake store and on SQLite: receipts on
// records, checks and the file; a signed checkpoint that opens with the
// published key and not another's; inclusion proofs of receipts and
// consistency proofs between checkpoints that verify with tlog's
// verifiers; bad parameters named.
func TestAuditOverHTTP(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		clock := &testClock{t: time.Now().UTC()}
		auditFlow(t, newFixtureAt(t, newFakeStore(), clock.Now), clock)
	})
	t.Run("sqlite", func(t *testing.T) {
		store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "socred.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		clock := &testClock{t: time.Now().UTC()}
		auditFlow(t, newFixtureAt(t, store, clock.Now), clock)
	})
}

func auditFlow(t *testing.T, f *fixture, clock *testClock) {
	key := strings.TrimSpace(string(f.must(200, "GET", "/v1/audit/key", asAnonymous, nil).Body))
	checkpoint := func() audit.Tree {
		t.Helper()
		resp := f.must(200, "GET", "/v1/audit/checkpoint", asAnonymous, nil)
		tree, err := audit.Open(resp.Body, key)
		if err != nil {
			t.Fatalf("checkpoint %q: %v", resp.Body, err)
		}
		return tree
	}
	first := checkpoint()
	if first.N < 1 {
		t.Fatalf("checkpoint of %d entries: the pack loaded is logged", first.N)
	}

	var out struct{ Records []service.RecordResult }
	f.must(200, "POST", "/v1/records", asAuthority, records(record("a1", "li", "loan-default"), record("a2", "zhang", "blood"))).decode(&out)
	var receipts []int64
	for _, r := range out.Records {
		if r.LogIndex == nil {
			t.Fatalf("record %s without a receipt", r.ID)
		}
		receipts = append(receipts, *r.LogIndex)
		for _, d := range r.Derived {
			if d.LogIndex == nil {
				t.Fatalf("derived record %s without a receipt", d.ID)
			}
			receipts = append(receipts, *d.LogIndex)
		}
	}
	var again struct{ Records []service.RecordResult }
	f.must(200, "POST", "/v1/records", asAuthority, records(record("a1", "li", "loan-default"))).decode(&again)
	if again.Records[0].LogIndex == nil || *again.Records[0].LogIndex != *out.Records[0].LogIndex {
		t.Errorf("a replay's receipt: got %v, want the first's %d", again.Records[0].LogIndex, *out.Records[0].LogIndex)
	}
	var d socred.Decision
	f.must(200, "POST", "/v1/checks", asTrainProvider, map[string]string{"subject": "zhang", "action": "ride-train"}).decode(&d)
	if d.LogIndex == nil {
		t.Fatal("check answer without a receipt")
	}
	receipts = append(receipts, *d.LogIndex)
	var file service.File
	f.must(200, "GET", "/v1/subjects/zhang/file", asSubject, nil).decode(&file)
	if len(file.Checks) == 0 || file.Checks[0].LogIndex == nil || *file.Checks[0].LogIndex != *d.LogIndex {
		t.Errorf("file's check: got %+v, want receipt %d", file.Checks, *d.LogIndex)
	}
	for _, r := range file.Records {
		if r.LogIndex == nil {
			t.Errorf("file's record %s without its receipt", r.ID)
		}
	}

	// Within a second the checkpoint served is the last one kept, so that
	// public reads do not make the server sign and write at every request.
	if again := checkpoint(); again != first {
		t.Fatalf("checkpoint within a second: %v, want the last one, %v", again, first)
	}
	clock.Set(clock.Now().Add(service.CheckpointStale))
	second := checkpoint()
	if second.N <= first.N {
		t.Fatalf("log did not grow: %d, then %d", first.N, second.N)
	}
	for _, i := range receipts {
		var p service.Proof
		f.must(200, "GET", "/v1/audit/proof/"+itoa(i), asAnonymous, nil).decode(&p)
		if p.Size != second.N || p.Root != second.Hash {
			t.Fatalf("proof of %d against size %d root %v, want the checkpoint's %d %v", i, p.Size, p.Root, second.N, second.Hash)
		}
		leaf := tlog.RecordHash(p.Leaf.Data)
		if leaf != p.LeafHash {
			t.Errorf("leaf %d: its hash is not its data's", i)
		}
		if err := tlog.CheckRecord(p.Proof, second.N, second.Hash, i, leaf); err != nil {
			t.Errorf("proof of %d: %v", i, err)
		}
		// A proof checked against another entry fails.
		if err := tlog.CheckRecord(p.Proof, second.N, second.Hash, (i+1)%second.N, leaf); err == nil && second.N > 1 {
			t.Errorf("proof of %d verified as entry %d", i, (i+1)%second.N)
		}
	}
	var p service.Proof
	f.must(200, "GET", "/v1/audit/proof/"+itoa(receipts[0])+"?size="+itoa(second.N), asAnonymous, nil).decode(&p)
	if p.Leaf.Kind != "record" || p.Leaf.Ref != out.Records[0].ID {
		t.Errorf("leaf of the first record: got %s %q, want record %q", p.Leaf.Kind, p.Leaf.Ref, out.Records[0].ID)
	}

	var c service.Consistency
	f.must(200, "GET", "/v1/audit/consistency?from="+itoa(first.N)+"&to="+itoa(second.N), asAnonymous, nil).decode(&c)
	if err := tlog.CheckTree(c.Proof, second.N, second.Hash, first.N, first.Hash); err != nil {
		t.Errorf("consistency %d → %d: %v", first.N, second.N, err)
	}
	if c.FromRoot != first.Hash || c.ToRoot != second.Hash {
		t.Error("consistency roots differ from the checkpoints'")
	}

	// A checkpoint does not open with another key.
	_, other, _ := audit.NewKey(service.AuditName)
	if _, err := audit.Open(f.must(200, "GET", "/v1/audit/checkpoint", asAnonymous, nil).Body, other); !errors.Is(err, audit.ErrBadCheckpoint) {
		t.Errorf("checkpoint with another key: got %v, want ErrBadCheckpoint", err)
	}

	for _, bad := range []struct{ path, field string }{
		{"/v1/audit/proof/x", "index"},
		{"/v1/audit/proof/-1", "index"},
		{"/v1/audit/proof/0?size=0", "size"},
		{"/v1/audit/proof/0?size=999999", "size"},
		{"/v1/audit/proof/" + itoa(second.N), "index"},
		{"/v1/audit/consistency?to=2", "from"},
		{"/v1/audit/consistency?from=2&to=1", "to"},
		{"/v1/audit/consistency?from=1&to=999999", "to"},
	} {
		resp := f.do("GET", bad.path, asAnonymous, nil)
		if _, _, field := resp.apiError(); resp.Code != 400 || field != bad.field {
			t.Errorf("GET %s: got %d %s, want 400 naming %q", bad.path, resp.Code, resp.Body, bad.field)
		}
	}
}
