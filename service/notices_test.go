package service_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
	"github.com/socred/socred/service"
	"github.com/socred/socred/sqlite"
)

// receiver is a webhook that records the notices it acknowledged, by
// idempotency key, and fails while failing is set.
type receiver struct {
	mu      sync.Mutex
	got     map[string]socred.Notice
	posts   int
	failing bool
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posts++
	if r.failing {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var n socred.Notice
	if err := json.NewDecoder(req.Body).Decode(&n); err != nil || req.Header.Get("Idempotency-Key") != n.IdempotencyKey() {
		http.Error(w, "bad notice", http.StatusBadRequest)
		return
	}
	r.got[req.Header.Get("Idempotency-Key")] = n
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *receiver) setFailing(f bool) {
	r.mu.Lock()
	r.failing = f
	r.mu.Unlock()
}

func openWithWebhook(t *testing.T, path, url string, c *clock) (*service.Service, *sqlite.Store) {
	t.Helper()
	p, _, err := pack.Load(packs.Example)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(store, p)
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = c.Now
	svc.Channels = []service.Channel{&service.Webhook{URL: url}}
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	return svc, store
}

// Every record, change in standing and denied check makes a notice in the
// subject's file, delivered to the webhook at least once, retried while
// the webhook fails, and across a restart; by their idempotency keys the
// receiver has each exactly once.
func TestNoticesDelivered(t *testing.T) {
	rcv := &receiver{got: map[string]socred.Notice{}, failing: true}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	path := filepath.Join(t.TempDir(), "socred.db")
	c := &clock{t: t0}
	svc, store := openWithWebhook(t, path, hook.URL, c)
	setup(t, svc)
	if _, err := svc.Relate(ctx, admin, socred.Relation{From: "zhao", Type: "guarantor-of", To: "wang"}); err != nil {
		t.Fatal(err)
	}
	// wang defaults on a loan; zhao, his guarantor, is liable too.
	if _, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "loan-1", Subject: "wang", Scheme: "rongcheng", Rule: "loan-default", OccurredAt: t0}}); err != nil {
		t.Fatal(err)
	}
	if allowed(t, svc, "wang", "ride-high-speed-train") {
		t.Fatal("wang may ride high-speed trains after the default")
	}
	f, err := svc.File(ctx, admin, "zhao", "test")
	if err != nil {
		t.Fatal(err)
	}
	kinds := noticeKinds(f.Notices)
	if !kinds[socred.NoticeRecordDerived] || !kinds[socred.NoticeKind(socred.EventScoreChanged)] {
		t.Errorf("zhao's notices: got %+v, want the derived record and the score change", f.Notices)
	}
	f, err = svc.File(ctx, admin, "wang", "test")
	if err != nil {
		t.Fatal(err)
	}
	kinds = noticeKinds(f.Notices)
	for _, k := range []socred.NoticeKind{socred.NoticeRecordAccepted, socred.NoticeKind(socred.EventScoreChanged), socred.NoticeKind(socred.EventListed), socred.NoticeCheckDenied} {
		if !kinds[k] {
			t.Errorf("wang's notices lack %s: %+v", k, f.Notices)
		}
	}
	total := 0
	for _, id := range []string{"wang", "zhao", "acme"} {
		ns, err := store.Notices(ctx, id, socred.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		total += len(ns)
	}

	// The webhook is down: nothing is acknowledged, and the service keeps
	// trying. Then the server restarts, and the webhook comes back.
	time.Sleep(300 * time.Millisecond)
	if n := rcv.count(); n != 0 {
		t.Fatalf("the failing webhook acknowledged %d notices", n)
	}
	rcv.mu.Lock()
	posts := rcv.posts
	rcv.mu.Unlock()
	if posts < 2 {
		t.Errorf("the service tried the failing webhook %d times, want retries", posts)
	}
	closeAll(t, svc, store)
	rcv.setFailing(false)
	svc, store = openWithWebhook(t, path, hook.URL, c)
	defer closeAll(t, svc, store)
	deadline := time.Now().Add(5 * time.Second)
	for rcv.count() < total && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := rcv.count(); n != total {
		t.Fatalf("delivered %d notices, want %d", n, total)
	}
	for key, n := range rcv.got {
		if key != "notice-"+strconv.FormatInt(n.ID, 10) || n.Message == "" || n.Subject == "" {
			t.Errorf("delivered %s: %+v", key, n)
		}
	}
	// Each is marked delivered once acknowledged.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		p, err := store.PendingNotices(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still pending after delivery: %+v", p)
		}
	}
}

// noticeKinds returns the kinds of the notices and of the events they
// carry.
func noticeKinds(ns []socred.Notice) map[socred.NoticeKind]bool {
	kinds := map[socred.NoticeKind]bool{}
	for _, n := range ns {
		kinds[n.Kind] = true
		for _, e := range n.Events {
			kinds[socred.NoticeKind(e.Kind)] = true
		}
	}
	return kinds
}
