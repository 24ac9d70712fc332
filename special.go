package socred

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
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
// it contains. Latin-script terms match whole words of the text split at
// hyphens, underscores, spaces and punctuation, case-insensitively, with an
// optional plural "s"; terms in Chinese characters match as substrings.
func SpecialCategory(text string) (SpecialTerm, bool) {
	return denyList().match(text)
}

// wordTerm is a Latin-script term as a sequence of words.
type wordTerm struct {
	words []string
	term  SpecialTerm
}

// specialList is the parsed deny-list.
type specialList struct {
	words      map[string][]wordTerm // by first word
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
		term, key := strings.ToLower(strings.TrimSpace(line[:i])), strings.TrimSpace(line[i:])
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
		}
	}
	return l, nil
}

func (l *specialList) match(text string) (SpecialTerm, bool) {
	text = strings.ToLower(text)
	if t, ok := l.matchWords(splitWords(text)); ok {
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
		for _, a := range candidates(l.allowWords, words[i]) {
			if wordsMatch(words[i:], a.words) {
				if masked == nil {
					masked = make([]bool, len(words))
				}
				for j := range a.words {
					masked[i+j] = true
				}
			}
		}
	}
	for i := range words {
		var best *wordTerm
		for _, c := range candidates(l.words, words[i]) {
			if wordsMatch(words[i:], c.words) && !anyMasked(masked, i, len(c.words)) &&
				(best == nil || len(c.words) > len(best.words)) {
				best = &c
			}
		}
		if best != nil {
			return best.term, true
		}
	}
	return SpecialTerm{}, false
}

// candidates returns the terms whose first word is w or, when w ends in "s",
// w without it.
func candidates(m map[string][]wordTerm, w string) []wordTerm {
	c := m[w]
	if s, ok := strings.CutSuffix(w, "s"); ok && s != "" {
		if more := m[s]; len(more) > 0 {
			c = append(c[:len(c):len(c)], more...)
		}
	}
	return c
}

// wordsMatch reports whether text starts with the term's words, each word of
// the text equal to the term's or to its plural with "s".
func wordsMatch(text, term []string) bool {
	if len(text) < len(term) {
		return false
	}
	for i, w := range term {
		t := text[i]
		if t != w && (len(t) != len(w)+1 || t[len(w)] != 's' || t[:len(w)] != w) {
			return false
		}
	}
	return true
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
