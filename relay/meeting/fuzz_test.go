package meeting

import (
	"errors"
	"parley/relay/ids"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzValidateJoin: validation never panics, and what it accepts obeys the
// rules.
func FuzzValidateJoin(f *testing.F) {
	for _, s := range [][3]string{
		{"Max Mustermann", "+49 170 1234567", "198.51.100.7"},
		{"  Jörg  ", "", "2001:db8::1"},
		{"Max\x00", "+123", "::ffff:1.2.3.4"},
		{"\u202e", "++1", "fe80::1%eth0"},
		{strings.Repeat("ä", 81), "+1234567890123456", "1.2.3.4:5"},
		{"\xff", " + 1 2 3 4 5 6 ", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, name, phone, ip string) {
		n, p, a, err := validateJoin(JoinRequest{Name: name, Phone: phone, IP: ip})
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error %v is not an *InputError", err)
			}
			return
		}
		if n == "" || utf8.RuneCountInString(n) > MaxNameRunes || !utf8.ValidString(n) || strings.TrimSpace(n) != n {
			t.Fatalf("accepted name %q", n)
		}
		for _, r := range n {
			if forbiddenRune(r) {
				t.Fatalf("accepted name %q with %U", n, r)
			}
		}
		if p != "" {
			digits := p[1:]
			if p[0] != '+' || len(digits) < MinPhoneDigits || len(digits) > MaxPhoneDigits || strings.Trim(digits, "0123456789") != "" {
				t.Fatalf("accepted phone %q", p)
			}
		}
		if ip == "" && a != "" || ip != "" && a == "" {
			t.Fatalf("ip %q became %q", ip, a)
		}
		if a != "" && TruncateIP(a) == "" {
			t.Fatalf("accepted ip %q does not truncate", a)
		}
	})
}

// FuzzParseToken: parsing never panics and accepts exactly the canonical
// form.
func FuzzParseToken(f *testing.F) {
	tok, _ := ids.NewToken(JoinTokenPrefix)
	sec, _ := ids.NewToken(SecretPrefix)
	for _, s := range []string{tok, sec, "", JoinTokenPrefix, tok[:len(tok)-1], tok + "=", "pst_" + tok[4:], strings.Repeat("\xff", 47)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, prefix := range []string{JoinTokenPrefix, SecretPrefix} {
			h, ok := ids.ParseToken(prefix, s)
			if !ok {
				if h != "" {
					t.Fatalf("rejected token has hash %q", h)
				}
				continue
			}
			if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+43 || h != ids.TokenHash(s) || len(h) != 64 {
				t.Fatalf("accepted %q with hash %q", s, h)
			}
		}
		// Resolve and ParticipantBySecret take any string without panicking.
		e := newEnv(t, nil, nil)
		if _, err := e.svc.Resolve(e.ctx, s); err == nil {
			t.Fatalf("Resolve(%q) succeeded on an empty store", s)
		}
		if _, err := e.svc.ParticipantBySecret(e.ctx, s); err == nil {
			t.Fatalf("ParticipantBySecret(%q) succeeded on an empty store", s)
		}
	})
}
