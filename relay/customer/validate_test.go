package customer

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// email254 is a valid address of exactly MaxEmailBytes.
var email254 = strings.Repeat("a", 63) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 59) + ".de"

func TestValidateContact(t *testing.T) {
	ok := Contact{FirstName: "Erika", LastName: "Mustermann", Email: "erika@example.org"}
	with := func(mod func(*Contact)) Contact {
		c := ok
		mod(&c)
		return c
	}
	huge := strings.Repeat("A", 10<<20)
	for _, tc := range []struct {
		name      string
		c         Contact
		requireEM bool
		field     string // "" = valid
	}{
		{"plain", ok, true, ""},
		{"no e-mail required", Contact{FirstName: "Erika"}, false, ""},
		{"e-mail required", Contact{FirstName: "Erika"}, true, "email"},
		{"100-rune name", with(func(c *Contact) { c.FirstName = strings.Repeat("ä", 100) }), true, ""},
		{"101-rune name", with(func(c *Contact) { c.FirstName = strings.Repeat("ä", 101) }), true, "first_name"},
		{"10 MB first name", with(func(c *Contact) { c.FirstName = huge }), true, "first_name"},
		{"10 MB last name", with(func(c *Contact) { c.LastName = huge }), true, "last_name"},
		{"10 MB e-mail", with(func(c *Contact) { c.Email = huge + "@example.org" }), true, "email"},
		{"10 MB mobile", with(func(c *Contact) { c.Mobile = huge }), true, "mobile"},
		{"10 MB street", with(func(c *Contact) { c.Address = &Address{Street: huge, PostalCode: "1", City: "x"} }), true, "address.street"},
		{"script in name", with(func(c *Contact) { c.LastName = "<script>alert(1)</script>" }), true, "last_name"},
		{"script in city", with(func(c *Contact) { c.Address = &Address{Street: "a", PostalCode: "1", City: "<script>"} }), true, "address.city"},
		{"script in e-mail", with(func(c *Contact) { c.Email = "<script>@example.org" }), true, "email"},
		{"NUL in name", with(func(c *Contact) { c.FirstName = "Er\x00ika" }), true, "first_name"},
		{"newline in name", with(func(c *Contact) { c.LastName = "Muster\nBcc: x@y.de" }), true, "last_name"},
		{"bidi override in name", with(func(c *Contact) { c.FirstName = "Erika\u202egnp.exe" }), true, "first_name"},
		{"invalid UTF-8", with(func(c *Contact) { c.FirstName = "Er\xffika" }), true, "first_name"},
		{"header injection in e-mail", with(func(c *Contact) { c.Email = "erika@example.org\r\nBcc: x@y.de" }), true, "email"},
		{"two addresses", with(func(c *Contact) { c.Email = "a@example.org, b@example.org" }), true, "email"},
		{"display name", with(func(c *Contact) { c.Email = "Erika <erika@example.org>" }), true, "email"},
		{"no dot in domain", with(func(c *Contact) { c.Email = "erika@localhost" }), true, "email"},
		{"IP literal", with(func(c *Contact) { c.Email = "erika@[127.0.0.1]" }), true, "email"},
		{"254 bytes", with(func(c *Contact) { c.Email = email254 }), true, ""},
		{"255 bytes", with(func(c *Contact) { c.Email = "a" + email254 }), true, "email"},
		{"65-byte local part", with(func(c *Contact) { c.Email = strings.Repeat("a", 65) + "@example.org" }), true, "email"},
		{"letters in mobile", with(func(c *Contact) { c.Mobile = "+49 171 CALLME" }), true, "mobile"},
		{"mobile too short", with(func(c *Contact) { c.Mobile = "+49 12" }), true, "mobile"},
		{"partial address", with(func(c *Contact) { c.Address = &Address{Street: "Weg 1"} }), true, "address.postal_code"},
		{"bad postal code", with(func(c *Contact) { c.Address = &Address{Street: "Weg 1", PostalCode: "12;DROP", City: "Bonn"} }), true, "address.postal_code"},
		{"bad country", with(func(c *Contact) {
			c.Address = &Address{Street: "Weg 1", PostalCode: "53111", City: "Bonn", Country: "Germany"}
		}), true, "address.country"},
		{"empty address", with(func(c *Contact) { c.Address = &Address{City: "  "} }), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ValidateContact(tc.c, tc.requireEM)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidInput) || ie.Field != tc.field {
				t.Fatalf("err = %v, want an InputError for %s", err, tc.field)
			}
			// The message never echoes the value.
			for _, v := range []string{tc.c.FirstName, tc.c.LastName, tc.c.Email, tc.c.Mobile} {
				if len(v) > 3 && strings.Contains(err.Error(), v) {
					t.Fatalf("error %q echoes the value", err)
				}
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error is %d bytes", len(err.Error()))
			}
		})
	}
}

