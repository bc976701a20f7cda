package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// HashParams are the argon2id cost parameters for new password hashes.
// Existing hashes keep the parameters they were made with (they are part of
// the stored PHC string) and are upgraded at the next successful login.
type HashParams struct {
	// Time is the number of passes over the memory (argon2 "t").
	Time uint32
	// MemoryKiB is the memory cost in KiB (argon2 "m").
	MemoryKiB uint32
	// Threads is the degree of parallelism (argon2 "p").
	Threads uint8
}

// DefaultHashParams follow the OWASP password storage recommendation for
// argon2id: 2 passes, 19 MiB, 1 thread.
var DefaultHashParams = HashParams{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// TestHashParams are deliberately weak parameters that make hashing take
// microseconds. Use them only in tests.
var TestHashParams = HashParams{Time: 1, MemoryKiB: 64, Threads: 1}

const (
	saltLen = 16 // bytes of random salt per hash
	keyLen  = 32 // bytes of derived key per hash

	// Bounds accepted when parsing stored hashes, so that a corrupt or
	// hostile record cannot make verification allocate without limit.
	minSaltLen  = 8
	maxSaltLen  = 64
	minKeyLen   = 16
	maxKeyLen   = 64
	maxMemKiB   = 1 << 21 // 2 GiB
	maxTime     = 1 << 10
	maxPHCBytes = 512
)

// errBadHash reports a stored hash string that is not a valid argon2id PHC
// string.
var errBadHash = errors.New("auth: malformed argon2id hash string")

func (p HashParams) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("auth: hash time must be 1..%d", maxTime)
	case p.Threads < 1:
		return errors.New("auth: hash threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemKiB:
		return fmt.Errorf("auth: hash memory must be 8·threads..%d KiB", maxMemKiB)
	}
	return nil
}

// phcHash is a parsed argon2id PHC string.
type phcHash struct {
	params HashParams
	salt   []byte
	key    []byte
}

var b64 = base64.RawStdEncoding

// hashPassword derives a new argon2id hash of password with a fresh salt and
// returns it in PHC string format.
func hashPassword(password string, p HashParams) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: generate salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	return phcHash{params: p, salt: salt, key: key}.String(), nil
}

// String encodes h as $argon2id$v=19$m=...,t=...,p=...$salt$key.
func (h phcHash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.params.MemoryKiB, h.params.Time, h.params.Threads,
		b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// parsePHC parses an argon2id PHC string. It never panics and rejects
// parameters outside sane bounds.
func parsePHC(s string) (phcHash, error) {
	// The base64 decoder skips CR and LF; a hash string has neither.
	if len(s) > maxPHCBytes || strings.ContainsAny(s, "\r\n") {
		return phcHash{}, errBadHash
	}
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phcHash{}, errBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phcHash{}, errBadHash
	}
	// Parameters in the order the argon2 reference encoder writes them,
	// decimal without leading zeros, so that a valid string has exactly one
	// spelling.
	var h phcHash
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return phcHash{}, errBadHash
	}
	var vals [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		val, ok := strings.CutPrefix(fields[i], name)
		if !ok || val == "" || len(val) > 10 || (len(val) > 1 && val[0] == '0') {
			return phcHash{}, errBadHash
		}
		for _, c := range []byte(val) {
			if c < '0' || c > '9' {
				return phcHash{}, errBadHash
			}
		}
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return phcHash{}, errBadHash
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return phcHash{}, errBadHash
	}
	h.params = HashParams{MemoryKiB: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	if err := h.params.validate(); err != nil {
		return phcHash{}, errBadHash
	}
	var err error
	if h.salt, err = b64.Strict().DecodeString(parts[4]); err != nil || len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen {
		return phcHash{}, errBadHash
	}
	if h.key, err = b64.Strict().DecodeString(parts[5]); err != nil || len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
		return phcHash{}, errBadHash
	}
	return h, nil
}

// verify reports whether password matches h, comparing in constant time.
func (h phcHash) verify(password string) bool {
	key := argon2.IDKey([]byte(password), h.salt, h.params.Time, h.params.MemoryKiB, h.params.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// verifyPassword checks password against an encoded hash. A malformed hash
// never matches.
func verifyPassword(encoded, password string) (bool, HashParams) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, HashParams{}
	}
	return h.verify(password), h.params
}
