package engine_test

import (
	"slices"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
)

// TestZhangStoryOnTheExamplePack tells Zhang Yingjie's story with the pack
// socred ships, its CEL expressions and its measures: Li defaults, Zhang as
// guarantor loses points, lands on the Rongcheng blacklist, is denied
// high-speed trains and luxury goods, donates blood and gives to charity,
// and gets off the list; years later the default stops counting.
func TestZhangStoryOnTheExamplePack(t *testing.T) {
	p, probs, err := pack.Load(packs.Example)
	if err != nil || p == nil {
		t.Fatalf("example pack: %v %v", err, probs)
	}
	f := newFixture(t, p)
	f.now = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f.person("li", "rongcheng")
	f.person("zhang", "rongcheng")
	f.relate("zhang", "guarantor-of", "li")

	plan := f.report("li", "rongcheng", "loan-default")
	if len(plan.Derived) != 1 || plan.Derived[0].Subject != "zhang" || plan.Derived[0].Points != -50 {
		t.Fatalf("derived: %+v, want -50 for zhang", plan.Derived)
	}
	if s, g := f.score("zhang", "rongcheng"); s != 950 || g != "B" {
		t.Errorf("zhang: %d %s, want 950 B", s, g)
	}
	if got := f.lists("zhang"); !slices.Equal(got, []string{"rongcheng-blacklist"}) {
		t.Errorf("zhang's lists: %v", got)
	}
	for _, a := range []string{"ride-high-speed-train", "buy-luxury-goods"} {
		d := f.decide("zhang", a)
		if d.Allowed || len(d.Reasons) != 1 || d.Reasons[0].List != "rongcheng-blacklist" || d.Reasons[0].LegalBasis == "" {
			t.Errorf("%s: %+v, want denied by the blacklist with its legal basis", a, d)
		}
	}
	if d := f.decide("zhang", "buy-train-ticket"); !d.Allowed {
		t.Errorf("ordinary trains: %+v, want allowed", d)
	}
	if d := f.decide("zhang", "rent-bike-without-deposit"); d.Allowed {
		t.Errorf("a privilege without a grant: %+v, want denied", d)
	}

	f.now = f.now.AddDate(0, 1, 0)
	f.report("zhang", "rongcheng", "blood-donation")
	if got := f.lists("zhang"); len(got) != 1 {
		t.Errorf("after blood alone (955) zhang should still be listed: %v", got)
	}
	f.report("zhang", "rongcheng", "charity-donation")
	if s, g := f.score("zhang", "rongcheng"); s != 960 || g != "A" {
		t.Errorf("after good deeds: %d %s, want 960 A", s, g)
	}
	if got := f.lists("zhang"); len(got) != 0 {
		t.Errorf("after good deeds zhang is on %v", got)
	}
	if d := f.decide("zhang", "ride-high-speed-train"); !d.Allowed {
		t.Errorf("after good deeds: %+v, want allowed", d)
	}

	// The good deeds count for two years; the default for five. When the
	// deeds run out Zhang is back on the list, by time alone, on the day.
	evs := f.advance(f.now.AddDate(2, 0, 1))
	i := slices.IndexFunc(evs, func(e socred.Event) bool { return e.Kind == socred.EventListed && e.Subject == "zhang" })
	if i < 0 || !evs[i].At.Equal(time.Date(2028, 4, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("events: %+v, want zhang listed again when the deeds stop counting", evs)
	}
	// And off once the default stops counting.
	f.advance(time.Date(2031, 3, 2, 0, 0, 0, 0, time.UTC))
	if s, _ := f.score("zhang", "rongcheng"); s != 1000 {
		t.Errorf("after five years: %d, want 1000", s)
	}
	if got := f.lists("zhang"); len(got) != 0 {
		t.Errorf("after five years zhang is on %v", got)
	}
}
