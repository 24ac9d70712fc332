package engine

import (
	"strconv"
	"testing"
)

// The loading index finds every id it holds and no other, even when many
// ids share a hash: the hashes here are made to collide, which real 64-bit
// hashes almost never do.
func TestSubjectIndexCollisions(t *testing.T) {
	hash := func(i int) uint64 { return uint64(i % 7) } // 7 hashes for every id
	var x subjectIndex
	const n = 3000
	for i := range n {
		id := "s" + strconv.Itoa(i)
		x.reserve()
		pos, free := x.lookup(id, hash(i))
		if pos >= 0 {
			t.Fatalf("lookup(%s) before adding it: got %d, want -1", id, pos)
		}
		x.insert(free, id, hash(i), int32(i))
	}
	var (
		ids    []string
		hashes []uint64
		want   []int32
	)
	for i := range n + 500 { // 500 ids that are not there, with the same hashes
		id := "s" + strconv.Itoa(i)
		w := int32(i)
		if i >= n {
			w = -1
		}
		if got, _ := x.lookup(id, hash(i)); got != w {
			t.Fatalf("lookup(%s): got %d, want %d", id, got, w)
		}
		ids, hashes, want = append(ids, id), append(hashes, hash(i)), append(want, w)
	}
	for lo := 0; lo < len(ids); lo += loadBatch {
		hi := min(lo+loadBatch, len(ids))
		got := make([]int32, hi-lo)
		x.lookupAll(ids[lo:hi], hashes[lo:hi], got)
		for i, g := range got {
			if g != want[lo+i] {
				t.Fatalf("lookupAll(%s): got %d, want %d", ids[lo+i], g, want[lo+i])
			}
		}
	}
	// An id that is a prefix of another, with the same hash.
	if got, _ := x.lookup("s1", hash(1)); got != 1 {
		t.Errorf("lookup(s1): got %d, want 1", got)
	}
	if got, _ := x.lookup("s", hash(1)); got != -1 {
		t.Errorf("lookup(s): got %d, want -1", got)
	}
}
