package auth

import (
	"bufio"
	"crypto/rand"
	_ "embed"
	"strings"
	"unicode/utf8"
)

// Password rules.
const (
	// MinPasswordRunes is the minimum password length in characters.
	MinPasswordRunes = 8
	// MaxPasswordBytes is the maximum password length in bytes (UTF-8).
	MaxPasswordBytes = 256
	// PasswordHistory is how many of a user's most recent passwords
	// (including the current one) may not be chosen again.
	PasswordHistory = 10
)

// Reason codes carried by WeakPasswordError.Reasons.
const (
	ReasonTooShort         = "too_short"
	ReasonTooLong          = "too_long"
	ReasonCommon           = "common"
	ReasonContainsUsername = "contains_username"
	ReasonReused           = "reused"
)

//go:embed common-passwords.txt
var commonPasswordsTxt string

// commonPasswords holds the lower-cased entries of common-passwords.txt.
var commonPasswords = func() map[string]struct{} {
	m := make(map[string]struct{}, 10000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsTxt))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			m[strings.ToLower(w)] = struct{}{}
		}
	}
	return m
}()

// ValidatePassword checks password against the rules that do not need the
// user's password history: at least MinPasswordRunes characters, at most
// MaxPasswordBytes bytes, not one of the 10,000 most common passwords
// (case-insensitively), and not containing the username or any part of it
// (split at '.', '_' and '-') of three or more characters. username may be
// empty when it is not known yet. It returns nil or a *WeakPasswordError
// listing every rule broken.
func ValidatePassword(username, password string) error {
	if reasons := passwordReasons(username, password); len(reasons) > 0 {
		return &WeakPasswordError{Reasons: reasons}
	}
	return nil
}

func passwordReasons(username, password string) []string {
	var reasons []string
	if utf8.RuneCountInString(password) < MinPasswordRunes {
		reasons = append(reasons, ReasonTooShort)
	}
	if len(password) > MaxPasswordBytes {
		reasons = append(reasons, ReasonTooLong)
	}
	lower := strings.ToLower(password)
	if _, ok := commonPasswords[lower]; ok {
		reasons = append(reasons, ReasonCommon)
	}
	if containsUsername(lower, strings.ToLower(username)) {
		reasons = append(reasons, ReasonContainsUsername)
	}
	return reasons
}

func containsUsername(lowerPassword, lowerUsername string) bool {
	if lowerUsername == "" {
		return false
	}
	if strings.Contains(lowerPassword, lowerUsername) {
		return true
	}
	for _, part := range strings.FieldsFunc(lowerUsername, func(r rune) bool {
		return r == '.' || r == '_' || r == '-'
	}) {
		if utf8.RuneCountInString(part) >= 3 && strings.Contains(lowerPassword, part) {
			return true
		}
	}
	return false
}

// inHistory reports whether password matches any of the encoded hashes.
// Every hash is checked, so the time taken does not depend on which matched.
func inHistory(password string, history []string) bool {
	found := false
	for _, h := range history {
		if ok, _ := verifyPassword(h, password); ok {
			found = true
		}
	}
	return found
}

// generatedAlphabet leaves out look-alikes (0/O, 1/l/I) so that a generated
// password can be read off a screen and typed.
const generatedAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_.!?"

// GeneratePassword returns a random password of n characters (n ≥
// MinPasswordRunes) drawn uniformly from an alphabet of 62 characters without
// look-alikes, that passes ValidatePassword for username.
func GeneratePassword(username string, n int) string {
	n = max(n, MinPasswordRunes)
	limit := 256 - 256%len(generatedAlphabet) // rejection sampling: no modulo bias
	for {
		b := make([]byte, 0, n)
		var buf [64]byte
		for len(b) < n {
			rand.Read(buf[:]) // never fails since Go 1.24
			for _, c := range buf {
				if int(c) < limit && len(b) < n {
					b = append(b, generatedAlphabet[int(c)%len(generatedAlphabet)])
				}
			}
		}
		if s := string(b); ValidatePassword(username, s) == nil {
			return s
		}
	}
}
