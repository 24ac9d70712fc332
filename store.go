package socred

import (
	"context"
	"slices"
	"time"

	"github.com/socred/socred/audit"
)

// Store keeps socred's state durably. Every method is one transaction; an
// error from Commit means nothing of the write was stored.
type Store interface {
	// Commit writes everything in w atomically and durably. It keeps no
	// reference to w's arrays of checks, accesses and audit entries once it
	// returns: the caller may reuse them.
	Commit(ctx context.Context, w *Write) error
	// ReserveIDs reserves n consecutive record ids and returns the first.
	ReserveIDs(ctx context.Context, n int) (int64, error)

	Subject(ctx context.Context, id string) (*Subject, error)
	// Relations returns the relations from or to the subject.
	Relations(ctx context.Context, subject string) ([]Relation, error)
	// RecordsByKey returns the reporter's records with the given
	// idempotency keys, by key; keys not found are absent.
	RecordsByKey(ctx context.Context, reporter string, keys []string) (map[string]*Record, error)
	// SubjectRecords returns the subject's records, own and derived, oldest first.
	SubjectRecords(ctx context.Context, subject string) ([]*Record, error)
	// SubjectDesignations returns every designation of the subject, oldest first.
	SubjectDesignations(ctx context.Context, subject string) ([]*Designation, error)
	// Designation returns a designation by id, or a not_found error.
	Designation(ctx context.Context, id string) (*Designation, error)
	// EndedDesignations returns up to limit designations of the list that
	// ended (removed, or their term ran out) by endedBy, whose reason is not
	// purged yet and that no appeal is about that is open or was decided
	// after endedBy (a decision about an entry counts as its end).
	EndedDesignations(ctx context.Context, list string, endedBy time.Time, limit int) ([]*Designation, error)
	// DesignationLists returns the lists that hold designations whose
	// reason is not purged, in id order (lists a pack no longer declares
	// among them).
	DesignationLists(ctx context.Context) ([]string, error)
	// ActiveDesignation returns the subject's designation on the list in
	// force at now, or a not_found error.
	ActiveDesignation(ctx context.Context, list, subject string, now time.Time) (*Designation, error)
	// ListEntries returns the current own listings on a list, by since.
	ListEntries(ctx context.Context, list string, page Page) ([]Listing, error)
	// PastListings returns the subject's own entries that ended, newest
	// first: until is when each ended, and end_reason why, for a
	// designated entry ended early.
	PastListings(ctx context.Context, subject string, page Page) ([]Listing, error)
	// Checks returns the checks of a subject, newest first.
	Checks(ctx context.Context, subject string, page Page) ([]CheckEntry, error)
	// Accesses returns the reads of a subject's file by others, newest first.
	Accesses(ctx context.Context, subject string, page Page) ([]Access, error)
	// Notices returns the subject's notices, newest first.
	Notices(ctx context.Context, subject string, page Page) ([]Notice, error)
	// PendingNotices returns up to limit notices not yet delivered, oldest
	// first. A store shared by several servers claims them for this one
	// for NoticeLease: until the lease ends (or they are delivered), the
	// others' calls do not return them, so that each is delivered once
	// unless its server stops meanwhile.
	PendingNotices(ctx context.Context, limit int) ([]Notice, error)
	// MarkDelivered records that the notices were delivered.
	MarkDelivered(ctx context.Context, ids []int64) error
	// Appeal returns an appeal, or a not_found error.
	Appeal(ctx context.Context, id string) (*Appeal, error)
	// SubjectAppeals returns the subject's appeals, oldest first.
	SubjectAppeals(ctx context.Context, subject string) ([]*Appeal, error)
	// Repair returns a repair application, or a not_found error.
	Repair(ctx context.Context, id string) (*Repair, error)
	// SubjectRepairs returns the subject's repair applications, oldest first.
	SubjectRepairs(ctx context.Context, subject string) ([]*Repair, error)
	// OverdueAppeals returns up to limit open appeals whose review was due
	// by now and whose entry is not yet suspended, oldest due first.
	OverdueAppeals(ctx context.Context, now time.Time, limit int) ([]*Appeal, error)
	// DerivedRecords returns the records derived from a record by joint
	// liability.
	DerivedRecords(ctx context.Context, record RecordRef) ([]*Record, error)
	// DuePurges returns up to limit purges (see Write.Purges) that fell
	// due by now, oldest first, each with its record as it stands once
	// purged (Evidence empty; PurgedAt now, or when it was purged before);
	// then, in the room left, records purged with no entry of the purge in
	// the audit log (At zero), so that one is logged (see Write.Erase).
	DuePurges(ctx context.Context, now time.Time, limit int) ([]Erasure, error)
	// ExpiredLogs returns, for checks and for accesses, the id of the
	// last of the oldest rows (by id, up to limit of them) that were all
	// made before before: the rows that Write.Expire may delete. Zero
	// means the oldest row is not that old (or there is none).
	ExpiredLogs(ctx context.Context, before time.Time, limit int) (Expiry, error)
	// Contact returns the subject's contact, or a not_found error.
	Contact(ctx context.Context, subject string) (Contact, error)
	// Register returns the published entries matching the query.
	Register(ctx context.Context, q RegisterQuery) ([]RegisterEntry, error)
	// TokenByHash returns the token whose secret hashes to hash.
	// Token returns a token by its id, revoked or not.
	Token(ctx context.Context, id string) (*Token, error)
	TokenByHash(ctx context.Context, hash []byte) (*Token, error)

	// Changes returns up to limit changes of the feed after seq, oldest
	// first. Changes older than FeedRetention may be gone.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	// RecordsByRef returns the records named, in id order; records not
	// found are left out.
	RecordsByRef(ctx context.Context, refs []RecordRef) ([]*Record, error)

	// AuditKeys returns the audit log's keys, storing first first when
	// none are kept, so that every server sharing the store uses the same;
	// with first's Salt empty it only reads them.
	AuditKeys(ctx context.Context, first AuditKeys) (AuditKeys, error)
	// AuditSize returns the number of leaves in the audit log.
	AuditSize(ctx context.Context) (int64, error)
	// AuditHashes reads stored hashes of the audit log by stored index (a
	// tlog.HashReader).
	AuditHashes(ctx context.Context, indexes []int64) ([]audit.Hash, error)
	// AuditBlocks returns up to limit blocks of the audit log in order,
	// from the one that holds leaf from.
	AuditBlocks(ctx context.Context, from int64, limit int) ([]AuditBlock, error)
	// SaveCheckpoint keeps a signed checkpoint; one of the same size kept
	// before stays.
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints returns the kept checkpoints, largest first.
	Checkpoints(ctx context.Context, page Page) ([]Checkpoint, error)
	// AuditSources calls fn with every record, check and access that has
	// an entry in the audit log (a record, of its acceptance or of its
	// purge; one of the three set), for audit verify; fn may keep none.
	AuditSources(ctx context.Context, fn func(*Record, *CheckEntry, *Access) error) error

	// OpenAppeals returns appeals not yet decided, oldest filed first: the
	// reviewers' queue.
	OpenAppeals(ctx context.Context, page Page) ([]*Appeal, error)
	// PendingRepairs returns repair applications not yet decided, oldest
	// filed first.
	PendingRepairs(ctx context.Context, page Page) ([]*Repair, error)
	// RecentRecords returns the newest records, own and derived, newest
	// first.
	RecentRecords(ctx context.Context, page Page) ([]*Record, error)
	// ListingFlow counts, for each UTC day from since (inclusive) to the
	// day of until, the subjects' own entries on the list that began and
	// that ended that day, days without either left out, oldest first.
	ListingFlow(ctx context.Context, list string, since, until time.Time) ([]ListingDay, error)

	// PutSession stores a signed-in session of the web pages.
	PutSession(ctx context.Context, s *Session) error
	// Session returns the session whose secret hashes to hash, or a
	// not_found error; an expired session is not found.
	Session(ctx context.Context, hash []byte, now time.Time) (*Session, error)
	// DeleteSession ends a session (one already gone is not an error), and
	// removes every session expired by now.
	DeleteSession(ctx context.Context, hash []byte, now time.Time) error

	// Load streams everything the engine needs to rebuild its world.
	Load(ctx context.Context, l Loader) error
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// ListingDay is how many entries began and ended on a list in a day.
type ListingDay struct {
	Day     time.Time // midnight UTC
	Entered int
	Left    int
}

// ListingDays counts a list's entries beginning and ending by UTC day, for
// a store's ListingFlow: from the day of since to the day of until.
type ListingDays struct {
	From, To time.Time // the first day's midnight, and the midnight after the last
	days     map[int64]*ListingDay
}

// NewListingDays returns the counter of the days from since to until.
func NewListingDays(since, until time.Time) *ListingDays {
	return &ListingDays{From: utcDay(since), To: utcDay(until).AddDate(0, 0, 1), days: map[int64]*ListingDay{}}
}

// utcDay returns the midnight, UTC, that begins t's day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Add counts an entry that began at since and ended at ended (nil while
// current), each only when it falls within the days.
func (c *ListingDays) Add(since time.Time, ended *time.Time) {
	in := func(t time.Time) bool { return !t.Before(c.From) && t.Before(c.To) }
	day := func(t time.Time) *ListingDay {
		d := utcDay(t)
		x := c.days[d.Unix()]
		if x == nil {
			x = &ListingDay{Day: d}
			c.days[d.Unix()] = x
		}
		return x
	}
	if in(since) {
		day(since).Entered++
	}
	if ended != nil && in(*ended) {
		day(*ended).Left++
	}
}

// Days returns the days counted, oldest first.
func (c *ListingDays) Days() []ListingDay {
	out := make([]ListingDay, 0, len(c.days))
	for _, d := range c.days {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b ListingDay) int { return a.Day.Compare(b.Day) })
	return out
}

