package socred_test

import (
	"errors"
	"testing"
	"time"

	"github.com/socred/socred"
)

// TestOccurredAtAllowance checks the edges of the allowance for a
// reporter's clock: a record dated up to MaxFutureSkew after now is taken,
// one a second later is refused naming occurred_at, as is one before 1970.
func TestOccurredAtAllowance(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	if socred.MaxFutureSkew != 5*time.Minute {
		t.Fatalf("MaxFutureSkew is %s; API.md allows records dated up to 5 minutes ahead", socred.MaxFutureSkew)
	}
	tests := []struct {
		at time.Time
		ok bool
	}{
		{now, true},
		{now.Add(-365 * 24 * time.Hour), true},
		{now.Add(4*time.Minute + 59*time.Second), true},
		{now.Add(5 * time.Minute), true},
		{now.Add(5*time.Minute + time.Second), false},
		{now.Add(time.Hour), false},
		{time.Unix(0, 0), true},
		{time.Unix(-1, 0), false},
	}
	for _, tt := range tests {
		in := socred.RecordInput{Key: "k1", Subject: "li", Scheme: "rongcheng", Rule: "loan-default", OccurredAt: tt.at}
		err := in.Validate("records[0]", now)
		if tt.ok {
			if err != nil {
				t.Errorf("occurred_at %s (now %s): %v, want it taken", tt.at.UTC().Format(time.RFC3339), now.Format(time.RFC3339), err)
			}
			continue
		}
		var e *socred.Error
		if !errors.As(err, &e) || e.Code != socred.EINVALID || e.Field != "records[0].occurred_at" {
			t.Errorf("occurred_at %s (now %s): got %v, want invalid at records[0].occurred_at", tt.at.UTC().Format(time.RFC3339), now.Format(time.RFC3339), err)
		}
	}
}
