// Package keyindex maps strings — subject ids — to small integers, for the
// tables of millions of subjects that a server builds at start-up and adds
// to on every write: the loading world's positions of its subjects, and a
// subject index's slots.
//
// An Index is a table probed linearly, keyed by the ids' 64-bit hashes,
// that keeps the ids themselves, for the comparison that makes a match
// exact, in one array of bytes: a lookup reads a slot and a few bytes,
// where a Go map reads a group of slots and then the string a key points
// to. Looked up in batches (LookupAll), the 10 million records of a large
// start cost it under a second of CPU; a map took 11.
package keyindex

import (
	"encoding/binary"
	"hash/maphash"
)

// Batch is the most keys LookupAll looks up at once.
const Batch = 256

// seed hashes the keys of every Index: a key's hash is the same in all of
// them, so that one hash serves several tables.
var seed = maphash.MakeSeed()

// Hash returns the hash an Index files key under.
func Hash(key string) uint64 { return maphash.String(seed, key) }

// Index maps keys to int32 values. The zero Index is empty and ready to
// use. It is not safe for use by several goroutines at once, except
// lookups alone.
type Index struct {
	slots []slot // a power of two of them, at most half used
	// keys holds, for each key, its value (4 bytes), its length (4 bytes)
	// and its bytes, in the order inserted.
	keys []byte
	n    int
}

type slot struct {
	hash uint64
	key  uint64 // 1 + the offset of the key in keys; 0 in an empty slot
}

// Len returns the number of keys.
func (x *Index) Len() int { return x.n }

// Grow makes room for n keys more, of about size bytes in all, so that
// adding them grows nothing.
func (x *Index) Grow(n, size int) {
	for 2*(x.n+n) > len(x.slots) {
		x.grow()
	}
	if need := len(x.keys) + 8*n + size; need > cap(x.keys) {
		keys := make([]byte, len(x.keys), need)
		copy(keys, x.keys)
		x.keys = keys
	}
}

// Lookup returns the value of key, whose hash is h, or -1 and the free
// slot where Insert can add it. Call Reserve first when the key is to be
// inserted.
func (x *Index) Lookup(key string, h uint64) (val int32, free uint64) {
	if len(x.slots) == 0 {
		return -1, 0
	}
	mask := uint64(len(x.slots)) - 1
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.key == 0 {
			return -1, i
		}
		if s.hash == h && x.holds(s.key, key) {
			return int32(binary.LittleEndian.Uint32(x.keys[s.key-1:])), 0 // #nosec G115 -- a value Insert wrote from an int32
		}
	}
}

// LookupAll sets vals[i] to the value of keys[i], whose hash is hashes[i],
// or to -1, for at most Batch keys. It looks them up in three passes, each
// of which reads what the one before found for every key: the processor
// then waits for many cache misses at once, not one after another.
func (x *Index) LookupAll(keys []string, hashes []uint64, vals []int32) {
	if len(x.slots) == 0 {
		for i := range keys {
			vals[i] = -1
		}
		return
	}
	var (
		first [Batch]slot
		at    [Batch]uint64
		head  [Batch]uint64 // the first 8 bytes at a key: value and length
	)
	mask := uint64(len(x.slots)) - 1
	hashes = hashes[:len(keys)]
	for i, h := range hashes {
		first[i] = x.slots[h&mask]
	}
	for i, h := range hashes {
		at[i] = 0
		s := first[i]
		for j := h & mask; s.key != 0; {
			if s.hash == h {
				at[i] = s.key
				head[i] = binary.LittleEndian.Uint64(x.keys[s.key-1:])
				break
			}
			j = (j + 1) & mask
			s = x.slots[j]
		}
	}
	for i, key := range keys {
		k := at[i]
		switch {
		case k == 0:
			vals[i] = -1
		case int(head[i]>>32) == len(key) && string(x.keys[k-1+8:k-1+8+uint64(len(key))]) == key:
			vals[i] = int32(uint32(head[i])) // #nosec G115 -- the low 4 bytes hold a value Insert wrote from an int32
		default: // another key with the same hash
			vals[i], _ = x.Lookup(key, hashes[i])
		}
	}
}

// holds reports whether the key at k is key.
func (x *Index) holds(k uint64, key string) bool {
	b := x.keys[k-1:]
	n := binary.LittleEndian.Uint32(b[4:])
	return int(n) == len(key) && string(b[8:8+n]) == key
}

// Reserve makes room for one more key: call it before the lookup whose
// free slot Insert is to use.
func (x *Index) Reserve() {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
}

// Insert adds key, whose hash is h, with value val, in the free slot that
// Lookup returned (after a Reserve). It keeps a copy of the key.
func (x *Index) Insert(free uint64, key string, h uint64, val int32) {
	k := uint64(len(x.keys)) + 1
	x.keys = binary.LittleEndian.AppendUint32(x.keys, uint32(val))      // #nosec G115 -- read back as an int32
	x.keys = binary.LittleEndian.AppendUint32(x.keys, uint32(len(key))) // #nosec G115 -- a subject id is at most 128 bytes
	x.keys = append(x.keys, key...)
	x.slots[free] = slot{hash: h, key: k}
	x.n++
}

// All calls yield with each key and its value, in the order inserted,
// until yield returns false. The keys are parts of one copy of them all,
// made once a call.
func (x *Index) All(yield func(key string, val int32) bool) {
	keys := string(x.keys)
	for off := 0; off < len(keys); {
		val := int32(binary.LittleEndian.Uint32(x.keys[off:])) // #nosec G115 -- a value Insert wrote from an int32
		n := int(binary.LittleEndian.Uint32(x.keys[off+4:]))
		if !yield(keys[off+8:off+8+n], val) {
			return
		}
		off += 8 + n
	}
}

func (x *Index) grow() {
	old := x.slots
	x.slots = make([]slot, max(1024, 2*len(old)))
	mask := uint64(len(x.slots)) - 1
	for _, s := range old {
		if s.key == 0 {
			continue
		}
		i := s.hash & mask
		for x.slots[i].key != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = s
	}
}
