package sqlite

import (
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	sqlite3 "zombiezen.com/go/sqlite"
)

// TestRowsInsert inserts runs of every length around the statements'
// sizes, each through one run, and reads back every row once, in order,
// with the columns bound.
func TestRowsInsert(t *testing.T) {
	conn, err := sqlite3.OpenConn(filepath.Join(t.TempDir(), "rows.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := exec(conn.Prep(`CREATE TABLE rows (id INTEGER PRIMARY KEY, half INTEGER NOT NULL, name TEXT NOT NULL)`)); err != nil {
		t.Fatal(err)
	}
	ins := newRowsInsert(`INSERT INTO rows (id, half, name)`, 3, 8)
	if want := []int{8, 4, 2, 1}; !slices.Equal(ins.sizes, want) {
		t.Fatalf("sizes %v, want %v", ins.sizes, want)
	}
	next := 0
	for _, n := range []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 100} {
		first, bound := next, 0
		err := ins.run(conn, n, func(stmt *sqlite3.Stmt, off, i int) error {
			if i != bound {
				t.Fatalf("run of %d: bound row %d after %d rows", n, i, bound)
			}
			bound++
			id := first + i
			stmt.BindInt64(off+1, int64(id))
			stmt.BindInt64(off+2, int64(id/2))
			stmt.BindText(off+3, "row "+strconv.Itoa(id))
			return nil
		})
		if err != nil {
			t.Fatalf("run of %d: %v", n, err)
		}
		if bound != n {
			t.Fatalf("run of %d bound %d rows", n, bound)
		}
		next += n
	}
	got := 0
	err = each(conn.Prep(`SELECT id, half, name FROM rows ORDER BY id`), func(stmt *sqlite3.Stmt) error {
		id := int(stmt.ColumnInt64(0))
		if id != got || stmt.ColumnInt64(1) != int64(id/2) || stmt.ColumnText(2) != "row "+strconv.Itoa(id) {
			t.Errorf("row %d: (%d, %d, %q)", got, id, stmt.ColumnInt64(1), stmt.ColumnText(2))
		}
		got++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != next {
		t.Errorf("%d rows stored, want %d", got, next)
	}
}
