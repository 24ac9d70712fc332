package sqlite

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// encode returns g as a record of the log (in l.buf, until the next call).
func (l *checkLog) encode(g *logGroup) []byte {
	b := append(l.buf[:0], make([]byte, groupHeader)...)
	binary.LittleEndian.PutUint64(b[8:], g.seq)
	binary.LittleEndian.PutUint64(b[16:], l.owner)
	b = binary.AppendVarint(b, g.firstCheck)
	b = binary.AppendVarint(b, g.firstAccess)
	b = binary.AppendVarint(b, g.firstNotice)
	b = binary.AppendVarint(b, g.firstLeaf)
	b = appendBool(b, g.deliver)
	b = binary.AppendUvarint(b, uint64(len(g.checks)))
	for i := range g.checks {
		c := &g.checks[i]
		b = appendString(b, c.Subject)
		b = binary.AppendVarint(b, micros(c.At))
		b = appendString(b, c.By)
		b = appendString(b, c.TokenID)
		b = appendString(b, c.Action)
		b = appendString(b, c.Purpose)
		b = appendBool(b, c.Allowed)
		b = appendBool(b, c.LogIndex != nil)
		if c.LogIndex != nil {
			b = binary.AppendVarint(b, *c.LogIndex)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(g.accesses)))
	for i := range g.accesses {
		a := &g.accesses[i]
		b = appendString(b, a.Subject)
		b = binary.AppendVarint(b, micros(a.At))
		b = appendString(b, a.By)
		b = appendString(b, string(a.Role))
		b = appendString(b, a.TokenID)
		b = appendString(b, a.Purpose)
	}
	b = binary.AppendUvarint(b, uint64(len(g.audit)))
	for i := range g.audit {
		e := &g.audit[i]
		b = append(b, byte(e.Kind))
		b = appendString(b, e.Ref)
		b = append(b, e.Event[:]...)
	}
	b = binary.AppendUvarint(b, uint64(len(g.notices)))
	for i := range g.notices {
		b = appendString(b, g.notices[i].Subject)
		b = binary.AppendVarint(b, micros(g.notices[i].At))
		b = appendString(b, string(g.bodies[i]))
	}
	binary.LittleEndian.PutUint32(b, uint32(len(b)-groupHeader)) // #nosec G115 -- a group is at most a quarter of a file
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
	l.buf = b
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

var errBadGroup = errors.New("check log: malformed group")

// decoder reads a group's payload; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items, each at least per bytes long: no more
// than what is left of the payload can hold.
func (d *decoder) count(per int) int {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	if limit := len(d.b) / per; v > uint64(limit) { // #nosec G115 -- a length, never negative
		d.fail()
		return 0
	}
	return int(v) // #nosec G115 -- at most a length
}

func (d *decoder) string() string {
	n := d.count(1)
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail()
	return false
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errBadGroup
	}
	d.b = nil
}

// decodeGroup reads a group's payload (all but its sequence number).
func decodeGroup(p []byte) (*logGroup, error) {
	d := &decoder{b: p}
	g := &logGroup{firstCheck: d.varint(), firstAccess: d.varint(), firstNotice: d.varint(), firstLeaf: d.varint(), deliver: d.bool()}
	g.checks = make([]socred.CheckEntry, d.count(9))
	for i := range g.checks {
		c := &g.checks[i]
		c.Subject = d.string()
		c.At = fromMicros(d.varint())
		c.By, c.TokenID, c.Action, c.Purpose = d.string(), d.string(), d.string(), d.string()
		c.Allowed = d.bool()
		if d.bool() {
			n := d.varint()
			c.LogIndex = &n
		}
	}
	g.accesses = make([]socred.Access, d.count(6))
	for i := range g.accesses {
		a := &g.accesses[i]
		a.Subject = d.string()
		a.At = fromMicros(d.varint())
		a.By, a.Role, a.TokenID, a.Purpose = d.string(), socred.Role(d.string()), d.string(), d.string()
	}
	g.audit = make([]socred.AuditEntry, d.count(34))
	for i := range g.audit {
		e := &g.audit[i]
		e.Kind = audit.Kind(d.byte())
		e.Ref = d.string()
		if len(d.b) < len(e.Event) {
			d.fail()
			break
		}
		copy(e.Event[:], d.b)
		d.b = d.b[len(e.Event):]
	}
	g.notices = make([]socred.Notice, d.count(3))
	g.bodies = make([][]byte, len(g.notices))
	for i := range g.notices {
		g.notices[i].Subject = d.string()
		g.notices[i].At = fromMicros(d.varint())
		g.bodies[i] = []byte(d.string())
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	// An access's receipt is its entry's place (the group does not repeat
	// it, as it does a check's). An entry naming no access of the group
	// (number never makes one) leaves its leaf unclaimed, for audit verify
	// to report, rather than the group unread.
	for i := range g.audit {
		if e := &g.audit[i]; e.Kind == audit.KindAccess {
			id, err := strconv.ParseInt(e.Ref, 10, 64)
			if k := id - g.firstAccess; err == nil && k >= 0 && k < int64(len(g.accesses)) {
				n := g.firstLeaf + int64(i)
				g.accesses[k].LogIndex = &n
			}
		}
	}
	return g, nil
}
