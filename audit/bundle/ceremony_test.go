package bundle_test

import (
	"context"
	"strings"
	"testing"

	"primaryvote/audit"
	"primaryvote/audit/bundle"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
	"primaryvote/elections"
	"primaryvote/internal/fixture"
	"primaryvote/internal/keyceremony"
)

// ceremonyWorld is election e1, its key made by a 2-of-3 ceremony that
// ceremony runs (and may tamper with) before the election opens, then
// voted in, closed, counted and published.
func ceremonyWorld(t *testing.T, ceremony func(env *fixture.Env) []ballot.TrusteeShare) *world {
	t.Helper()
	ctx := context.Background()
	env := fixture.New(t)
	w := &world{env: env, el: env.SetupKeyless(t, "e1", 4), signer: env.Signer, seq: env.Sequencer}
	shares := ceremony(env)
	must(t, env.Elections.Open(ctx, "e1", "test"))
	for i, sel := range selections[:2] {
		if _, _, err := env.Elections.Cast(ctx, env.CastRequest(t, w.el, w.el.Voters[i], sel)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, env.Elections.Close(ctx, "e1", "test"))
	_, err := env.Elections.Tally(ctx, "e1", "test")
	must(t, err)
	for _, s := range shares[:2] {
		must(t, env.Decrypt(ctx, "e1", s, "test"))
	}
	_, err = env.Elections.FinishTally(ctx, "e1", "test")
	must(t, err)
	must(t, env.Elections.Publish(ctx, "e1", "test"))
	w.drain(t)
	return w
}

// honest runs the ceremony as the trustees would.
func honest(t *testing.T) func(env *fixture.Env) []ballot.TrusteeShare {
	return func(env *fixture.Env) []ballot.TrusteeShare {
		c, trustees := env.Ceremony(t, "e1", 2, 3, nil)
		out, err := env.Elections.FinishCeremony(context.Background(), "e1", "test", false)
		must(t, err)
		return env.Shares(t, c, trustees, out)
	}
}

// auditverify checks the key ceremony: every message's signature and step,
// the qualified dealers, and that the logged key is what the messages give.
func TestCeremonyInTheBundle(t *testing.T) {
	t.Parallel()
	w := ceremonyWorld(t, honest(t))
	report, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
	if err != nil {
		t.Fatal(err)
	}
	c := report.Ceremony
	if c == nil || c.Trustees != 3 || c.Threshold != 2 || c.Deals != 3 || c.Verdicts != 3 || len(c.Qualified) != 3 || len(c.Excluded) != 0 {
		t.Fatalf("the report's ceremony: %+v", c)
	}
}

// A dealer who cannot answer a complaint is excluded and named; the bundle
// verifies with the key of the others.
func TestCeremonyExclusionInTheBundle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := ceremonyWorld(t, func(env *fixture.Env) []ballot.TrusteeShare {
		c, trustees := env.Ceremony(t, "e1", 2, 3, func(c *ballot.Ceremony, d *ballot.Deal, s *ballot.TrusteeSecrets) {
			if d.Dealer == 2 {
				d.Shares[2], d.Kept[2] = d.Shares[1], d.Kept[1]
				c.SignDeal(d, s)
			}
		})
		out, err := env.Elections.FinishCeremony(ctx, "e1", "test", true)
		must(t, err)
		return env.Shares(t, c, trustees, out)
	})
	report, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
	if err != nil {
		t.Fatal(err)
	}
	if c := report.Ceremony; c == nil || len(c.Qualified) != 2 || !strings.Contains(c.Excluded[2], "did not answer trustee 3") {
		t.Fatalf("the report's ceremony: %+v", c)
	}
}

