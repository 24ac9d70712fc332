package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// strictDecode is how the server decoded bodies before the fast decoder,
// and still does what it leaves: encoding/json, unknown fields refused,
// nothing after the value.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return &json.SyntaxError{Offset: dec.InputOffset()}
	}
	return nil
}

var fastSeeds = []string{
	`{"subject":"zhang-wei","action":"fly","purpose":"ticket"}`,
	` { "subject" : "zhang-wei" , "action":"fly" } ` + "\n",
	`{"subject":"a","subject":"b","action":"fly"}`,
	`{}`,
	`{"subject":"张伟","action":"high-speed-rail","purpose":"ticket to Beijing"}`,
	`{"subject":"a\"b","action":"fly"}`,
	`{"Subject":"a","action":"fly"}`,
	`{"subject":null,"action":"fly"}`,
	`{"subject":"a","action":"fly","extra":1}`,
	`{"subject":"a","action":"fly"} x`,
	`{"subject":"a","action":"fly"}{}`,
	`{"subject":"a",}`,
	"{\"subject\":\"\xff\"}",
	`{"records":[{"key":"k1","subject":"zhang-wei","scheme":"rongcheng","rule":"loan-default","occurred_at":"2025-01-02T03:04:05Z","evidence":"court case 1"}]}`,
	`{"records":[{"key":"k1","occurred_at":"2025-01-02T03:04:05.123456789+08:00"},{"key":"k2","subject":"li"}]}`,
	`{"records":[]}`,
	`{"records":[{}]}`,
	`{"records":[{"key":"k1"}],"records":[{"subject":"s"}]}`,
	`{"records":[{"key":"k1","occurred_at":"2025-13-02T03:04:05Z"}]}`,
	`{"records":[{"key":"k1","occurred_at":"yesterday"}]}`,
	`{"records":[{"key":"k1","occurred_at":null}]}`,
	`{"records":[{"key":"k1","points":5}]}`,
	`{"records":[{"key":"k1"},]}`,
	`{"records":null}`,
	`{"records":{}}`,
	`{"records":[{"key":"k1","occurred_at":"2025-01-02t03:04:05z"}]}`,
}

// FuzzFastDecode holds the fast decoder to encoding/json: whatever body
// it decodes, encoding/json decodes too, to the same value.
func FuzzFastDecode(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mk := range []func() any{func() any { return new(service.CheckInput) }, func() any { return new(recordsInput) }} {
			fast, slow := mk(), mk()
			if !fastUnmarshal(data, fast) {
				if !reflect.DeepEqual(fast, mk()) {
					t.Fatalf("%q: the fast decoder declined but changed %T: %+v", data, fast, fast)
				}
				continue
			}
			if err := strictDecode(data, slow); err != nil {
				t.Fatalf("%q: the fast decoder took it into %+v; encoding/json refuses it: %v", data, fast, err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("%q: the fast decoder read %+v; encoding/json %+v", data, fast, slow)
			}
		}
	})
}

// The fast decoder takes the bodies clients send: without it, nothing
// would be faster.
func TestFastDecodeTakesPlainBodies(t *testing.T) {
	for i, s := range fastSeeds[:5] {
		if i == 2 { // a name given twice is left to encoding/json
			if fastUnmarshal([]byte(s), new(service.CheckInput)) {
				t.Errorf("%s: taken", s)
			}
			continue
		}
		if !fastUnmarshal([]byte(s), new(service.CheckInput)) {
			t.Errorf("%s: declined", s)
		}
	}
	for _, s := range fastSeeds[13:17] {
		if !fastUnmarshal([]byte(s), new(recordsInput)) {
			t.Errorf("%s: declined", s)
		}
	}
}

func BenchmarkDecodeRecords(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"records":[`)
	for i := range 1000 {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"key":"k-0000012345","subject":"person-000123","scheme":"rongcheng","rule":"loan-default","occurred_at":"2025-01-02T03:04:05Z","evidence":"court case 2025-123"}`)
	}
	buf.WriteString(`]}`)
	data := buf.Bytes()
	for _, c := range []struct {
		name   string
		decode func([]byte, any) error
	}{{"encoding/json", strictDecode}, {"fast", unmarshal}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				var in recordsInput
				if err := c.decode(data, &in); err != nil || len(in.Records) != 1000 {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
		})
	}
}

// RFC 3339 allows a lower-case "t" and "z" (its section 5.6); both decoders
// take them, to the same time as the upper-case ones.
func TestLowerCaseRFC3339(t *testing.T) {
	want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		body string
		fast bool
	}{
		{`{"records":[{"key":"k1","occurred_at":"2026-01-02t03:04:05z"}]}`, true},
		{`{"records":[{"key":"k1","occurred_at":"2026-01-02t11:04:05+08:00"}]}`, true},
		// An escape sends the body to encoding/json.
		{`{"records":[{"key":"k\u0031","occurred_at":"2026-01-02t03:04:05z"}]}`, false},
	} {
		if got := fastUnmarshal([]byte(c.body), new(recordsInput)); got != c.fast {
			t.Errorf("%s: the fast decoder took it: %v, want %v", c.body, got, c.fast)
		}
		var in recordsInput
		if err := unmarshal([]byte(c.body), &in); err != nil {
			t.Errorf("%s: %v", c.body, err)
			continue
		}
		if got := in.Records[0].input(); got.Key != "k1" || !got.OccurredAt.Equal(want) {
			t.Errorf("%s: read %+v, want key k1 at %s", c.body, got, want)
		}
	}
	var in recordsInput
	err := unmarshal([]byte(`{"records":[{"key":"k1","occurred_at":"2026-01-02x03:04:05z"}]}`), &in)
	if e, ok := errors.AsType[*socred.Error](err); !ok || e.Field != "records[0].occurred_at" || !strings.Contains(e.Message, "must be an RFC 3339 time") {
		t.Errorf(`"2026-01-02x03:04:05z": %v, want records[0].occurred_at: must be an RFC 3339 time`, err)
	}
}
