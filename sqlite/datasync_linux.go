package sqlite

import (
	"os"
	"syscall"
	_ "unsafe" // for go:linkname
)

// datasync flushes f's data to the disk, and of its metadata only what
// reading the data back needs (fdatasync).
func datasync(f *os.File) error {
	for {
		var err error
		if blockingSync {
			err = fdatasyncBlocking(f.Fd())
		} else {
			err = syscall.Fdatasync(int(f.Fd())) // #nosec G115 -- a file descriptor fits an int
		}
		if err != syscall.EINTR {
			return err
		}
	}
}

var blockingSync = os.Getenv("SOCRED_SYNC_BLOCK") != ""

//go:linkname entersyscallblock runtime.entersyscallblock
func entersyscallblock()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// fdatasyncBlocking is fdatasync that gives up its P at once.
//
//go:nosplit
//go:norace
func fdatasyncBlocking(fd uintptr) error {
	entersyscallblock()
	_, _, e := syscall.RawSyscall6(syscall.SYS_FDATASYNC, fd, 0, 0, 0, 0, 0)
	exitsyscall()
	if e != 0 {
		return e
	}
	return nil
}

// lockFile takes an exclusive lock on f for as long as it is open, or
// fails at once (errLocked) when another open file holds one.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) // #nosec G115 -- a file descriptor fits an int
	if err == syscall.EWOULDBLOCK {
		return errLocked
	}
	return err
}
