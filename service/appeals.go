package service

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// AppealInput is a subject's appeal: of a record (its id) or of its entry
// on a designated list (the list's id), with a statement.
type AppealInput struct {
	Subject   string `json:"subject"` // for the admin filing on a subject's behalf
	Record    string `json:"record"`
	List      string `json:"list"`
	Statement string `json:"statement"`
}

// DecisionInput is a reviewer's decision on an appeal.
type DecisionInput struct {
	Decision socred.AppealStatus `json:"decision"` // overturned or upheld
	Reasons  string              `json:"reasons"`
}

// Notice kinds of appeals.
const (
	NoticeAppealFiled   socred.NoticeKind = "appeal-filed"
	NoticeAppealDecided socred.NoticeKind = "appeal-decided"
)

// FileAppeal files a subject's appeal of a record or a designated listing
// of theirs, within the scheme's or list's appeal_within of the notice (the
// record's acceptance, the listing's start). While it is open the record
// shows as contested.
func (s *Service) FileAppeal(ctx context.Context, c *socred.Caller, in AppealInput) (*socred.Appeal, error) {
	switch c.Role() {
	case socred.RoleSubject:
		if in.Subject != "" && in.Subject != c.Token.Subject {
			return nil, forbidden("a subject token may appeal only for its own subject")
		}
		in.Subject = c.Token.Subject
	case socred.RoleAdmin:
		if in.Subject == "" {
			return nil, socred.FieldErrorf("subject", "is required when the admin files an appeal")
		}
		s.mu.RLock()
		known := s.world.Entry(in.Subject) != nil
		s.mu.RUnlock()
		if !known {
			return nil, socred.FieldErrorf("subject", "unknown subject %q", in.Subject)
		}
	default:
		return nil, forbidden("")
	}
	switch {
	case strings.TrimSpace(in.Statement) == "":
		return nil, socred.FieldErrorf("statement", "is required: say why the entry is wrong")
	case len(in.Statement) > 4000 || !socred.ValidText(in.Statement, true):
		return nil, socred.FieldErrorf("statement", "must be at most 4000 bytes of "+socred.TextRule)
	case (in.Record == "") == (in.List == ""):
		return nil, socred.FieldErrorf("record", "give either record (a record's id) or list (a designated list's id)")
	}
	now := s.now()
	a := &socred.Appeal{ID: newID("apl"), Subject: in.Subject, Statement: in.Statement, FiledAt: now, Status: socred.AppealOpen}
	var since time.Time
	var within, review socred.Duration
	if in.Record != "" {
		r, err := s.subjectRecord(ctx, in.Subject, in.Record)
		if err != nil {
			return nil, err
		}
		if r.Overturned {
			return nil, socred.Errorf(socred.ECONFLICT, "record %s was overturned already", r.ID)
		}
		sc := s.pack.Scheme(r.Scheme)
		if sc == nil {
			return nil, socred.Errorf(socred.ECONFLICT, "record %s belongs to scheme %q, which is no longer in force", r.ID, r.Scheme)
		}
		a.Record, since, within, review = r.ID, r.AcceptedAt, sc.AppealWithin, sc.ReviewWithin
	} else {
		l := s.pack.List(in.List)
		if l == nil || !l.Designated {
			return nil, socred.FieldErrorf("list", "%q is not a designated list (an automatic list follows the records: appeal those)", in.List)
		}
		d, err := s.store.ActiveDesignation(ctx, l.ID, in.Subject, now)
		if err != nil {
			if isNotFound(err) {
				return nil, s.notOnList(in.Subject, l.ID, now)
			}
			return nil, err
		}
		a.List, a.Designation, since, within, review = l.ID, d.ID, d.Since, l.AppealWithin, l.ReviewWithin
	}
	if deadline := within.AddTo(since); now.After(deadline) {
		field := "record"
		if in.Record == "" {
			field = "list"
		}
		return nil, socred.FieldErrorf(field, "the time to appeal (%s from %s) ended on %s", within, since.Format("2006-01-02"), deadline.Format("2006-01-02"))
	}
	a.ReviewDue = review.AddTo(now)
	prior, err := s.store.SubjectAppeals(ctx, in.Subject)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(prior, func(p *socred.Appeal) bool { return p.Status == socred.AppealOpen && p.Target() == a.Target() }); i >= 0 {
		return nil, socred.Errorf(socred.ECONFLICT, "appeal %s of the same entry is open", prior[i].ID)
	}
	n := socred.Notice{Subject: a.Subject, At: now, Kind: NoticeAppealFiled, Record: a.Record, List: a.List,
		Message: fmt.Sprintf("Your appeal %s was filed; a reviewer is to decide by %s.", a.ID, a.ReviewDue.Format("2006-01-02"))}
	w := &socred.Write{Now: now, Appeals: []*socred.Appeal{a}, Notices: []socred.Notice{n}, Deliver: s.delivering()}
	if err := s.commitLogged(ctx, w); err != nil {
		return nil, err
	}
	s.noticesWritten(w)
	return a, nil
}

