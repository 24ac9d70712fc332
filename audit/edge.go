package audit

import (
	"fmt"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// Edge is the right edge of a log: its size and the roots of its perfect
// subtrees, one per bit set in the size (a compact range). That is all
// that appending leaves or computing the root needs, so a store that keeps
// the edge in memory reads no hashes to append.
type Edge struct {
	n     int64
	roots [64]Hash // by level; roots[k] is set when bit k of n is
}

// edgeIndexes returns the stored indexes of the hashes on the edge of a
// log of n leaves, largest subtree first.
func edgeIndexes(n int64) []int64 {
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
	e := &Edge{n: n}
	idx := edgeIndexes(n)
	if len(idx) == 0 {
		return e, nil
	}
	hs, err := r.ReadHashes(idx)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(idx) {
		return nil, fmt.Errorf("audit: read %d edge hashes, want %d", len(hs), len(idx))
	}
	for i, x := range idx {
		level, _ := tlog.SplitStoredHashIndex(x)
		e.roots[level] = hs[i]
	}
	return e, nil
}

// Size is the number of leaves in the log.
func (e *Edge) Size() int64 { return e.n }

// Root returns the tree of the log: its perfect subtrees combined from
// the smallest up, as RFC 6962 defines the root of any size.
func (e *Edge) Root() (Tree, error) {
	t := Tree{N: e.n}
	if e.n == 0 {
		h, err := tlog.TreeHash(0, nil)
		return Tree{Hash: h}, err
	}
	first := true
	for k := range 64 {
		if e.n&(1<<k) == 0 {
			continue
		}
		if first {
			t.Hash, first = e.roots[k], false
		} else {
			t.Hash = tlog.NodeHash(e.roots[k], t.Hash)
		}
	}
	return t, nil
}

// Append returns the hashes to store when leaves are appended to the log,
// in order of stored index from tlog.StoredHashCount(e.Size()), and the
// edge after them. e is unchanged, so that a failed write can be retried.
func (e *Edge) Append(leaves []Hash) ([]Hash, *Edge, error) {
	next := *e
	added := make([]Hash, 0, 2*len(leaves)+1)
	for _, h := range leaves {
		added = append(added, h)
		// Each trailing one bit of n completes a subtree with the root
		// beside it on the edge.
		k := 0
		for ; next.n&(1<<k) != 0; k++ {
			h = tlog.NodeHash(next.roots[k], h)
			added = append(added, h)
		}
		next.roots[k] = h
		next.n++
	}
	return added, &next, nil
}

// KeptLevel is the lowest level of the tree whose hashes blocks keep.
// Hashes below it are computed again from the leaves when read (at most
// 2^KeptLevel of them), so a block keeps an eighth of a hash per leaf
// rather than two: the log costs ingest and checks fewer bytes.
const KeptLevel = 4

// Keep returns what a block keeps of the hashes its leaves added (as
// Append returns them, the first leaf being leaf first): those at
// KeptLevel and above, 32 bytes each, in stored-index order.
func Keep(first int64, added []Hash) []byte {
	b := make([]byte, 0, 32*(len(added)/16+1)) // never nil: a store's column is NOT NULL
	j := 0
	for n := first; j < len(added); n++ {
		// Leaf n adds its own hash (level 0) and one a level for each
		// trailing one bit of n.
		top := bits.TrailingZeros64(uint64(n + 1)) // #nosec G115 -- n is a leaf index, not negative
		for level := 0; level <= top && j < len(added); level++ {
			if level >= KeptLevel {
				b = append(b, added[j][:]...)
			}
			j++
		}
	}
	return b
}

// KeptOffset returns where, among the kept hashes of the block whose
// first leaf is first, the hash with stored index x is, in hashes; false
// when x is below KeptLevel. The hash is kept by the block of the leaf
// that completes its subtree.
func KeptOffset(first, x int64) (int64, bool) {
	level, node := tlog.SplitStoredHashIndex(x)
	if level < KeptLevel {
		return 0, false
	}
	c := (node+1)<<level - 1
	var off int64
	for k := KeptLevel; k < 63; k++ {
		off += c>>k - first>>k
	}
	return off + int64(level-KeptLevel), true
}
