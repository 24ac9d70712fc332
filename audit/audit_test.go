package audit_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/socred/socred/audit"
)

// memLog is a log whose stored hashes are a slice, as a store keeps them
// by index.
type memLog struct {
	data   []audit.Leaf
	leaves []audit.Hash
	hashes []audit.Hash
}

func (l *memLog) ReadHashes(idx []int64) ([]audit.Hash, error) {
	out := make([]audit.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *memLog) add(t *testing.T, event string) {
	t.Helper()
	lf := audit.Leaf{Kind: audit.KindRecord, Ref: event, Event: audit.EventHash([]byte("salt of "+event[:1]), []byte(event))}
	leaf := lf.Hash()
	n := int64(len(l.leaves))
	if got := tlog.StoredHashCount(n); got != int64(len(l.hashes)) {
		t.Fatalf("before record %d: %d hashes stored, want %d", n, len(l.hashes), got)
	}
	hs, err := tlog.StoredHashesForRecordHash(n, leaf, l)
	if err != nil {
		t.Fatal(err)
	}
	l.leaves = append(l.leaves, leaf)
	l.data = append(l.data, lf)
	l.hashes = append(l.hashes, hs...)
}

func newLog(t *testing.T, n int) *memLog {
	l := &memLog{}
	for i := range n {
		l.add(t, fmt.Sprintf("event %d", i))
	}
	return l
}

// Inclusion and consistency proofs from the stored hashes verify with the
// library's checks, and fail for another leaf or a changed root.
func TestProofs(t *testing.T) {
	l := newLog(t, 1000)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := 1 + rng.Int64N(1000)
		i := rng.Int64N(n)
		tree, err := audit.Root(n, l)
		if err != nil {
			t.Fatal(err)
		}
		p, err := audit.ProveInclusion(i, n, l)
		if err != nil {
			t.Fatal(err)
		}
		if err := audit.CheckInclusion(p, tree, i, l.leaves[i]); err != nil {
			t.Fatalf("record %d of %d: %v", i, n, err)
		}
		if other := (i + 1) % n; other != i {
			if err := audit.CheckInclusion(p, tree, i, l.leaves[other]); err == nil {
				t.Fatalf("record %d's proof accepted leaf %d", i, other)
			}
		}
		from := 1 + rng.Int64N(n)
		old, err := audit.Root(from, l)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := audit.ProveConsistency(from, n, l)
		if err != nil {
			t.Fatal(err)
		}
		if err := audit.CheckConsistency(cp, old, tree); err != nil {
			t.Fatalf("%d to %d: %v", from, n, err)
		}
		forked := old
		forked.Hash[0] ^= 1
		if err := audit.CheckConsistency(cp, forked, tree); err == nil && from != n {
			t.Fatalf("%d to %d: a forked old tree passed", from, n)
		}
	}
}

// A checkpoint opens with the log's key and not with another's, and not
// after a change to its text.
func TestCheckpoints(t *testing.T) {
	l := newLog(t, 10)
	tree, err := audit.Root(10, l)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := audit.NewKey("socred.example")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.Sign(tree, skey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := audit.Open(cp, vkey)
	if err != nil || got != tree {
		t.Fatalf("open: got %+v, %v, want %+v", got, err, tree)
	}
	_, otherV, err := audit.NewKey("socred.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Open(cp, otherV); !errors.Is(err, audit.ErrBadCheckpoint) {
		t.Errorf("another key: got %v, want ErrBadCheckpoint", err)
	}
	bad := append([]byte(nil), cp...)
	bad[len("socred.example\n")] ^= 1 // a digit of the size
	if _, err := audit.Open(bad, vkey); err == nil {
		t.Error("a changed checkpoint opened")
	}
}

// Appending through an edge gives the hashes, and roots, that appending
// with every stored hash at hand gives, in blocks of any size.
func TestEdge(t *testing.T) {
	full := newLog(t, 700)
	edge, err := audit.NewEdge(0, full)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var hashes []audit.Hash
	for n := 0; n < len(full.leaves); {
		k := min(1+rng.IntN(40), len(full.leaves)-n)
		added, next, err := edge.Append(full.leaves[n : n+k])
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, added...)
		n += k
		edge = next
		want, err := audit.Root(int64(n), full)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := edge.Root(); err != nil || got != want {
			t.Fatalf("root at %d: got %v, %v, want %v", n, got, err, want)
		}
		// An edge read back from the stored hashes is the same.
		again, err := audit.NewEdge(int64(n), full)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := again.Root(); got != want {
			t.Fatalf("edge read at %d: root %v, want %v", n, got, want)
		}
	}
	if len(hashes) != len(full.hashes) {
		t.Fatalf("%d hashes, want %d", len(hashes), len(full.hashes))
	}
	for i := range hashes {
		if hashes[i] != full.hashes[i] {
			t.Fatalf("hash %d differs", i)
		}
	}
}

