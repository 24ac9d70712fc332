package socred

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// SpecialTerm is a term of the special-category deny-list: a word or phrase
// that names a special category of personal data, and that category.
type SpecialTerm struct {
	Term     string // as written in the deny-list, e.g. "muslim" or "维吾尔"
	Category string // e.g. "religion or belief"
}

// specialCategories is the deny-list, data in the repository
// (data/special-categories.txt; its header explains the format).
//
//go:embed data/special-categories.txt
var specialCategories string

// categoryNames maps the deny-list's category keys to the names shown to users.
var categoryNames = map[string]string{
	"religion":    "religion or belief",
	"ethnicity":   "ethnic origin",
	"politics":    "political opinion",
	"trade-union": "trade-union membership",
	"health":      "health",
	"sex-life":    "sex life or sexual orientation",
	"genetic":     "genetic data",
	"biometric":   "biometric data",
}

// SpecialCategory reports whether text (an id like "muslim-residents", a name,
// a region, a group) names a special category of personal data, and which term
// it contains. The text is folded first: compatibility forms to their plain
// letters (full-width ｍｕｓｌｉｍ), accents dropped (Muslím), and words
// written together in camelCase split (MuslimResidents). Latin-script terms
// then match whole words of the text split at hyphens, underscores, spaces
// and punctuation, case-insensitively, each word also in its plural (-s,
// -es, -ies), and a single-word term also run together with a word naming a
// group of people (muslimresidents, gaymen, hivpositive); terms in Chinese
// characters match as substrings.
func SpecialCategory(text string) (SpecialTerm, bool) {
	return denyList().match(text)
}

// SpecialCategoryWhere returns the first term of the deny-list, folded as
// SpecialCategory folds text (words joined by single spaces), for which
// pred holds: the pack's linter asks it which terms a pattern or a prefix
// in an expression would reach.
func SpecialCategoryWhere(pred func(term string) bool) (SpecialTerm, bool) {
	l := denyList()
	for _, t := range l.ordered {
		if pred(strings.Join(t.words, " ")) {
			return t.term, true
		}
	}
	for _, t := range l.han {
		if pred(t.Term) {
			return t, true
		}
	}
	return SpecialTerm{}, false
}

// FoldText folds text as SpecialCategory does before matching (see fold).
func FoldText(text string) string { return fold(text) }

// fold brings text to the form terms are matched in: compatibility
// characters to their plain forms, combining marks (accents) dropped,
// camelCase words apart, lower case.
func fold(text string) string {
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		text = norm.NFKD.String(norm.NFKC.String(text))
	}
	if ascii && !hasUpper(text) {
		return text
	}
	var b strings.Builder
	b.Grow(len(text) + 8)
	var prev rune
	rs := []rune(text)
	for i, r := range rs {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		// A word begins at a capital after a small letter (muslimResidents),
		// and at the last capital of a run followed by a small letter
		// (HIVPositive).
		if unicode.IsUpper(r) && (unicode.IsLower(prev) ||
			unicode.IsUpper(prev) && i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
		prev = r
	}
	if ascii {
		return b.String()
	}
	return norm.NFC.String(b.String())
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// groupNouns are words naming a group of people, which a term may be run
// together with (muslimresidents): a single-word term followed by one of
// them matches.
var groupNouns = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`resident people person persons men man women woman member driver
		patient positive negative minority family household community group citizen worker student
		youth child children villager population believer follower carrier user owner employee
		applicant borrower tenant parent staff official cadre teacher doctor nurse`) {
		m[w] = true
		maxGroupNoun = max(maxGroupNoun, len(w))
	}
	return m
}()

// maxGroupNoun is the length of the longest of groupNouns.
var maxGroupNoun int

// wordTerm is a Latin-script term as a sequence of words.
type wordTerm struct {
	words []string
	term  SpecialTerm
}

// specialList is the parsed deny-list.
type specialList struct {
	words      map[string][]wordTerm // by first word
	ordered    []wordTerm            // the same, in the list's order
	han        []SpecialTerm         // matched as substrings
	allowWords map[string][]wordTerm // exceptions, by first word
	allowHan   []string
}

var denyList = sync.OnceValue(func() *specialList {
	l, err := parseDenyList(specialCategories)
	if err != nil {
		panic("socred: data/special-categories.txt: " + err.Error())
	}
	return l
})

// parseDenyList parses the deny-list's text.
func parseDenyList(text string) (*specialList, error) {
	l := &specialList{words: map[string][]wordTerm{}, allowWords: map[string][]wordTerm{}}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndex(line, "  ")
		if i < 0 {
			return nil, fmt.Errorf("line %d: want a term, two spaces and a category", n+1)
		}
		term, key := fold(strings.TrimSpace(line[:i])), strings.TrimSpace(line[i:])
		name, ok := categoryNames[key]
		if !ok && key != "none" {
			return nil, fmt.Errorf("line %d: unknown category %q", n+1, key)
		}
		if hasHan(term) {
			if key == "none" {
				l.allowHan = append(l.allowHan, term)
			} else {
				l.han = append(l.han, SpecialTerm{Term: term, Category: name})
			}
			continue
		}
		words := splitWords(term)
		if len(words) == 0 {
			return nil, fmt.Errorf("line %d: term %q has no letters", n+1, term)
		}
		wt := wordTerm{words: words, term: SpecialTerm{Term: term, Category: name}}
		if key == "none" {
			l.allowWords[words[0]] = append(l.allowWords[words[0]], wt)
		} else {
			l.words[words[0]] = append(l.words[words[0]], wt)
			l.ordered = append(l.ordered, wt)
		}
	}
	return l, nil
}

