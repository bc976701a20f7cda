package feedback

import (
	"context"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzCleanText: whatever a customer sends, a cleaned comment is valid
// UTF-8, bounded, free of control and format characters but line breaks,
// stable under a second cleaning, and an error never echoes the input.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"", "gut", "a\r\nb", "\x00\x1b[2J", "\u202egnp.exe", "\xff\xfe", strings.Repeat("ä", MaxTextRunes+1),
		"Sehr hilfreich!\n\n\n\nDanke", "\t tabs \t", "\u2028\u2029", "👍🏽"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := CleanText(s)
		if err != nil {
			if len(s) > 3 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q echoes the input", err)
			}
			return
		}
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > MaxTextRunes {
			t.Fatalf("CleanText(%q) = %q: invalid or too long", s, got)
		}
		for _, r := range got {
			if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
				t.Fatalf("CleanText(%q) keeps %U", s, r)
			}
		}
		if again, err := CleanText(got); err != nil || again != got {
			t.Fatalf("CleanText not stable: %q -> %q -> %q (%v)", s, got, again, err)
		}
	})
}

// FuzzAnswer: a hostile answer to a live link either is stored (rating
// 1–5, a comment CleanText accepts) or is refused and changes nothing.
func FuzzAnswer(f *testing.F) {
	f.Add(3, "gut")
	f.Add(0, "")
	f.Add(6, "x")
	f.Add(5, "\xff")
	f.Add(1, strings.Repeat("a", 2000))
	f.Fuzz(func(t *testing.T, rating int, text string) {
		e := newEnv(t)
		c := e.customer(tenantA, "klara@example.test")
		m := e.meeting(tenantA, advisorA, c, "")
		tok := e.invite(m)
		err := e.svc.Answer(context.Background(), tok, Answer{Rating: rating, Text: text})
		fb, ferr := e.svc.ForMeeting(context.Background(), advisor(tenantA, advisorA), m)
		if ferr != nil {
			t.Fatal(ferr)
		}
		_, cerr := CleanText(text)
		valid := rating >= 1 && rating <= 5 && cerr == nil
		if valid != (err == nil) {
			t.Fatalf("Answer(%d, %q) = %v, valid %v", rating, text, err, valid)
		}
		if err != nil && fb.Status != StatusInvited {
			t.Fatalf("a refused answer changed the request: %+v", fb)
		}
		if err == nil && (fb.Status != StatusAnswered || fb.Rating != rating) {
			t.Fatalf("an accepted answer was not stored: %+v", fb)
		}
	})
}
