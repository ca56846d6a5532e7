package elections_test

import (
	"context"
	"primaryvote/audit/cosign"
	"testing"

	pv "primaryvote"
	"primaryvote/internal/fixture"
)

func policyOf(t *testing.T, quorum int, names ...string) *cosign.Policy {
	t.Helper()
	p := &cosign.Policy{Quorum: quorum}
	for _, n := range names {
		k, err := cosign.GenerateKey(n)
		if err != nil {
			t.Fatal(err)
		}
		p.Witnesses = append(p.Witnesses, cosign.Witness{Key: k.VerifierKey(), URL: "https://" + n + "/"})
	}
	return p
}

func TestWitnessPolicyIsSetBeforeOpeningAndLogged(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	env.Setup(t, "e1", 2, false)
	ctx := context.Background()

	if _, err := env.Elections.Witnesses(ctx, "e1"); pv.ErrorCode(err) != pv.ENotFound {
		t.Fatalf("Witnesses before any = %v", err)
	}
	for name, bad := range map[string]*cosign.Policy{
		"quorum above the witnesses": policyOf(t, 3, "a.example", "b.example"),
		"no witnesses":               {Quorum: 1},
	} {
		if err := env.Elections.SetWitnesses(ctx, "e1", bad, "test"); pv.ErrorCode(err) != pv.EInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'witnesses.policy'`) + env.Count(t, `SELECT count(*) FROM witness_policies`); n != 0 {
		t.Fatalf("a refused policy left %d rows", n)
	}

	first, second := policyOf(t, 1, "a.example"), policyOf(t, 2, "a.example", "b.example")
	for _, p := range []*cosign.Policy{first, second} {
		if err := env.Elections.SetWitnesses(ctx, "e1", p, "test"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := env.Elections.Witnesses(ctx, "e1")
	if err != nil || !got.Equal(second) {
		t.Fatalf("Witnesses = %+v, %v; want the second", got, err)
	}
	if n := len(entries(t, env, "witnesses.policy")); n != 2 {
		t.Errorf("%d witnesses.policy entries, want 2", n)
	}

	if err := env.Elections.Open(ctx, "e1", "test"); err != nil {
		t.Fatal(err)
	}
	if err := env.Elections.SetWitnesses(ctx, "e1", first, "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("SetWitnesses after opening = %v", err)
	}
	if got, _ := env.Elections.Witnesses(ctx, "e1"); !got.Equal(second) {
		t.Errorf("the policy changed after opening: %+v", got)
	}
	if err := env.Elections.SetWitnesses(ctx, "nope", first, "test"); pv.ErrorCode(err) != pv.ENotFound {
		t.Errorf("an unknown election: %v", err)
	}
}