// Leaves survive a block's encoding, and a damaged block is refused.
func TestLeaves(t *testing.T) {
	leaves := []audit.Leaf{
		{Kind: audit.KindRecord, Ref: "17", Event: [32]byte{1, 2, 3}},
		{Kind: audit.KindCheck, Ref: "", Event: [32]byte{4}},
		{Kind: audit.KindPack, Ref: "ab12", Event: [32]byte{31: 9}},
	}
	block := audit.AppendLeaves(nil, leaves)
	got, err := audit.ParseLeaves(block)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(leaves) {
		t.Fatalf("got %v, %v, want %v", got, err, leaves)
	}
	if _, err := audit.ParseLeaves(block[:len(block)-1]); err == nil {
		t.Error("a truncated block parsed")
	}
	if _, err := audit.ParseLeaves(append([]byte{0x01}, block...)); err == nil {
		t.Error("a block with a short leaf parsed")
	}
	if leaves[0].Hash() == leaves[1].Hash() {
		t.Error("two leaves hash alike")
	}
	a := new(audit.Canonical).String("ab").String("c").Bytes()
	b := new(audit.Canonical).String("a").String("bc").Bytes()
	if string(a) == string(b) {
		t.Error("canonical encodings of different fields are equal")
	}
}

// A signer key's verifier key is the one NewKey made with it.
func TestVerifierKey(t *testing.T) {
	skey, vkey, err := audit.NewKey("socred")
	if err != nil {
		t.Fatal(err)
	}
	got, err := audit.VerifierKey(skey)
	if err != nil || got != vkey {
		t.Fatalf("got %q, %v, want %q", got, err, vkey)
	}
	if _, err := audit.VerifierKey(vkey); err == nil {
		t.Error("a verifier key was taken for a signer key")
	}
}

// A log kept in blocks, with only the hashes at KeptLevel and above, reads
// every stored hash back: a proof needs any of them.
func TestBlocks(t *testing.T) {
	full := newLog(t, 300)
	edge, _ := audit.NewEdge(0, full)
	rng := rand.New(rand.NewPCG(7, 8))
	var blocks []audit.Block
	for n := 0; n < len(full.leaves); {
		k := min(1+rng.IntN(20), len(full.leaves)-n)
		added, next, err := edge.Append(full.leaves[n : n+k])
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, audit.Block{First: int64(n), Leaves: audit.AppendLeaves(nil, full.data[n:n+k]), Hashes: audit.Keep(int64(n), added)})
		n += k
		edge = next
	}
	src := func(from, to int64) ([]audit.Block, error) {
		var out []audit.Block
		for i, b := range blocks {
			end := int64(len(full.leaves))
			if i+1 < len(blocks) {
				end = blocks[i+1].First
			}
			if end > from && b.First < to {
				out = append(out, b)
			}
		}
		return out, nil
	}
	for x := range int64(len(full.hashes)) {
		hs, err := audit.ReadHashes(src, []int64{x})
		if err != nil {
			t.Fatalf("hash %d: %v", x, err)
		}
		if hs[0] != full.hashes[x] {
			t.Fatalf("hash %d read from its block differs", x)
		}
	}
}
