// Package ids makes and checks the relay's random record ids: 16 random
// bytes written as 32 lower-case hex digits. Checking an id before it is
// used in a store key keeps a caller's id from addressing keys outside its
// record.
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a fresh random id.
func New() string {
	var b [16]byte
	rand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

// Valid reports whether id has the form New returns.
func Valid(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
