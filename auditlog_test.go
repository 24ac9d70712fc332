package socred

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/socred/socred/audit"
)

// TestCheckEventMatchesItsDefinition: a check's event is the SHA-256 of
// its subject's salt (HMAC-SHA-256 of the subject under the salt key) and
// its canonical encoding, however the MACs are pooled, with keys of two
// servers taking turns and encodings longer than the buffers on the stack.
func TestCheckEventMatchesItsDefinition(t *testing.T) {
	want := func(key []byte, c *CheckEntry) [32]byte {
		salt := hmacOf(key, c.Subject)
		enc := new(audit.Canonical).String("check").String(c.Subject).Int(c.At.UnixMicro()).String(c.By).
			String(c.TokenID).String(c.Action).String(c.Purpose).Bool(c.Allowed).Bytes()
		h := sha256.New()
		h.Write(salt)
		h.Write(enc)
		var out [32]byte
		copy(out[:], h.Sum(nil))
		return out
	}
	keys := []*AuditKeys{{Salt: []byte("first server's salt key, 32 byte")}, {Salt: []byte("another")}}
	for i, purpose := range []string{"", "ticket G1234", strings.Repeat("p", 200), strings.Repeat("q", 400)} {
		for _, k := range keys {
			c := &CheckEntry{Subject: "zhang-" + purpose[:min(len(purpose), 3)], At: time.UnixMicro(int64(1_800_000_000_000_000 + i)), By: "railway",
				TokenID: "tok", Action: "ride-train", Purpose: purpose, Allowed: i%2 == 0}
			if got := k.CheckEvent(c); got != want(k.Salt, c) {
				t.Errorf("key %q, purpose of %d bytes: the event differs from its definition", k.Salt, len(purpose))
			}
			if got := k.SubjectSalt(c.Subject); !hmac.Equal(got, hmacOf(k.Salt, c.Subject)) {
				t.Errorf("key %q: the subject's salt differs from its definition", k.Salt)
			}
		}
	}
}

func hmacOf(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// TestRecordEventMatchesItsDefinition: a record's event is the SHA-256 of
// its subject's salt and its canonical encoding, for records reported and
// derived, with evidence longer than the buffer on the stack.
func TestRecordEventMatchesItsDefinition(t *testing.T) {
	want := func(key []byte, r *Record) [32]byte {
		c := new(audit.Canonical).String("record").String(r.ID).String(r.Reporter).String(r.Key).
			String(r.Subject).String(r.Scheme).String(r.Rule).Int(r.Points).
			Int(r.OccurredAt.UnixMicro()).Int(r.CountsUntil.UnixMicro()).Int(r.AcceptedAt.UnixMicro()).
			String(r.Evidence)
		if d := r.DerivedFrom; d != nil {
			c.String(d.Record).String(d.Subject).String(d.Relation)
		}
		h := sha256.New()
		h.Write(hmacOf(key, r.Subject))
		h.Write(c.Bytes())
		var out [32]byte
		copy(out[:], h.Sum(nil))
		return out
	}
	k := &AuditKeys{Salt: []byte("first server's salt key, 32 byte")}
	at := time.UnixMicro(1_800_000_000_000_000)
	for _, evidence := range []string{"", "photo 17", strings.Repeat("e", 600)} {
		for _, derived := range []*Derivation{nil, {Record: "41", Subject: "zhang", Relation: "guarantor"}} {
			r := &Record{ID: "42", Reporter: "court", Key: "k-1", Subject: "li", Scheme: "rongcheng", Rule: "default",
				Points: -50, OccurredAt: at, CountsUntil: at.Add(time.Hour), AcceptedAt: at.Add(time.Second), Evidence: evidence, DerivedFrom: derived}
			if got := k.RecordEvent(r); got != want(k.Salt, r) {
				t.Errorf("evidence of %d bytes, derived %v: the event differs from its definition", len(evidence), derived != nil)
			}
		}
	}
}

// An entry's leaf hash made beforehand is used only for the leaf it was
// made for: a leaf the store names otherwise is hashed again.
func TestAuditEntryLeafHash(t *testing.T) {
	e := AuditEntry{Kind: audit.KindRecord, Ref: "42", Event: [32]byte{1, 2, 3}}
	l := audit.Leaf{Kind: e.Kind, Ref: e.Ref, Event: e.Event}
	if got := e.LeafHash(&l); got != l.Hash() {
		t.Fatal("without a hash made beforehand: not the leaf's hash")
	}
	e.Leaf = audit.Hash{9} // stands out: not the leaf's real hash
	if got := e.LeafHash(&l); got != e.Leaf {
		t.Fatal("the hash made beforehand was not used")
	}
	other := l
	other.Ref = "43"
	if got := e.LeafHash(&other); got != other.Hash() {
		t.Fatal("a leaf named otherwise than the entry got the entry's hash")
	}
}
