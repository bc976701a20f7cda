package ids

import (
	"strings"
	"testing"
)

func TestTokensParseOnlyTheirOwnForm(t *testing.T) {
	tok, hash := NewToken("pxx_")
	if got, ok := ParseToken("pxx_", tok); !ok || got != hash || hash != TokenHash(tok) {
		t.Fatalf("ParseToken(own token) = %q, %v; want %q", got, ok, hash)
	}
	other, _ := NewToken("pxx_")
	if other == tok {
		t.Fatal("two tokens are equal")
	}
	for _, bad := range []string{"", "pxx_", "pyy_" + tok[4:], tok + "A", tok[:len(tok)-1], strings.Replace(tok, tok[10:11], "!", 1)} {
		if _, ok := ParseToken("pxx_", bad); ok {
			t.Errorf("ParseToken accepted %q", bad)
		}
	}
}

func TestValidRef(t *testing.T) {
	for id, want := range map[string]bool{"bank-1_A": true, "": false, "a/b": false, "../x": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false} {
		if ValidRef(id) != want {
			t.Errorf("ValidRef(%q) = %v", id, !want)
		}
	}
}
