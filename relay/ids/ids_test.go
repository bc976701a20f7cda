package ids

import (
	"strings"
	"testing"
)

func TestNewIsValidAndFresh(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id := New()
		if !Valid(id) || seen[id] {
			t.Fatalf("New() = %q (valid %v, repeated %v)", id, Valid(id), seen[id])
		}
		seen[id] = true
	}
}

func TestValid(t *testing.T) {
	for _, bad := range []string{"", "abc", strings.Repeat("A", 32), strings.Repeat("g", 32),
		strings.Repeat("0", 31), strings.Repeat("0", 33), "../" + strings.Repeat("0", 29), strings.Repeat("0", 31) + "/"} {
		if Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
	if !Valid("0123456789abcdef0123456789abcdef") {
		t.Error("a well-formed id is refused")
	}
}
