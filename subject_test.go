package socred

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The ids' grammars, as regular expressions: what ValidID and
// ValidSubjectID check by hand.
var (
	idGrammar        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	subjectIDGrammar = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
)

func checkIDs(t *testing.T, s string) {
	t.Helper()
	if got, want := ValidID(s), idGrammar.MatchString(s); got != want {
		t.Errorf("ValidID(%q) = %v, want %v", s, got, want)
	}
	if got, want := ValidSubjectID(s), subjectIDGrammar.MatchString(s); got != want {
		t.Errorf("ValidSubjectID(%q) = %v, want %v", s, got, want)
	}
}

// TestIDsFollowTheirGrammars compares the checks with the grammars on the
// edges (lengths, first characters, every ASCII byte) and on random
// strings of the characters that matter.
func TestIDsFollowTheirGrammars(t *testing.T) {
	for _, s := range []string{"", "a", "-", "-a", "a-", "A", "0", ".", "_a", ":a", "a.b_c:d-e", "zhang", "Zhang",
		"s00003278", "a b", "é", "a\x00", strings.Repeat("a", 63), strings.Repeat("a", 64),
		strings.Repeat("b", 128), strings.Repeat("b", 129), "a" + strings.Repeat(".", 127), "a" + strings.Repeat(".", 128)} {
		checkIDs(t, s)
	}
	for c := range 256 {
		checkIDs(t, string([]byte{byte(c)}))
		checkIDs(t, "a"+string([]byte{byte(c)}))
	}
	const alphabet = "azAZ09-._:/ \xff"
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, r.IntN(140))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		checkIDs(t, string(b))
	}
}

func FuzzIDsFollowTheirGrammars(f *testing.F) {
	for _, s := range []string{"", "a", "-a", "a.b_c:d-e", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(checkIDs)
}
