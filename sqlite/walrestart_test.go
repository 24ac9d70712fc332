package sqlite

import (
	"context"
	"encoding/binary"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/socred/socred"
)

// Under a steady stream of commits the checkpointer makes the log start
// over once it holds walRestartFrames frames; a passive checkpoint alone
// never lets it, and the file grows for as long as the commits come.
func TestCheckpointRestartsTheLog(t *testing.T) {
	old := walRestartFrames
	walRestartFrames = 32
	t.Cleanup(func() { walRestartFrames = old }) // after the store's own cleanup closes it
	s := openUnmerged(t)
	// The log's header counts its restarts (the checkpoint sequence number,
	// bytes 12-15, big-endian).
	restarts := func() uint32 {
		t.Helper()
		b, err := os.ReadFile(s.path + "-wal")
		if err != nil || len(b) < 32 {
			t.Fatalf("the log: %d bytes, %v", len(b), err)
		}
		return binary.BigEndian.Uint32(b[12:16])
	}
	commit := func(n int) {
		t.Helper()
		r := &socred.Record{ID: strconv.Itoa(n), Key: "k" + strconv.Itoa(n), Subject: "s", Scheme: "city", Rule: "red-light",
			Points: -5, Reporter: "city", Evidence: string(make([]byte, 2000))}
		if err := s.Commit(context.Background(), &socred.Write{Records: []*socred.Record{r}}); err != nil {
			t.Fatal(err)
		}
	}
	commit(1)
	before := restarts()
	n := 1
	// At least 2 s and 1,000 commits: a loaded disk may take a commit a
	// tenth of a second (17 commits in 2 s once, against 1,400 and 8
	// restarts; without the restarting checkpoint, 1 or 2 restarts).
	for start := time.Now(); n < 1000 || time.Since(start) < 2*time.Second; {
		n++
		commit(n)
		time.Sleep(time.Millisecond) // a gap the restart can take the writer's lock in
	}
	got := restarts() - before
	if got < 4 {
		t.Errorf("the log started over %d times in %d commits; want at least 4", got, n)
	}
	t.Logf("the log started over %d times in %d commits", got, n)
}
