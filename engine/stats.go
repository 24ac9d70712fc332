package engine

import "time"

// GradeCounts counts subjects by grade in each scheme at now: scheme →
// grade → subjects ("" for a scheme without grades). It reads every
// subject, so callers should not ask often.
func (w *World) GradeCounts(now time.Time) map[string]map[string]int {
	e := w.e
	n := now.UnixNano()
	out := make(map[string]map[string]int, len(e.schemes))
	for _, sc := range e.schemes {
		out[sc.ID] = map[string]int{}
	}
	for _, ent := range w.subjects {
		ent = e.current(ent, n)
		if ent == nil {
			continue
		}
		for p, si := range ent.scope {
			out[e.schemes[si].ID][ent.scores[p].grade]++
		}
	}
	return out
}
