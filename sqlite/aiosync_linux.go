package sqlite

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syncer syncs the check log's files. On Linux it asks for the
// fdatasync through the kernel's asynchronous I/O (io_submit with
// IOCB_CMD_FDSYNC, the same vfs_fsync as fdatasync(2)) and waits for its
// completion on an eventfd in the Go runtime's network poller. A plain
// fdatasync keeps the calling goroutine's P for as long as the disk takes:
// the callers the journal has just released, readied on that P, wait for
// the runtime to take it back (sysmon, after 20 µs or more), and the
// syncing goroutine itself waits for a P when the sync returns. Parked in
// the poller instead, the goroutine leaves its P to them. Measured on the
// checks benchmark: 0.547 of the bare handler on average against 0.517,
// over fourteen pairs of alternating runs (BENCHMARKS.md).
//
// Each slot, an AIO context with its eventfd, serves one sync at a time;
// slots are made as concurrent syncs need them, and kept. Where the kernel
// or the file system refuses (no AIO, a file system without fsync, the
// system's AIO contexts used up, no room for a request), the syncer falls
// back to fdatasync for good.
type syncer struct {
	plain  atomic.Bool
	mu     sync.Mutex
	free   []*aioSlot
	closed bool
}

type aioSlot struct {
	ctx uintptr  // aio_context_t
	efd *os.File // the eventfd, non-blocking, so that reading it waits in the poller
}

// iocb and ioEvent are linux/aio_abi.h's struct iocb and struct io_event,
// 64 and 32 bytes; the fields a sync leaves zero are blank. (aio_key and
// aio_rw_flags swap places on big-endian machines; both are zero here.)
type iocb struct {
	_      uint64 // aio_data
	_      uint32 // aio_key
	_      int32  // aio_rw_flags
	opcode uint16 // aio_lio_opcode
	_      int16  // aio_reqprio
	fildes uint32 // aio_fildes
	_      uint64 // aio_buf
	_      uint64 // aio_nbytes
	_      int64  // aio_offset
	_      uint64 // aio_reserved2
	flags  uint32 // aio_flags
	resfd  uint32 // aio_resfd
}

type ioEvent struct {
	_   uint64 // data
	_   uint64 // obj
	res int64  // the request's result: 0, or minus an errno
	_   int64  // res2
}

const (
	iocbCmdFdsync = 3 // IOCB_CMD_FDSYNC
	iocbFlagResfd = 1 // IOCB_FLAG_RESFD: signal the eventfd in resfd on completion
)

// errAIOUnsupported says the kernel or the file system will not sync
// asynchronously; nothing was done.
var errAIOUnsupported = errors.New("asynchronous fdatasync not supported")

// datasync makes f's data durable, as fdatasync does.
func (y *syncer) datasync(f *os.File) error {
	if !y.plain.Load() {
		err := y.aioDatasync(f)
		if !errors.Is(err, errAIOUnsupported) {
			return err
		}
		y.plain.Store(true)
	}
	return datasync(f)
}

// close frees the slots. A sync still running frees its own when done.
func (y *syncer) close() error {
	y.mu.Lock()
	defer y.mu.Unlock()
	y.closed = true
	var errs []error
	for _, s := range y.free {
		errs = append(errs, s.close())
	}
	y.free = nil
	return errors.Join(errs...)
}

func (y *syncer) slot() (*aioSlot, error) {
	y.mu.Lock()
	if n := len(y.free); n > 0 {
		s := y.free[n-1]
		y.free = y.free[:n-1]
		y.mu.Unlock()
		return s, nil
	}
	y.mu.Unlock()
	var ctx uintptr
	if _, _, e := syscall.Syscall(unix.SYS_IO_SETUP, 1, uintptr(unsafe.Pointer(&ctx)), 0); e != 0 { // #nosec G103 -- the kernel writes the context into ctx, alive for the call
		return nil, errAIOUnsupported
	}
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		syscall.Syscall(unix.SYS_IO_DESTROY, ctx, 0, 0) // #nosec G104 -- undoing what was just made; the caller syncs plainly
		return nil, errAIOUnsupported
	}
	return &aioSlot{ctx: ctx, efd: os.NewFile(uintptr(fd), "eventfd")}, nil // #nosec G115 -- a file descriptor is not negative
}

func (y *syncer) put(s *aioSlot) {
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.closed {
		s.close() // #nosec G104 -- the store is closing; nothing is left to sync with it
		return
	}
	y.free = append(y.free, s)
}

func (s *aioSlot) close() error {
	_, _, e := syscall.Syscall(unix.SYS_IO_DESTROY, s.ctx, 0, 0)
	err := s.efd.Close()
	if e != 0 {
		return errors.Join(e, err)
	}
	return err
}

// aioDatasync submits an asynchronous fdatasync of f and waits for it in
// the poller. It returns errAIOUnsupported, having done nothing, when the
// request is refused for want of support.
func (y *syncer) aioDatasync(f *os.File) error {
	s, err := y.slot()
	if err != nil {
		return err
	}
	defer y.put(s)
	cb := iocb{opcode: iocbCmdFdsync, fildes: uint32(f.Fd()), flags: iocbFlagResfd, resfd: uint32(s.efd.Fd())} // #nosec G115 -- file descriptors are not negative
	cbs := [1]*iocb{&cb}
	for {
		_, _, e := syscall.Syscall(unix.SYS_IO_SUBMIT, s.ctx, 1, uintptr(unsafe.Pointer(&cbs[0]))) // #nosec G103 -- the kernel copies the request during the call
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EINVAL, syscall.ENOSYS, syscall.EOPNOTSUPP, syscall.EAGAIN:
			// No fsync for the file system, no AIO in the kernel, or no
			// room for a request: nothing was submitted.
			return errAIOUnsupported
		default:
			return e
		}
		break
	}
	// The eventfd counts completions: reading it waits in the poller until
	// the sync is done (and resets it); the event is then in the context's
	// ring, and io_getevents takes it at once.
	var buf [8]byte
	if _, err := s.efd.Read(buf[:]); err != nil {
		return err
	}
	var ev ioEvent
	for {
		n, _, e := syscall.Syscall6(unix.SYS_IO_GETEVENTS, s.ctx, 1, 1, uintptr(unsafe.Pointer(&ev)), 0, 0) // #nosec G103 -- the kernel writes the event into ev during the call
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		if n != 1 {
			return fmt.Errorf("io_getevents: %d events, want 1", n)
		}
		break
	}
	if ev.res < 0 {
		return syscall.Errno(-ev.res)
	}
	return nil
}
