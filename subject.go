package socred

import (
	"strconv"
)

// SubjectKind says whether a subject is a person or an organisation.
type SubjectKind string

// Subject kinds.
const (
	Person       SubjectKind = "person"
	Organisation SubjectKind = "organisation"
)

// Valid reports whether k is a known kind.
func (k SubjectKind) Valid() bool { return k == Person || k == Organisation }

// ValidID reports whether s is a valid pack id (authority, scheme, rule, list,
// measure, action, relation type, group or region): lower-case letters,
// digits and hyphens, 1 to 63 characters, not starting with a hyphen.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidSubjectID reports whether s is a valid subject id: an opaque string of
// letters, digits, '.', '_', ':' and '-', 1 to 128 characters, starting with
// a letter or a digit. (A loop, not a regular expression: ingest checks one
// a record.)
func ValidSubjectID(s string) bool {
	if len(s) == 0 || len(s) > 128 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }

// Subject is a person or an organisation known to socred. These are all the
// attributes socred keeps: it never stores special-category data.
type Subject struct {
	ID     string      `json:"id"`
	Kind   SubjectKind `json:"kind"`
	Name   string      `json:"name"`
	Region string      `json:"region"`
	Groups []string    `json:"groups"`
	// RegisteredBy is the authority that registered the subject ("" for
	// the admin): only it and the admin may change the subject, its
	// relations and its contact.
	RegisteredBy string `json:"registered_by,omitempty"`
}

// Validate checks the subject's fields, including that no region or group
// names a special category of personal data.
func (s *Subject) Validate() error {
	switch {
	case !ValidSubjectID(s.ID):
		return FieldErrorf("id", "must be 1 to 128 letters, digits, '.', '_', ':' or '-'")
	case !s.Kind.Valid():
		return FieldErrorf("kind", "must be \"person\" or \"organisation\", not %q", s.Kind)
	case s.Name == "" || !ValidText(s.Name, false) || len(s.Name) > 200:
		return FieldErrorf("name", "must be 1 to 200 bytes of "+TextRule)
	case s.Region != "" && !ValidID(s.Region):
		return FieldErrorf("region", "must be a lower-case id like \"rongcheng\"")
	}
	if t, ok := SpecialCategory(s.Region); ok {
		return FieldErrorf("region", "%q names a special category of personal data (%s); socred does not store it", s.Region, t.Category)
	}
	seen := make(map[string]bool, len(s.Groups))
	for i, g := range s.Groups {
		field := "groups[" + strconv.Itoa(i) + "]"
		if !ValidID(g) {
			return FieldErrorf(field, "must be a lower-case id like \"taxi-driver\"")
		}
		if seen[g] {
			return FieldErrorf(field, "duplicate group %q", g)
		}
		seen[g] = true
		if t, ok := SpecialCategory(g); ok {
			return FieldErrorf(field, "%q names a special category of personal data (%s); socred does not store it", g, t.Category)
		}
	}
	if len(s.Groups) > 64 {
		return FieldErrorf("groups", "at most 64 groups")
	}
	return nil
}

// InGroup reports whether the subject belongs to group g.
func (s *Subject) InGroup(g string) bool {
	for _, x := range s.Groups {
		if x == g {
			return true
		}
	}
	return false
}

// Relation is a typed link between two subjects, e.g. (zhang, guarantor-of, li).
type Relation struct {
	From string `json:"from"`
	Type string `json:"type"`
	To   string `json:"to"`
}

// Validate checks the relation's fields (not that the type or subjects exist).
func (r *Relation) Validate() error {
	switch {
	case !ValidSubjectID(r.From):
		return FieldErrorf("from", "must be a subject id")
	case !ValidID(r.Type):
		return FieldErrorf("type", "must be a relation type id")
	case !ValidSubjectID(r.To):
		return FieldErrorf("to", "must be a subject id")
	case r.From == r.To:
		return FieldErrorf("to", "a subject cannot be related to itself")
	}
	return nil
}
