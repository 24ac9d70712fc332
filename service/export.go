package service

import (
	"context"
	"time"

	"github.com/socred/socred"
)

// Export is a subject's whole file in the form of an answer to a request
// under article 15 of the GDPR: what is processed, why, from where, who was
// told what, how long it is kept, and the logic behind every score and
// listing.
type Export struct {
	Subject     *socred.Subject `json:"subject"`
	GeneratedAt time.Time       `json:"generated_at"`
	// Purposes are the schemes and lists under which the subject's data
	// is processed, each with the authority responsible and its legal
	// basis.
	Purposes []Purpose `json:"purposes"`
	// Categories name the kinds of data held.
	Categories []string `json:"categories"`
	// Records are every record held, with its source and how long it
	// counts.
	Records []ExportRecord `json:"records"`
	// Scores and Listings are the subject's standing now; PastListings
	// the entries that ended, every one.
	Scores       []socred.Score    `json:"scores"`
	Listings     []socred.Listing  `json:"listings"`
	PastListings []socred.Listing  `json:"past_listings"`
	Relations    []socred.Relation `json:"relations"`
	// Appeals and Repairs are the subject's appeals and credit repair
	// applications, with their decisions.
	Appeals []*socred.Appeal `json:"appeals"`
	Repairs []*socred.Repair `json:"repairs"`
	// Recipients are those who were told something about the subject:
	// providers' checks, with the answer they got, and readers of the
	// file, with their purpose.
	Recipients Recipients `json:"recipients"`
	// Notices are every notice sent to the subject, and the channels
	// notices go through.
	Notices  []socred.Notice `json:"notices"`
	Channels []string        `json:"channels"`
	// Contact is where the subject receives notices by e-mail, if given.
	Contact *socred.Contact `json:"contact"`
	// Logic is the rules and expressions behind every score and listing.
	Logic Logic `json:"logic"`
}

// Purpose is a scheme or list under which data is processed.
type Purpose struct {
	Kind       string `json:"kind"` // scheme or list
	ID         string `json:"id"`
	Name       string `json:"name"`
	Authority  string `json:"authority"`
	LegalBasis string `json:"legal_basis"`
}

// ExportRecord is a record with its source and retention.
type ExportRecord struct {
	FileRecord
	// Source is who reported it; for a record derived by joint liability,
	// also the record and relation it comes from (in DerivedFrom).
	Source string `json:"source"`
	// PurgeAfter is when its evidence is purged: its scheme's retain_for
	// after it stops counting, by time or by an overturn, and not before
	// it was accepted (PurgedAt, once done).
	PurgeAfter time.Time `json:"purge_after"`
}

// Recipients are who was told what about the subject.
type Recipients struct {
	Checks   []socred.CheckEntry `json:"checks"`
	Accesses []socred.Access     `json:"accesses"`
}

// Logic is the part of the scheme pack that bears on the subject.
type Logic struct {
	Schemes []*socred.Scheme `json:"schemes"`
	Lists   []ExportList     `json:"lists"`
}

// ExportList is a list with the measures it carries.
type ExportList struct {
	*socred.List
	Measures []*socred.Measure `json:"measures"`
}

// Export returns the subject's whole file as an article 15 answer. The
// subject may export its own file, the admin any (logged in the file).
func (s *Service) Export(ctx context.Context, c *socred.Caller, id string) (*Export, error) {
	switch c.Role() {
	case socred.RoleAdmin:
	case socred.RoleSubject:
		if c.Token.Subject != id {
			return nil, forbidden("a subject token may export only its own file")
		}
	default:
		return nil, forbidden("")
	}
	f, err := s.file(ctx, c, id, "export of the whole file (GDPR article 15)", true)
	if err != nil {
		return nil, err
	}
	x := &Export{
		Subject: f.Subject, GeneratedAt: s.now(), Scores: f.Scores, Listings: f.Listings, PastListings: f.PastListings, Relations: f.Relations,
		Appeals: orEmpty(f.Appeals), Repairs: orEmpty(f.Repairs),
		Categories: []string{
			"identity: id, kind, name, region, groups",
			"records of conduct reported by authorities, and records derived from others' by joint liability",
			"relations to other subjects",
			"scores, grades and list entries computed from the records, and entries designated by authorities, current and past",
			"appeals and credit repair applications, with their decisions",
			"checks by providers and reads of the file by others",
			"notices sent",
			"contact address for notices, if given",
		},
		Channels: []string{},
	}
	for _, ch := range s.Channels {
		x.Channels = append(x.Channels, ch.Name())
	}
	for _, sc := range f.Scores {
		if p := s.pack.Scheme(sc.Scheme); p != nil {
			x.Purposes = append(x.Purposes, Purpose{Kind: "scheme", ID: p.ID, Name: p.Name, Authority: p.Authority, LegalBasis: p.LegalBasis})
			x.Logic.Schemes = append(x.Logic.Schemes, p)
		}
	}
	seen := map[string]bool{}
	for _, l := range append(f.Listings[:len(f.Listings):len(f.Listings)], f.PastListings...) {
		if p := s.pack.List(l.List); p != nil && !seen[p.ID] {
			seen[p.ID] = true
			x.Purposes = append(x.Purposes, Purpose{Kind: "list", ID: p.ID, Name: p.Name, Authority: p.Authority, LegalBasis: p.LegalBasis})
			x.Logic.Lists = append(x.Logic.Lists, ExportList{List: p, Measures: p.Measures})
		}
	}
	for _, r := range f.Records {
		er := ExportRecord{FileRecord: r, Source: r.Reporter, PurgeAfter: r.CountsUntil}
		if sc := s.pack.Scheme(r.Scheme); sc != nil {
			er.PurgeAfter = purgeAfter(r.Record, sc.RetainFor)
		}
		x.Records = append(x.Records, er)
	}
	x.Notices, x.Recipients.Checks, x.Recipients.Accesses = f.Notices, f.Checks, f.Accesses
	if ct, err := s.store.Contact(ctx, id); err == nil {
		x.Contact = &ct
	} else if !isNotFound(err) {
		return nil, err
	}
	x.Purposes = orEmpty(x.Purposes)
	x.Records = orEmpty(x.Records)
	x.Logic.Schemes = orEmpty(x.Logic.Schemes)
	x.Logic.Lists = orEmpty(x.Logic.Lists)
	return x, nil
}

func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
