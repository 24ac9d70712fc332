package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/socred/socred"
)

// addNotices adds to w the notices of its records and events: every record
// stored about a subject, own or derived, and every change in a subject's
// standing is notified to the subject, in the same transaction. The changes
// a subject's one record in w made ride on that record's notice; the
// changes of several records together (a batch, or batches committed as
// one, with two records about one subject) and the others (a subject
// listed through a relation, a term that ended) make notices of their own,
// so that no record's notice claims what several did.
func (s *Service) addNotices(w *socred.Write) {
	// The events each record's notice carries: a subject's, on its only
	// record's notice. A subject's events come together in w.Events.
	last := make(map[string]int, len(w.Records)) // subject → its only record, or -1
	for i, r := range w.Records {
		if _, ok := last[r.Subject]; ok {
			last[r.Subject] = -1
			continue
		}
		last[r.Subject] = i
	}
	carried := make([][]socred.Event, len(w.Records))
	var others []int // the events of subjects without a record in w
	for k := 0; k < len(w.Events); {
		i, ok := last[w.Events[k].Subject]
		if !ok || i < 0 {
			others = append(others, k)
			k++
			continue
		}
		end := k + 1
		for end < len(w.Events) && w.Events[end].Subject == w.Events[k].Subject {
			end++
		}
		if carried[i] == nil {
			carried[i] = w.Events[k:end:end]
		} else {
			carried[i] = append(carried[i], w.Events[k:end]...)
		}
		k = end
	}
	w.Notices = slices.Grow(w.Notices, len(w.Records)+len(others))
	var buf []byte
	size := 0
	for i, r := range w.Records {
		name := ""
		if sc := s.pack.Scheme(r.Scheme); sc != nil {
			if rule := sc.Rule(r.Rule); rule != nil {
				name = rule.Name
			}
		}
		var n socred.Notice
		n, buf = socred.RecordNoticeWith(r, name, carried[i], buf)
		w.Notices = append(w.Notices, n)
		size += socred.NoticeBodySize(&n)
	}
	for _, k := range others {
		w.Notices = append(w.Notices, socred.EventNotice(w.Events[k]))
		size += socred.NoticeBodySize(&w.Notices[len(w.Notices)-1])
	}
	w.Deliver = s.delivering()
	// Encoded here, by the writer, not by the store under its lock, into
	// one buffer sized for them all.
	// A store that keeps records' leads once (socred.LeadKeeper) is given
	// the leads the bodies name, each once: a batch's records share a few.
	w.NoticeBodies = make([][]byte, len(w.Notices))
	w.NoticeLeads = w.NoticeLeads[:0]
	all := make([]byte, 0, size)
	for i := range w.Notices {
		var err error
		var lead socred.NoticeLead
		from := len(all)
		if s.leads != nil {
			all, lead, err = s.leads.AppendNotice(all, &w.Notices[i])
		} else {
			all, err = socred.AppendNotice(all, &w.Notices[i])
		}
		if err != nil {
			w.NoticeBodies, w.NoticeLeads = nil, nil // the store encodes them, and reports the error
			return
		}
		w.NoticeBodies[i] = all[from:len(all):len(all)]
		if lead.Ref != 0 && !namesLead(w, lead.Ref) {
			w.NoticeLeads = append(w.NoticeLeads, lead)
		}
	}
}

// namesLead reports whether w names the lead ref already: most often the
// last it named, as a batch's records come a reporter and rule at a time.
func namesLead(w *socred.Write, ref int64) bool {
	if n := len(w.NoticeLeads); n > 0 && w.NoticeLeads[n-1].Ref == ref {
		return true
	}
	return slices.ContainsFunc(w.NoticeLeads, func(l socred.NoticeLead) bool { return l.Ref == ref })
}

// Channel delivers notices to their subjects: a webhook, e-mail.
type Channel interface {
	// Name names the channel in logs.
	Name() string
	// Deliver delivers one notice, or fails; it may be called again for
	// the same notice, which the receiver recognises by its idempotency
	// key.
	Deliver(ctx context.Context, n *socred.Notice) error
}

func (s *Service) delivering() bool { return len(s.Channels) > 0 }

// noticesWritten wakes the deliverer after w, committed, left notices to
// deliver.
func (s *Service) noticesWritten(w *socred.Write) {
	if w.Deliver && len(w.Notices) > 0 {
		select {
		case s.noticeWake <- struct{}{}:
		default:
		}
	}
}

// NoticePoll is how often the deliverer looks for pending notices when
// nothing wakes it: notices written by other servers sharing the store.
const NoticePoll = time.Second

// deliver hands pending notices to every channel, oldest first, until ctx
// ends: at least once, retrying with backoff until each channel accepts
// them. The notices wait in the store, so deliveries survive restarts.
func (s *Service) deliver(ctx context.Context) {
	backoff := time.Duration(0)
	for {
		wait := NoticePoll
		if backoff > 0 {
			wait = backoff
		}
		select {
		case <-ctx.Done():
			return
		case <-s.noticeWake:
			if backoff > 0 {
				continue // keep backing off
			}
		case <-time.After(wait):
		}
		for {
			n, err := s.deliverPending(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				backoff = min(max(2*backoff, 100*time.Millisecond), time.Minute)
				s.log.Warn("notice delivery failed; retrying", "err", err, "in", backoff)
				break
			}
			backoff = 0
			if n < noticeBatch {
				break
			}
		}
	}
}

// noticeBatch is how many notices one round of delivery takes.
const noticeBatch = 100

// deliverPending delivers one batch of pending notices and returns how many
// it delivered.
func (s *Service) deliverPending(ctx context.Context) (int, error) {
	pending, err := s.store.PendingNotices(ctx, noticeBatch)
	if err != nil {
		return 0, err
	}
	var done []int64
	var failed error
	for i := range pending {
		n := &pending[i]
		for _, ch := range s.Channels {
			if err := ch.Deliver(ctx, n); err != nil {
				failed = fmt.Errorf("%s: notice %d: %w", ch.Name(), n.ID, err)
				break
			}
		}
		if failed != nil {
			break
		}
		done = append(done, n.ID)
	}
	if len(done) > 0 {
		if err := s.store.MarkDelivered(ctx, done); err != nil {
			return 0, err
		}
	}
	return len(done), failed
}

// Webhook delivers notices as JSON POSTs to a URL: the notice as the body,
// its idempotency key in the Idempotency-Key header. Any 2xx answer
// acknowledges it.
type Webhook struct {
	URL    string
	Client *http.Client // default: a client with a 10 s timeout
}

func (w *Webhook) Name() string { return "webhook" }

func (w *Webhook) Deliver(ctx context.Context, n *socred.Notice) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", n.IdempotencyKey())
	client := w.Client
	if client == nil {
		client = webhookClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // #nosec G104 -- drained only so the connection can be reused; the status decides
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", w.URL, resp.Status)
	}
	return nil
}

var webhookClient = &http.Client{Timeout: 10 * time.Second}