// Purge is a record's personal fields to remove at a moment.
type Purge struct {
	Subject string
	Record  int64
	At      time.Time
}

// Erasure is a purge carried out: the record as it stands once purged, and
// the moment of the purge done (zero for a record purged before).
type Erasure struct {
	Record *Record
	At     time.Time
	// Receipt, when set, receives the index of the purge's entry in the
	// audit log, which the store keeps as the record's PurgeLogIndex
	// unless it has one.
	Receipt *int64
}

// Erase returns the erasure of r by the purge at (zero for a record purged
// before): r as it stands once purged, its evidence removed and PurgedAt
// now unless it was purged before. Stores make DuePurges' answers with it.
func Erase(r *Record, at, now time.Time) Erasure {
	r.Evidence = ""
	if r.PurgedAt == nil {
		r.PurgedAt = &now
	}
	return Erasure{Record: r, At: at}
}

// Expiry names the checks and accesses past their retention: every one
// with an id up to Checks (Accesses); zero names none. Checks and accesses
// are numbered in the order they are made, so the oldest are a prefix.
type Expiry struct {
	Checks, Accesses int64
}

// Page bounds a list read.
type Page struct {
	Limit  int
	Offset int
}

// NoticeLease is how long a server sharing a store with others holds the
// pending notices it was given (PendingNotices) before the others may
// deliver them: longer than a round of delivery takes.
const NoticeLease = 5 * time.Minute

