package socred

import (
	"time"
)

// RecordStatus is a record's standing as shown in the subject's file.
type RecordStatus string

// Record statuses.
const (
	RecordActive     RecordStatus = "active"
	RecordContested  RecordStatus = "contested"
	RecordOverturned RecordStatus = "overturned"
	RecordExpired    RecordStatus = "expired"
)

// Record is one reported occurrence of a rule for a subject. Records are
// append-only; Points and CountsUntil are fixed when the record is accepted,
// from the rule in force then.
type Record struct {
	ID          string      `json:"id"`
	Key         string      `json:"key,omitempty"`
	Subject     string      `json:"subject"`
	Scheme      string      `json:"scheme"`
	Rule        string      `json:"rule"`
	Points      int64       `json:"points"`
	OccurredAt  time.Time   `json:"occurred_at"`
	CountsUntil time.Time   `json:"counts_until"`
	Reporter    string      `json:"reporter"`
	Evidence    string      `json:"evidence,omitempty"`
	DerivedFrom *Derivation `json:"derived_from,omitempty"`
	AcceptedAt  time.Time   `json:"accepted_at"`
	Contested   bool        `json:"-"` // an appeal against it is open
	Overturned  bool        `json:"-"` // an appeal overturned it
	// OverturnedAt is when, if it was: it stopped counting then.
	OverturnedAt *time.Time `json:"-"`
	Suspended    bool       `json:"-"` // its appeal's review is overdue: it does not count until decided
	// PurgedAt is when its personal fields (the evidence) were removed,
	// its scheme's retain_for after it stopped counting.
	PurgedAt *time.Time `json:"purged_at,omitempty"`
	// PurgeLogIndex is the purge's receipt: the index of the audit log's
	// entry that hashed the record as it stands once purged (its first
	// entry hashed its evidence, which is gone).
	PurgeLogIndex *int64 `json:"purge_log_index,omitempty"`
	// LogIndex is the record's receipt: the index of its entry in the
	// audit log (nil for a record stored before the log began).
	LogIndex *int64 `json:"log_index,omitempty"`
}

// Derivation says where a joint-liability record came from: the offender's
// record, the offender, and the relation that carried the liability.
type Derivation struct {
	Record   string `json:"record"`
	Subject  string `json:"subject"`
	Relation string `json:"relation"`
}

// Counting reports whether the record counts at now: it has occurred, has
// not run out and has not been overturned.
func (r *Record) Counting(now time.Time) bool {
	return !r.Overturned && !r.Suspended && !now.Before(r.OccurredAt) && now.Before(r.CountsUntil)
}

// Status returns the record's status at now.
func (r *Record) Status(now time.Time) RecordStatus {
	switch {
	case r.Overturned:
		return RecordOverturned
	case !now.Before(r.CountsUntil):
		return RecordExpired
	case r.Contested:
		return RecordContested
	}
	return RecordActive
}

// RecordInput is one record as a reporter submits it.
type RecordInput struct {
	Key        string    `json:"key"`
	Subject    string    `json:"subject"`
	Scheme     string    `json:"scheme"`
	Rule       string    `json:"rule"`
	OccurredAt time.Time `json:"occurred_at"`
	Evidence   string    `json:"evidence"`
}

// MaxFutureSkew is how far in the future a record's occurred_at may lie, to
// allow for clocks that run a little ahead.
const MaxFutureSkew = 5 * time.Minute

// minOccurredAt is the earliest occurred_at a record may have: the Unix
// epoch, well inside what socred can keep. The engine keeps times as Unix
// nanoseconds, which wrap before 1677 (a record of 1441 would count as
// recent), and JSON cannot write years before 0.
var minOccurredAt = time.Unix(0, 0).UTC()

// Validate checks the fields that need no pack or store; prefix names the
// input in messages (e.g. "records[2]").
func (in *RecordInput) Validate(prefix string, now time.Time) error {
	switch {
	case in.Key == "":
		return FieldErrorf(prefix+".key", "is required (the idempotency key)")
	case len(in.Key) > 200 || !ValidText(in.Key, false):
		return FieldErrorf(prefix+".key", "must be at most 200 bytes of "+TextRule)
	case in.Subject == "":
		return FieldErrorf(prefix+".subject", "is required")
	case !ValidSubjectID(in.Subject):
		return FieldErrorf(prefix+".subject", "%q is not a valid subject id", in.Subject)
	case in.Scheme == "":
		return FieldErrorf(prefix+".scheme", "is required")
	case in.Rule == "":
		return FieldErrorf(prefix+".rule", "is required")
	case in.OccurredAt.IsZero():
		return FieldErrorf(prefix+".occurred_at", "is required: an RFC 3339 time from %s on", minOccurredAt.Format(time.RFC3339))
	case in.OccurredAt.After(now.Add(MaxFutureSkew)):
		return FieldErrorf(prefix+".occurred_at", "%s is in the future", in.OccurredAt.UTC().Format(time.RFC3339))
	case in.OccurredAt.Before(minOccurredAt):
		return FieldErrorf(prefix+".occurred_at", "%s is before %s", in.OccurredAt.UTC().Format(time.RFC3339), minOccurredAt.Format(time.RFC3339))
	case len(in.Evidence) > 2000 || !ValidText(in.Evidence, true):
		return FieldErrorf(prefix+".evidence", "must be at most 2000 bytes of "+TextRule)
	}
	return nil
}