func TestValidateContactNormalises(t *testing.T) {
	got, err := ValidateContact(Contact{FirstName: "  Erika ", LastName: "Müller-Lüdenscheidt", Email: " Erika.M+news@Bücher.Example.DE ",
		Mobile: "0171 / 123 45-67", Address: &Address{Street: " Weg 1 ", PostalCode: " 53111 ", City: "Bonn", Country: "de"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := Contact{FirstName: "Erika", LastName: "Müller-Lüdenscheidt", Email: "Erika.M+news@bücher.example.de", Mobile: "+491711234567"}
	if got.FirstName != want.FirstName || got.LastName != want.LastName || got.Email != want.Email || got.Mobile != want.Mobile ||
		*got.Address != (Address{Street: "Weg 1", PostalCode: "53111", City: "Bonn", Country: "DE"}) {
		t.Fatalf("got %+v %+v", got, got.Address)
	}
	if got, _ := ValidateContact(Contact{Address: &Address{}}, false); got.Address != nil {
		t.Fatal("an empty address was kept")
	}
}

func TestNormaliseMobile(t *testing.T) {
	for _, tc := range []struct{ in, cc, want string }{
		{"+49 171 1234567", "+49", "+491711234567"},
		{"0171 1234567", "+49", "+491711234567"},
		{"0171 1234567", "43", "+431711234567"},
		{"0049 171 1234567", "+49", "+491711234567"},
		{"+49 (0) 171 1234567", "+49", "+491711234567"},
		{"+49-171-123.45.67", "+49", "+491711234567"},
		{"(0171) 1234567", "+49", "+491711234567"},
		{"+1 (212) 555-0100", "+49", "+12125550100"},
		{"  ", "+49", ""},
		{"", "+49", ""},
	} {
		got, err := NormaliseMobile(tc.in, tc.cc)
		if err != nil || got != tc.want {
			t.Errorf("NormaliseMobile(%q, %q) = %q, %v; want %q", tc.in, tc.cc, got, err, tc.want)
		}
	}
	for _, in := range []string{"171 1234567", "+49 171 CALL", "+49 171 1234567 ext 5", "+0 171 1234567", "0", "+", "++491711234567",
		"+49171123456789012", "+49 17", "+49\u00a0171 1234567", "١٢٣٤٥٦٧٨٩", strings.Repeat("1", 65), "0171+1234567"} {
		if got, err := NormaliseMobile(in, "+49"); err == nil {
			t.Errorf("NormaliseMobile(%q) = %q, want an error", in, got)
		} else if ie := (*InputError)(nil); !errors.As(err, &ie) || ie.Field != "mobile" {
			t.Errorf("NormaliseMobile(%q) error %v is not a mobile InputError", in, err)
		}
	}
	if _, err := NormaliseMobile("0171 1234567", "x"); err == nil {
		t.Error("a national number with a malformed default country code was accepted")
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func FuzzNormaliseMobile(f *testing.F) {
	for _, s := range []string{"+49 171 1234567", "0171 1234567", "0049 (0) 171-123", "+1 (212) 555-0100", "abc", "", "00", "+(0)", "0(0)1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormaliseMobile(s, "+49")
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Field != "mobile" {
				t.Fatalf("error %v is not a mobile InputError", err)
			}
			if len(s) > 3 && strings.Contains(err.Error(), s) {
				t.Fatalf("error echoes the input")
			}
			return
		}
		if got == "" {
			if strings.TrimSpace(s) != "" {
				t.Fatalf("%q normalised to empty", s)
			}
			return
		}
		if !e164.MatchString(got) {
			t.Fatalf("%q → %q is not E.164", s, got)
		}
		if again, err := NormaliseMobile(got, "+49"); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
		// Every digit of the result came from the input or the country code.
		digits := 0
		for i := 0; i < len(s); i++ {
			if s[i] >= '0' && s[i] <= '9' {
				digits++
			}
		}
		if len(got)-1 > digits+2 {
			t.Fatalf("%q grew into %q", s, got)
		}
	})
}

func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{"erika@example.org", " Erika@Example.ORG ", "a@b", "a@b.c", "\"a b\"@x.de", "a@@b.de", "a.@b.de",
		"a..b@c.de", "a@-b.de", "a@b.123", "ä@bücher.de", "a@b.de\r\n", "x@[1.2.3.4]", "Name <a@b.de>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ValidateEmail(s)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Field != "email" {
				t.Fatalf("error %v is not an email InputError", err)
			}
			if len(s) > 3 && strings.Contains(err.Error(), s) {
				t.Fatalf("error echoes the input")
			}
			return
		}
		if got == "" {
			if strings.TrimSpace(s) != "" {
				t.Fatalf("%q validated to empty", s)
			}
			return
		}
		if len(got) > MaxEmailBytes || !utf8.ValidString(got) || strings.Count(got, "@") != 1 {
			t.Fatalf("accepted %q", got)
		}
		for _, r := range got {
			if r <= ' ' || r == 0x7f || strings.ContainsRune("<>\"(),;:\\[]", r) || forbiddenRune(r) {
				t.Fatalf("accepted %q with %q", got, r)
			}
		}
		if _, domain, _ := strings.Cut(got, "@"); !strings.Contains(domain, ".") || domain != strings.ToLower(domain) {
			t.Fatalf("accepted domain of %q", got)
		}
		if again, err := ValidateEmail(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
		// Surrounding space and the case of ASCII letters do not change the
		// index entry.
		pep := []byte("0123456789abcdef0123456789abcdef")
		if emailMAC(pep, " "+asciiUpper(got)+"\t") != emailMAC(pep, got) {
			t.Fatalf("index entry of %q depends on case or space", got)
		}
	})
}

func asciiUpper(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}
