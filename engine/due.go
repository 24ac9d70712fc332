package engine

import (
	"container/heap"
	"math"
	"time"
)

// dueSlot is a subject's place in the world's schedule of time-driven
// changes. Every version of a subject's Entry shares one slot.
type dueSlot struct {
	subject string
	at      int64
	index   int // position in the heap, -1 when not scheduled
}

// dueHeap is a min-heap of slots by time.
type dueHeap []*dueSlot

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	s := x.(*dueSlot)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *dueHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.index = -1
	return s
}

func heapInit(h *dueHeap) { heap.Init(h) }

// set schedules the slot at t, or unschedules it when t is never.
func (h *dueHeap) set(s *dueSlot, t int64) {
	switch {
	case t == never && s.index >= 0:
		heap.Remove(h, s.index)
	case t == never:
	case s.index >= 0:
		s.at = t
		heap.Fix(h, s.index)
	default:
		s.at = t
		heap.Push(h, s)
	}
}

// due appends to ids up to limit subjects scheduled at or before now,
// without changing the heap.
func (h dueHeap) due(ids []string, now int64, limit int) []string {
	stack := []int{0}
	for len(stack) > 0 && len(ids) < limit {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(h) || h[i].at > now {
			continue
		}
		ids = append(ids, h[i].subject)
		stack = append(stack, 2*i+2, 2*i+1)
	}
	return ids
}

// NextDue returns the earliest moment any subject's state changes by time
// alone, and false when none is scheduled.
func (w *World) NextDue() (time.Time, bool) {
	if len(w.due) == 0 {
		return time.Time{}, false
	}
	return ts(w.due[0].at), true
}

// PlanDue plans the time-driven changes of about limit subjects that fell
// due at or before now, and returns the moment up to which the plan settles
// the world: now when at most limit subjects are due by now, else the
// moment the limit-th earliest fell due. Every subject due by that moment
// is in the plan (those due at the same moment as the limit-th too, so a
// plan may hold more than limit), and none due later, so that a store that
// keeps the moment as its settled time is exact about what was applied.
// Each change is evaluated at the moment it fell due, so a catch-up after
// downtime dates every event exactly.
func (w *World) PlanDue(now time.Time, limit int) (*Plan, time.Time, error) {
	if limit <= 0 {
		limit = math.MaxInt - 1
	}
	through := now
	ids := w.due.due(nil, now.UnixNano(), limit+1)
	if len(ids) > limit {
		through = w.dueCut(now, limit)
		ids = w.due.due(ids[:0], through.UnixNano(), math.MaxInt)
	}
	pl := newPlanner(w, through, nil)
	for _, id := range ids {
		if _, err := pl.entry(id); err != nil {
			return nil, through, err
		}
	}
	pl.finish()
	return pl.p, through, nil
}

// dueCut returns the moment the limit-th earliest slot falls due, rounded
// up to a whole microsecond (the finest time a store keeps), or now if that
// is later. More than limit slots are due by now.
func (w *World) dueCut(now time.Time, limit int) time.Time {
	at := w.due.kth(limit)
	if r := at % int64(time.Microsecond); r != 0 {
		at += int64(time.Microsecond) - r
	}
	if at >= now.UnixNano() {
		return now
	}
	return ts(at)
}

// kth returns the time of the k-th earliest slot (k from 1, at most the
// heap's size), visiting O(k log k) slots: the next earliest is always the
// root or a child of one taken before.
func (h dueHeap) kth(k int) int64 {
	frontier := &indexHeap{h: h, ix: []int{0}}
	var at int64
	for range k {
		i := heap.Pop(frontier).(int)
		at = h[i].at
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(h) {
				heap.Push(frontier, c)
			}
		}
	}
	return at
}

// indexHeap is a min-heap of positions in a dueHeap, by their slots' times.
type indexHeap struct {
	h  dueHeap
	ix []int
}

func (x *indexHeap) Len() int           { return len(x.ix) }
func (x *indexHeap) Less(i, j int) bool { return x.h[x.ix[i]].at < x.h[x.ix[j]].at }
func (x *indexHeap) Swap(i, j int)      { x.ix[i], x.ix[j] = x.ix[j], x.ix[i] }
func (x *indexHeap) Push(v any)         { x.ix = append(x.ix, v.(int)) }
func (x *indexHeap) Pop() any {
	v := x.ix[len(x.ix)-1]
	x.ix = x.ix[:len(x.ix)-1]
	return v
}