// Write is one atomic change to the store.
type Write struct {
	Now          time.Time
	Subjects     []*Subject // created or replaced
	Relate       []Relation
	Unrelate     []Relation
	Records      []*Record      // new records, own and derived, ids assigned
	Designations []*Designation // created, or replaced by id (ended, extended)
	// Events are the engine's events; the store keeps the subjects' own
	// listings (events without Via) from them.
	Events   []Event
	Checks   []CheckEntry
	Accesses []Access
	Tokens   []*Token
	// Revoke revokes tokens (a token revoked already keeps its moment).
	Revoke []TokenRevocation
	// Notices are kept with their subjects (the store assigns their ids)
	// and, when Deliver is set, left pending for delivery.
	Notices []Notice
	Deliver bool
	// Appeals are created, or replaced by id (decided).
	Appeals []*Appeal
	// Repairs are created, or replaced by id (decided).
	Repairs []*Repair
	// Overturn marks records overturned on appeal: they stop counting.
	Overturn []RecordRef
	// Suspend marks records suspended (an overdue review): they stop
	// counting until Reinstate, or Overturn, names them.
	Suspend   []RecordRef
	Reinstate []RecordRef
	// Purges schedule the purge of records' personal fields.
	Purges []Purge
	// PurgeDesignations removes the reason, case and end reason of ended
	// designations (given as they stand once purged, PurgedAt set), and of
	// their entries on the list.
	PurgeDesignations []*Designation
	// Erase carries out purges that fell due (DuePurges): it removes the
	// records' evidence, keeps the first purge's moment and receipt, and
	// removes the purges done.
	Erase []Erasure
	// Expire deletes the checks and accesses whose retention ran out:
	// every one with an id up to Expire.Checks (Expire.Accesses).
	Expire Expiry
	// Contacts are set (an empty address removes the contact).
	Contacts []Contact
	// NoticeBodies, when set, are the notices encoded by EncodeNotice, so
	// that a writer can encode them before it takes the store's lock.
	NoticeBodies [][]byte
	// NoticeLeads are the leads NoticeBodies name (NoticeLeads.AppendNotice),
	// each once: the store keeps them in the write's transaction, as it
	// keeps them already or anew.
	NoticeLeads []NoticeLead
	// ChangeBody, when set, is the write's entry in the change feed as
	// ChangeBody encodes it, made by the writer before it takes the
	// store's lock (for a write with a Seq).
	ChangeBody []byte
	// Settled, when set, is the moment up to which every time-driven change
	// has been applied; a restarted server settles its world there.
	Settled *time.Time
	// Due, when set, says the write applies the time-driven changes of
	// DueSubjects that fell due by then: the scheduler's writes.
	Due         *time.Time
	DueSubjects []string
	// Audit are the write's entries in the audit log, appended in order
	// in the same transaction; the store fills in their receipts before it
	// stores the records, checks and accesses, so a receipt that points at
	// a record's, check's or access's LogIndex is stored with it. An entry
	// of kind check (access) without a Ref names the write's next check
	// (access), in order.
	Audit []AuditEntry
	// Seq, when positive, makes the write change Seq of the change feed:
	// Commit fails with ErrStale unless the last change stored is Seq-1.
	// Writes that change the world carry one; checks, accesses and tokens
	// alone do not.
	Seq int64
}

