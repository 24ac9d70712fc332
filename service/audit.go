package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// AuditName is the audit log's name in its checkpoints and keys.
const AuditName = "socred"

// SecretKey returns a key for purpose derived from the audit log's salt:
// secret to the servers, and the same on every server sharing the store
// and after every restart. It is nil before Open.
func (s *Service) SecretKey(purpose string) []byte {
	if len(s.keys.Salt) == 0 {
		return nil
	}
	m := hmac.New(sha256.New, s.keys.Salt)
	m.Write([]byte("socred key: " + purpose))
	return m.Sum(nil)
}

// openAudit loads the audit log's keys, making them at the first start,
// and logs the loaded pack.
func (s *Service) openAudit(ctx context.Context) error {
	var first socred.AuditKeys
	salt := make([]byte, 32)
	rand.Read(salt)
	first.Salt = salt
	if s.AuditSigner != "" {
		v, err := audit.VerifierKey(s.AuditSigner)
		if err != nil {
			return err
		}
		first.Verifier = v
	} else {
		signer, verifier, err := audit.NewKey(AuditName)
		if err != nil {
			return fmt.Errorf("audit key: %w", err)
		}
		first.Signer, first.Verifier = signer, verifier
	}
	keys, err := s.store.AuditKeys(ctx, first)
	if err != nil {
		return err
	}
	if s.AuditSigner != "" {
		// The key given is the log's key: the verifier kept with the data
		// names the key every checkpoint so far was signed with.
		if first.Verifier != keys.Verifier {
			return fmt.Errorf("audit key: the key given is not the log's (its verifier %q, the log's %q)", first.Verifier, keys.Verifier)
		}
		keys.Signer = s.AuditSigner
	}
	if keys.Signer == "" {
		return errors.New("audit key: the log's signing key is not kept with the data; give it with --audit-key")
	}
	s.keys = keys
	w := &socred.Write{Now: s.now(), Audit: []socred.AuditEntry{{Kind: audit.KindPack, Ref: s.pack.Hash,
		Event: s.keys.ObjectEvent(audit.KindPack, "", struct {
			Hash string    `json:"hash"`
			At   time.Time `json:"at"`
		}{s.pack.Hash, s.now()})}}}
	if err := s.store.Commit(ctx, w); err != nil {
		return fmt.Errorf("log the pack: %w", err)
	}
	return nil
}