// An insider with the owner's role and the log's key sets an election key
// of their own choosing, or logs a message no trustee signed, or replays a
// deal from another election: auditverify names each.
func TestCeremonyInsiderCaught(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, tc := range map[string]struct {
		ceremony func(env *fixture.Env) []ballot.TrusteeShare
		want     string
	}{
		"a key of the insider's own": {func(env *fixture.Env) []ballot.TrusteeShare {
			env.Ceremony(t, "e1", 2, 3, nil)
			// The insider's key, split among shares it holds, stored and
			// logged in place of the ceremony's outcome.
			tr, shares, err := keyceremony.Run("e1", 2, 3)
			must(t, err)
			setTrusteesAsInsider(t, env, tr)
			return shares
		}, "is not the one the key ceremony's messages give"},
		"a deal no trustee signed": {func(env *fixture.Env) []ballot.TrusteeShare {
			return withLoggedMessage(t, env, func(st *elections.CeremonyState) entry.Deal {
				forged := *st.Deals[0]
				forged.Commitments = append([]ballot.Hex{}, st.Deals[1].Commitments...)
				return forged
			})
		}, "not signed by its key"},
		"a deal replayed from another election": {func(env *fixture.Env) []ballot.TrusteeShare {
			other := env.SetupKeyless(t, "e9", 2)
			env.Ceremony(t, other.ID, 2, 3, nil)
			theirs, err := env.Elections.Ceremony(ctx, other.ID)
			must(t, err)
			return withLoggedMessage(t, env, func(*elections.CeremonyState) entry.Deal { return *theirs.Deals[0] })
		}, `not signed by its key for election "e1"`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := ceremonyWorld(t, tc.ceremony)
			_, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify = %v; want it to say %q", err, tc.want)
			}
		})
	}
}

// withLoggedMessage runs an honest ceremony, then logs the deal forge makes
// as an insider can; the server then refuses to finish the ceremony, so the
// insider sets the honest outcome by hand.
func withLoggedMessage(t *testing.T, env *fixture.Env, forge func(st *elections.CeremonyState) entry.Deal) []ballot.TrusteeShare {
	t.Helper()
	ctx := context.Background()
	c, trustees := env.Ceremony(t, "e1", 2, 3, nil)
	st, err := env.Elections.Ceremony(ctx, "e1")
	must(t, err)
	out, err := c.Decide(st.Deals, st.Verdicts, st.Answers)
	must(t, err)
	must(t, audit.Append(ctx, env.DB.Pool, audit.Entry{ElectionID: "e1", Kind: entry.KindTrusteesDeal, Actor: "trustee:1", At: env.Clock.Now(), Ref: "forged", Data: forge(st)}))
	if _, err := env.Elections.FinishCeremony(ctx, "e1", "test", true); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("the server finished a ceremony with a message no trustee signed: %v", err)
	}
	setTrusteesAsInsider(t, env, out.Trustees)
	return env.Shares(t, c, trustees, out)
}

// setTrusteesAsInsider stores and logs tr as the election's key, as the
// database's owner with the log's key can, bypassing the ceremony.
func setTrusteesAsInsider(t *testing.T, env *fixture.Env, tr *ballot.Trustees) {
	t.Helper()
	ctx := context.Background()
	_, err := env.DB.OwnerPool.Exec(ctx, `INSERT INTO election_keys (election_id, threshold, public_key, commitments) VALUES ('e1', $1, $2, $3)`,
		tr.Threshold, tr.Key.Bytes(), tr.EncodeCommitments())
	must(t, err)
	pub := tr.EncodePublic()
	for i := range tr.Public {
		_, err := env.DB.OwnerPool.Exec(ctx, `INSERT INTO trustees (election_id, trustee, public_key) VALUES ('e1', $1, $2)`, i+1, pub[32*i:32*(i+1)])
		must(t, err)
	}
	key, commitments, public := tr.Hex()
	must(t, audit.Append(ctx, env.DB.Pool, audit.Entry{ElectionID: "e1", Kind: entry.KindTrusteesSetup, Actor: "cli:insider", At: env.Clock.Now(), Ref: "setup",
		Data: entry.TrusteesSet{Threshold: tr.Threshold, Trustees: len(tr.Public), PublicKey: key, Commitments: commitments, TrusteePublicKeys: public}}))
}
