package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"primaryvote/ballot"
)

// primaryctl check makes a checked copy again from its revealed text and
// the election, offline, and prints its code and choices; a copy whose
// stated choices are not what it encrypts, and bad input, are refused.
func TestCheckACopyOffline(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "ballot", "testdata", "checked.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct {
		Election     json.RawMessage `json:"election"`
		Revealed     string          `json:"revealed"`
		TrackingCode string          `json:"tracking_code"`
	}
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	v := vs[0] // leader b, council q
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	election := write("election.json", string(v.Election))
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := Run(context.Background(), &Env{Stdout: &out, Stderr: &out}, append([]string{"check"}, args...))
		return out.String(), err
	}
	out, err := run("--election", election, write("good.txt", v.Revealed[:50]+"\n"+v.Revealed[50:]+"\n"))
	if err != nil || !strings.Contains(out, v.TrackingCode) || !strings.Contains(out, "Leader: 2. Candidate b") || !strings.Contains(out, "Council: 2. Candidate q") {
		t.Fatalf("check = %q, %v", out, err)
	}
	r, _ := ballot.ParseRevealed(v.Revealed)
	r.Choices[0] = []int{2}
	for name, args := range map[string][]string{
		"a copy that lies":  {"--election", election, write("lying.txt", r.String())},
		"not a copy":        {"--election", election, write("junk.txt", "hello")},
		"not an election":   {"--election", write("junk.json", "{}"), write("good2.txt", v.Revealed)},
		"no such file":      {"--election", election, filepath.Join(dir, "missing.txt")},
		"no election given": {write("good3.txt", v.Revealed)},
	} {
		if out, err := run(args...); err == nil {
			t.Errorf("%s: check passed: %s", name, out)
		}
	}
}
