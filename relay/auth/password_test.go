package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var passwordCases = []struct {
	name     string
	username string
	password string
	want     []string // reasons; nil: accepted
}{
	{"ok", "erika.mustermann", "Tulpen-im-Regen-42", nil},
	{"ok without username", "", "Tulpen-im-Regen-42", nil},
	{"exactly 8", "erika.mustermann", "g7#Kp2!x", nil},
	{"7 is too short", "erika.mustermann", "g7#Kp2!", []string{ReasonTooShort}},
	{"empty", "erika.mustermann", "", []string{ReasonTooShort}},
	{"8 runes in 16 bytes", "erika.mustermann", "äöüÄÖÜßé", nil},
	{"7 runes in 14 bytes", "erika.mustermann", "äöüÄÖÜß", []string{ReasonTooShort}},
	{"256 bytes", "erika.mustermann", strings.Repeat("xy7", 85) + "z", nil},
	{"257 bytes", "erika.mustermann", strings.Repeat("xy7", 85) + "zz", []string{ReasonTooLong}},
	{"257 bytes of runes", "erika.mustermann", strings.Repeat("ä", 128) + "z", []string{ReasonTooLong}},
	{"common", "erika.mustermann", "password", []string{ReasonCommon}},
	{"common other case", "erika.mustermann", "PassWord", []string{ReasonCommon}},
	{"common 10 chars", "erika.mustermann", "qwertyuiop", []string{ReasonCommon}},
	{"common and short", "erika.mustermann", "123456", []string{ReasonTooShort, ReasonCommon}},
	{"username", "erika.mustermann", "xxerika.mustermannyy", []string{ReasonContainsUsername}},
	{"username other case", "erika.mustermann", "Erika.Mustermann!!", []string{ReasonContainsUsername}},
	{"username part", "erika.mustermann", "Mustermann2026!", []string{ReasonContainsUsername}},
	{"username first part", "erika.mustermann", "ich-bin-ERIKA-77", []string{ReasonContainsUsername}},
	{"short part allowed", "al.x-bob", "xxalzzz1234", nil},
	{"three-char part", "al.x-bob", "zzBOB1234zz", []string{ReasonContainsUsername}},
	{"underscore part", "max_power", "unlimited-POWER-9", []string{ReasonContainsUsername}},
	{"two-char whole username", "ab", "xxab-1234-zz", []string{ReasonContainsUsername}},
	{"admin", "admin", "admin", []string{ReasonTooShort, ReasonCommon, ReasonContainsUsername}},
	{"admin long", "admin", "myadmin-2026-x", []string{ReasonContainsUsername}},
}

func TestValidatePassword(t *testing.T) {
	for _, tc := range passwordCases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePassword(tc.username, tc.password)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ValidatePassword(%q, %q) = %v, want nil", tc.username, tc.password, err)
				}
				return
			}
			var we *WeakPasswordError
			if !errors.As(err, &we) {
				t.Fatalf("ValidatePassword(%q, %q) = %v, want *WeakPasswordError", tc.username, tc.password, err)
			}
			if !slices.Equal(we.Reasons, tc.want) {
				t.Fatalf("reasons = %v, want %v", we.Reasons, tc.want)
			}
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatal("WeakPasswordError does not match ErrInvalidInput")
			}
		})
	}
}