// subjectRecord returns one of the subject's records by id.
func (s *Service) subjectRecord(ctx context.Context, subject, id string) (*socred.Record, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, socred.FieldErrorf("record", "%q is not a record id", id)
	}
	recs, err := s.store.RecordsByRef(ctx, []socred.RecordRef{{ID: n, Subject: subject}})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || recs[0].Subject != subject {
		return nil, socred.FieldErrorf("record", "subject %q has no record %s", subject, id)
	}
	return recs[0], nil
}

// DecideAppeal records a reviewer's decision. A reviewer may not decide on
// an entry made by their own authority, nor again on an entry they decided
// before. An overturned record stops counting everywhere at once, with the
// records derived from it by joint liability; an overturned listing ends.
func (s *Service) DecideAppeal(ctx context.Context, c *socred.Caller, id string, in DecisionInput) (*socred.Appeal, error) {
	if !c.Is(socred.RoleReviewer, socred.RoleAdmin) {
		return nil, forbidden("")
	}
	switch {
	case in.Decision != socred.AppealOverturned && in.Decision != socred.AppealUpheld:
		return nil, socred.FieldErrorf("decision", "must be overturned or upheld")
	case strings.TrimSpace(in.Reasons) == "":
		return nil, socred.FieldErrorf("reasons", "are required: the subject is told them")
	case len(in.Reasons) > 4000 || !socred.ValidText(in.Reasons, true):
		return nil, socred.FieldErrorf("reasons", "must be at most 4000 bytes of "+socred.TextRule)
	}
	var decided *socred.Appeal
	err := s.locked(ctx, func() error {
		a, err := s.store.Appeal(ctx, id)
		if err != nil {
			return err
		}
		if a.Status != socred.AppealOpen {
			return socred.Errorf(socred.ECONFLICT, "appeal %s was decided already: %s", a.ID, a.Status)
		}
		prior, err := s.store.SubjectAppeals(ctx, a.Subject)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(prior, func(p *socred.Appeal) bool {
			return p.ID != a.ID && p.Target() == a.Target() && p.DeciderToken == c.Token.ID
		}) {
			return forbidden("you decided an earlier appeal of this entry: another reviewer must decide this one")
		}
		now := s.now()
		var change engine.Change
		var overturn, reinstate []socred.RecordRef
		var entryBy string
		if a.Record != "" {
			r, err := s.subjectRecord(ctx, a.Subject, a.Record)
			if err != nil {
				return err
			}
			entryBy = r.Reporter
			refs, err := s.withDerived(ctx, r)
			if err != nil {
				return err
			}
			switch {
			case in.Decision == socred.AppealOverturned:
				for _, ref := range refs {
					change.Overturn = append(change.Overturn, engine.RecordRef{Subject: ref.Subject, ID: strconv.FormatInt(ref.ID, 10)})
				}
				overturn = refs
			case a.SuspendedAt != nil:
				// Upheld after its suspension: the records count again.
				stored, err := s.store.RecordsByRef(ctx, refs)
				if err != nil {
					return err
				}
				// A record overturned meanwhile (another appeal overturned
				// the record it was derived from) stays overturned.
				var back []*socred.Record
				for _, b := range stored {
					id, err := strconv.ParseInt(b.ID, 10, 64)
					if b.Overturned || err != nil {
						continue
					}
					b.Suspended = false
					back = append(back, b)
					reinstate = append(reinstate, socred.RecordRef{Subject: b.Subject, ID: id})
				}
				change.Records, change.Stored = back, true
			}
		} else {
			d, err := s.designation(ctx, a.Subject, a.Designation)
			if err != nil && !isNotFound(err) {
				return err
			}
			if d != nil {
				entryBy = d.Authority
				suspendedNow := a.SuspendedAt != nil && d.EndedAt != nil && d.EndedAt.Equal(*a.SuspendedAt)
				// A suspended entry is not restored over one made since.
				replaced := false
				if suspendedNow && in.Decision == socred.AppealUpheld {
					switch _, err := s.store.ActiveDesignation(ctx, d.List, d.Subject, now); {
					case err == nil:
						replaced = true
					case !isNotFound(err):
						return err
					}
				}
				switch {
				case in.Decision == socred.AppealOverturned && (d.EndedAt == nil || suspendedNow):
					ended := *d
					ended.EndedAt, ended.EndReason = &now, "overturned on appeal "+a.ID+": "+in.Reasons
					if suspendedNow {
						ended.EndedAt = d.EndedAt
					}
					change.Designations = []*socred.Designation{&ended}
				case in.Decision == socred.AppealUpheld && suspendedNow && now.Before(d.Until) && !replaced:
					back := *d
					back.EndedAt, back.EndReason = nil, ""
					change.Designations = []*socred.Designation{&back}
				}
			}
		}
		if c.Token.Authority != "" && c.Token.Authority == entryBy {
			return forbidden("the entry was made by your own authority, %q: another reviewer must decide", entryBy)
		}
		d := *a
		d.Status, d.DecidedAt, d.DecidedBy, d.DeciderToken, d.Reasons = in.Decision, &now, c.Name(), c.Token.ID, in.Reasons
		notices := []socred.Notice{{Subject: a.Subject, At: now, Kind: NoticeAppealDecided, Record: a.Record, List: a.List,
			Message: fmt.Sprintf("Your appeal %s was decided: %s. Reasons: %s", a.ID, in.Decision, in.Reasons)}}
		// Whoever else the decision reached is told why: a guarantor whose
		// derived record falls with the record appealed.
		for _, ref := range overturn {
			if ref.Subject != a.Subject {
				notices = append(notices, socred.Notice{Subject: ref.Subject, At: now, Kind: NoticeAppealDecided, Record: strconv.FormatInt(ref.ID, 10),
					Message: fmt.Sprintf("Record %d, derived from %s's record %s, was overturned with it on appeal %s: it no longer counts. Reasons: %s", ref.ID, a.Subject, a.Record, a.ID, in.Reasons)})
			}
		}
		for _, ref := range reinstate {
			notices = append(notices, socred.Notice{Subject: ref.Subject, At: now, Kind: NoticeAppealDecided, Record: strconv.FormatInt(ref.ID, 10),
				Message: fmt.Sprintf("Record %d counts again: appeal %s was upheld after its review had been overdue. Reasons: %s", ref.ID, a.ID, in.Reasons)})
		}
		if _, err := s.commitWith(ctx, now, change, func(w *socred.Write) {
			w.Appeals = []*socred.Appeal{&d}
			w.Overturn, w.Reinstate = overturn, reinstate
			if reinstate != nil {
				w.Records = nil // stored already: they count again, they are not new
			}
			w.Notices = append(notices, w.Notices...)
		}); err != nil {
			return err
		}
		decided = &d
		return nil
	})
	if err != nil {
		return nil, err
	}
	return decided, nil
}

