// Package pack reads scheme packs: directories of YAML files declaring
// authorities, relations, actions, schemes, lists and measures (the format
// is docs/schemes.md). It resolves every reference, compiles the `when`
// expressions of automatic lists, and lints the pack: errors refuse it,
// warnings let it load.
package pack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/socred/socred"
)

// maxFileSize bounds one pack file; packs are written by hand.
const maxFileSize = 8 << 20

// LoadDir loads the scheme pack in a directory. See Load.
func LoadDir(dir string) (*socred.Pack, Problems, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load scheme pack: %w", err)
	}
	if !info.IsDir() {
		return nil, nil, fmt.Errorf("load scheme pack: %s is not a directory", dir)
	}
	return Load(os.DirFS(dir))
}

// Load loads the scheme pack rooted at fsys: every *.yaml and *.yml file, in
// name order, subdirectories included (names starting with "." are
// skipped). The pack is nil when there is any error; the problems (errors
// and warnings, sorted by file and line) are returned either way. The error
// is for I/O failures only.
func Load(fsys fs.FS) (*socred.Pack, Problems, error) {
	d := &decoded{srcs: map[any]*src{}}
	h := sha256.New()
	files, first := 0, ""
	err := fs.WalkDir(fsys, ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name != "." && strings.HasPrefix(e.Name(), ".") {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if e.Type()&fs.ModeSymlink != 0 {
			// A link to a directory is not walked (fs.WalkDir does not
			// follow links, and a link may loop): say so, rather than
			// leave its files out unseen.
			if info, err := fs.Stat(fsys, name); err == nil && info.IsDir() {
				d.problems = append(d.problems, Problem{File: name, Message: "is a symbolic link to a directory, which is not followed: move the directory here, or link its files one by one"})
				return nil
			}
		}
		if e.IsDir() || !isYAML(name) {
			return nil
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		files++
		if first == "" {
			first = name
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
		if len(data) > maxFileSize {
			d.problems = append(d.problems, Problem{File: name, Message: fmt.Sprintf("file is %d bytes; at most %d", len(data), maxFileSize)})
			return nil
		}
		d.decodeFile(name, data)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load scheme pack: %w", err)
	}
	if files == 0 {
		d.problems = append(d.problems, Problem{Message: "no scheme pack files (*.yaml, *.yml) found"})
	}
	p := resolve(d)
	if files > 0 && len(p.Schemes) == 0 && len(p.Lists) == 0 && !d.problems.HasErrors() {
		d.problems = append(d.problems, Problem{File: first, Warning: true, Message: "the pack declares no scheme and no list: it scores and lists no one"})
	}
	p.Hash = hex.EncodeToString(h.Sum(nil))
	probs := d.problems
	probs.sort()
	if probs.HasErrors() {
		return nil, probs, nil
	}
	return p, probs, nil
}

func isYAML(name string) bool {
	ext := path.Ext(name)
	return ext == ".yaml" || ext == ".yml"
}
