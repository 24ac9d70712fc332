package audit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/socred/socred/audit"
)

// Fixed test keys, so that the seed checkpoints stay valid: the log's key,
// another key of the same name, and a key of another log.
const (
	fuzzSigner      = "PRIVATE+KEY+socred.example+36c3b3fe+AXbvFc2WW4Ik2nd1G+SbNOei2VxRFWS0eiVBjhJQy0/4"
	fuzzVerifier    = "socred.example+36c3b3fe+AY/ZQvjLam+aMyUglxrgfVLiiaJhaLGcGjsicHxflIkD"
	fuzzSameName    = "PRIVATE+KEY+socred.example+d615229f+AbUhffRwWVdkj1XPwEBHgkP5h+eyuPQ1TR399bh1k+BY"
	fuzzOtherSigner = "PRIVATE+KEY+other.example+43512ef8+AVDAlsGgtxCfvZToDm7kiQzfIeFk+e68BfVeHiR7DpHv"
)

// signNote signs text as a note with each signer key.
func signNote(tb testing.TB, text string, skeys ...string) []byte {
	tb.Helper()
	var signers []note.Signer
	for _, k := range skeys {
		s, err := note.NewSigner(k)
		if err != nil {
			tb.Fatal(err)
		}
		signers = append(signers, s)
	}
	msg, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

// FuzzCheckpoint opens arbitrary bytes as a checkpoint with the log's
// verifier key. Open must not panic, must refuse with ErrBadCheckpoint, and
// whatever it accepts must be a tree that Sign signs into a checkpoint
// Open reads back as the same tree.
//
// It also signs the tree of the input (size from the fuzzer, root the
// SHA-256 of the data), checks it opens to that tree, flips one byte of it
// and opens that. The signature covers the text, so a flip in the text is
// refused; a flip in the signature line is refused too — a changed name or
// key hash is a key Open does not know, a changed signature does not verify
// — except where the base64 of the signature has slack: a flip in the low
// bits of its last character before the "=" changes only padding bits,
// which the decoder ignores, so the signature and the tree are the same.
// A flipped checkpoint that opens must be exactly that case.
//
// Seeds: checkpoints with extension lines, odd sizes, extra, duplicate and
// foreign signatures, below, and testdata/fuzz/FuzzCheckpoint.
func FuzzCheckpoint(f *testing.F) {
	root := base64.StdEncoding.EncodeToString(make([]byte, 32))
	valid, err := audit.Sign(audit.Tree{N: 7, Hash: sha256.Sum256([]byte("x"))}, fuzzSigner)
	if err != nil {
		f.Fatal(err)
	}
	for _, cp := range [][]byte{
		valid,
		signNote(f, "socred.example\n0\n"+root+"\n", fuzzSigner),
		signNote(f, "socred.example\n5\n"+root+"\nan extension line\n", fuzzSigner),
		signNote(f, "socred.example\n+5\n"+root+"\n", fuzzSigner),
		signNote(f, "socred.example\n0005\n"+root+"\n", fuzzSigner),
		signNote(f, "socred.example\n-1\n"+root+"\n", fuzzSigner),
		signNote(f, "socred.example\n9223372036854775808\n"+root+"\n", fuzzSigner),
		signNote(f, "socred.example\n1\n"+root[:40]+"\n", fuzzSigner),
		signNote(f, "socred.example\n1\n"+strings.TrimRight(root, "=")+"\n", fuzzSigner),
		signNote(f, "socred.example\n1\n", fuzzSigner),
		signNote(f, "other.example\n1\n"+root+"\n", fuzzSigner),
		signNote(f, "socred.example\n1\n"+root+"\n", fuzzSigner, fuzzOtherSigner),
		signNote(f, "socred.example\n1\n"+root+"\n", fuzzSameName, fuzzSigner),
		signNote(f, "socred.example\n1\n"+root+"\n", fuzzSameName),
		signNote(f, "socred.example\n1\n"+root+"\n", fuzzOtherSigner),
		append(bytes.Clone(valid), valid[bytes.LastIndex(valid, []byte("\n\n"))+2:]...), // the signature twice
		bytes.TrimSuffix(valid, []byte("\n")),
		[]byte("socred.example\n1\n" + root + "\n\n"),
		{},
	} {
		f.Add(cp, uint64(len(cp)), uint(len(cp)-2), byte(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, size uint64, flip uint, mask byte) {
		tree, err := audit.Open(data, fuzzVerifier)
		if err != nil {
			if !errors.Is(err, audit.ErrBadCheckpoint) {
				t.Errorf("Open refused with %v, not ErrBadCheckpoint", err)
			}
		} else {
			if tree.N < 0 {
				t.Errorf("Open accepted a tree of size %d", tree.N)
			}
			if got := resign(t, tree); got != tree {
				t.Errorf("Open accepted %+v; signed again, it opens to %+v", tree, got)
			}
		}

		want := audit.Tree{N: int64(size >> 1), Hash: sha256.Sum256(data)}
		if got := resign(t, want); got != want {
			t.Fatalf("signed %+v, opened %+v", want, got)
		}
		cp, err := audit.Sign(want, fuzzSigner)
		if err != nil {
			t.Fatal(err)
		}
		i := int(flip % uint(len(cp)))
		if mask == 0 {
			mask = 1
		}
		flipped := bytes.Clone(cp)
		flipped[i] ^= mask
		got, err := audit.Open(flipped, fuzzVerifier)
		if err != nil {
			if !errors.Is(err, audit.ErrBadCheckpoint) {
				t.Errorf("a flipped checkpoint refused with %v, not ErrBadCheckpoint", err)
			}
			return
		}
		if got != want {
			t.Fatalf("byte %d flipped by %#x: opens to %+v, not %+v\n%q", i, mask, got, want, flipped)
		}
		// The flip must be in the signature's base64, decoding the same.
		sigLine := bytes.LastIndex(cp, []byte("\n\n")) + 2
		sp := sigLine + bytes.IndexByte(cp[sigLine:], ' ') + 1
		sp += bytes.IndexByte(cp[sp:], ' ') + 1 // after "— name "
		if i < sp || i >= len(cp)-1 {
			t.Fatalf("byte %d flipped by %#x, outside the signature's base64 (from %d): the checkpoint still opens\n%q", i, mask, sp, flipped)
		}
		a, errA := base64.StdEncoding.DecodeString(string(cp[sp : len(cp)-1]))
		b, errB := base64.StdEncoding.DecodeString(string(flipped[sp : len(cp)-1]))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Fatalf("byte %d flipped by %#x changes the signature, and the checkpoint still opens\n%q", i, mask, flipped)
		}
	})
}

// resign signs the tree with the log's key and opens the checkpoint.
func resign(t *testing.T, tree audit.Tree) audit.Tree {
	t.Helper()
	cp, err := audit.Sign(tree, fuzzSigner)
	if err != nil {
		t.Fatal(err)
	}
	got, err := audit.Open(cp, fuzzVerifier)
	if err != nil {
		t.Fatalf("Open(Sign(%+v)): %v\n%s", tree, err, cp)
	}
	return got
}

// FuzzLeaves parses arbitrary bytes as a block of leaves and as one leaf's
// data. ParseLeaves must not panic, and what it parses must be the block
// AppendLeaves writes for the leaves: every block has one encoding, so a
// stored block cannot change without its leaves changing. Likewise what
// ParseLeaf parses must be the leaf whose Data is the bytes. Seeds: blocks
// of every kind, empty and long references, and testdata/fuzz/FuzzLeaves.
func FuzzLeaves(f *testing.F) {
	var leaves []audit.Leaf
	for k := audit.KindRecord; k <= audit.KindRelation; k++ {
		leaves = append(leaves, audit.Leaf{Kind: k, Ref: strings.Repeat("r", int(k)*11), Event: sha256.Sum256([]byte(k.String()))})
	}
	f.Add(audit.AppendLeaves(nil, leaves))
	f.Add(audit.AppendLeaves(nil, leaves[:1]))
	f.Add(audit.AppendLeaves(nil, []audit.Leaf{{Kind: audit.KindPack, Ref: strings.Repeat("0123456789abcdef", 8)}}))
	f.Add(leaves[0].Data())
	f.Add([]byte{})
	f.Add([]byte{0x80})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		ls, err := audit.ParseLeaves(data)
		if err == nil {
			if again := audit.AppendLeaves(nil, ls); !bytes.Equal(again, data) {
				t.Errorf("ParseLeaves read %d leaves from %x, which AppendLeaves writes as %x", len(ls), data, again)
			}
			for i := range ls {
				if k := ls[i].Kind.String(); strings.HasPrefix(k, "kind-") {
					t.Errorf("leaf %d of unknown kind %s", i, k)
				}
			}
		}
		l, err := audit.ParseLeaf(data)
		if err == nil && !bytes.Equal(l.Data(), data) {
			t.Errorf("ParseLeaf read %+v from %x, whose Data is %x", l, data, l.Data())
		}
	})
}
