package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/socred/socred"
)

// encodeStd encodes v as writeJSON does.
func encodeStd(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sampleDecision() socred.Decision {
	at := time.Date(2026, 11, 30, 9, 54, 36, 123456789, time.UTC)
	until := at.AddDate(1, 0, 0)
	idx := int64(42)
	return socred.Decision{
		Subject: "p-000123", Action: "buy_air_ticket", Allowed: false, CheckedAt: at, LogIndex: &idx,
		Reasons: []socred.Reason{
			{List: "rongcheng-blacklist", Measure: "no-flights", Effect: socred.Restricts, Authority: "rongcheng-court",
				LegalBasis: "最高人民法院关于限制被执行人高消费的若干规定 art. 3", Since: at.Add(-time.Hour), Until: &until,
				Via: &socred.Via{Subject: "p-000124", Relation: "guarantor"}, Why: `score("rongcheng") < 960 && grade("x") != "A\\B"`,
				Remedy: "The subject may appeal the designation to a reviewer within 30d of it (POST /v1/appeals with the list)."},
			{List: "l", Measure: "m", Effect: socred.Grants, Authority: "a", LegalBasis: "b", Since: at.In(time.FixedZone("CST", 8*3600))},
		},
	}
}

func TestAppendDecisionMatchesEncodingJSON(t *testing.T) {
	d := sampleDecision()
	cases := map[string]socred.Decision{"denied": d}
	allowed := d
	allowed.Allowed, allowed.Reasons, allowed.LogIndex = true, []socred.Reason{}, nil
	cases["allowed"] = allowed
	nilReasons := allowed
	nilReasons.Reasons = nil
	cases["nil reasons"] = nilReasons
	for name, d := range cases {
		got, ok := appendDecision(nil, &d)
		if !ok {
			t.Fatalf("%s: not encoded", name)
		}
		if want := encodeStd(t, d); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func TestAppendDecisionLeavesEscapesToEncodingJSON(t *testing.T) {
	for _, s := range []string{"a\nb", "a\x00", "\xff", "a\u2028b", "a\u2029"} {
		d := sampleDecision()
		d.Reasons[1].LegalBasis = s
		prefix := []byte("kept")
		got, ok := appendDecision(prefix, &d)
		if ok || string(got) != "kept" {
			t.Errorf("%q: encoded (%v) as %q; want it left to encoding/json and the buffer as it was", s, ok, got)
		}
	}
	d := sampleDecision()
	d.CheckedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, ok := appendDecision(nil, &d); ok {
		t.Error("year 10000 encoded; encoding/json refuses it")
	}
}

func FuzzDecisionEncoding(f *testing.F) {
	f.Add("p-1", "buy_air_ticket", true, int64(1764496476123456789), "list", "basis", int64(3600), "guarantor", int64(7))
	f.Add("p\"1", "a\u2028", false, int64(-62135596800000000), "\xff", "<&>", int64(-3600*25), "", int64(-1))
	f.Fuzz(func(t *testing.T, subject, action string, allowed bool, nanos int64, list, basis string, offset int64, relation string, idx int64) {
		at := time.Unix(0, nanos).In(time.FixedZone("z", int(offset%(48*3600))))
		d := socred.Decision{Subject: subject, Action: action, Allowed: allowed, CheckedAt: at, LogIndex: &idx,
			Reasons: []socred.Reason{{List: list, Measure: action, Effect: socred.Effect(relation), Authority: subject,
				LegalBasis: basis, Since: at.UTC(), Until: &at, Via: &socred.Via{Subject: list, Relation: relation}, Why: basis + list, Remedy: relation}}}
		if idx < 0 {
			d.LogIndex, d.Reasons[0].Until, d.Reasons[0].Via, d.Reasons[0].Why = nil, nil, nil, ""
		}
		got, ok := appendDecision(nil, &d)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		err := enc.Encode(d)
		if !ok {
			return // left to encoding/json
		}
		if err != nil {
			t.Fatalf("encoded %q where encoding/json fails: %v", got, err)
		}
		if !bytes.Equal(got, buf.Bytes()) {
			t.Fatalf("\n got %s\nwant %s", got, buf.Bytes())
		}
	})
}

func BenchmarkDecisionEncoding(b *testing.B) {
	d := sampleDecision()
	d.Reasons[0].LegalBasis = "Regulations on restricting high consumption, art. 3"
	b.Run("appendDecision", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = appendDecision(buf[:0], &d)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(&d)
		}
	})
}
