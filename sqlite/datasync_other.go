//go:build !linux

package sqlite

import "os"

// datasync flushes f to the disk.
func datasync(f *os.File) error { return f.Sync() }

// syncer syncs the check log's files (on Linux, asynchronously).
type syncer struct{}

func (*syncer) datasync(f *os.File) error { return datasync(f) }

func (*syncer) close() error { return nil }

// lockFile does nothing here: one process at a time is the operator's to
// ensure.
func lockFile(*os.File) error { return nil }
