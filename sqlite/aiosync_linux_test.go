package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// aioFile returns a file with data written to it, and skips the test where
// the kernel will not sync it asynchronously.
func aioFile(t *testing.T, y *syncer) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if err := y.aioDatasync(f); errors.Is(err, errAIOUnsupported) {
		t.Skip("this kernel or file system does not sync asynchronously (io_submit IOCB_CMD_FDSYNC); the check log syncs with fdatasync here")
	} else if err != nil {
		t.Fatalf("aioDatasync: %v", err)
	}
	return f
}

func TestSyncerSyncsAsynchronously(t *testing.T) {
	var y syncer
	defer y.close()
	f := aioFile(t, &y)
	for i := range 20 {
		if _, err := f.WriteAt([]byte{byte(i)}, int64(i)); err != nil {
			t.Fatal(err)
		}
		if err := y.datasync(f); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	if y.plain.Load() {
		t.Fatal("the syncer fell back to fdatasync where asynchronous syncs work")
	}
	if n := len(y.free); n != 1 {
		t.Fatalf("%d slots kept after syncs one at a time, want 1", n)
	}
	// Its eventfd is still in the poller (a file in blocking mode takes
	// no deadline), so that waiting for a sync parks the goroutine.
	if err := y.free[0].efd.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("the eventfd left the poller: %v", err)
	}
}

func TestSyncerConcurrentSyncs(t *testing.T) {
	var y syncer
	defer y.close()
	f := aioFile(t, &y)
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*25)
	for w := range workers {
		wg.Go(func() {
			for i := range 25 {
				if _, err := f.WriteAt([]byte{byte(i)}, int64(w*4096+i)); err != nil {
					errs <- err
					return
				}
				if err := y.datasync(f); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(y.free); n < 1 || n > workers {
		t.Fatalf("%d slots kept after %d concurrent syncers, want 1 to %d", n, workers, workers)
	}
}

// A failed sync reports the kernel's error, not success and not a
// fallback.
func TestSyncerReportsErrors(t *testing.T) {
	var y syncer
	defer y.close()
	f := aioFile(t, &y)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	err := y.datasync(f)
	if err == nil || errors.Is(err, errAIOUnsupported) {
		t.Fatalf("sync of a closed file: %v, want an error", err)
	}
	if y.plain.Load() {
		t.Fatal("an error of the file made the syncer fall back to fdatasync")
	}
}

// Where the file cannot be synced asynchronously (a device without fsync),
// the syncer falls back to fdatasync, and stays with it.
func TestSyncerFallsBack(t *testing.T) {
	var y syncer
	defer y.close()
	aioFile(t, &y)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer null.Close()
	err = y.datasync(null)
	if !y.plain.Load() {
		t.Fatalf("sync of %s: %v, and the syncer did not fall back to fdatasync", os.DevNull, err)
	}
	if want := datasync(null); !errors.Is(err, want) && !(err == nil && want == nil) {
		t.Fatalf("sync of %s: %v, want fdatasync's %v", os.DevNull, err, want)
	}
}

// Closing the syncer frees its slots, and a slot put back after it is freed
// at once.
func TestSyncerClose(t *testing.T) {
	var y syncer
	aioFile(t, &y)
	s, err := y.slot()
	if err != nil {
		t.Fatal(err)
	}
	if err := y.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if len(y.free) != 0 {
		t.Fatalf("%d slots kept after close", len(y.free))
	}
	y.put(s)
	if len(y.free) != 0 {
		t.Fatal("a slot put back after close was kept")
	}
	if _, err := s.efd.Write(make([]byte, 8)); err == nil {
		t.Fatal("the eventfd of a slot put back after close is still open")
	}
}

// The requests are laid out as the kernel reads them.
func TestAIOLayout(t *testing.T) {
	if n := unsafe.Sizeof(iocb{}); n != 64 {
		t.Fatalf("struct iocb is %d bytes, want 64", n)
	}
	if n := unsafe.Sizeof(ioEvent{}); n != 32 {
		t.Fatalf("struct io_event is %d bytes, want 32", n)
	}
	var cb iocb
	for _, f := range []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"aio_lio_opcode", unsafe.Offsetof(cb.opcode), 16},
		{"aio_fildes", unsafe.Offsetof(cb.fildes), 20},
		{"aio_flags", unsafe.Offsetof(cb.flags), 56},
		{"aio_resfd", unsafe.Offsetof(cb.resfd), 60},
		{"res", unsafe.Offsetof(ioEvent{}.res), 16},
	} {
		if f.got != f.want {
			t.Errorf("%s at byte %d, want %d", f.name, f.got, f.want)
		}
	}
}
