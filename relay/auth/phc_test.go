package auth

import (
	"strings"
	"testing"
)

// The argon2id test vector of the reference implementation
// (phc-winner-argon2, src/test.c): "password", salt "somesalt", t=2,
// m=64 MiB, p=1.
const referencePHC = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

func TestVerifyReferenceVector(t *testing.T) {
	h, err := parsePHC(referencePHC)
	if err != nil {
		t.Fatalf("parse reference: %v", err)
	}
	if h.params != (HashParams{Time: 2, MemoryKiB: 65536, Threads: 1}) || string(h.salt) != "somesalt" {
		t.Fatalf("parsed %+v salt %q", h.params, h.salt)
	}
	if !h.verify("password") {
		t.Fatal("reference hash does not verify 'password'")
	}
	if h.verify("Password") {
		t.Fatal("reference hash verifies 'Password'")
	}
	if got := h.String(); got != referencePHC {
		t.Fatalf("re-encoded %q", got)
	}
}

func TestHashRoundTrip(t *testing.T) {
	p := HashParams{Time: 3, MemoryKiB: 256, Threads: 2}
	enc, err := hashPassword("correct horse", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=256,t=3,p=2$") {
		t.Fatalf("encoding %q", enc)
	}
	ok, got := verifyPassword(enc, "correct horse")
	if !ok || got != p {
		t.Fatalf("verify = %v, params %+v", ok, got)
	}
	if ok, _ := verifyPassword(enc, "correct horsE"); ok {
		t.Fatal("wrong password verified")
	}
	enc2, _ := hashPassword("correct horse", p)
	if enc == enc2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestParsePHCRejects(t *testing.T) {
	valid := referencePHC
	bad := []string{
		"",
		"$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$t=2,m=65536,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=065536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=2,p=0$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=2,p=256$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=4,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=+65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=2$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ=$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",      // salt 4 bytes
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMa",                            // key 12 bytes
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPd", // non-canonical tail bits
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc$",
		"x" + valid,
		valid + strings.Repeat("A", 600),
	}
	for _, s := range bad {
		if _, err := parsePHC(s); err == nil {
			t.Errorf("parsePHC(%q) accepted", s)
		}
		if ok, _ := verifyPassword(s, "password"); ok {
			t.Errorf("verifyPassword(%q) matched", s)
		}
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add(referencePHC)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=65536,t=2,p=1$$")
	f.Add("$argon2id$v=19$m=,t=,p=$c29tZXNhbHQ$CTFh")
	f.Add("$$$$$")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err != nil {
			return
		}
		// A string that parses has exactly one spelling, and its
		// parameters are within the bounds (so verifying is safe).
		if got := h.String(); got != s {
			t.Fatalf("parsePHC(%q) re-encodes as %q", s, got)
		}
		if err := h.params.validate(); err != nil {
			t.Fatalf("parsePHC(%q) accepted params %+v: %v", s, h.params, err)
		}
		if len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen || len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
			t.Fatalf("parsePHC(%q) accepted salt %d / key %d bytes", s, len(h.salt), len(h.key))
		}
	})
}