// audit fills in w's entries for the audit log: one for every record,
// listing change, designation, appeal, repair, decision on a record,
// purge, check, token, subject and relation it writes, with receipts for
// records, purges and checks. It replaces entries made before, so a write planned again is
// logged once.
func (s *Service) audit(w *socred.Write) {
	k := &s.keys
	w.Audit = w.Audit[:0]
	for i := range w.Erase {
		w.Erase[i].Receipt = nil
	}
	if s.auditOff.Load() {
		return
	}
	// At most one entry for each of these: sized once, not grown by
	// doubling (a group of records has thousands).
	w.Audit = slices.Grow(w.Audit, len(w.Subjects)+len(w.Relate)+len(w.Unrelate)+len(w.Records)+len(w.Designations)+len(w.PurgeDesignations)+
		len(w.Events)+len(w.Appeals)+len(w.Repairs)+len(w.Overturn)+len(w.Suspend)+len(w.Reinstate)+len(w.Erase)+len(w.Checks)+len(w.Tokens)+len(w.Revoke)+2)
	add := func(kind audit.Kind, ref string, event [32]byte, receipt *int64) {
		e := socred.AuditEntry{Kind: kind, Ref: ref, Event: event, Receipt: receipt}
		if ref != "" {
			// Hashed here, beside the plan of the next group, not by the
			// store's writer.
			e.Leaf = (&audit.Leaf{Kind: kind, Ref: ref, Event: event}).Hash()
		}
		w.Audit = append(w.Audit, e)
	}
	for _, sub := range w.Subjects {
		add(audit.KindSubject, "", k.ObjectEvent(audit.KindSubject, sub.ID, sub), nil)
	}
	for _, r := range w.Relate {
		add(audit.KindRelation, r.Type, k.ObjectEvent(audit.KindRelation, r.From, relationEvent{"relate", r}), nil)
	}
	for _, r := range w.Unrelate {
		add(audit.KindRelation, r.Type, k.ObjectEvent(audit.KindRelation, r.From, relationEvent{"unrelate", r}), nil)
	}
	for _, r := range w.Records {
		kind := audit.KindRecord
		if r.DerivedFrom != nil {
			kind = audit.KindDerived
		}
		if r.LogIndex == nil {
			r.LogIndex = new(int64)
		}
		add(kind, r.ID, k.RecordEvent(r), r.LogIndex)
	}
	for _, ds := range [][]*socred.Designation{w.Designations, w.PurgeDesignations} {
		for _, d := range ds {
			add(audit.KindDesignation, d.ID, k.ObjectEvent(audit.KindDesignation, d.Subject, d), nil)
		}
	}
	for i := range w.Events {
		e := &w.Events[i]
		if e.Listing == nil {
			continue // scores and grades follow from the records logged
		}
		add(audit.KindListing, e.Listing.List, k.ObjectEvent(audit.KindListing, e.Subject, e), nil)
	}
	for _, a := range w.Appeals {
		add(audit.KindAppeal, a.ID, k.ObjectEvent(audit.KindAppeal, a.Subject, a), nil)
	}
	for _, r := range w.Repairs {
		add(audit.KindRepair, r.ID, k.ObjectEvent(audit.KindRepair, r.Subject, r), nil)
	}
	for _, set := range []struct {
		kind audit.Kind
		refs []socred.RecordRef
	}{{audit.KindOverturn, w.Overturn}, {audit.KindSuspend, w.Suspend}, {audit.KindReinstate, w.Reinstate}} {
		for _, ref := range set.refs {
			add(set.kind, strconv.FormatInt(ref.ID, 10), k.ObjectEvent(set.kind, ref.Subject, recordDecision{ref.ID, w.Now}), nil)
		}
	}
	var erased map[string]bool
	for i := range w.Erase {
		e := &w.Erase[i]
		// A record is logged purged once: when it is purged first (two
		// purges of it may fall due together, or later).
		if e.Record.PurgeLogIndex != nil || erased[e.Record.ID] {
			continue
		}
		if erased == nil {
			erased = make(map[string]bool, len(w.Erase))
		}
		erased[e.Record.ID] = true
		e.Receipt = new(int64)
		add(audit.KindPurge, e.Record.ID, k.PurgeEvent(e.Record), e.Receipt)
	}
	for i := range w.Checks {
		c := &w.Checks[i]
		if c.LogIndex == nil {
			c.LogIndex = new(int64)
		}
		add(audit.KindCheck, "", k.CheckEvent(c), c.LogIndex)
	}
	for _, x := range []struct {
		table string
		last  int64
	}{{"checks", w.Expire.Checks}, {"accesses", w.Expire.Accesses}} {
		if x.last > 0 {
			ref := x.table + ":" + strconv.FormatInt(x.last, 10)
			add(audit.KindExpiry, ref, k.ObjectEvent(audit.KindExpiry, "", expiryEvent{x.table, x.last, w.Now}), nil)
		}
	}
	for _, t := range w.Tokens {
		add(audit.KindToken, t.ID, k.ObjectEvent(audit.KindToken, t.Subject, t), nil)
	}
	for _, r := range w.Revoke {
		add(audit.KindToken, r.ID, k.ObjectEvent(audit.KindToken, "", tokenRevocation{Op: "revoke", ID: r.ID, At: r.At}), nil)
	}
}

// auditCheck returns a check's entry in the audit log, unless the log is
// off.
func (s *Service) auditCheck(c *socred.CheckEntry) (socred.AuditEntry, bool) {
	if s.auditOff.Load() {
		return socred.AuditEntry{}, false
	}
	if c.LogIndex == nil {
		c.LogIndex = new(int64)
	}
	return socred.AuditEntry{Kind: audit.KindCheck, Event: s.keys.CheckEvent(c), Receipt: c.LogIndex}, true
}

