package pack_test

import (
	"io/fs"
	"os"
	"path"
	"reflect"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
)

// fuzzPackFile is the name of the one file FuzzPackLoad's packs hold.
const fuzzPackFile = "pack.yaml"

// FuzzPackLoad feeds arbitrary bytes to the reader as the one file of a
// pack. Load must not panic and must return a pack exactly when there is no
// error; every problem must name the file and a line within it (0 only for
// the whole file); and a pack that loads must load again to the same pack:
// the same hash, the same problems, the same declarations and conditions.
// Seeds: the example pack's files, the packs under ../cmd/socred/testdata
// and testdata/spec-example, two small packs that load, and
// testdata/fuzz/FuzzPackLoad.
func FuzzPackLoad(f *testing.F) {
	for _, files := range seedPacks(f) {
		for _, data := range files {
			f.Add(data)
		}
	}
	// Small packs that load, so the fuzzer starts from some.
	f.Add([]byte(condPack + "lists:\n  - {id: l, kind: black, authority: city, legal_basis: x, publish: true, when: 'score(\"civic\") < 960'}\n"))
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, probs := loadOne(t, data)
		nlines := yamlLines(data)
		for _, pr := range probs {
			if pr.File != fuzzPackFile {
				t.Errorf("problem names file %q, want %q: %v", pr.File, fuzzPackFile, pr)
			}
			if pr.Line < 0 || pr.Line > nlines {
				t.Errorf("problem at line %d of a file of %d lines: %v", pr.Line, nlines, pr)
			}
			if pr.Message == "" {
				t.Errorf("problem without a message: %+v", pr)
			}
		}
		if p == nil {
			return
		}
		if len(p.Hash) != 64 {
			t.Errorf("hash %q: want 64 hex digits", p.Hash)
		}
		again, probs2 := loadOne(t, data)
		if again == nil {
			t.Fatalf("the pack loaded once, then not:\n%s", lines(probs2))
		}
		if again.Hash != p.Hash {
			t.Errorf("hash changed between two loads of the same file: %s, then %s", p.Hash, again.Hash)
		}
		if !slices.Equal(probs, probs2) {
			t.Errorf("problems changed between two loads:\n%s\nthen\n%s", lines(probs), lines(probs2))
		}
		// Conditions hold compiled programs: compare their source and
		// references, then the rest of the pack without them.
		for i, l := range p.Lists {
			l2 := again.Lists[i]
			if (l.Cond == nil) != (l2.Cond == nil) {
				t.Fatalf("list %s: condition %v, then %v", l.ID, l.Cond != nil, l2.Cond != nil)
			}
			if l.Cond != nil {
				if l.Cond.String() != l2.Cond.String() || !reflect.DeepEqual(l.Cond.Refs(), l2.Cond.Refs()) {
					t.Errorf("list %s: condition %q %v, then %q %v", l.ID, l.Cond, l.Cond.Refs(), l2.Cond, l2.Cond.Refs())
				}
				if l.Cond.String() != l.When {
					t.Errorf("list %s: condition %q compiled from when %q", l.ID, l.Cond, l.When)
				}
			}
			l.Cond, l2.Cond = nil, nil
		}
		if !reflect.DeepEqual(p, again) {
			t.Errorf("two loads of the same file gave different packs")
		}
	})
}

// loadOne loads a pack of one file, failing the test on an I/O error or on
// a pack returned with errors (or none returned without).
func loadOne(t *testing.T, data []byte) (*socred.Pack, pack.Problems) {
	t.Helper()
	p, probs, err := pack.Load(fstest.MapFS{fuzzPackFile: &fstest.MapFile{Data: data}})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if (p == nil) != probs.HasErrors() {
		t.Fatalf("Load returned pack %v with problems:\n%s", p != nil, lines(probs))
	}
	return p, probs
}

// yamlLines counts the lines of a file as YAML does: a line ends at a
// line feed, a carriage return or both.
func yamlLines(data []byte) int {
	n := 1
	for i, b := range data {
		if b == '\n' || b == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
			n++
		}
	}
	return n
}

// seedPacks returns the seed packs' YAML files, each pack's in name order:
// the example pack, the packs under ../cmd/socred/testdata (one a
// directory) and testdata/spec-example.
func seedPacks(tb testing.TB) [][][]byte {
	tb.Helper()
	packsFS := []fs.FS{packs.Example, os.DirFS("testdata/spec-example")}
	dirs, err := os.ReadDir("../cmd/socred/testdata")
	if err != nil {
		tb.Fatal(err)
	}
	for _, d := range dirs {
		if d.IsDir() {
			packsFS = append(packsFS, os.DirFS("../cmd/socred/testdata/"+d.Name()))
		}
	}
	var out [][][]byte
	for _, fsys := range packsFS {
		var files [][]byte
		err := fs.WalkDir(fsys, ".", func(name string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			if ext := path.Ext(name); ext == ".yaml" || ext == ".yml" {
				data, err := fs.ReadFile(fsys, name)
				if err != nil {
					return err
				}
				files = append(files, data)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		if len(files) == 0 {
			tb.Fatalf("a seed pack has no files")
		}
		out = append(out, files)
	}
	return out
}
