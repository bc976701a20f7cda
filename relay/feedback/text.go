package feedback

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxTextRunes bounds the comment, after CleanText.
const MaxTextRunes = 1000

// maxTextBytes bounds the raw comment before cleaning (hostile input is
// refused before any work on it).
const maxTextBytes = 8 * MaxTextRunes

// CleanText returns the customer's comment fit to store and show: valid
// UTF-8 is required; CR LF and CR become LF, tabs spaces; other control,
// format (bidirectional overrides, zero-width) and private-use characters
// are dropped; trailing spaces of lines and runs of more than two line
// breaks go; the result is trimmed and must have at most MaxTextRunes
// characters. The error is an *InputError for field "text" and never
// contains the text.
func CleanText(s string) (string, error) {
	if len(s) > maxTextBytes {
		return "", invalid("text", "too long")
	}
	if !utf8.ValidString(s) {
		return "", invalid("text", "not valid UTF-8")
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune(r)
		case r == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r),
			r == '\u2028', r == '\u2029', r == utf8.RuneError:
			// dropped
		default:
			b.WriteRune(r)
		}
	}
	lines := strings.Split(b.String(), "\n")
	out := make([]string, 0, len(lines))
	blank := 0
	for _, l := range lines {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	t := strings.TrimSpace(strings.Join(out, "\n"))
	if utf8.RuneCountInString(t) > MaxTextRunes {
		return "", invalid("text", "too long")
	}
	return t, nil
}

// cleanLang maps a language to "de" or "en"; "" gives def.
func cleanLang(lang, def string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(lang)) {
	case "":
		return def, nil
	case "de":
		return "de", nil
	case "en":
		return "en", nil
	}
	return "", invalid("lang", `must be "de" or "en"`)
}
