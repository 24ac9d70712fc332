package socred

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The change feed lets several servers share one store. Every write that
// changes what the world holds (subjects, relations, records, designations,
// the settled time) is numbered: a server commits change n only if the last
// change stored is n-1, and otherwise catches up on the changes stored
// since and plans its write again. Every server tails the feed to keep its
// in-memory world current. Checks, accesses and tokens are not changes.

// FeedRetention is how long a store keeps changes: enough for a running
// server that fell behind to catch up. A server that starts loads the
// state itself.
const FeedRetention = 24 * time.Hour

// ErrStale is the error of a Commit whose Seq does not follow the last
// change stored: another server changed the world first.
var ErrStale = errors.New("store: another server changed the world first")

// Change is one entry of the change feed: what one write did to the world.
type Change struct {
	Seq      int64
	At       time.Time
	Subjects []*Subject
	Relate   []Relation
	Unrelate []Relation
	// Records are the records written, own and derived, by id.
	Records      []RecordRef
	Designations []*Designation
	// Overturn names the records an appeal overturned, Suspend those
	// suspended by an overdue review, Reinstate those it reinstated.
	Overturn  []RecordRef
	Suspend   []RecordRef
	Reinstate []RecordRef
	Settled   *time.Time
	// Due and DueSubjects: the time-driven changes of the subjects that
	// fell due by Due were applied.
	Due         *time.Time
	DueSubjects []string
}

// RecordRef names a stored record: its id and its subject, by which the
// stores partition records.
type RecordRef struct {
	ID      int64
	Subject string
}

// changeBody is a Change as the stores keep it.
type changeBody struct {
	Subjects     []*Subject     `json:"subjects,omitempty"`
	Relate       []Relation     `json:"relate,omitempty"`
	Unrelate     []Relation     `json:"unrelate,omitempty"`
	Records      *refList       `json:"records,omitempty"`
	Designations []*Designation `json:"designations,omitempty"`
	Overturn     *refList       `json:"overturn,omitempty"`
	Suspend      *refList       `json:"suspend,omitempty"`
	Reinstate    *refList       `json:"reinstate,omitempty"`
	Settled      *time.Time     `json:"settled,omitempty"`
	Due          *time.Time     `json:"due,omitempty"`
	DueSubjects  []string       `json:"due_subjects,omitempty"`
}

// refList is a list of RecordRefs as two parallel arrays, which is
// compact in JSON.
type refList struct {
	IDs      []int64  `json:"ids"`
	Subjects []string `json:"subjects"`
}

func newRefList(refs []RecordRef) *refList {
	if len(refs) == 0 {
		return nil
	}
	l := &refList{IDs: make([]int64, len(refs)), Subjects: make([]string, len(refs))}
	for i, r := range refs {
		l.IDs[i], l.Subjects[i] = r.ID, r.Subject
	}
	return l
}

func (l *refList) refs() ([]RecordRef, error) {
	if l == nil {
		return nil, nil
	}
	if len(l.IDs) != len(l.Subjects) {
		return nil, fmt.Errorf("%d record ids but %d subjects", len(l.IDs), len(l.Subjects))
	}
	refs := make([]RecordRef, len(l.IDs))
	for i, id := range l.IDs {
		refs[i] = RecordRef{ID: id, Subject: l.Subjects[i]}
	}
	return refs, nil
}

// ChangeBody encodes what w changes for the feed, or returns the body its
// writer made (w.ChangeBody).
func ChangeBody(w *Write) ([]byte, error) {
	if w.ChangeBody != nil {
		return w.ChangeBody, nil // made by the writer
	}
	recs := make([]RecordRef, len(w.Records))
	for i, r := range w.Records {
		id, err := strconv.ParseInt(r.ID, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("record id %q: %w", r.ID, err)
		}
		recs[i] = RecordRef{ID: id, Subject: r.Subject}
	}
	return json.Marshal(changeBody{
		Subjects: w.Subjects, Relate: w.Relate, Unrelate: w.Unrelate, Designations: w.Designations,
		Records: newRefList(recs), Overturn: newRefList(w.Overturn), Suspend: newRefList(w.Suspend), Reinstate: newRefList(w.Reinstate),
		Settled: w.Settled, Due: w.Due, DueSubjects: w.DueSubjects,
	})
}

// DecodeChange makes a Change of a stored body.
func DecodeChange(seq int64, at time.Time, body []byte) (Change, error) {
	var b changeBody
	if err := json.Unmarshal(body, &b); err != nil {
		return Change{}, fmt.Errorf("change %d: %w", seq, err)
	}
	c := Change{Seq: seq, At: at, Subjects: b.Subjects, Relate: b.Relate, Unrelate: b.Unrelate, Designations: b.Designations, Settled: b.Settled,
		Due: b.Due, DueSubjects: b.DueSubjects}
	for _, l := range []struct {
		in  *refList
		out *[]RecordRef
	}{{b.Records, &c.Records}, {b.Overturn, &c.Overturn}, {b.Suspend, &c.Suspend}, {b.Reinstate, &c.Reinstate}} {
		refs, err := l.in.refs()
		if err != nil {
			return Change{}, fmt.Errorf("change %d: %w", seq, err)
		}
		*l.out = refs
	}
	return c, nil
}

// ChangeWatcher is a store that can tell when a change was stored, so that
// servers need not wait for their next poll of the feed (PostgreSQL's
// LISTEN/NOTIFY). The feed itself never depends on it.
type ChangeWatcher interface {
	// WatchChanges sends on the channel, without blocking, whenever a
	// change may have been stored, until ctx ends; then it closes it.
	WatchChanges(ctx context.Context) <-chan struct{}
}

// FeedHeader is a store that several servers share: FeedHead returns the
// number of the last change stored, by any of them, so that a server can
// take every change acknowledged before a read before it answers it.
type FeedHeader interface {
	FeedHead(ctx context.Context) (int64, error)
}

// TurnTaker is a store that lets servers take turns at writing changes: a
// server that holds the turn commits without another server's change
// slipping in between, so that under a load from several servers none of
// them keeps finding its writes stale.
type TurnTaker interface {
	// TakeTurn waits for the turn and returns the function that gives it
	// up. A server that holds it and dies gives it up with its connection.
	TakeTurn(ctx context.Context) (release func(), err error)
}
