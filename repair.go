package socred

import "time"

// Repair is a subject's application to leave a designated list before the
// term ends by one of the list's credit-repair routes (obligation
// performed, a commitment letter, a training course …), with references
// to the evidence, decided by a reviewer.
type Repair struct {
	ID          string       `json:"id"`
	Subject     string       `json:"subject"`
	List        string       `json:"list"`
	Designation string       `json:"designation"`
	Route       string       `json:"route"`
	Evidence    []string     `json:"evidence"`
	Statement   string       `json:"statement,omitempty"`
	FiledAt     time.Time    `json:"filed_at"`
	Status      RepairStatus `json:"status"`
	DecidedAt   *time.Time   `json:"decided_at,omitempty"`
	DecidedBy   string       `json:"decided_by,omitempty"`
	// DeciderToken is the reviewer's token id.
	DeciderToken string `json:"-"`
	Reasons      string `json:"reasons,omitempty"`
}

// RepairStatus is where a repair application stands.
type RepairStatus string

// Repair statuses.
const (
	RepairPending  RepairStatus = "pending"
	RepairApproved RepairStatus = "approved"
	RepairRejected RepairStatus = "rejected"
)