func TestCommonPasswordsLoaded(t *testing.T) {
	if n := len(commonPasswords); n < 9000 || n > 10000 {
		t.Fatalf("%d common passwords loaded, want ~10,000 (case-folded)", n)
	}
	// The last line of the list must count too.
	lines := strings.Split(strings.TrimSpace(commonPasswordsTxt), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if _, ok := commonPasswords[strings.ToLower(last)]; !ok {
		t.Fatalf("last entry %q not loaded", last)
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		p := GeneratePassword("admin", 20)
		if utf8.RuneCountInString(p) != 20 {
			t.Fatalf("length %d", len(p))
		}
		if err := ValidatePassword("admin", p); err != nil {
			t.Fatalf("generated %q: %v", p, err)
		}
		for _, c := range p {
			if !strings.ContainsRune(generatedAlphabet, c) {
				t.Fatalf("generated %q has %q outside the alphabet", p, c)
			}
		}
		if seen[p] {
			t.Fatalf("generated %q twice", p)
		}
		seen[p] = true
	}
}

func TestPasswordHistory(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	pw := func(i int) string { return fmt.Sprintf("Tulpen-im-Regen-%02d", i) }
	u := e.user(tn.ID, "erika", pw(0), RoleAdvisor)

	for i := 1; i <= 10; i++ {
		if err := e.svc.ChangePassword(e.ctx, tn.ID, u.ID, pw(i-1), pw(i)); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	if n := len(e.record(tn.ID, u.ID).Passwords); n != PasswordHistory {
		t.Fatalf("%d hashes kept, want %d", n, PasswordHistory)
	}
	// pw(1)..pw(10) are the last ten (pw(10) is the current one).
	for i := 1; i <= 10; i++ {
		err := e.svc.ChangePassword(e.ctx, tn.ID, u.ID, pw(10), pw(i))
		var we *WeakPasswordError
		if !errors.As(err, &we) || !slices.Equal(we.Reasons, []string{ReasonReused}) {
			t.Fatalf("reusing password %d: %v, want reused", i, err)
		}
	}
	// pw(0) is the 11th-oldest: allowed.
	if err := e.svc.ChangePassword(e.ctx, tn.ID, u.ID, pw(10), pw(0)); err != nil {
		t.Fatalf("reusing the 11th-oldest password: %v", err)
	}
	e.login("bank", "erika", pw(0), "")
	// Now pw(1) has dropped out as well, pw(10) has not.
	if err := e.svc.ChangePassword(e.ctx, tn.ID, u.ID, pw(0), pw(10)); err == nil {
		t.Fatal("pw(10) accepted though still in the history")
	}
	if err := e.svc.ChangePassword(e.ctx, tn.ID, u.ID, pw(0), pw(1)); err != nil {
		t.Fatalf("pw(1) rejected: %v", err)
	}
}

func TestChangePasswordRules(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("bank")
	u := e.user(tn.ID, "erika.mustermann", "Tulpen-im-Regen-1", RoleAdvisor)

	err := e.svc.ChangePassword(e.ctx, tn.ID, u.ID, "wrong-current-pw", "Tulpen-im-Regen-2")
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong current: %v", err)
	}
	err = e.svc.ChangePassword(e.ctx, tn.ID, u.ID, "Tulpen-im-Regen-1", "Mustermann")
	var we *WeakPasswordError
	if !errors.As(err, &we) || !we.Has(ReasonContainsUsername) {
		t.Fatalf("weak next: %v", err)
	}
	err = e.svc.ChangePassword(e.ctx, tn.ID, u.ID, "Tulpen-im-Regen-1", "Tulpen-im-Regen-1")
	if !errors.As(err, &we) || !we.Has(ReasonReused) {
		t.Fatalf("same password: %v", err)
	}
	if err := e.svc.ChangePassword(e.ctx, "0123456789abcdef0123456789abcdef", u.ID, "x", "Tulpen-im-Regen-2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other tenant's user: %v", err)
	}
	// Wrong current passwords count towards the account's back-off.
	for range 4 {
		e.svc.ChangePassword(e.ctx, tn.ID, u.ID, "wrong-current-pw", "Tulpen-im-Regen-2")
	}
	var te *ThrottledError
	if err := e.svc.ChangePassword(e.ctx, tn.ID, u.ID, "Tulpen-im-Regen-1", "Tulpen-im-Regen-2"); !errors.As(err, &te) {
		t.Fatalf("after 5 wrong current passwords: %v, want *ThrottledError", err)
	}
}

func FuzzValidatePassword(f *testing.F) {
	for _, tc := range passwordCases {
		f.Add(tc.username, tc.password)
	}
	f.Add("a.b-c_d", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8")
	f.Fuzz(func(t *testing.T, username, password string) {
		err := ValidatePassword(username, password)
		if err == nil {
			if utf8.RuneCountInString(password) < MinPasswordRunes || len(password) > MaxPasswordBytes {
				t.Fatalf("accepted %q of %d runes, %d bytes", password, utf8.RuneCountInString(password), len(password))
			}
			if _, common := commonPasswords[strings.ToLower(password)]; common {
				t.Fatalf("accepted common %q", password)
			}
			if username != "" && strings.Contains(strings.ToLower(password), strings.ToLower(username)) {
				t.Fatalf("accepted %q containing username %q", password, username)
			}
			return
		}
		var we *WeakPasswordError
		if !errors.As(err, &we) || len(we.Reasons) == 0 {
			t.Fatalf("error %v is not a *WeakPasswordError with reasons", err)
		}
		for _, r := range we.Reasons {
			switch r {
			case ReasonTooShort, ReasonTooLong, ReasonCommon, ReasonContainsUsername:
			default:
				t.Fatalf("unknown reason %q", r)
			}
		}
	})
}
