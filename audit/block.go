package audit

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// Block is the leaves one write appended to the log, as stores keep them:
// the leaves (AppendLeaves) and the tree's hashes they added at KeptLevel
// and above (Keep).
type Block struct {
	First  int64
	Leaves []byte
	Hashes []byte
}

// BlockSource returns, in order, the blocks that hold the leaves from up
// to (but not including) to.
type BlockSource func(from, to int64) ([]Block, error)

// ReadHashes reads stored hashes of a log kept in blocks: a hash at
// KeptLevel or above from the block that keeps it, one below from the
// leaves of its subtree. It is how stores serve tlog.HashReader.
func ReadHashes(src BlockSource, idx []int64) ([]Hash, error) {
	out := make([]Hash, len(idx))
	for i, x := range idx {
		if x < 0 {
			return nil, fmt.Errorf("audit: no hash %d", x)
		}
		level, node := tlog.SplitStoredHashIndex(x)
		lo, hi := node<<level, (node+1)<<level
		if level >= KeptLevel {
			bs, err := src(hi-1, hi)
			if err != nil {
				return nil, err
			}
			if len(bs) != 1 || bs[0].First > hi-1 {
				return nil, fmt.Errorf("audit: no block holds hash %d", x)
			}
			off, _ := KeptOffset(bs[0].First, x)
			if (off+1)*32 > int64(len(bs[0].Hashes)) {
				return nil, fmt.Errorf("audit: hash %d missing from the block at %d", x, bs[0].First)
			}
			copy(out[i][:], bs[0].Hashes[off*32:])
			continue
		}
		bs, err := src(lo, hi)
		if err != nil {
			return nil, err
		}
		hs := make([]Hash, 0, hi-lo)
		for _, b := range bs {
			ls, err := ParseLeaves(b.Leaves)
			if err != nil {
				return nil, fmt.Errorf("audit: block at %d: %w", b.First, err)
			}
			for j := range ls {
				if n := b.First + int64(j); n >= lo && n < hi && n == lo+int64(len(hs)) {
					hs = append(hs, ls[j].Hash())
				}
			}
		}
		if int64(len(hs)) != hi-lo {
			return nil, fmt.Errorf("audit: leaves %d to %d of hash %d are missing", lo, hi-1, x)
		}
		// A perfect subtree: combine pairs, level by level.
		for len(hs) > 1 {
			for j := 0; j < len(hs)/2; j++ {
				hs[j] = tlog.NodeHash(hs[2*j], hs[2*j+1])
			}
			hs = hs[:len(hs)/2]
		}
		out[i] = hs[0]
	}
	return out, nil
}