// CheckEntry is a logged check, as the subject's file shows it.
type CheckEntry struct {
	ID      int64     `json:"-"`
	Subject string    `json:"-"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	TokenID string    `json:"-"`
	Action  string    `json:"action"`
	Purpose string    `json:"purpose,omitempty"`
	Allowed bool      `json:"allowed"`
	// LogIndex is the check's receipt: the index of its entry in the
	// audit log.
	LogIndex *int64 `json:"log_index,omitempty"`
}

// Access is a read of a subject's file by someone other than the subject.
type Access struct {
	ID      int64     `json:"-"`
	Subject string    `json:"-"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Role    Role      `json:"role"`
	TokenID string    `json:"-"`
	Purpose string    `json:"purpose"`
	// LogIndex is the access's receipt: the index of its entry in the
	// audit log (none for an access stored before accesses were logged).
	LogIndex *int64 `json:"log_index,omitempty"`
}

// RegisterQuery selects entries of the public register.
type RegisterQuery struct {
	List string // "" for every published list
	Q    string // matched against the subject's name and id
	Now  time.Time
	// Lists are the ids of the lists with publish: true, and the grace
	// period of each; only their entries whose grace period has passed are
	// returned.
	Lists map[string]Duration
	Page  Page
}

// RegisterEntry is one published listing.
type RegisterEntry struct {
	List       string     `json:"list"`
	Name       string     `json:"name"`
	Subject    string     `json:"subject"`
	Since      time.Time  `json:"since"`
	Until      *time.Time `json:"until"`
	Authority  string     `json:"authority"`
	LegalBasis string     `json:"legal_basis"`
	Reason     string     `json:"reason,omitempty"`
	Case       string     `json:"case,omitempty"`
}

// CountingRecord is what the engine needs of a record at start. Times are
// Unix nanoseconds.
type CountingRecord struct {
	ID          int64
	Subject     string
	Scheme      string
	Rule        string
	Points      int64
	OccurredAt  int64
	CountsUntil int64
	Overturned  bool
}

// Loader receives a store's state at start, in this order: subjects,
// relations, records that still count or will (CountsUntil after the
// settled time), designations not ended, current automatic listings, and
// last the settled time (zero when nothing was ever settled) with the last
// change of the feed that the state includes. Record may be
// called from several goroutines at once; the other methods are called from
// one goroutine, never while Record runs.
type Loader interface {
	Subject(s *Subject) error
	Relation(r Relation) error
	Record(r *CountingRecord) error
	Designation(d *Designation) error
	Listing(subject, list string, since time.Time) error
	Settled(t time.Time, seq int64) error
}

// RecordsLoader is a Loader that also takes records in batches: a store
// streaming many records calls Records instead of Record when its Loader
// has it, from several goroutines at once like Record. rs, not its strings,
// is the store's again once Records returns.
type RecordsLoader interface {
	Loader
	Records(rs []CountingRecord) error
}
