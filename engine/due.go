package engine

import (
	"container/heap"
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

// PlanDue plans the time-driven changes of up to limit subjects that fell
// due at or before now. Each change is evaluated at the moment it fell due,
// so a catch-up after downtime dates every event exactly.
func (w *World) PlanDue(now time.Time, limit int) (*Plan, error) {
	ids := w.due.due(nil, now.UnixNano(), limit)
	pl := newPlanner(w, now, nil)
	for _, id := range ids {
		if _, err := pl.entry(id); err != nil {
			return nil, err
		}
	}
	pl.finish()
	return pl.p, nil
}
