package api

import (
	"testing"
	"time"
)

func TestFailuresGrowForOneAddressOnly(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	f := newFailures(3, 15*time.Minute, 10*time.Second, func() time.Time { return now })
	for range 3 {
		f.fail("a")
	}
	if d := f.wait("a"); d != 0 {
		t.Fatalf("wait after the free failures = %v; want 0", d)
	}
	var waits []time.Duration
	for range 6 {
		f.fail("a")
		waits = append(waits, f.wait("a"))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits = %v; want %v", waits, want)
		}
	}
	if d := f.wait("b"); d != 0 {
		t.Errorf("another address waits %v", d)
	}
	now = now.Add(3 * time.Second)
	if d := f.wait("a"); d != 7*time.Second {
		t.Errorf("3 s later the address waits %v; want 7s", d)
	}
	// A quiet window forgets the failures; a success too.
	now = now.Add(16 * time.Minute)
	f.fail("a")
	if d := f.wait("a"); d != 0 {
		t.Errorf("a failure after a quiet window waits %v; want 0", d)
	}
	for range 5 {
		f.fail("c")
	}
	f.succeed("c")
	if d := f.wait("c"); d != 0 {
		t.Errorf("after a success the address waits %v", d)
	}
}
