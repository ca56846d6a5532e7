package ballot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// checkedVector is one checked copy, for an independent checker (the
// page's and the camps' among them) to reproduce: the election as the API
// serves it, the voter's code and choices, the copy's seed and the
// signature's hedging bytes; the copy, its tracking code, its revealed
// text and the ciphertexts the log keeps of it.
type checkedVector struct {
	Election     *Election  `json:"election"`
	Code         string     `json:"code"`
	Selections   Selections `json:"selections"`
	Seed         string     `json:"seed"`
	FirstScalars []string   `json:"first_scalars"`
	Random       string     `json:"random"`
	Ballot       string     `json:"ballot"`
	TrackingCode string     `json:"tracking_code"`
	Revealed     string     `json:"revealed"`
	Ciphertexts  [][]string `json:"ciphertexts"`
}

// TestCheckedVectors makes every committed checked copy from its seed,
// reveals it, and makes it again from the revealed text alone.
func TestCheckedVectors(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "checked.json")
	if *updateCredentialVectors {
		writeCheckedVectors(t, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []checkedVector
	if err := json.Unmarshal(raw, &vs); err != nil || len(vs) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	for _, v := range vs {
		cred, err := DeriveCredential(v.Election.ID, v.Code)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := hex.DecodeString(v.Seed)
		for i, want := range v.FirstScalars {
			if got := hex.EncodeToString(encodeScalar(seedScalar(seed, uint32(i)))); got != want {
				t.Errorf("scalar %d from the seed is %s; the vector says %s", i, got, want)
			}
		}
		random, _ := hex.DecodeString(v.Random)
		made, err := v.Election.encrypt(cred, v.Selections, seedScalars(seed), random)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(made) != v.Ballot {
			t.Fatalf("%s %v: the copy is not the vector's", v.Election.ID, v.Selections)
		}
		r, err := v.Election.Reveal(made, seed, v.Selections)
		if err != nil {
			t.Fatal(err)
		}
		if r.String() != v.Revealed {
			t.Errorf("revealed text %s; the vector says %s", r.String(), v.Revealed)
		}
		parsed, err := ParseRevealed(v.Revealed)
		if err != nil {
			t.Fatal(err)
		}
		remade, err := v.Election.Remake(parsed)
		if err != nil {
			t.Fatalf("Remake: %v", err)
		}
		if !bytes.Equal(remade.Ballot, made) || remade.TrackingCode != v.TrackingCode {
			t.Errorf("the remade copy is not the one revealed")
		}
		if !reflect.DeepEqual(normalized(remade.Selections), normalized(v.Selections)) {
			t.Errorf("the remade copy encrypts %v; the voter chose %v", remade.Selections, v.Selections)
		}
		cts, err := v.Election.SpoiledCiphertexts(seed, remade.Selections)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cts, v.Ciphertexts) || !reflect.DeepEqual(cts, ballotCiphertexts(t, v.Election, made)) {
			t.Errorf("the logged ciphertexts are not the copy's")
		}
		alphas, err := v.Election.Alphas(made)
		if err != nil {
			t.Fatal(err)
		}
		var flat []string
		for _, q := range cts {
			for _, ct := range q {
				flat = append(flat, ct[:64])
			}
		}
		for i, a := range alphas {
			if hex.EncodeToString(a) != flat[i] {
				t.Errorf("Alphas[%d] is not the ballot's", i)
			}
		}
		if len(alphas) != len(flat) {
			t.Errorf("Alphas gives %d; the ballot has %d ciphertexts", len(alphas), len(flat))
		}
	}
}

// normalized gives every question of e an entry, as Remake does.
func normalized(sel Selections) Selections {
	out := Selections{}
	for q, c := range sel {
		if len(c) > 0 {
			out[q] = c
		}
	}
	return out
}

// ballotCiphertexts reads the ciphertexts out of a ballot's bytes.
func ballotCiphertexts(t *testing.T, e *Election, raw []byte) [][]string {
	t.Helper()
	b, err := e.ParseBallot(raw)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, q := range b.questions {
		var cts []string
		for _, ct := range q.options {
			cts = append(cts, hex.EncodeToString(ct.enc))
		}
		out = append(out, cts)
	}
	return out
}

