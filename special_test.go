package socred_test

import (
	"testing"

	"github.com/socred/socred"
)

func TestSpecialCategory(t *testing.T) {
	tests := []struct {
		text     string
		term     string // "" when the text names no special category
		category string
	}{
		// Religion or belief, in ids, names and Chinese.
		{"muslim-residents", "muslim", "religion or belief"},
		{"Muslims of Rongcheng", "muslim", "religion or belief"},
		{"falun-gong-practitioners", "falun gong", "religion or belief"},
		{"church_goers", "church", "religion or belief"},
		{"清真餐厅", "清真", "religion or belief"},
		{"基督徒", "基督", "religion or belief"},
		// Ethnic origin, including China's recognised minorities.
		{"uyghur", "uyghur", "ethnic origin"},
		{"Uyghurs", "uyghur", "ethnic origin"},
		{"tibetan-residents", "tibetan", "ethnic origin"},
		{"hui-households", "hui", "ethnic origin"},
		{"kazakh", "kazakh", "ethnic origin"},
		{"zhuang-people", "zhuang people", "ethnic origin"},
		{"weiwuerzu", "weiwuerzu", "ethnic origin"},
		{"维吾尔族居民", "维吾尔", "ethnic origin"},
		{"藏族", "藏族", "ethnic origin"},
		{"回族群众", "回族", "ethnic origin"},
		{"ethnic-minority-residents", "ethnic minority", "ethnic origin"},
		{"minority-nationality", "minority nationality", "ethnic origin"},
		{"mongol", "mongol", "ethnic origin"},
		{"少数民族", "少数民族", "ethnic origin"},
		// Political opinion.
		{"party-member", "party member", "political opinion"},
		{"Party members", "party member", "political opinion"},
		{"political-views", "political view", "political opinion"},
		{"dissidents", "dissident", "political opinion"},
		{"政治面貌", "政治面貌", "political opinion"},
		{"党员", "党员", "political opinion"},
		{"opposition-party", "opposition party", "political opinion"},
		{"democracy-activist", "democracy activist", "political opinion"},
		{"protest-participant", "protest", "political opinion"},
		{"petitioners", "petitioner", "political opinion"},
		{"human-rights-lawyer", "human rights lawyer", "political opinion"},
		{"climate-activists", "activist", "political opinion"},
		{"Member of an opposition political party", "political party", "political opinion"},
		{"非正常上访", "上访", "political opinion"},
		{"维权人士", "维权", "political opinion"},
		// Trade-union membership.
		{"trade-union-members", "trade union", "trade-union membership"},
		{"工会会员", "工会", "trade-union membership"},
		{"union-organiser", "union organiser", "trade-union membership"},
		{"union-activist", "union activist", "trade-union membership"},
		{"shop-stewards", "shop steward", "trade-union membership"},
		// Health.
		{"hiv-positive", "hiv", "health"},
		{"disabled-residents", "disabled", "health"},
		{"mental-illness", "mental illness", "health"},
		{"pregnant-women", "pregnant", "health"},
		{"diabetes", "diabetes", "health"},
		{"cancer-patients", "cancer", "health"},
		{"残疾人", "残疾", "health"},
		{"怀孕", "怀孕", "health"},
		// Sex life or sexual orientation.
		{"gay", "gay", "sex life or sexual orientation"},
		{"LGBT-community", "lgbt", "sex life or sexual orientation"},
		{"sexual_orientation", "sexual orientation", "sex life or sexual orientation"},
		{"同性恋", "同性恋", "sex life or sexual orientation"},
		// Genetic and biometric data.
		{"dna-sample", "dna", "genetic data"},
		{"基因检测", "基因", "genetic data"},
		{"face-recognition", "face recognition", "biometric data"},
		{"fingerprints", "fingerprint", "biometric data"},
		{"iris", "iris", "biometric data"},
		{"人脸识别", "人脸", "biometric data"},
		{"指紋", "指紋", "biometric data"},
		// Ways around the words (a review's): camelCase, words run
		// together or split, plurals in -es and -ies, accents, full-width
		// letters, other spellings and languages.
		{"MuslimResidents", "muslim", "religion or belief"},
		{"UyghurDrivers", "uyghur", "ethnic origin"},
		{"HIVPositive", "hiv", "health"},
		{"muslimresidents", "muslim", "religion or belief"},
		{"hivpositive", "hiv", "health"},
		{"gaymen", "gay", "sex life or sexual orientation"},
		{"residentmuslims", "muslim", "religion or belief"},
		{"mus-lim", "muslim", "religion or belief"},
		{"mus lim", "muslim", "religion or belief"},
		{"churches", "church", "religion or belief"},
		{"ethnicities", "ethnicity", "ethnic origin"},
		{"national-minorities", "national minority", "ethnic origin"},
		{"sexual-minorities", "sexual minority", "sex life or sexual orientation"},
		{"people-with-disabilities", "disability", "health"},
		{"gypsies", "gypsy", "ethnic origin"},
		{"Muslím", "muslim", "religion or belief"},
		{"ｍｕｓｌｉｍ", "muslim", "religion or belief"},
		{"uigur", "uigur", "ethnic origin"},
		{"islamist", "islamist", "religion or belief"},
		{"aids-patients", "aids patient", "health"},
		{"unvaccinated", "unvaccinated", "health"},
		{"cpc-members", "cpc member", "political opinion"},
		{"lgbtqia", "lgbtqia", "sex life or sexual orientation"},
		{"moslims", "moslim", "religion or belief"},
		{"schwul", "schwul", "sex life or sexual orientation"},
		{"gewerkschaft", "gewerkschaft", "trade-union membership"},
		{"Мусульмане", "мусульмане", "religion or belief"},
		{"回民", "回民", "ethnic origin"},
		{"维族", "维族", "ethnic origin"},

		// Ordinary ids and names of the example packs, and near misses.
		{"Christiansted", "", ""},
		{"christiansen", "", ""},
		{"teaching-aids", "", ""},
		{"blind-spot", "", ""},
		{"hivemind", "", ""},
		{"Gayle", "", ""},
		{"Romania", "", ""},
		{"Islamabad", "", ""},
		{"christmas-market", "", ""},
		{"iPhoneUsers", "", ""},
		{"bus-drivers", "", ""},
		{"join-party", "", ""},
		{"third-party-insurance", "", ""},
		{"zhuang-wei", "", ""},
		{"minority-shareholder", "", ""},
		{"Join the party", "", ""},
		{"party-membership", "", ""},
		{"public-health", "", ""},
		{"health", "", ""},
		{"blood-donation", "", ""},
		{"not-visiting-elderly-parents", "", ""},
		{"rent-bike-without-deposit", "", ""},
		{"taxi-driver", "", ""},
		{"judgment-defaulters", "", ""},
		{"red-light", "", ""},
		{"unleashed-dog", "", ""},
		{"rongcheng", "", ""},
		{"transport", "", ""},
		{"race-track", "", ""},
		{"interface", "", ""},
		{"face-mask", "", ""},
		{"european-union", "", ""},
		{"unionpay", "", ""},
		{"shanghai", "", ""},
		{"huizhou", "", ""},
		{"parking-in-disabled-space", "", ""},
		{"xinjiang-uyghur-autonomous-region", "", ""},
		{"新疆维吾尔自治区", "", ""},
		{"宁夏回族自治区", "", ""},
		{"中华民族", "", ""},
		{"乘坐高铁", "", ""},
		{"入党", "", ""},
		{"公共卫生", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		got, ok := socred.SpecialCategory(tt.text)
		if ok != (tt.term != "") || got.Term != tt.term || got.Category != tt.category {
			t.Errorf("SpecialCategory(%q) = %+v, %v; want {Term:%s Category:%s}, %v",
				tt.text, got, ok, tt.term, tt.category, tt.term != "")
		}
	}
}

func TestSubjectValidateSpecialCategory(t *testing.T) {
	s := socred.Subject{ID: "s1", Kind: socred.Person, Name: "Li", Region: "rongcheng", Groups: []string{"taxi-driver", "uyghur"}}
	err := s.Validate()
	if got, want := socred.ErrorField(err), "groups[1]"; got != want {
		t.Fatalf("got field %q (%v), want %q", got, err, want)
	}
}

func BenchmarkSpecialCategory(b *testing.B) {
	for b.Loop() {
		socred.SpecialCategory("rongcheng-taxi-drivers")
	}
}