// auditAccess returns an access's entry in the audit log, unless the log
// is off.
func (s *Service) auditAccess(a *socred.Access) (socred.AuditEntry, bool) {
	if s.auditOff.Load() {
		return socred.AuditEntry{}, false
	}
	if a.LogIndex == nil {
		a.LogIndex = new(int64)
	}
	return socred.AuditEntry{Kind: audit.KindAccess, Event: s.keys.AccessEvent(a), Receipt: a.LogIndex}, true
}

// tokenRevocation is a token's revocation as the audit log hashes it.
type tokenRevocation struct {
	Op string    `json:"op"`
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// expiryEvent is a deletion of checks or accesses past their retention,
// as the audit log hashes it.
type expiryEvent struct {
	Table string    `json:"table"`
	Last  int64     `json:"last"`
	At    time.Time `json:"at"`
}

type relationEvent struct {
	Op       string          `json:"op"`
	Relation socred.Relation `json:"relation"`
}

type recordDecision struct {
	Record int64     `json:"record"`
	At     time.Time `json:"at"`
}

// SetAuditOff turns the audit log off (or on again) for the writes that
// follow: only for measuring what the log costs, never offered to users.
func (s *Service) SetAuditOff(off bool) { s.auditOff.Store(off) }

// commitLogged commits a write that is not a change of the feed, with its
// entries in the audit log.
func (s *Service) commitLogged(ctx context.Context, w *socred.Write) error {
	s.audit(w)
	return s.store.Commit(ctx, w)
}

// Checkpoint is a signed checkpoint of the audit log and the log's
// verifier key.
type Checkpoint struct {
	Size     int64
	Note     []byte
	Verifier string
}

// AuditCheckpoint returns a checkpoint of the log as it is, give or take
// CheckpointStale: the last one kept when the log has not grown since or
// it is younger than that, else a new one, signed and kept. Public reads
// so cannot make a server sign and write at every request.
func (s *Service) AuditCheckpoint(ctx context.Context) (Checkpoint, error) {
	return s.checkpoint(ctx, -1, CheckpointStale)
}

// CheckpointStale is how old the checkpoint GET /v1/audit/checkpoint
// serves may be while the log grows.
const CheckpointStale = time.Second

// checkpoint returns the last checkpoint kept if it holds entry cover and
// is younger than stale or as large as the log, else a new one.
func (s *Service) checkpoint(ctx context.Context, cover int64, stale time.Duration) (Checkpoint, error) {
	n, err := s.store.AuditSize(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	kept, err := s.store.Checkpoints(ctx, socred.Page{Limit: 1})
	if err != nil {
		return Checkpoint{}, err
	}
	if len(kept) > 0 && kept[0].Size > cover && (kept[0].Size >= n || s.now().Sub(kept[0].At) < stale) {
		return Checkpoint{Size: kept[0].Size, Note: kept[0].Note, Verifier: s.keys.Verifier}, nil
	}
	root, err := audit.Root(n, s.hashReader(ctx))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit root: %w", err)
	}
	note, err := audit.Sign(root, s.keys.Signer)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := s.store.SaveCheckpoint(ctx, socred.Checkpoint{Size: n, At: s.now(), Note: note}); err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{Size: n, Note: note, Verifier: s.keys.Verifier}, nil
}

// checkpointLoop signs and keeps a checkpoint every CheckpointEvery when
// the log grew, and a last one when ctx ends.
func (s *Service) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(s.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			// The server stops: cover what it logged.
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, err := s.checkpoint(cctx, -1, 0); err != nil {
				s.log.Warn("audit checkpoint at stop", "err", err)
			}
			cancel()
			return
		}
		if _, err := s.checkpoint(ctx, -1, 0); err != nil && ctx.Err() == nil {
			s.log.Error("audit checkpoint", "err", err)
		}
	}
}

// AuditVerifier returns the verifier key of the log's checkpoints.
func (s *Service) AuditVerifier() string { return s.keys.Verifier }

func (s *Service) hashReader(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]audit.Hash, error) { return s.store.AuditHashes(ctx, idx) })
}