// Designation is an authority's entry of a subject on a designated list.
type Designation struct {
	ID        string     `json:"id"`
	List      string     `json:"list"`
	Subject   string     `json:"subject"`
	Authority string     `json:"authority"`
	Reason    string     `json:"reason"`
	Case      string     `json:"case,omitempty"`
	Since     time.Time  `json:"since"`
	Until     time.Time  `json:"until"`
	EndedAt   *time.Time `json:"ended_at,omitempty"` // removed before its term ran out
	EndReason string     `json:"end_reason,omitempty"`
	// PurgedAt is when its reason, case and end reason were removed, its
	// list's retain_for after it ended.
	PurgedAt *time.Time `json:"purged_at,omitempty"`
}

// Active reports whether the designation is in force at now.
func (d *Designation) Active(now time.Time) bool {
	if d.EndedAt != nil && !now.Before(*d.EndedAt) {
		return false
	}
	return !now.Before(d.Since) && now.Before(d.Until)
}

// Via names the related subject, and the relation, through which a listing
// applies to a subject that is not itself listed.
type Via struct {
	Subject  string `json:"subject"`
	Relation string `json:"relation"`
}

// Listing is a subject's entry on a list, as the file and checks show it.
type Listing struct {
	List        string     `json:"list"`
	Kind        ListKind   `json:"kind"`
	Subject     string     `json:"subject"`
	Since       time.Time  `json:"since"`
	Until       *time.Time `json:"until"`
	Reason      string     `json:"reason"`
	Case        string     `json:"case,omitempty"`
	Via         *Via       `json:"via"`
	Authority   string     `json:"authority"`
	LegalBasis  string     `json:"legal_basis"`
	Designation string     `json:"designation,omitempty"` // the designation's id, for designated entries
	EndReason   string     `json:"end_reason,omitempty"`  // why a designated entry was ended early
	// Remedy says how the entry may be contested or ended early, in the
	// subject's file (a check's reason carries its own).
	Remedy string `json:"remedy,omitempty"`
}

// Score is a subject's standing in one scheme.
type Score struct {
	Scheme   string `json:"scheme"`
	Score    int64  `json:"score"`
	Grade    string `json:"grade,omitempty"`
	Baseline int64  `json:"baseline"`
}

// Decision answers a check: may the subject do the action, and why.
type Decision struct {
	Subject   string    `json:"subject"`
	Action    string    `json:"action"`
	Allowed   bool      `json:"allowed"`
	CheckedAt time.Time `json:"checked_at"`
	Reasons   []Reason  `json:"reasons"`
	// Why, for a privilege the subject is not granted, says who may do
	// it: the lists whose measures grant it (the reasons name only
	// measures that bear on the subject).
	Why string `json:"why,omitempty"`
	// LogIndex is the check's receipt: its entry in the audit log.
	LogIndex *int64 `json:"log_index,omitempty"`
}

// Reason is one measure bearing on a decision.
type Reason struct {
	List       string     `json:"list"`
	Measure    string     `json:"measure"`
	Effect     Effect     `json:"effect"`
	Authority  string     `json:"authority"`
	LegalBasis string     `json:"legal_basis"`
	Since      time.Time  `json:"since"`
	Until      *time.Time `json:"until"`
	Via        *Via       `json:"via"`
	// Why is the listing's reason: the designation's, or the automatic
	// list's condition.
	Why string `json:"why,omitempty"`
	// Remedy says how the subject may contest or end a restriction
	// (List.Remedy); empty for a grant.
	Remedy string `json:"remedy,omitempty"`
}

// EventKind names a change in a subject's standing.
type EventKind string

// Event kinds the engine yields.
const (
	EventScoreChanged   EventKind = "score-changed"
	EventGradeChanged   EventKind = "grade-changed"
	EventListed         EventKind = "listed"
	EventDelisted       EventKind = "delisted"
	EventRecordCounting EventKind = "record-counting" // a record began to count
	EventRecordStopped  EventKind = "record-stopped"  // a record stopped counting
	EventTermChanged    EventKind = "term-changed"    // a designated entry's term was extended or shortened
	EventPublished      EventKind = "published"       // past its grace period, the listing is on the public register
)

// Event is one change in a subject's standing, for notices and the audit log.
type Event struct {
	Kind     EventKind `json:"kind"`
	Subject  string    `json:"subject,omitempty"`
	At       time.Time `json:"at"`
	Scheme   string    `json:"scheme,omitempty"`
	OldScore int64     `json:"old_score,omitempty"`
	NewScore int64     `json:"new_score,omitempty"`
	OldGrade string    `json:"old_grade,omitempty"`
	NewGrade string    `json:"new_grade,omitempty"`
	Record   string    `json:"record,omitempty"`
	Listing  *Listing  `json:"listing,omitempty"`
}
