package chat

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSanitizeName(t *testing.T) {
	long := strings.Repeat("ä", 150) + ".pdf"
	for _, c := range []struct{ in, want string }{
		{"Vertrag.pdf", "Vertrag.pdf"},
		{"../../etc/passwd", "passwd"},
		{`..\..\Windows\system32\cmd.exe`, "cmd.exe"},
		{"C:\\Users\\erika\\Kontoauszug März.pdf", "Kontoauszug März.pdf"},
		{"rechnung\u202Efdp.exe", "rechnungfdp.exe"}, // right-to-left override dropped
		{"a\x00b\nc\td.txt", "abcd.txt"},
		{`wer?was*"wie"<>|:.txt`, "wer_was__wie_____.txt"},
		{"  .versteckt.txt. ", "versteckt.txt"},
		{"CON.txt", "_CON.txt"},
		{"nul", "_nul"},
		{"bad\xffutf8.txt", "bad_utf8.txt"},
		{long, strings.Repeat("ä", 98) + ".pdf"},
		{strings.Repeat("x", 300), strings.Repeat("x", 200)},
	} {
		got, err := SanitizeName(c.in)
		if err != nil || got != c.want {
			t.Errorf("SanitizeName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "..", "/", "a/", " ", "\u202E", "..\\."} {
		if got, err := SanitizeName(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("SanitizeName(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"Vertrag.pdf", "../../etc/passwd", "a\u202Eb.exe", "CON", strings.Repeat("é", 200) + ".docx", "x.y.z", ".", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := SanitizeName(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if got == "" || len(got) > MaxFileNameBytes || !utf8.ValidString(got) || strings.ContainsAny(got, `/\<>:"|?*`) ||
			strings.HasPrefix(got, ".") || strings.HasSuffix(got, ".") || got != strings.TrimSpace(got) {
			t.Fatalf("SanitizeName(%q) = %q", in, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("SanitizeName(%q) = %q keeps %U", in, got, r)
			}
		}
		if again, err := SanitizeName(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", in, got, again, err)
		}
		for _, exts := range [][]string{typePDF.exts, typeJPEG.exts, typeDOCX.exts} {
			if w := withExt(got, exts); len(w) > MaxFileNameBytes || !utf8.ValidString(w) {
				t.Fatalf("withExt(%q) = %q", got, w)
			}
		}
	})
}

func FuzzTextCheck(f *testing.F) {
	f.Add([]byte("hallo\n"), []byte("<scr"), []byte("ipt>"))
	f.Add([]byte("\xc3"), []byte("\xa4"), []byte(""))
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		var chunked textCheck
		okChunked := chunked.write(a) && chunked.write(b) && chunked.write(c)
		var whole textCheck
		all := append(append(append([]byte{}, a...), b...), c...)
		okWhole := whole.write(all)
		if okChunked != okWhole {
			t.Fatalf("chunked %v, whole %v for %q %q %q", okChunked, okWhole, a, b, c)
		}
		if okWhole && chunked.result("x.txt").mime != whole.result("x.txt").mime {
			t.Fatalf("charset differs for %q %q %q", a, b, c)
		}
	})
}
