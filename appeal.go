package socred

import "time"

// Appeal is a subject's challenge of a record or a designated listing,
// decided by a reviewer.
type Appeal struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	// Record, or List with Designation, is what is appealed.
	Record      string    `json:"record,omitempty"`
	List        string    `json:"list,omitempty"`
	Designation string    `json:"designation,omitempty"`
	Statement   string    `json:"statement"`
	FiledAt     time.Time `json:"filed_at"`
	// ReviewDue is when the review should be decided by.
	ReviewDue time.Time    `json:"review_due"`
	Status    AppealStatus `json:"status"`
	DecidedAt *time.Time   `json:"decided_at,omitempty"`
	// DecidedBy names the reviewer; DeciderToken is their token's id, to
	// keep a reviewer from deciding again on their own decision.
	DecidedBy    string `json:"decided_by,omitempty"`
	DeciderToken string `json:"-"`
	Reasons      string `json:"reasons,omitempty"`
	// SuspendedAt is when the entry's effect was suspended because the
	// review was not decided by ReviewDue; it lasts until the decision.
	SuspendedAt *time.Time `json:"suspended_at,omitempty"`
}

// AppealStatus is where an appeal stands.
type AppealStatus string

// Appeal statuses.
const (
	AppealOpen       AppealStatus = "open"
	AppealOverturned AppealStatus = "overturned"
	AppealUpheld     AppealStatus = "upheld"
)

// Target names what the appeal challenges, for comparing appeals.
func (a *Appeal) Target() string {
	if a.Record != "" {
		return "record:" + a.Record
	}
	return "listing:" + a.Designation
}
