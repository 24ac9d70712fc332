package sqlite

import (
	"os"
	"syscall"
)

// datasync flushes f's data to the disk, and of its metadata only what
// reading the data back needs (fdatasync).
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd())) // #nosec G115 -- a file descriptor fits an int
		if err != syscall.EINTR {
			return err
		}
	}
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