// withDerived returns a record and the records derived from it by joint
// liability.
func (s *Service) withDerived(ctx context.Context, r *socred.Record) ([]socred.RecordRef, error) {
	n, _ := strconv.ParseInt(r.ID, 10, 64)
	refs := []socred.RecordRef{{ID: n, Subject: r.Subject}}
	derived, err := s.store.DerivedRecords(ctx, refs[0])
	if err != nil {
		return nil, err
	}
	for _, d := range derived {
		dn, _ := strconv.ParseInt(d.ID, 10, 64)
		refs = append(refs, socred.RecordRef{ID: dn, Subject: d.Subject})
	}
	return refs, nil
}

// notOnList is the error of an appeal of a list the subject is not on
// itself: when an entry of a related subject's reaches it, it says how that
// ends, since the entry is the other subject's to appeal.
func (s *Service) notOnList(subject, list string, now time.Time) error {
	s.mu.RLock()
	st, err := s.world.Standing(subject, now)
	s.mu.RUnlock()
	if err == nil {
		for _, l := range st.Listings {
			if l.List == list && l.Via != nil {
				return socred.FieldErrorf("list", "subject %q is not on list %q itself: the entry is %q's, reaching %q through the relation (%s, %s, %s); %q may appeal its entry, and the authority that registered the relation corrects it if it is wrong",
					subject, list, l.Via.Subject, subject, subject, l.Via.Relation, l.Via.Subject, l.Via.Subject)
			}
		}
	}
	return socred.FieldErrorf("list", "subject %q is not on list %q", subject, list)
}

