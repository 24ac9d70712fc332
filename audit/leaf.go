package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// Kind says what a leaf logs.
type Kind uint8

// The kinds of events the log holds.
const (
	KindRecord      Kind = 1 + iota // a record accepted; Ref is its id
	KindDerived                     // a record derived by joint liability; Ref is its id
	KindCheck                       // a check answered; Ref is the check's id
	KindListing                     // a listing began, ended, changed term or was published; Ref is the list
	KindDesignation                 // a designation made, extended or ended; Ref is its id
	KindAppeal                      // an appeal filed or decided; Ref is its id
	KindRepair                      // a repair application filed or decided; Ref is its id
	KindOverturn                    // a record overturned; Ref is its id
	KindSuspend                     // a record suspended (overdue review); Ref is its id
	KindReinstate                   // a suspended record reinstated; Ref is its id
	KindToken                       // a token created or revoked; Ref is its id
	KindPack                        // a scheme pack loaded; Ref is the SHA-256 of its files
	KindSubject                     // a subject registered or changed; Ref is empty
	KindRelation                    // a relation made or removed; Ref is the relation's type
	KindPurge                       // a record's evidence purged; Ref is its id, Event the record as it stands after
	KindAccess                      // a subject's file read by someone else; Ref is the access's id
	KindExpiry                      // checks or accesses deleted, their retention over; Ref is "checks:<id>" or "accesses:<id>", the last deleted: none up to it is kept
	kindEnd
)

var kindNames = [kindEnd]string{"", "record", "derived", "check", "listing", "designation", "appeal",
	"repair", "overturn", "suspend", "reinstate", "token", "pack", "subject", "relation", "purge", "access", "expiry"}

func (k Kind) String() string {
	if k > 0 && k < kindEnd {
		return kindNames[k]
	}
	return fmt.Sprintf("kind-%d", uint8(k))
}

// Leaf is one entry of the log: what it logs, by kind and a reference
// that is never personal data (an id, a list, a hash), and the salted hash
// of the event itself.
type Leaf struct {
	Kind  Kind
	Ref   string
	Event [32]byte
}

// Data is the leaf as the tree hashes it: the kind, the event's hash and
// the reference, so that none of them can change without the tree
// changing.
func (l *Leaf) Data() []byte {
	b := make([]byte, 0, 1+32+len(l.Ref))
	b = append(b, byte(l.Kind))
	b = append(b, l.Event[:]...)
	return append(b, l.Ref...)
}

// Hash is the leaf's RFC 6962 hash.
func (l *Leaf) Hash() Hash {
	var buf [1 + 32 + 64]byte
	b := append(buf[:0], byte(l.Kind))
	b = append(b, l.Event[:]...)
	return tlog.RecordHash(append(b, l.Ref...))
}

// ParseLeaf reads what Data wrote.
func ParseLeaf(b []byte) (Leaf, error) {
	var l Leaf
	if len(b) < 33 || b[0] == 0 || Kind(b[0]) >= kindEnd {
		return l, errors.New("audit: malformed leaf")
	}
	l.Kind = Kind(b[0])
	copy(l.Event[:], b[1:33])
	l.Ref = string(b[33:])
	return l, nil
}

// AppendLeaves appends leaves to a block as stores keep them: each leaf's
// data after its length.
func AppendLeaves(dst []byte, leaves []Leaf) []byte {
	n := 0
	for i := range leaves {
		n += binary.MaxVarintLen16 + 1 + len(leaves[i].Event) + len(leaves[i].Ref)
	}
	dst = slices.Grow(dst, n) // once: a block holds thousands of leaves
	for i := range leaves {
		l := &leaves[i]
		dst = binary.AppendUvarint(dst, uint64(1+len(l.Event)+len(l.Ref)))
		dst = append(dst, byte(l.Kind))
		dst = append(dst, l.Event[:]...)
		dst = append(dst, l.Ref...)
	}
	return dst
}

// ParseLeaves reads a block that AppendLeaves wrote.
func ParseLeaves(b []byte) ([]Leaf, error) {
	var out []Leaf
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		// A length AppendLeaves did not write (a varint with a needless
		// zero group, as 0xa1 0x00 for 33) is refused: a block has one
		// encoding.
		if k <= 0 || k > 1 && b[k-1] == 0 || n > uint64(len(b[k:])) {
			return nil, fmt.Errorf("audit: leaf %d: malformed length", len(out))
		}
		l, err := ParseLeaf(b[k:][:n])
		if err != nil {
			return nil, fmt.Errorf("audit: leaf %d: %w", len(out), err)
		}
		out = append(out, l)
		b = b[k:][n:]
	}
	return out, nil
}

// Canonical builds an event's canonical encoding, in which events are
// hashed: its fields in a fixed order, strings after their length,
// integers as varints, so that no two events encode alike.
type Canonical struct{ b []byte }

// String appends a string field.
func (c *Canonical) String(s string) *Canonical {
	c.b = AppendString(c.b, s)
	return c
}

// Int appends an integer field.
func (c *Canonical) Int(v int64) *Canonical {
	c.b = AppendInt(c.b, v)
	return c
}

// Bool appends a boolean field.
func (c *Canonical) Bool(v bool) *Canonical {
	c.b = AppendBool(c.b, v)
	return c
}

// AppendString, AppendInt and AppendBool append a field of a canonical
// encoding to b, as Canonical does: with them an encoding can be built in
// a caller's buffer on the stack (through a Canonical's pointer the buffer
// moves to the heap).
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendInt appends an integer field; see AppendString.
func AppendInt(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// AppendBool appends a boolean field; see AppendString.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return AppendInt(b, 1)
	}
	return AppendInt(b, 0)
}

// Bytes returns the encoding.
func (c *Canonical) Bytes() []byte { return c.b }
