package api_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// fakeAudit is the fake store's audit log: its blocks in memory.
type fakeAudit struct {
	keys        *socred.AuditKeys
	blocks      []socred.AuditBlock
	hashes      []audit.Hash
	n           int64
	checkpoints []socred.Checkpoint
}

// appendAudit appends w's entries; the caller holds s.mu.
func (s *fakeStore) appendAudit(w *socred.Write) error {
	if len(w.Audit) == 0 {
		return nil
	}
	a := &s.audit
	leaves := make([]audit.Leaf, len(w.Audit))
	checks, accesses := 0, 0
	var added []audit.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]audit.Hash, error) {
		out := make([]audit.Hash, len(idx))
		for i, x := range idx {
			if x < int64(len(a.hashes)) {
				out[i] = a.hashes[x]
			} else {
				out[i] = added[x-int64(len(a.hashes))]
			}
		}
		return out, nil
	})
	for i, e := range w.Audit {
		leaves[i] = audit.Leaf{Kind: e.Kind, Ref: e.Ref, Event: e.Event}
		switch {
		case e.Kind == audit.KindCheck && e.Ref == "":
			leaves[i].Ref = strconv.Itoa(len(s.checks) + 1 + checks)
			checks++
		case e.Kind == audit.KindAccess && e.Ref == "":
			leaves[i].Ref = strconv.Itoa(len(s.accesses) + 1 + accesses)
			accesses++
		}
		hs, err := tlog.StoredHashesForRecordHash(a.n+int64(i), leaves[i].Hash(), r)
		if err != nil {
			return err
		}
		added = append(added, hs...)
		if e.Receipt != nil {
			*e.Receipt = a.n + int64(i)
		}
	}
	a.blocks = append(a.blocks, socred.AuditBlock{First: a.n, Leaves: audit.AppendLeaves(nil, leaves), Hashes: audit.Keep(a.n, added)})
	a.hashes = append(a.hashes, added...)
	a.n += int64(len(leaves))
	for i := range w.Checks {
		w.Checks[i].ID = int64(len(s.checks) + 1 + i)
	}
	for i := range w.Accesses {
		w.Accesses[i].ID = int64(len(s.accesses) + 1 + i)
	}
	return nil
}

func (s *fakeStore) AuditKeys(ctx context.Context, first socred.AuditKeys) (socred.AuditKeys, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.audit.keys == nil {
		s.audit.keys = &first
	}
	return *s.audit.keys, nil
}

func (s *fakeStore) AuditSize(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.audit.n, nil
}

func (s *fakeStore) AuditHashes(ctx context.Context, idx []int64) ([]audit.Hash, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]audit.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(s.audit.hashes)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = s.audit.hashes[x]
	}
	return out, nil
}

func (s *fakeStore) AuditBlocks(ctx context.Context, from int64, limit int) ([]socred.AuditBlock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.audit.blocks, from, func(b socred.AuditBlock, x int64) int {
		switch {
		case b.First > x:
			return 1
		case b.First < x:
			return -1
		}
		return 0
	})
	if i == len(s.audit.blocks) || s.audit.blocks[i].First > from {
		i--
	}
	i = max(i, 0)
	return slices.Clone(s.audit.blocks[i:min(len(s.audit.blocks), i+limit)]), nil
}

func (s *fakeStore) SaveCheckpoint(ctx context.Context, c socred.Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(s.audit.checkpoints, func(x socred.Checkpoint) bool { return x.Size == c.Size }) {
		s.audit.checkpoints = append(s.audit.checkpoints, c)
		slices.SortFunc(s.audit.checkpoints, func(a, b socred.Checkpoint) int { return int(b.Size - a.Size) })
	}
	return nil
}

func (s *fakeStore) Checkpoints(ctx context.Context, page socred.Page) ([]socred.Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.audit.checkpoints
	if page.Limit > 0 && page.Limit < len(cs) {
		cs = cs[:page.Limit]
	}
	return slices.Clone(cs), nil
}

func (s *fakeStore) AuditSources(ctx context.Context, fn func(*socred.Record, *socred.CheckEntry, *socred.Access) error) error {
	s.mu.Lock()
	recs, checks, accesses := slices.Clone(s.records), slices.Clone(s.checks), slices.Clone(s.accesses)
	s.mu.Unlock()
	for _, r := range recs {
		if r.LogIndex != nil {
			if err := fn(r, nil, nil); err != nil {
				return err
			}
		}
	}
	for i := range accesses {
		if accesses[i].LogIndex != nil {
			if err := fn(nil, nil, &accesses[i]); err != nil {
				return err
			}
		}
	}
	for i := range checks {
		if checks[i].LogIndex != nil {
			if err := fn(nil, &checks[i], nil); err != nil {
				return err
			}
		}
	}
	return nil
}