func writeCheckedVectors(t *testing.T, path string) {
	twoRaces, oneOfSix := vectorElections()
	var vs []checkedVector
	for i, in := range []struct {
		e    *Election
		code string
		sel  Selections
	}{
		{twoRaces, "7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5A", Selections{"leader": {"b"}, "council": {"q"}}},
		{twoRaces, "00000-00000-00000-00000-00000", Selections{"leader": {"d"}, "council": {}}},
		{oneOfSix, "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ", Selections{"leader": {"c2"}}},
	} {
		cred, err := DeriveCredential(in.e.ID, in.code)
		if err != nil {
			t.Fatal(err)
		}
		seed := sha256.Sum256([]byte{'s', byte(i)})
		random := sha256.Sum256([]byte{'h', byte(i)})
		made, err := in.e.encrypt(cred, in.sel, seedScalars(seed[:]), random[:])
		if err != nil {
			t.Fatal(err)
		}
		r, err := in.e.Reveal(made, seed[:], in.sel)
		if err != nil {
			t.Fatal(err)
		}
		cts, err := in.e.SpoiledCiphertexts(seed[:], in.sel)
		if err != nil {
			t.Fatal(err)
		}
		var first []string
		for j := range 3 {
			first = append(first, hex.EncodeToString(encodeScalar(seedScalar(seed[:], uint32(j)))))
		}
		vs = append(vs, checkedVector{Election: in.e, Code: in.code, Selections: in.sel, Seed: hex.EncodeToString(seed[:]),
			FirstScalars: first, Random: hex.EncodeToString(random[:]), Ballot: hex.EncodeToString(made),
			TrackingCode: TrackingCode(sha256.Sum256(made)), Revealed: r.String(), Ciphertexts: cts})
	}
	b, _ := json.MarshalIndent(vs, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRevealedCopyRefusals changes a revealed copy in every way a page or
// a forger could, and checks that each is refused with a reason and that
// none remakes into a ballot.
func TestRevealedCopyRefusals(t *testing.T) {
	t.Parallel()
	e, _ := vectorElections()
	cred, err := DeriveCredential(e.ID, "7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5A")
	if err != nil {
		t.Fatal(err)
	}
	seed := bytes.Repeat([]byte{7}, SeedSize)
	sel := Selections{"leader": {"b"}, "council": {"p", "r"}}
	made, err := e.EncryptSeeded(cred, sel, seed)
	if err != nil {
		t.Fatal(err)
	}
	good, err := e.Reveal(made, seed, sel)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Remake(good); err != nil {
		t.Fatalf("the honest copy: %v", err)
	}
	other, _ := DeriveCredential(e.ID, "00000-00000-00000-00000-00000")
	mutate := func(f func(r *Revealed)) *Revealed {
		r, _ := ParseRevealed(good.String())
		f(r)
		return r
	}
	for name, tc := range map[string]struct {
		r    *Revealed
		want string
	}{
		"another candidate stated": {mutate(func(r *Revealed) { r.Choices[0] = []int{2} }), "not what its credential signed"},
		"another seed":             {mutate(func(r *Revealed) { r.Seed[0] ^= 1 }), "not what its credential signed"},
		"another credential":       {mutate(func(r *Revealed) { r.Credential = other.Public() }), "not what its credential signed"},
		"a signature bit":          {mutate(func(r *Revealed) { r.Signature[40] ^= 1 }), "not what its credential signed"},
		"another election":         {mutate(func(r *Revealed) { r.ElectionID = "other" }), "for election"},
		"a question missing":       {mutate(func(r *Revealed) { r.Choices = r.Choices[:1] }), "answers 1 questions"},
		"choices out of order":     {mutate(func(r *Revealed) { r.Choices[1] = []int{2, 0} }), "not distinct candidates in order"},
		"a choice twice":           {mutate(func(r *Revealed) { r.Choices[1] = []int{0, 0} }), "not distinct candidates in order"},
		"no such candidate":        {mutate(func(r *Revealed) { r.Choices[0] = []int{9} }), "not distinct candidates in order"},
		"too many chosen":          {mutate(func(r *Revealed) { r.Choices[0] = []int{0, 1} }), "exactly 1"},
		"a short seed":             {mutate(func(r *Revealed) { r.Seed = r.Seed[:31] }), "wrong length"},
		"not a point":              {mutate(func(r *Revealed) { r.Credential = bytes.Repeat([]byte{0xff}, 32) }), "credential"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := e.Remake(tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Remake = %v, %v; want an error saying %q", got, err, tc.want)
			}
		})
	}
	text := good.String()
	for name, bad := range map[string]string{
		"empty":           "",
		"not base64url":   "PVR2+/==",
		"another magic":   "UFZCMg",
		"cut short":       text[:len(text)-10],
		"cut in the head": text[:20],
		"huge":            strings.Repeat("A", maxRevealed+1),
	} {
		if _, err := ParseRevealed(bad); err == nil {
			t.Errorf("%s: ParseRevealed accepted it", name)
		}
	}
	// White space, as from a copy across lines, is ignored.
	if r, err := ParseRevealed(text[:30] + "\n " + text[30:]); err != nil || r.String() != text {
		t.Errorf("a copy pasted across lines: %v", err)
	}
}