func (l *specialList) match(text string) (SpecialTerm, bool) {
	text = fold(text)
	words := splitWords(text)
	if t, ok := l.matchWords(words); ok {
		return t, true
	}
	if t, ok := l.matchCompound(words); ok {
		return t, true
	}
	if !hasHan(text) {
		return SpecialTerm{}, false
	}
	for _, a := range l.allowHan {
		text = strings.ReplaceAll(text, a, " ")
	}
	for _, t := range l.han {
		if strings.Contains(text, t.Term) {
			return t, true
		}
	}
	return SpecialTerm{}, false
}

// matchWords finds the longest term starting at the earliest word, skipping
// words covered by an exception.
func (l *specialList) matchWords(words []string) (SpecialTerm, bool) {
	if len(words) == 0 {
		return SpecialTerm{}, false
	}
	var masked []bool
	for i := range words {
		candidates(l.allowWords, words[i], func(a *wordTerm) bool {
			if wordsMatch(words[i:], a.words) {
				if masked == nil {
					masked = make([]bool, len(words))
				}
				for j := range a.words {
					masked[i+j] = true
				}
			}
			return true
		})
	}
	for i := range words {
		var best *wordTerm
		candidates(l.words, words[i], func(c *wordTerm) bool {
			if wordsMatch(words[i:], c.words) && !anyMasked(masked, i, len(c.words)) &&
				(best == nil || len(c.words) > len(best.words)) {
				best = c
			}
			return true
		})
		if best != nil {
			return best.term, true
		}
	}
	return SpecialTerm{}, false
}

// matchCompound finds a single-word term of five letters or more split
// into two words (mus-lim), or a word that is a single-word term run
// together with a word naming a group of people (muslimresidents,
// hivpositive), either way round (residentmuslims), each part also in its
// plural.
func (l *specialList) matchCompound(words []string) (SpecialTerm, bool) {
	single := func(w string) (t SpecialTerm, found bool) {
		candidates(l.words, w, func(c *wordTerm) bool {
			if len(c.words) == 1 && wordMatches(w, c.words[0]) {
				t, found = c.term, true
			}
			return !found
		})
		return t, found
	}
	group := func(w string) bool {
		if len(w) < 3 || len(w) > maxGroupNoun+3 { // +3: a plural's ending
			return false
		}
		ss, n := singulars(w)
		for _, s := range ss[:n] {
			if groupNouns[s] {
				return true
			}
		}
		return false
	}
	// A term split in two (mus-lim, "mus lim").
	for i := 0; i+1 < len(words); i++ {
		if j := words[i] + words[i+1]; len(j) >= 5 {
			if t, ok := single(j); ok {
				return t, true
			}
		}
	}
	for _, w := range words {
		if len(w) < 5 {
			continue
		}
		for i := 2; i <= len(w)-2; i++ {
			if group(w[i:]) {
				if t, ok := single(w[:i]); ok {
					return t, true
				}
			}
			if group(w[:i]) {
				if t, ok := single(w[i:]); ok {
					return t, true
				}
			}
		}
	}
	return SpecialTerm{}, false
}

// singulars returns w and the singulars its plural endings may stand for
// (-s, -es, -ies for -y); n says how many of the four are set.
func singulars(w string) (out [4]string, n int) {
	out[0], n = w, 1
	if s, ok := strings.CutSuffix(w, "s"); ok && s != "" {
		out[n], n = s, n+1
		if s, ok := strings.CutSuffix(w, "es"); ok && s != "" {
			out[n], n = s, n+1
		}
		if s, ok := strings.CutSuffix(w, "ies"); ok && s != "" {
			out[n], n = s+"y", n+1
		}
	}
	return out, n
}

// candidates calls fn with each term whose first word is w or a singular w
// may be the plural of, until fn returns false.
func candidates(m map[string][]wordTerm, w string, fn func(*wordTerm) bool) {
	ss, n := singulars(w)
	for _, s := range ss[:n] {
		for i := range m[s] {
			if !fn(&m[s][i]) {
				return
			}
		}
	}
}

// wordsMatch reports whether text starts with the term's words, each word of
// the text equal to the term's or to a plural of it.
func wordsMatch(text, term []string) bool {
	if len(text) < len(term) {
		return false
	}
	for i, w := range term {
		if !wordMatches(text[i], w) {
			return false
		}
	}
	return true
}

// wordMatches reports whether a word of the text is the term's word or a
// plural of it (-s, -es, -ies for -y).
func wordMatches(t, w string) bool {
	if t == w {
		return true
	}
	if len(t) <= len(w) || t[len(t)-1] != 's' {
		return false
	}
	ss, n := singulars(t)
	for _, s := range ss[1:n] {
		if s == w {
			return true
		}
	}
	return false
}

func anyMasked(masked []bool, i, n int) bool {
	if masked == nil {
		return false
	}
	for _, m := range masked[i : i+n] {
		if m {
			return true
		}
	}
	return false
}

// splitWords splits lower-cased text into words of letters and digits;
// everything else, Chinese characters included, separates words.
func splitWords(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool {
		if r < 0x80 {
			return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z')
		}
		return !(unicode.IsLetter(r) || unicode.IsDigit(r)) || unicode.Is(unicode.Han, r)
	})
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
