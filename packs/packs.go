// Package packs holds the scheme packs built into the socred binary.
package packs

import (
	"embed"
	"io/fs"
)

//go:embed example
var example embed.FS

// Example is the example scheme pack, rooted at its directory: the default
// pack of the binary. It loads with no errors and no warnings and shows
// every mechanic of the product (see its files' comments).
var Example fs.FS = mustSub(example, "example")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a constant
	}
	return sub
}
