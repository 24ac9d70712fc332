//go:build unix

package main

import "syscall"

// offHeap returns n zeroed bytes mapped outside the Go heap, and the
// function that unmaps them. The collector neither marks such memory nor
// counts it towards its goal.
func offHeap(n int) ([]byte, func(), error) {
	if n == 0 {
		return nil, func() {}, nil
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = syscall.Munmap(b) }, nil
}
