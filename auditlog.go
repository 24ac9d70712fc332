package socred

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"hash"
	"sync"
	"time"

	"github.com/socred/socred/audit"
)

// AuditEntry is an event for the audit log, carried by the write that
// makes the change it logs, so that the change and its leaf are stored
// together or not at all.
type AuditEntry struct {
	Kind audit.Kind
	// Ref names what the entry logs (see audit.Kind), never personal data.
	// A check's is left empty: the store names it by the check's id, the
	// k-th check entry of a write being the write's k-th check.
	Ref string
	// Event is the event's hash, salted for its subject (AuditKeys.Event).
	Event [32]byte
	// Receipt, when set, receives the entry's index in the log.
	Receipt *int64
	// Leaf, when not zero, is the hash of the entry's leaf (audit.Leaf of
	// Kind, Ref and Event), made before the write reaches the store so
	// that the store's one writer does not hash it: the writer is ingest's
	// serial stage. A check's entry, named by the store, has none.
	Leaf audit.Hash
}

// LeafHash returns the hash of l, the entry's leaf as the store names it:
// e.Leaf when it was made for the same leaf, else l's hash.
func (e *AuditEntry) LeafHash(l *audit.Leaf) audit.Hash {
	if e.Leaf != (audit.Hash{}) && l.Kind == e.Kind && l.Ref == e.Ref && l.Event == e.Event {
		return e.Leaf
	}
	return l.Hash()
}

// AuditBlock is the leaves one write appended to the audit log, as a
// store keeps them: their data (audit.AppendLeaves) and the tree's hashes
// they added at audit.KeptLevel and above (audit.Keep).
type AuditBlock = audit.Block

// AuditKeys are the audit log's secrets, made at the first start and kept
// with the data: the checkpoints' signing key (empty when the server is
// given its own) and its verifier, and the key of the subjects' salts.
type AuditKeys struct {
	Signer   string
	Verifier string
	Salt     []byte
}

// Checkpoint is a signed statement of the log's size and root (the C2SP
// tlog-checkpoint format, signed as a note).
type Checkpoint struct {
	Size int64
	At   time.Time
	Note []byte
}

// SubjectSalt is the salt of a subject's events: secret to the server, and
// different for every subject, so leaves reveal nothing of subjects and
// cannot be linked across subjects.
func (k *AuditKeys) SubjectSalt(subject string) []byte {
	var out [sha256.Size]byte
	k.subjectSalt(subject, &out)
	return out[:]
}

// subjectSalt is SubjectSalt into out, with a keyed MAC from saltMACs:
// made anew for every event, it cost a check more than the rest of its
// hashing.
func (k *AuditKeys) subjectSalt(subject string, out *[sha256.Size]byte) {
	m, _ := saltMACs.Get().(*saltMAC)
	if m == nil || !bytes.Equal(m.key, k.Salt) {
		m = &saltMAC{key: bytes.Clone(k.Salt), h: hmac.New(sha256.New, k.Salt)}
	} else {
		m.h.Reset()
	}
	// Through the interface a converted string and out would move to the
	// heap; the state's own buffers do not.
	m.in = append(m.in[:0], subject...)
	m.h.Write(m.in)
	m.sum = m.h.Sum(m.sum[:0])
	copy(out[:], m.sum)
	saltMACs.Put(m)
}

// saltMACs holds HMAC-SHA-256 states keyed with a salt key (a server has
// one).
var saltMACs sync.Pool

type saltMAC struct {
	key     []byte
	h       hash.Hash
	in, sum []byte
}

// RecordEvent is the salted hash of a record as it was accepted. Its
// evidence is part of it; once purged, a record can no longer be hashed
// again so, and PurgeEvent hashes it.
func (k *AuditKeys) RecordEvent(r *Record) [32]byte {
	var buf [512]byte // most records' encoding fits
	return k.eventHash(r.Subject, appendRecordCanonical(buf[:0], r))
}

// PurgeEvent is the salted hash of a purged record as it stands since: its
// fields without the evidence, and the moment of the purge. r.PurgedAt must
// be set.
func (k *AuditKeys) PurgeEvent(r *Record) [32]byte {
	var buf [512]byte
	b := appendRecordCanonical(buf[:0], r)
	b = audit.AppendString(b, "purged")
	b = audit.AppendInt(b, r.PurgedAt.UnixMicro())
	return k.eventHash(r.Subject, b)
}

// eventHash is the hash of an event's canonical encoding enc, salted for
// subject (every event's hash: audit.EventHash with the subject's salt).
func (k *AuditKeys) eventHash(subject string, enc []byte) [32]byte {
	var salt [sha256.Size]byte
	k.subjectSalt(subject, &salt)
	return audit.EventHash(salt[:], enc)
}

// appendRecordCanonical appends the record's canonical encoding to b.
func appendRecordCanonical(b []byte, r *Record) []byte {
	for _, s := range [...]string{"record", r.ID, r.Reporter, r.Key, r.Subject, r.Scheme, r.Rule} {
		b = audit.AppendString(b, s)
	}
	for _, v := range [...]int64{r.Points, r.OccurredAt.UnixMicro(), r.CountsUntil.UnixMicro(), r.AcceptedAt.UnixMicro()} {
		b = audit.AppendInt(b, v)
	}
	b = audit.AppendString(b, r.Evidence)
	if d := r.DerivedFrom; d != nil {
		b = audit.AppendString(audit.AppendString(audit.AppendString(b, d.Record), d.Subject), d.Relation)
	}
	return b
}

// CheckEvent is the salted hash of a logged check.
func (k *AuditKeys) CheckEvent(c *CheckEntry) [32]byte {
	var buf [256]byte // most checks' encoding fits
	b := audit.AppendString(buf[:0], "check")
	b = audit.AppendString(b, c.Subject)
	b = audit.AppendInt(b, c.At.UnixMicro())
	b = audit.AppendString(b, c.By)
	b = audit.AppendString(b, c.TokenID)
	b = audit.AppendString(b, c.Action)
	b = audit.AppendString(b, c.Purpose)
	b = audit.AppendBool(b, c.Allowed)
	return k.eventHash(c.Subject, b)
}

// AccessEvent is the salted hash of a logged read of a subject's file.
func (k *AuditKeys) AccessEvent(a *Access) [32]byte {
	var buf [256]byte
	b := audit.AppendString(buf[:0], "access")
	b = audit.AppendString(b, a.Subject)
	b = audit.AppendInt(b, a.At.UnixMicro())
	b = audit.AppendString(b, a.By)
	b = audit.AppendString(b, string(a.Role))
	b = audit.AppendString(b, a.TokenID)
	b = audit.AppendString(b, a.Purpose)
	return k.eventHash(a.Subject, b)
}

// ObjectEvent is the salted hash of any other event: its kind and its
// JSON form, salted for the subject it concerns ("" for none).
func (k *AuditKeys) ObjectEvent(kind audit.Kind, subject string, v any) [32]byte {
	j, err := json.Marshal(v)
	if err != nil {
		// Every value logged is a plain struct of the domain.
		panic("socred: audit event: " + err.Error())
	}
	return k.eventHash(subject, new(audit.Canonical).String(kind.String()).String(string(j)).Bytes())
}
