package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// failingStore fails its n-th write after it is armed (writes before —
// the service's start — pass), and every write after the n-th passes.
type failingStore struct {
	*fakeStore
	mu     sync.Mutex
	armed  bool
	writes int
	n      int
	failed bool
}

var errInjected = errors.New("injected write failure")

func (s *failingStore) Commit(ctx context.Context, w *socred.Write) error {
	s.mu.Lock()
	if s.armed {
		s.writes++
		if s.writes == s.n {
			s.failed = true
			s.mu.Unlock()
			return errInjected
		}
	}
	s.mu.Unlock()
	return s.fakeStore.Commit(ctx, w)
}

// faultOp is one request of the fault scenario and what it does to the
// model when acknowledged.
type faultOp struct {
	method, path, as string
	body             any
	apply            func(m *faultModel)
}

type faultModel struct {
	subjects   map[string]bool
	points     map[string]int64 // subject → points of its counting records
	designated map[string]bool
}

// The fault-injection test: for n = 1..200 (every tenth with -short) the
// n-th write to the store fails. Nothing is acknowledged that was not stored — the request that
// needed the failed write gets a 5xx, the others a 2xx — and the state
// afterwards, read over the API, equals a model that applied exactly the
// acknowledged requests.
func TestFaultInjection(t *testing.T) {
	now := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	day := now.Add(-24 * time.Hour).Format(time.RFC3339)
	// A round of requests, each needing at least one write; the rounds
	// repeat with their own subjects and keys until more than 200 writes
	// were made, so that every n falls on one.
	round := func(r int) []faultOp {
		f1, f2 := fmt.Sprintf("f1-%d", r), fmt.Sprintf("f2-%d", r)
		key := func(k string) string { return fmt.Sprintf("%s-%d", k, r) }
		return []faultOp{
			{"PUT", "/v1/subjects/" + f1, asAuthority, map[string]any{"kind": "person", "name": "F1", "region": "rongcheng"}, func(m *faultModel) { m.subjects[f1] = true }},
			{"PUT", "/v1/subjects/" + f2, asAuthority, map[string]any{"kind": "person", "name": "F2", "region": "rongcheng"}, func(m *faultModel) { m.subjects[f2] = true }},
			{"POST", "/v1/records", asAuthority, records(
				map[string]any{"key": key("fk1"), "subject": "zhang", "scheme": "city", "rule": "red-light", "occurred_at": day},
				map[string]any{"key": key("fk2"), "subject": "li", "scheme": "city", "rule": "blood", "occurred_at": day},
			), func(m *faultModel) { m.points["zhang"] -= 5; m.points["li"] += 5 }},
			{"POST", "/v1/checks", asProvider, map[string]any{"subject": "zhang", "action": "ride-train"}, nil},
			{"POST", "/v1/lists/defaulters/entries", asAuthority, map[string]any{"subject": "acme-co", "reason": "unpaid"}, func(m *faultModel) { m.designated["acme-co"] = true }},
			{"POST", "/v1/records", asAuthority, records(
				map[string]any{"key": key("fk3"), "subject": "li", "scheme": "city", "rule": "loan-default", "occurred_at": day},
			), func(m *faultModel) { m.points["li"] -= 50; m.points["zhang"] -= 45 }}, // zhang guarantees li
			{"GET", "/v1/subjects/li/file?purpose=review", asReviewer, nil, nil},
			{"POST", "/v1/checks", asProvider, map[string]any{"subject": "li", "action": "ride-train"}, nil},
			{"DELETE", "/v1/lists/defaulters/entries/acme-co", asAuthority, map[string]any{"reason": "paid"}, func(m *faultModel) { m.designated["acme-co"] = false }},
			{"POST", "/v1/records", asAuthority, records(
				map[string]any{"key": key("fk4"), "subject": f1, "scheme": "city", "rule": "blood", "occurred_at": day},
			), func(m *faultModel) { m.points[f1] += 5 }},
		}
	}
	injected, runs, step := 0, 0, 1
	if testing.Short() {
		step = 10 // the race detector's run: every tenth n
	}
	for n := 1; n <= 200; n += step {
		runs++
		store := &failingStore{fakeStore: newFakeStore(), n: n}
		clock := &testClock{t: now}
		f := newFixtureAt(t, store, clock.Now)
		store.mu.Lock()
		store.armed = true
		store.mu.Unlock()
		m := &faultModel{subjects: map[string]bool{}, points: map[string]int64{}, designated: map[string]bool{}}
		var subjects []string
		for r := 0; ; r++ {
			store.mu.Lock()
			writes := store.writes
			store.mu.Unlock()
			if writes > 200 {
				break
			}
			subjects = append(subjects, fmt.Sprintf("f1-%d", r), fmt.Sprintf("f2-%d", r))
			for _, op := range round(r) {
				// Requests whose precondition a failed write took away: a
				// subject never registered, acme-co never designated.
				if op.path == "/v1/records" {
					if sub := op.body.(map[string]any)["records"].([]map[string]any)[0]["subject"].(string); sub != "zhang" && sub != "li" && !m.subjects[sub] {
						continue
					}
				}
				if op.path == "/v1/lists/defaulters/entries" && m.designated["acme-co"] ||
					op.method == "DELETE" && !m.designated["acme-co"] {
					continue
				}
				res := f.do(op.method, op.path, op.as, op.body)
				switch {
				case res.Code < 300:
					if op.apply != nil {
						op.apply(m)
					}
				case res.Code >= 500:
					// The failed write: nothing of it may show below.
				default:
					t.Fatalf("n=%d: %s %s: %d %s", n, op.method, op.path, res.Code, res.Body)
				}
			}
		}
		store.mu.Lock()
		failed := store.failed
		store.armed = false // the reads below log accesses: they may not fail
		store.mu.Unlock()
		if failed {
			injected++
		}
		// The state, as the API shows it, is the model's.
		for _, s := range append([]string{"zhang", "li", "acme-co"}, subjects...) {
			res := f.do("GET", "/v1/subjects/"+s+"/file", asAdmin, nil)
			if s != "zhang" && s != "li" && s != "acme-co" && !m.subjects[s] {
				if res.Code != http.StatusNotFound {
					t.Fatalf("n=%d: %s was not acknowledged, but its file answers %d", n, s, res.Code)
				}
				continue
			}
			if res.Code != http.StatusOK {
				t.Fatalf("n=%d: file of %s: %d %s", n, s, res.Code, res.Body)
			}
			var file service.File
			res.decode(&file)
			if s != "acme-co" {
				if got, want := file.Scores[0].Score, 1000+m.points[s]; got != want {
					t.Fatalf("n=%d: %s scores %d, want %d from the acknowledged records", n, s, got, want)
				}
			}
			onDefaulters := false
			for _, l := range file.Listings {
				onDefaulters = onDefaulters || l.List == "defaulters"
			}
			if onDefaulters != m.designated[s] {
				t.Fatalf("n=%d: %s on the defaulters' list %v, want %v", n, s, onDefaulters, m.designated[s])
			}
		}
		f.svc.Close(context.Background())
	}
	if injected != runs {
		t.Errorf("%d of %d runs had their failure injected, want all", injected, runs)
	}
}
