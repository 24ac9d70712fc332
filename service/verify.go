package service

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// VerifyReport says what VerifyLog checked.
type VerifyReport struct {
	Entries     int64 // leaves in the log
	Blocks      int   // blocks they were appended in
	Checkpoints int   // signed checkpoints checked against the recomputed tree
	Records     int   // records hashed again and found in their leaves
	Checks      int   // checks hashed again and found in their leaves
	Accesses    int   // reads of files hashed again and found in their leaves
	Purged      int   // purged records hashed again and found in their purges' leaves
	Decisions   int   // designations, appeals and repair applications hashed again, as last logged
	Later       int   // rows whose entries were appended after the leaves were read (a server writing), not checked
	Expired     int   // entries of checks and reads deleted at the end of their retention, as an expiry entry says
}

// VerifyLog recomputes the audit log kept in st from its stored leaves and
// compares it with everything stored about it: the tree's hashes, the
// log's size, every kept checkpoint (its signature and root), and every
// record, check and read of a file that has a receipt, hashed again from
// its row (a purged record against the entry of its purge, its first entry
// by reference only: that hashed the evidence, which is gone). Every leaf
// of a record, check, access or purge must be claimed by one (a record is
// logged purged once), but for the checks and accesses an expiry entry
// says were deleted at the end of their retention; none of those may be
// kept. The first difference is the error.
func VerifyLog(ctx context.Context, st socred.Store) (VerifyReport, error) {
	var rep VerifyReport
	keys, err := st.AuditKeys(ctx, socred.AuditKeys{})
	if err != nil {
		return rep, err
	}
	// The checkpoints, each opened with the log's key.
	var trees []audit.Tree
	for off := 0; ; {
		cps, err := st.Checkpoints(ctx, socred.Page{Limit: 1000, Offset: off})
		if err != nil {
			return rep, err
		}
		for _, c := range cps {
			t, err := audit.Open(c.Note, keys.Verifier)
			if err != nil {
				return rep, fmt.Errorf("checkpoint of size %d: %w", c.Size, err)
			}
			if t.N != c.Size {
				return rep, fmt.Errorf("checkpoint kept as size %d says size %d", c.Size, t.N)
			}
			trees = append(trees, t)
		}
		if len(cps) < 1000 {
			break
		}
		off += len(cps)
	}
	slices.SortFunc(trees, func(a, b audit.Tree) int { return int(a.N - b.N) })
	size, err := st.AuditSize(ctx)
	if err != nil {
		return rep, err
	}
	if len(trees) > 0 && trees[len(trees)-1].N > size {
		return rep, fmt.Errorf("a checkpoint of %d entries, but the log holds %d: entries are missing", trees[len(trees)-1].N, size)
	}

	// The tree, recomputed block by block.
	edge, err := audit.NewEdge(0, nil)
	if err != nil {
		return rep, err
	}
	var leaves []audit.Leaf
	checkRoot := func() error {
		for len(trees) > 0 && trees[0].N == edge.Size() {
			root, err := edge.Root()
			if err != nil {
				return err
			}
			if root != trees[0] {
				return fmt.Errorf("the checkpoint of %d entries has root %v; the stored entries make %v", trees[0].N, trees[0].Hash, root.Hash)
			}
			rep.Checkpoints++
			trees = trees[1:]
		}
		return nil
	}
	if err := checkRoot(); err != nil {
		return rep, err
	}
	for {
		blocks, err := st.AuditBlocks(ctx, int64(len(leaves)), 1000)
		if err != nil {
			return rep, err
		}
		if len(leaves) > 0 && len(blocks) > 0 && blocks[0].First < int64(len(leaves)) {
			blocks = blocks[1:] // the last block read, again
		}
		if len(blocks) == 0 {
			break
		}
		for _, b := range blocks {
			if b.First != int64(len(leaves)) {
				return rep, fmt.Errorf("block at entry %d follows entry %d: entries are missing or reordered", b.First, len(leaves)-1)
			}
			ls, err := audit.ParseLeaves(b.Leaves)
			if err != nil {
				return rep, fmt.Errorf("block at entry %d: %w", b.First, err)
			}
			if len(ls) == 0 {
				return rep, fmt.Errorf("block at entry %d holds no entries", b.First)
			}
			hashes := make([]audit.Hash, len(ls))
			for i := range ls {
				hashes[i] = ls[i].Hash()
			}
			// Appended in parts that end at checkpoints, to check their roots.
			var added []audit.Hash
			for rest := hashes; len(rest) > 0; {
				k := len(rest)
				if len(trees) > 0 && trees[0].N-edge.Size() < int64(k) {
					k = int(trees[0].N - edge.Size())
				}
				hs, next, err := edge.Append(rest[:k])
				if err != nil {
					return rep, err
				}
				added = append(added, hs...)
				edge, rest = next, rest[k:]
				if err := checkRoot(); err != nil {
					return rep, err
				}
			}
			if kept := audit.Keep(b.First, added); !bytes.Equal(kept, b.Hashes) {
				return rep, fmt.Errorf("block at entry %d: %s", b.First, hashDiff(kept, b.Hashes))
			}
			leaves = append(leaves, ls...)
			rep.Blocks++
		}
	}
	rep.Entries = int64(len(leaves))
	if rep.Entries > size {
		// Blocks appended while they were read (a server writing beside
		// verify) are verified with the rest once the log's size covers
		// them: a block is stored in the transaction that grows the size.
		if size, err = st.AuditSize(ctx); err != nil {
			return rep, err
		}
		size = min(size, rep.Entries) // and any appended since, next time
	}
	if rep.Entries != size {
		return rep, fmt.Errorf("the log says it holds %d entries; its blocks hold %d", size, rep.Entries)
	}
	if len(trees) > 0 {
		return rep, fmt.Errorf("a checkpoint of %d entries, but the log holds %d", trees[0].N, rep.Entries)
	}

	// The records and checks, hashed again.
	claimed := make([]bool, len(leaves))
	// A row with a receipt past the leaves read was committed since (a
	// server still writing), or claims an entry the log does not hold:
	// which, the log's size once the rows are read says.
	later, laterMax, laterWhat := 0, int64(-1), ""
	// claim checks the row's entry and counts it in n (nil: not counted);
	// a row logged since the leaves were read is counted in later alone.
	claim := func(n *int, idx *int64, kinds []audit.Kind, ref string, event func() [32]byte, what string) error {
		i := *idx
		if i < 0 {
			return fmt.Errorf("%s has receipt %d, beyond the log's %d entries", what, i, len(leaves))
		}
		if i >= int64(len(leaves)) {
			later++
			if i > laterMax {
				laterMax, laterWhat = i, what
			}
			return nil
		}
		l := &leaves[i]
		if !slices.Contains(kinds, l.Kind) || l.Ref != ref {
			return fmt.Errorf("%s has receipt %d, but entry %d logs %s %q", what, i, i, l.Kind, l.Ref)
		}
		if claimed[i] {
			return fmt.Errorf("entry %d is claimed twice (%s)", i, what)
		}
		claimed[i] = true
		if event != nil && event() != l.Event {
			return fmt.Errorf("%s differs from the event entry %d logged", what, i)
		}
		if n != nil {
			*n++
		}
		return nil
	}
	// Each record's standing follows from the last decision the log holds
	// on it: overturned, suspended (an overdue review), or reinstated.
	decided := map[string]int{}
	for i, l := range leaves {
		switch l.Kind {
		case audit.KindOverturn, audit.KindSuspend, audit.KindReinstate:
			decided[l.Ref] = i
		}
	}
	// Checks and reads past their retention are deleted, the oldest first,
	// with an entry naming the last deleted: their entries stay unclaimed,
	// and none up to it may be kept.
	expired := expiries{}
	if err := expired.add(leaves, 0); err != nil {
		return rep, err
	}
	err = st.AuditSources(ctx, func(r *socred.Record, c *socred.CheckEntry, a *socred.Access) error {
		switch {
		case r != nil:
			if err := verifyStanding(r, decided, leaves); err != nil {
				return err
			}
			if r.PurgedAt == nil {
				return claim(&rep.Records, r.LogIndex, []audit.Kind{audit.KindRecord, audit.KindDerived}, r.ID, func() [32]byte { return keys.RecordEvent(r) }, "record "+r.ID)
			}
			// Its first entry hashed the evidence the purge removed (a
			// record stored before the log began has none); the purge's
			// entry hashed the record as it stands since.
			if r.LogIndex != nil {
				if err := claim(nil, r.LogIndex, []audit.Kind{audit.KindRecord, audit.KindDerived}, r.ID, nil, "record "+r.ID); err != nil {
					return err
				}
			}
			if r.PurgeLogIndex == nil {
				return fmt.Errorf("record %s is purged, but the log holds no entry of its purge (a server logs one, for a record purged before purges were logged, when it next purges: at its start)", r.ID)
			}
			return claim(&rep.Purged, r.PurgeLogIndex, []audit.Kind{audit.KindPurge}, r.ID, func() [32]byte { return keys.PurgeEvent(r) }, "the purge of record "+r.ID)
		case c != nil:
			id := strconv.FormatInt(c.ID, 10)
			if e := expired[audit.KindCheck]; c.ID <= e.last {
				return fmt.Errorf("check %s is kept, but entry %d logs the deletion of every check up to %d", id, e.entry, e.last)
			}
			return claim(&rep.Checks, c.LogIndex, []audit.Kind{audit.KindCheck}, id, func() [32]byte { return keys.CheckEvent(c) }, "check "+id)
		case a != nil:
			id := strconv.FormatInt(a.ID, 10)
			if e := expired[audit.KindAccess]; a.ID <= e.last {
				return fmt.Errorf("access %s is kept, but entry %d logs the deletion of every access up to %d", id, e.entry, e.last)
			}
			return claim(&rep.Accesses, a.LogIndex, []audit.Kind{audit.KindAccess}, id, func() [32]byte { return keys.AccessEvent(a) }, "access "+id)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if later > 0 {
		now, err := st.AuditSize(ctx)
		if err != nil {
			return rep, err
		}
		if laterMax >= now {
			return rep, fmt.Errorf("%s has receipt %d, beyond the log's %d entries", laterWhat, laterMax, now)
		}
		// Committed while the log was read: for the next verify.
		rep.Later = later
	}
	readSince := false
	for i := range leaves {
		switch l := &leaves[i]; l.Kind {
		case audit.KindCheck, audit.KindAccess:
			if claimed[i] {
				continue
			}
			if !expired.covers(l) && !readSince {
				// Perhaps deleted since the leaves were read (a server
				// writing): the entries appended since say.
				readSince = true
				if err := expired.since(ctx, st, int64(len(leaves))); err != nil {
					return rep, err
				}
			}
			if !expired.covers(l) {
				return rep, fmt.Errorf("entry %d logs %s %q, which the store does not hold", i, l.Kind, l.Ref)
			}
			rep.Expired++
		case audit.KindRecord, audit.KindDerived:
			if !claimed[i] {
				return rep, fmt.Errorf("entry %d logs %s %q, which the store does not hold", i, l.Kind, l.Ref)
			}
		case audit.KindPurge:
			if !claimed[i] {
				return rep, fmt.Errorf("entry %d logs the purge of record %q, which the store does not hold as purged by it", i, l.Ref)
			}
		}
	}
	if err := verifyDecisions(ctx, st, keys, leaves, &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// verifyStanding compares a record's stored standing (overturned,
// suspended) with the last decision on it the log holds (none: neither), so
// that a record made to count again, or to stop counting, behind the log's
// back is found.
func verifyStanding(r *socred.Record, decided map[string]int, leaves []audit.Leaf) error {
	state := func(overturned, suspended bool) string {
		switch {
		case overturned:
			return "overturned"
		case suspended:
			return "suspended"
		}
		return "neither overturned nor suspended"
	}
	i, ok := decided[r.ID]
	wantOverturned := ok && leaves[i].Kind == audit.KindOverturn
	wantSuspended := ok && leaves[i].Kind == audit.KindSuspend
	if r.Overturned == wantOverturned && (r.Suspended && !r.Overturned) == wantSuspended {
		return nil
	}
	if !ok {
		return fmt.Errorf("record %s is stored as %s, but the log holds no decision on it", r.ID, state(r.Overturned, r.Suspended))
	}
	return fmt.Errorf("record %s is stored as %s, but the log's last decision on it (entry %d, %s) leaves it %s",
		r.ID, state(r.Overturned, r.Suspended), i, leaves[i].Kind, state(wantOverturned, wantSuspended))
}

// verifyDecisions hashes every designation, appeal and repair application
// the log names again, from its row as stored, and compares it with the
// last entry that logged it: every change to one is logged, so a row
// changed behind the log's back (a decision rewritten, a reason edited)
// differs from it.
func verifyDecisions(ctx context.Context, st socred.Store, keys socred.AuditKeys, leaves []audit.Leaf, rep *VerifyReport) error {
	type key struct {
		kind audit.Kind
		ref  string
	}
	last := map[key]int{}
	var order []key
	for i, l := range leaves {
		switch l.Kind {
		case audit.KindDesignation, audit.KindAppeal, audit.KindRepair:
			k := key{l.Kind, l.Ref}
			if _, ok := last[k]; !ok {
				order = append(order, k)
			}
			last[k] = i
		}
	}
	for _, k := range order {
		i := last[k]
		var event [32]byte
		switch k.kind {
		case audit.KindDesignation:
			d, err := st.Designation(ctx, k.ref)
			if err != nil {
				return fmt.Errorf("entry %d logs designation %q: %w", i, k.ref, err)
			}
			event = keys.ObjectEvent(audit.KindDesignation, d.Subject, d)
		case audit.KindAppeal:
			a, err := st.Appeal(ctx, k.ref)
			if err != nil {
				return fmt.Errorf("entry %d logs appeal %q: %w", i, k.ref, err)
			}
			event = keys.ObjectEvent(audit.KindAppeal, a.Subject, a)
		case audit.KindRepair:
			r, err := st.Repair(ctx, k.ref)
			if err != nil {
				return fmt.Errorf("entry %d logs repair application %q: %w", i, k.ref, err)
			}
			event = keys.ObjectEvent(audit.KindRepair, r.Subject, r)
		}
		if event != leaves[i].Event {
			return fmt.Errorf("%s %s differs from the event entry %d, the last to log it, logged", k.kind, k.ref, i)
		}
		rep.Decisions++
	}
	return nil
}

// hashDiff says where two blocks of hashes differ.
func hashDiff(want, got []byte) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d tree hashes stored, its entries make %d", len(got)/32, len(want)/32)
	}
	for i := 0; i < len(want); i += 32 {
		if !bytes.Equal(want[i:i+32], got[i:i+32]) {
			return fmt.Sprintf("stored tree hash %d of the block differs from the one its entries make", i/32)
		}
	}
	return "differs"
}

// expiries are, by the kind of entry they delete the rows of (check,
// access), the last expiry logged: every row up to last was deleted at the
// end of its retention, as entry says.
type expiries map[audit.Kind]struct{ last, entry int64 }

// add takes in the expiries among leaves, the first of which is entry
// first of the log.
func (x expiries) add(leaves []audit.Leaf, first int64) error {
	for i := range leaves {
		l := &leaves[i]
		if l.Kind != audit.KindExpiry {
			continue
		}
		table, id, _ := strings.Cut(l.Ref, ":")
		kind := map[string]audit.Kind{"checks": audit.KindCheck, "accesses": audit.KindAccess}[table]
		last, err := strconv.ParseInt(id, 10, 64)
		if kind == 0 || err != nil || last <= 0 {
			return fmt.Errorf("entry %d logs an expiry of %q: not a table and an id", first+int64(i), l.Ref)
		}
		if last > x[kind].last {
			x[kind] = struct{ last, entry int64 }{last, first + int64(i)}
		}
	}
	return nil
}

// since takes in the expiries appended to st's log from entry from on.
func (x expiries) since(ctx context.Context, st socred.Store, from int64) error {
	for {
		blocks, err := st.AuditBlocks(ctx, from, 1000)
		if err != nil {
			return err
		}
		if len(blocks) > 0 && blocks[0].First < from {
			blocks = blocks[1:] // holds entries read before
		}
		if len(blocks) == 0 {
			return nil
		}
		for _, b := range blocks {
			ls, err := audit.ParseLeaves(b.Leaves)
			if err != nil {
				return fmt.Errorf("block at entry %d: %w", b.First, err)
			}
			if err := x.add(ls, b.First); err != nil {
				return err
			}
			from = b.First + int64(len(ls))
		}
	}
}

// covers says whether the check or access l logs was deleted by an
// expiry.
func (x expiries) covers(l *audit.Leaf) bool {
	id, err := strconv.ParseInt(l.Ref, 10, 64)
	return err == nil && id <= x[l.Kind].last
}
