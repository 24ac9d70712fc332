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
