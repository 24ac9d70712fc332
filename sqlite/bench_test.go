package sqlite_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
	"github.com/socred/socred/sqlite"
	"github.com/socred/socred/storetest"
)

// records returns n records numbered from first, spread over 10,000
// subjects the way reporters' batches are.
func records(first, n int) []*socred.Record {
	out := make([]*socred.Record, n)
	for i := range out {
		id := first + i
		out[i] = &socred.Record{ID: strconv.Itoa(id), Key: "k" + strconv.Itoa(id), Subject: "s" + strconv.Itoa(id*7919%10_000),
			Scheme: "city", Rule: "red-light", Points: -5, OccurredAt: t0, CountsUntil: t0.AddDate(1, 0, 0),
			Reporter: "city", Evidence: "camera 7", AcceptedAt: t0.Add(time.Minute)}
	}
	return out
}

// BenchmarkCommitRecords commits writes of 1,000 records each, as the
// service's group commit does under load: the records alone, and with an
// audit entry each whose leaf the store hashes, or that comes hashed.
func BenchmarkCommitRecords(b *testing.B) {
	for _, audited := range []string{"none", "hashed-by-store", "hashed-before"} {
		b.Run("audit="+audited, func(b *testing.B) {
			commitBatches(b, func(s *sqlite.Store, next, batch int) *socred.Write {
				w := &socred.Write{Now: t0, Records: records(next, batch)}
				if audited != "none" {
					for i, r := range w.Records {
						e := socred.AuditEntry{Kind: audit.KindRecord, Ref: r.ID, Event: [32]byte{byte(i), byte(i >> 8)}}
						if audited == "hashed-before" {
							e.Leaf = (&audit.Leaf{Kind: e.Kind, Ref: e.Ref, Event: e.Event}).Hash()
						}
						w.Audit = append(w.Audit, e)
					}
				}
				return w
			})
		})
	}
}

// commitBatches commits writes of 1,000 records that write makes, timing
// the commits alone, and reports their wall time a record.
func commitBatches(b *testing.B, write func(s *sqlite.Store, next, batch int) *socred.Write) {
	const batch = 1000
	s := mustOpen(b, filepath.Join(b.TempDir(), "socred.db"))
	defer s.Close()
	next := 1
	for b.Loop() {
		b.StopTimer()
		w := write(s, next, batch)
		b.StartTimer()
		if err := s.Commit(ctx, w); err != nil {
			b.Fatal(err)
		}
		next += batch
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(next-1)/1000, "µs/record")
}

// BenchmarkCommitRecordNotices commits writes of 1,000 records with a
// notice each, encoded before the commit as the service encodes them: with
// their leads spelt out, and with their leads kept once
// (socred.NoticeLeads).
func BenchmarkCommitRecordNotices(b *testing.B) {
	for _, form := range []string{"spelt-out", "leads"} {
		b.Run("notices="+form, func(b *testing.B) {
			commitBatches(b, func(s *sqlite.Store, next, batch int) *socred.Write {
				w := &socred.Write{Now: t0, Records: records(next, batch)}
				var all []byte
				for _, r := range w.Records {
					e := socred.Event{Kind: socred.EventScoreChanged, Subject: r.Subject, At: r.AcceptedAt, Scheme: r.Scheme, OldScore: 1000, NewScore: 995}
					n, _ := socred.RecordNoticeWith(r, "Crossing or driving against a red light", []socred.Event{e}, nil)
					w.Notices = append(w.Notices, n)
					from := len(all)
					var err error
					if form == "leads" {
						var lead socred.NoticeLead
						all, lead, err = s.NoticeLeads().AppendNotice(all, &n)
						if len(w.NoticeLeads) == 0 {
							w.NoticeLeads = append(w.NoticeLeads, lead)
						}
					} else {
						all, err = socred.AppendNotice(all, &n)
					}
					if err != nil {
						b.Fatal(err)
					}
					w.NoticeBodies = append(w.NoticeBodies, all[from:len(all):len(all)])
				}
				return w
			})
		})
	}
}

// BenchmarkLoad scans a database of 1M records through Load.
func BenchmarkLoad(b *testing.B) {
	const n, batch = 1_000_000, 10_000
	path := filepath.Join(b.TempDir(), "socred.db")
	s := mustOpen(b, path)
	for first := 1; first <= n; first += batch {
		if err := s.Commit(ctx, &socred.Write{Now: t0, Records: records(first, batch)}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.MergeIndexes(ctx); err != nil {
		b.Fatal(err)
	}
	s.Close()
	s = mustOpen(b, path)
	defer s.Close()
	for b.Loop() {
		var l storetest.CountingLoader
		if err := s.Load(ctx, &l); err != nil {
			b.Fatal(err)
		}
		if l.Records.Load() != int64(n) {
			b.Fatalf("loaded %d records, want %d", l.Records.Load(), n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkCommitChecks commits groups of checks as the service's journal
// does under load: each group with its checks' audit entries, and a notice
// for each denial (one in ten). It reports the time and the bytes written
// to the log per commit.
func BenchmarkCommitChecks(b *testing.B) {
	for _, group := range []int{1, 8, 22, 64} {
		b.Run("group="+strconv.Itoa(group), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "socred.db")
			s := mustOpen(b, path)
			defer s.Close()
			keys := socred.AuditKeys{Salt: []byte("salt")}
			n := 0
			for b.Loop() {
				if err := s.Commit(ctx, sqlite.BenchChecks(&keys, t0, group, &n)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "checks/s")
		})
	}
}

// BenchmarkRead reads a subject from several goroutines at once, each read
// with a context that can end, as a request's can.
func BenchmarkRead(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "socred.db"))
	defer s.Close()
	if err := s.Commit(ctx, &socred.Write{Now: t0, Subjects: []*socred.Subject{{ID: "s1", Kind: socred.Person, Name: "Zhang"}}}); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rctx, cancel := context.WithCancel(ctx)
			if _, err := s.Subject(rctx, "s1"); err != nil {
				b.Fatal(err)
			}
			cancel()
		}
	})
}
