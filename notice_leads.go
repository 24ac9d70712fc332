package socred

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// NoticeLeads keeps the leads of record notices once each, for a store
// that keeps them in a table of their own, so that a record's notice body
// names its lead instead of spelling it out. A record's notice opens with
// what the record says — "rongcheng-credit-office recorded \"Walking a dog
// outdoors without a leash\" (-5 points in rongcheng) about you on
// 2026-12-03 (record 1)." — and all but the day and the record's number is
// the same for every record one reporter makes under one rule: about 110
// of the 300 bytes of a notice, and ingest writes a notice per record.
//
// What is kept is the lead up to " about you on <day> (record <id>).": the
// body keeps the day ("on"), and the notice's record makes the rest again
// when it is read. So the texts kept are a reporter's, a rule's, points
// and a scheme, as many as the pairs of reporters and rules in use, and
// not personal (a derived record's notice, which names the related
// subject, keeps its lead in full). A text's reference is a hash of it
// (FNV-1a, 32 bits, plus one: never 0, and ten digits at most in a body),
// the same in every process, so that a store reopened finds the texts it
// keeps under the references it knows; a text whose hash another text
// already has is not kept here, and its notices spell their lead out.
//
// The methods are safe for concurrent use.
type NoticeLeads struct {
	mu    sync.RWMutex
	texts map[int64]string
}

// LeadKeeper is a store that keeps the leads of record notices once each:
// the writer encodes its notices' bodies with the store's NoticeLeads and
// passes the leads they name in Write.NoticeLeads.
type LeadKeeper interface {
	NoticeLeads() *NoticeLeads
}

// NoticeLead is a lead kept once: the text a notice body names by Ref.
type NoticeLead struct {
	Ref  int64
	Text string
}

// NewNoticeLeads returns a table holding the leads a store keeps.
func NewNoticeLeads(kept ...NoticeLead) *NoticeLeads {
	l := &NoticeLeads{texts: make(map[int64]string, len(kept))}
	for _, k := range kept {
		l.texts[k.Ref] = k.Text
	}
	return l
}

// leadRef is the reference of a lead's text.
func leadRef(text string) int64 {
	h := fnv.New32a()
	h.Write([]byte(text)) // #nosec G104 -- a hash's Write never fails
	return int64(h.Sum32()) + 1
}

// ref returns the reference under which text is kept, adding it, or false
// when another text has its reference.
func (l *NoticeLeads) ref(text string) (int64, bool) {
	r := leadRef(text)
	l.mu.RLock()
	have, ok := l.texts[r]
	l.mu.RUnlock()
	if ok {
		return r, have == text
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if have, ok := l.texts[r]; ok {
		return r, have == text
	}
	l.texts[r] = text
	return r, true
}

// Text returns the lead kept under ref.
func (l *NoticeLeads) Text(ref int64) (string, bool) {
	if l == nil {
		return "", false
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	t, ok := l.texts[ref]
	return t, ok
}

// leadEnd is how a record's lead ends after the text NoticeLeads keep:
// " about you on <day> (record <id>).". (Without a day, " (record
// <id>).": the first bodies to name their leads kept the day in the
// lead.)
func leadEnd(b []byte, on, record string) []byte {
	if on != "" {
		b = append(b, " about you on "...)
		b = append(b, on...)
	}
	b = append(b, " (record "...)
	b = append(b, record...)
	return append(b, ")."...)
}

// keptLead returns the part of n's lead that NoticeLeads keep and the day
// it names, if n is a record's notice whose lead they keep: one that ends
// as leadEnd says, with a day of the form 2006-01-02.
func keptLead(n *Notice, lead string) (text, on string, ok bool) {
	if n.Kind != NoticeRecordAccepted || n.Record == "" {
		return "", "", false
	}
	// " (record <id>)." cut off without building it: this runs for every
	// record ingested.
	rest, ok := strings.CutSuffix(lead, ").")
	if ok {
		rest, ok = strings.CutSuffix(rest, n.Record)
	}
	if ok {
		rest, ok = strings.CutSuffix(rest, " (record ")
	}
	const day = len("2006-01-02")
	if !ok || len(rest) < day {
		return "", "", false
	}
	rest, on = rest[:len(rest)-day], rest[len(rest)-day:]
	for i := range day {
		if c := on[i]; (i == 4 || i == 7) != (c == '-') || c != '-' && (c < '0' || c > '9') {
			return "", "", false
		}
	}
	text, ok = strings.CutSuffix(rest, " about you on ")
	// Valid UTF-8, as the lead spelt out in JSON would read back the same.
	return text, on, ok && text != "" && utf8.ValidString(text)
}

// AppendNotice appends n's body as AppendNotice does, but for a record's
// notice whose lead l keeps: its body names the lead by reference. It
// returns the lead the body names, or a zero NoticeLead; a store keeps the
// lead in the transaction that keeps the notice.
func (l *NoticeLeads) AppendNotice(dst []byte, n *Notice) ([]byte, NoticeLead, error) {
	return appendNoticeBody(dst, n, l)
}

// Decode makes a notice of what a store keeps, as DecodeNotice does, with
// the leads its body names read from l.
func (l *NoticeLeads) Decode(id int64, subject string, at time.Time, body []byte) (Notice, error) {
	return decodeNotice(id, subject, at, body, l)
}

// resolveLead makes the lead of a notice whose body names it by ref, and
// the day on.
func resolveLead(l *NoticeLeads, id, ref int64, on, record string) ([]byte, error) {
	text, ok := l.Text(ref)
	if !ok {
		return nil, fmt.Errorf("notice %d: lead %s is not kept", id, strconv.FormatInt(ref, 10))
	}
	return leadEnd([]byte(text), on, record), nil
}
