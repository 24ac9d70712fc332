package audit

import (
	"fmt"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// Edge is the right edge of a log: its size and the roots of its perfect
// subtrees, one per bit set in the size. That is all that appending leaves
// or computing the root needs, so a store that keeps the edge in memory
// reads no hashes to append.
type Edge struct {
	n     int64
	roots map[int64]Hash // by stored index
}

// EdgeIndexes returns the stored indexes of the hashes on the edge of a
// log of n leaves, largest subtree first.
func EdgeIndexes(n int64) []int64 {
	var idx []int64
	for level := 63; level >= 0; level-- {
		if n&(1<<level) != 0 {
			idx = append(idx, tlog.StoredHashIndex(level, n>>level-1))
		}
	}
	return idx
}

// NewEdge reads the edge of a log of n leaves.
func NewEdge(n int64, r tlog.HashReader) (*Edge, error) {
	idx := EdgeIndexes(n)
	if len(idx) == 0 {
		return &Edge{roots: map[int64]Hash{}}, nil
	}
	hs, err := r.ReadHashes(idx)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(idx) {
		return nil, fmt.Errorf("audit: read %d edge hashes, want %d", len(hs), len(idx))
	}
	e := &Edge{n: n, roots: make(map[int64]Hash, len(idx))}
	for i, x := range idx {
		e.roots[x] = hs[i]
	}
	return e, nil
}

// Size is the number of leaves in the log.
func (e *Edge) Size() int64 { return e.n }

// Root returns the tree of the log.
func (e *Edge) Root() (Tree, error) { return Root(e.n, e) }

// ReadHashes reads hashes of the edge: a tlog.HashReader for what the
// edge holds.
func (e *Edge) ReadHashes(idx []int64) ([]Hash, error) {
	out := make([]Hash, len(idx))
	for i, x := range idx {
		h, ok := e.roots[x]
		if !ok {
			return nil, fmt.Errorf("audit: hash %d is not on the edge of a log of %d", x, e.n)
		}
		out[i] = h
	}
	return out, nil
}

// Append returns the hashes to store when leaves are appended to the log,
// in order of stored index from tlog.StoredHashCount(e.Size()), and the
// edge after them. e is unchanged, so that a failed write can be retried.
func (e *Edge) Append(leaves []Hash) ([]Hash, *Edge, error) {
	first := tlog.StoredHashCount(e.n)
	var added []Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]Hash, error) {
		out := make([]Hash, len(idx))
		for i, x := range idx {
			if x >= first {
				if x-first >= int64(len(added)) {
					return nil, fmt.Errorf("audit: hash %d not yet computed", x)
				}
				out[i] = added[x-first]
				continue
			}
			h, ok := e.roots[x]
			if !ok {
				return nil, fmt.Errorf("audit: hash %d is not on the edge of a log of %d", x, e.n)
			}
			out[i] = h
		}
		return out, nil
	})
	for i, leaf := range leaves {
		hs, err := tlog.StoredHashesForRecordHash(e.n+int64(i), leaf, r)
		if err != nil {
			return nil, nil, err
		}
		added = append(added, hs...)
	}
	next := &Edge{n: e.n + int64(len(leaves))}
	idx := EdgeIndexes(next.n)
	hs, err := r.ReadHashes(idx)
	if err != nil {
		return nil, nil, err
	}
	next.roots = make(map[int64]Hash, bits.OnesCount64(uint64(next.n)))
	for i, x := range idx {
		next.roots[x] = hs[i]
	}
	return added, next, nil
}
