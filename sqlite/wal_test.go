package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/socred/socred"
)

// The writer never copies the write-ahead log into the database file
// itself; the background checkpointer does, soon after commits, so the
// database file grows while the store runs, not only when it closes.
func TestCheckpointInBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socred.db")
	s := mustOpen(t, path)
	defer s.Close()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	time.Sleep(300 * time.Millisecond) // the checkpoint after the migrations
	before := size()
	// About 3 MB of records: new pages that exist only in the log until a
	// checkpoint copies them.
	for b := range 10 {
		var recs []*socred.Record
		for i := range 1000 {
			r := rec(b*1000+i+1, "subject")
			r.Evidence = string(make([]byte, 200))
			recs = append(recs, r)
		}
		if err := s.Commit(ctx, &socred.Write{Now: t0, Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for size() < before+2<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes 5 s after 3 MB of commits (%d before): the log was not checkpointed", size(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
