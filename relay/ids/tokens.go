package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// tokenBodyLen is the length of a token after its prefix: 32 random bytes
// in unpadded base64url.
var tokenBodyLen = base64.RawURLEncoding.EncodedLen(32)

// NewToken returns a fresh secret token ("<prefix>" + 32 random bytes in
// unpadded base64url) and its hex SHA-256, the only form to store.
func NewToken(prefix string) (token, hash string) {
	var b [32]byte
	rand.Read(b[:]) // never fails since Go 1.24
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, TokenHash(token)
}

// TokenHash is the hex SHA-256 of a token.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ParseToken checks that token has the form NewToken(prefix) gives and
// returns its hash.
func ParseToken(prefix, token string) (string, bool) {
	if len(token) != len(prefix)+tokenBodyLen || !strings.HasPrefix(token, prefix) {
		return "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token[len(prefix):])
	if err != nil || len(b) != 32 {
		return "", false
	}
	return TokenHash(token), true
}

// ValidRef reports whether a tenant, user or customer id given by a caller
// is safe to put into a store key: 1–64 characters of [A-Za-z0-9_-].
func ValidRef(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
