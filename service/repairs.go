package service

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// RepairInput is a subject's application to leave a designated list early
// by one of its credit-repair routes, with references to the evidence.
type RepairInput struct {
	Subject   string   `json:"subject"` // for the admin applying on a subject's behalf
	List      string   `json:"list"`
	Route     string   `json:"route"`
	Evidence  []string `json:"evidence"`
	Statement string   `json:"statement"`
}

// RepairDecisionInput is a reviewer's decision on a repair application.
type RepairDecisionInput struct {
	Decision socred.RepairStatus `json:"decision"` // approved or rejected
	Reasons  string              `json:"reasons"`
}

// Notice kinds of credit repair.
const (
	NoticeRepairFiled   socred.NoticeKind = "repair-filed"
	NoticeRepairDecided socred.NoticeKind = "repair-decided"
)

// ApplyRepair files a subject's credit-repair application for its entry on
// a designated list: by one of the list's routes, once it has been listed
// for the list's repair_after, with at least one evidence reference; one
// pending application per entry.
func (s *Service) ApplyRepair(ctx context.Context, c *socred.Caller, in RepairInput) (*socred.Repair, error) {
	switch c.Role() {
	case socred.RoleSubject:
		if in.Subject != "" && in.Subject != c.Token.Subject {
			return nil, forbidden("a subject token may apply only for its own subject")
		}
		in.Subject = c.Token.Subject
	case socred.RoleAdmin:
		if in.Subject == "" {
			return nil, socred.FieldErrorf("subject", "is required when the admin applies")
		}
	default:
		return nil, forbidden("")
	}
	l := s.pack.List(in.List)
	switch {
	case l == nil || !l.Designated:
		return nil, socred.FieldErrorf("list", "%q is not a designated list", in.List)
	case len(l.Repair) == 0:
		return nil, socred.FieldErrorf("list", "list %q has no credit-repair routes", l.ID)
	case !slices.Contains(l.Repair, in.Route):
		return nil, socred.FieldErrorf("route", "list %q accepts %s, not %q", l.ID, strings.Join(l.Repair, ", "), in.Route)
	case len(in.Evidence) == 0 || len(in.Evidence) > 20:
		return nil, socred.FieldErrorf("evidence", "give from 1 to 20 references to the evidence")
	case len(in.Statement) > 4000 || !socred.ValidText(in.Statement, true):
		return nil, socred.FieldErrorf("statement", "must be at most 4000 bytes of "+socred.TextRule)
	}
	for i, e := range in.Evidence {
		if strings.TrimSpace(e) == "" || len(e) > 500 || !socred.ValidText(e, false) {
			return nil, socred.FieldErrorf("evidence["+strconv.Itoa(i)+"]", "must be a reference of 1 to 500 bytes of "+socred.TextRule)
		}
	}
	now := s.now()
	d, err := s.store.ActiveDesignation(ctx, l.ID, in.Subject, now)
	if err != nil {
		if isNotFound(err) {
			return nil, socred.FieldErrorf("list", "subject %q is not on list %q", in.Subject, l.ID)
		}
		return nil, err
	}
	if earliest := l.RepairAfter.AddTo(d.Since); now.Before(earliest) {
		return nil, socred.FieldErrorf("list", "credit repair may be applied for after %s on the list, from %s", l.RepairAfter, earliest.Format("2006-01-02"))
	}
	prior, err := s.store.SubjectRepairs(ctx, in.Subject)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(prior, func(p *socred.Repair) bool { return p.Status == socred.RepairPending && p.Designation == d.ID }); i >= 0 {
		return nil, socred.Errorf(socred.ECONFLICT, "repair application %s for this entry is pending", prior[i].ID)
	}
	r := &socred.Repair{ID: newID("rep"), Subject: in.Subject, List: l.ID, Designation: d.ID, Route: in.Route,
		Evidence: in.Evidence, Statement: in.Statement, FiledAt: now, Status: socred.RepairPending}
	n := socred.Notice{Subject: r.Subject, At: now, Kind: NoticeRepairFiled, List: l.ID,
		Message: fmt.Sprintf("Your application %s to leave the list %q by %s was filed; a reviewer will decide.", r.ID, l.ID, r.Route)}
	w := &socred.Write{Now: now, Repairs: []*socred.Repair{r}, Notices: []socred.Notice{n}, Deliver: s.delivering()}
	if err := s.commitLogged(ctx, w); err != nil {
		return nil, err
	}
	s.noticesWritten(w)
	return r, nil
}

// DecideRepair records a reviewer's decision on a repair application; an
// approval ends the entry at once. A reviewer bound to the list's authority
// may not decide.
func (s *Service) DecideRepair(ctx context.Context, c *socred.Caller, id string, in RepairDecisionInput) (*socred.Repair, error) {
	if !c.Is(socred.RoleReviewer, socred.RoleAdmin) {
		return nil, forbidden("")
	}
	switch {
	case in.Decision != socred.RepairApproved && in.Decision != socred.RepairRejected:
		return nil, socred.FieldErrorf("decision", "must be approved or rejected")
	case strings.TrimSpace(in.Reasons) == "":
		return nil, socred.FieldErrorf("reasons", "are required: the subject is told them")
	case len(in.Reasons) > 4000 || !socred.ValidText(in.Reasons, true):
		return nil, socred.FieldErrorf("reasons", "must be at most 4000 bytes of "+socred.TextRule)
	}
	var decided *socred.Repair
	err := s.locked(ctx, func() error {
		r, err := s.store.Repair(ctx, id)
		if err != nil {
			return err
		}
		if r.Status != socred.RepairPending {
			return socred.Errorf(socred.ECONFLICT, "repair application %s was decided already: %s", r.ID, r.Status)
		}
		now := s.now()
		var change engine.Change
		// A reviewer of the authority that made the entry decides
		// nothing about it, whether or not it has ended since.
		if entry, err := s.designation(ctx, r.Subject, r.Designation); err != nil && !isNotFound(err) {
			return err
		} else if entry != nil && c.Token.Authority != "" && c.Token.Authority == entry.Authority {
			return forbidden("the entry was made by your own authority, %q: another reviewer must decide", entry.Authority)
		}
		d, err := s.store.ActiveDesignation(ctx, r.List, r.Subject, now)
		switch {
		case err == nil && d.ID == r.Designation:
			if in.Decision == socred.RepairApproved {
				ended := *d
				ended.EndedAt, ended.EndReason = &now, "credit repair "+r.ID+" ("+r.Route+") approved: "+in.Reasons
				change.Designations = []*socred.Designation{&ended}
			}
		case err == nil || isNotFound(err):
			// The entry ended meanwhile: the decision is recorded, and
			// ends nothing.
		default:
			return err
		}
		dec := *r
		dec.Status, dec.DecidedAt, dec.DecidedBy, dec.DeciderToken, dec.Reasons = in.Decision, &now, c.Name(), c.Token.ID, in.Reasons
		n := socred.Notice{Subject: r.Subject, At: now, Kind: NoticeRepairDecided, List: r.List,
			Message: fmt.Sprintf("Your application %s to leave the list %q was %s. Reasons: %s", r.ID, r.List, in.Decision, in.Reasons)}
		if _, err := s.commitWith(ctx, now, change, func(w *socred.Write) {
			w.Repairs = []*socred.Repair{&dec}
			w.Notices = append([]socred.Notice{n}, w.Notices...)
		}); err != nil {
			return err
		}
		decided = &dec
		return nil
	})
	if err != nil {
		return nil, err
	}
	return decided, nil
}
