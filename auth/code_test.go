package auth

import (
	"strings"
	"testing"
)

func FuzzNormalizeCode(f *testing.F) {
	f.Add(NewCode())
	f.Add("abcde fghjk mnpqr stvwx yz012")
	f.Add("OOOOO-IIIII-LLLLL-00000-11111")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		norm, ok := normalizeCode(s)
		if !ok {
			return
		}
		if len(norm) != codeSymbols {
			t.Fatalf("normalizeCode(%q) = %q: want %d symbols", s, norm, codeSymbols)
		}
		for _, c := range norm {
			if !strings.ContainsRune(codeAlphabet, c) {
				t.Fatalf("normalizeCode(%q) = %q: %q is not in the alphabet", s, norm, c)
			}
		}
		if again, ok := normalizeCode(norm); !ok || again != norm {
			t.Fatalf("normalizeCode is not idempotent on %q", norm)
		}
	})
}

func TestNewCodeRoundTrips(t *testing.T) {
	t.Parallel()
	for range 100 {
		c := NewCode()
		norm, ok := normalizeCode(c)
		if !ok || norm != strings.ReplaceAll(c, "-", "") {
			t.Fatalf("normalizeCode(%q) = %q, %v", c, norm, ok)
		}
	}
}
