package keyindex_test

import (
	"strconv"
	"testing"

	"github.com/socred/socred/internal/keyindex"
)

// An index finds every key it holds and no other, even when many keys
// share a hash: the hashes here are made to collide, which real 64-bit
// hashes almost never do.
func TestCollisions(t *testing.T) {
	hash := func(i int) uint64 { return uint64(i % 7) } // 7 hashes for every key
	var x keyindex.Index
	const n = 3000
	for i := range n {
		key := "s" + strconv.Itoa(i)
		x.Reserve()
		val, free := x.Lookup(key, hash(i))
		if val >= 0 {
			t.Fatalf("Lookup(%s) before adding it: got %d, want -1", key, val)
		}
		x.Insert(free, key, hash(i), int32(i))
	}
	var (
		keys   []string
		hashes []uint64
		want   []int32
	)
	for i := range n + 500 { // 500 keys that are not there, with the same hashes
		key := "s" + strconv.Itoa(i)
		w := int32(i)
		if i >= n {
			w = -1
		}
		if got, _ := x.Lookup(key, hash(i)); got != w {
			t.Fatalf("Lookup(%s): got %d, want %d", key, got, w)
		}
		keys, hashes, want = append(keys, key), append(hashes, hash(i)), append(want, w)
	}
	for lo := 0; lo < len(keys); lo += keyindex.Batch {
		hi := min(lo+keyindex.Batch, len(keys))
		got := make([]int32, hi-lo)
		x.LookupAll(keys[lo:hi], hashes[lo:hi], got)
		for i, g := range got {
			if g != want[lo+i] {
				t.Fatalf("LookupAll(%s): got %d, want %d", keys[lo+i], g, want[lo+i])
			}
		}
	}
	// A key that is a prefix of another, with the same hash.
	if got, _ := x.Lookup("s1", hash(1)); got != 1 {
		t.Errorf("Lookup(s1): got %d, want 1", got)
	}
	if got, _ := x.Lookup("s", hash(1)); got != -1 {
		t.Errorf("Lookup(s): got %d, want -1", got)
	}
	if x.Len() != n {
		t.Errorf("Len: got %d, want %d", x.Len(), n)
	}
}

// An empty index finds nothing, one at a time or in a batch; Grow makes
// room without losing a key; All gives every key with its value, in the
// order inserted.
func TestEmptyGrowAll(t *testing.T) {
	var x keyindex.Index
	if got, _ := x.Lookup("a", keyindex.Hash("a")); got != -1 {
		t.Errorf("Lookup on an empty index: got %d, want -1", got)
	}
	vals := []int32{7, 7}
	x.LookupAll([]string{"a", "b"}, []uint64{keyindex.Hash("a"), keyindex.Hash("b")}, vals)
	if vals[0] != -1 || vals[1] != -1 {
		t.Errorf("LookupAll on an empty index: got %v, want [-1 -1]", vals)
	}
	var want []string
	for i := range 100 {
		key := "subject-" + strconv.Itoa(i)
		h := keyindex.Hash(key)
		x.Reserve()
		_, free := x.Lookup(key, h)
		x.Insert(free, key, h, int32(10*i))
		want = append(want, key)
		if i == 50 {
			x.Grow(100_000, 2_000_000)
		}
	}
	for i, key := range want {
		if got, _ := x.Lookup(key, keyindex.Hash(key)); got != int32(10*i) {
			t.Fatalf("after Grow, Lookup(%s): got %d, want %d", key, got, 10*i)
		}
	}
	i := 0
	for key, val := range x.All {
		if key != want[i] || val != int32(10*i) {
			t.Fatalf("All, %dth: got %s=%d, want %s=%d", i, key, val, want[i], 10*i)
		}
		i++
	}
	if i != len(want) {
		t.Errorf("All gave %d keys, want %d", i, len(want))
	}
}