// designation returns one of the subject's designations by id, ended or
// not, or a not_found error.
func (s *Service) designation(ctx context.Context, subject, id string) (*socred.Designation, error) {
	ds, err := s.store.SubjectDesignations(ctx, subject)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.ID == id {
			return d, nil
		}
	}
	return nil, socred.Errorf(socred.ENOTFOUND, "designation %q of subject %q not found", id, subject)
}

// NoticeAppealOverdue is the notice that an appeal's review is overdue and
// the entry's effect suspended.
const NoticeAppealOverdue socred.NoticeKind = "appeal-overdue"

// suspendOverdue suspends the effect of every entry whose appeal was not
// decided by its review_due, until it is decided: a record (and those
// derived from it) stops counting, a listing ends for the time being. It
// returns how many it suspended.
func (s *Service) suspendOverdue(ctx context.Context) (int, error) {
	n := 0
	for {
		overdue, err := s.store.OverdueAppeals(ctx, s.now(), 100)
		if err != nil || len(overdue) == 0 {
			return n, err
		}
		for _, a := range overdue {
			if err := s.suspend(ctx, a.ID); err != nil {
				return n, err
			}
			n++
		}
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (s *Service) suspend(ctx context.Context, id string) error {
	return s.locked(ctx, func() error {
		a, err := s.store.Appeal(ctx, id)
		if err != nil {
			return err
		}
		now := s.now()
		if a.Status != socred.AppealOpen || a.SuspendedAt != nil || now.Before(a.ReviewDue) {
			return nil
		}
		var change engine.Change
		var suspend []socred.RecordRef
		var purges []socred.Purge
		if a.Record != "" {
			r, err := s.subjectRecord(ctx, a.Subject, a.Record)
			if err != nil {
				return err
			}
			if suspend, err = s.withDerived(ctx, r); err != nil {
				return err
			}
			for _, ref := range suspend {
				change.Overturn = append(change.Overturn, engine.RecordRef{Subject: ref.Subject, ID: strconv.FormatInt(ref.ID, 10)})
				// A suspended record does not stop counting by time
				// while it is suspended, which is what schedules its
				// purge otherwise: it is purged when it would have been
				// had it counted to its end (a decision may purge it
				// sooner; a record cannot count past its end).
				sr, err := s.subjectRecord(ctx, ref.Subject, strconv.FormatInt(ref.ID, 10))
				if err != nil {
					return err
				}
				if sc := s.pack.Scheme(sr.Scheme); sc != nil && sr.PurgedAt == nil {
					purges = append(purges, socred.Purge{Subject: sr.Subject, Record: ref.ID, At: later(purgeAfter(sr, sc.RetainFor), now)})
				}
			}
		} else if d, err := s.designation(ctx, a.Subject, a.Designation); err != nil && !isNotFound(err) {
			return err
		} else if d != nil && d.Active(now) {
			ended := *d
			ended.EndedAt, ended.EndReason = &now, "suspended: the review of appeal "+a.ID+" is overdue"
			change.Designations = []*socred.Designation{&ended}
		}
		sa := *a
		sa.SuspendedAt = &now
		notice := socred.Notice{Subject: a.Subject, At: now, Kind: NoticeAppealOverdue, Record: a.Record, List: a.List,
			Message: fmt.Sprintf("Your appeal %s was not decided by %s: the entry has no effect until it is.", a.ID, a.ReviewDue.Format("2006-01-02"))}
		_, err = s.commitWith(ctx, now, change, func(w *socred.Write) {
			w.Appeals = []*socred.Appeal{&sa}
			w.Suspend = suspend
			w.Purges = append(w.Purges, purges...)
			w.Notices = append([]socred.Notice{notice}, w.Notices...)
		})
		return err
	})
}
