// Package audit is socred's tamper-evident log: a Merkle tree with RFC 6962
// hashing, kept as golang.org/x/mod/sumdb/tlog keeps it (every stored hash
// by its index), and checkpoints in the signed-note format
// (golang.org/x/mod/sumdb/note, Ed25519). A leaf is the hash of an event
// salted per subject, never the event itself, so that purging a record's
// personal fields leaves the log verifiable.
//
// This package is the log's arithmetic and signatures. Where the hashes are
// stored (in the store, in the transaction of the change they log) is the
// stores' business, through Block and ReadHashes.
package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Hash is a node of the tree.
type Hash = tlog.Hash

// Tree is a size and the root hash at that size.
type Tree = tlog.Tree

// EventHash is what a leaf records of an event: the SHA-256 of the
// subject's salt and the event's canonical encoding. The salt is secret to
// the server and per subject, so leaves reveal nothing about subjects and
// cannot be matched across subjects by guessing events.
func EventHash(salt, event []byte) [sha256.Size]byte {
	var buf [320]byte // salt and event side by side, for most events
	return sha256.Sum256(append(append(buf[:0], salt...), event...))
}

// Root returns the tree of the first n records.
func Root(n int64, r tlog.HashReader) (Tree, error) {
	h, err := tlog.TreeHash(n, r)
	if err != nil {
		return Tree{}, err
	}
	return Tree{N: n, Hash: h}, nil
}

// ProveInclusion returns the proof that record i is in the tree of size n.
func ProveInclusion(i, n int64, r tlog.HashReader) (tlog.RecordProof, error) {
	return tlog.ProveRecord(n, i, r)
}

// CheckInclusion checks a proof that the leaf is record i of tree t.
func CheckInclusion(p tlog.RecordProof, t Tree, i int64, leaf Hash) error {
	return tlog.CheckRecord(p, t.N, t.Hash, i, leaf)
}

// ProveConsistency returns the proof that the tree of size from is a prefix
// of the tree of size to.
func ProveConsistency(from, to int64, r tlog.HashReader) (tlog.TreeProof, error) {
	return tlog.ProveTree(to, from, r)
}

// CheckConsistency checks a proof that old is a prefix of t: that the log
// only grew.
func CheckConsistency(p tlog.TreeProof, old, t Tree) error {
	return tlog.CheckTree(p, t.N, t.Hash, old.N, old.Hash)
}

// NewKey returns a new Ed25519 signing key for checkpoints, and its
// verifier key, in the signed-note format, for the log named name (a
// server's host name, say).
func NewKey(name string) (signer, verifier string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

// Sign returns the checkpoint of t in the C2SP tlog-checkpoint format —
// the log's origin (the key's name), the size and the base64 root hash,
// one a line — signed as a note with the key.
func Sign(t Tree, skey string) ([]byte, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	text := fmt.Sprintf("%s\n%d\n%s\n", s.Name(), t.N, base64.StdEncoding.EncodeToString(t.Hash[:]))
	return note.Sign(&note.Note{Text: text}, s)
}

// ErrBadCheckpoint is the error of a checkpoint that does not verify.
var ErrBadCheckpoint = errors.New("audit: checkpoint not signed by the log's key")

// Open verifies a checkpoint with the verifier key and returns its tree.
func Open(checkpoint []byte, vkey string) (Tree, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Tree{}, fmt.Errorf("checkpoint verifier key: %w", err)
	}
	n, err := note.Open(checkpoint, note.VerifierList(v))
	if err != nil {
		return Tree{}, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 || lines[0] != v.Name() {
		return Tree{}, fmt.Errorf("%w: not a checkpoint of the log %q", ErrBadCheckpoint, v.Name())
	}
	var t Tree
	size, err := strconv.ParseInt(lines[1], 10, 64)
	root, err2 := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || err2 != nil || size < 0 || len(root) != len(t.Hash) {
		return Tree{}, fmt.Errorf("%w: malformed size or root", ErrBadCheckpoint)
	}
	t.N = size
	copy(t.Hash[:], root)
	return t, nil
}

// VerifierKey returns the verifier key of a signer key.
func VerifierKey(skey string) (string, error) {
	// A signer key is "PRIVATE+KEY+name+hash+base64(algorithm, seed)".
	parts := strings.SplitN(skey, "+", 5) // the base64 may hold "+"
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("audit: malformed signer key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("audit: signer key is not an Ed25519 key")
	}
	if _, err := note.NewSigner(skey); err != nil {
		return "", fmt.Errorf("audit: signer key: %w", err)
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}