// Proof is an inclusion proof: that the leaf is entry Index of the log of
// Size entries whose root is Root.
type Proof struct {
	Index    int64        `json:"index"`
	Size     int64        `json:"size"`
	Root     audit.Hash   `json:"root"`
	Leaf     LeafView     `json:"leaf"`
	LeafHash audit.Hash   `json:"leaf_hash"`
	Proof    []audit.Hash `json:"proof"`
}

// LeafView is a leaf as the API shows it.
type LeafView struct {
	Kind  string     `json:"kind"`
	Ref   string     `json:"ref"`
	Event audit.Hash `json:"event"`
	// Data is the leaf's bytes as the tree hashes them (RFC 6962 leaf
	// input), base64.
	Data []byte `json:"data"`
}

// AuditProof returns the proof that entry index is in the log of size
// entries; size 0 means the log's size at its latest checkpoint, made now
// if that does not hold the entry.
func (s *Service) AuditProof(ctx context.Context, index, size int64) (*Proof, error) {
	n, err := s.store.AuditSize(ctx)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		cp, err := s.checkpoint(ctx, index, CheckpointStale)
		if err != nil {
			return nil, err
		}
		size = cp.Size
	}
	switch {
	case size < 0 || size > n:
		return nil, socred.FieldErrorf("size", "must be between 1 and the log's size, %d", n)
	case index < 0 || index >= size:
		return nil, socred.FieldErrorf("index", "must be below the size, %d", size)
	}
	leaf, err := s.auditLeaf(ctx, index)
	if err != nil {
		return nil, err
	}
	r := s.hashReader(ctx)
	proof, err := audit.ProveInclusion(index, size, r)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	root, err := audit.Root(size, r)
	if err != nil {
		return nil, fmt.Errorf("audit root: %w", err)
	}
	return &Proof{Index: index, Size: size, Root: root.Hash,
		Leaf:     LeafView{Kind: leaf.Kind.String(), Ref: leaf.Ref, Event: leaf.Event, Data: leaf.Data()},
		LeafHash: leaf.Hash(), Proof: proof}, nil
}

func (s *Service) auditLeaf(ctx context.Context, index int64) (audit.Leaf, error) {
	blocks, err := s.store.AuditBlocks(ctx, index, 1)
	if err != nil {
		return audit.Leaf{}, err
	}
	if len(blocks) == 0 {
		return audit.Leaf{}, fmt.Errorf("audit: no block holds entry %d", index)
	}
	leaves, err := audit.ParseLeaves(blocks[0].Leaves)
	if err != nil {
		return audit.Leaf{}, err
	}
	i := index - blocks[0].First
	if i < 0 || i >= int64(len(leaves)) {
		return audit.Leaf{}, fmt.Errorf("audit: entry %d not in the block at %d", index, blocks[0].First)
	}
	return leaves[i], nil
}

// Consistency is a proof that the log of From entries is a prefix of the
// log of To entries: that it only grew.
type Consistency struct {
	From     int64        `json:"from"`
	To       int64        `json:"to"`
	FromRoot audit.Hash   `json:"from_root"`
	ToRoot   audit.Hash   `json:"to_root"`
	Proof    []audit.Hash `json:"proof"`
}

// AuditConsistency returns the proof that the log of from entries is a
// prefix of the log of to entries.
func (s *Service) AuditConsistency(ctx context.Context, from, to int64) (*Consistency, error) {
	n, err := s.store.AuditSize(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case from < 1:
		return nil, socred.FieldErrorf("from", "must be at least 1")
	case to < from || to > n:
		return nil, socred.FieldErrorf("to", "must be between from (%d) and the log's size, %d", from, n)
	}
	r := s.hashReader(ctx)
	proof, err := audit.ProveConsistency(from, to, r)
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	a, err := audit.Root(from, r)
	if err != nil {
		return nil, err
	}
	b, err := audit.Root(to, r)
	if err != nil {
		return nil, err
	}
	return &Consistency{From: from, To: to, FromRoot: a.Hash, ToRoot: b.Hash, Proof: proof}, nil
}
