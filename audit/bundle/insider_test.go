package bundle_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"primaryvote/audit"
	"primaryvote/audit/bundle"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

// An insider tries to replace the credential of a voter who has voted (to
// cast again, or to make the first ballot look like someone else's). The
// service refuses; the database refuses the application's role; and with
// the owner's powers and the log's signing key, auditverify names it.
// (Adding a ballot without a voter's key, under a credential not on the
// roll, or with a race copied from another ballot: TestForgedCastsCaught;
// a credential swapped before the election opens:
// TestCredentialsAreTheAuthoritys.)
func TestInsiderCannotReplaceACredentialThatVoted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// voter 0 of newWorld has voted.
	_, replacement := fixture.Authority("e1", []ballot.RollVoter{{ID: "V00001", Group: "members"}})
	theirs := mustHex(t, replacementP(t, replacement))
	// swap drops the ballot's foreign key and replaces V00001's credential,
	// as the database's owner can.
	swap := func(t *testing.T, w *world) {
		t.Helper()
		_, err := w.env.DB.OwnerPool.Exec(ctx, `ALTER TABLE ballots DROP CONSTRAINT ballots_credential_listed`)
		must(t, err)
		_, err = w.env.DB.OwnerPool.Exec(ctx, `UPDATE voter_credentials SET credential = $1 WHERE election_id = 'e1' AND voter_id = 'V00001'`, theirs)
		must(t, err)
	}

	t.Run("through the service", func(t *testing.T) {
		w := newWorld(t, false)
		if _, err := w.env.Credentials.Replace(ctx, "e1", bytes.NewReader(replacement), "cli:authority"); err == nil || !strings.Contains(err.Error(), "already voted") {
			t.Errorf("Replace = %v; want refused", err)
		}
	})
	t.Run("with the application's database role", func(t *testing.T) {
		w := newWorld(t, false)
		_, err := w.env.DB.Pool.Exec(ctx, `UPDATE voter_credentials SET credential = $1 WHERE election_id = 'e1' AND voter_id = 'V00001'`, theirs)
		if err == nil || !strings.Contains(err.Error(), "ballots_credential_listed") {
			t.Errorf("UPDATE = %v; want the ballot's foreign key to refuse it", err)
		}
	})
	t.Run("with the owner's powers, silently", func(t *testing.T) {
		w := newWorld(t, false)
		swap(t, w)
		w.drain(t)
		_, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
		t.Log(err)
		// The roll no longer matches its commitment at opening (no logged
		// replacement puts the credential back).
		if err == nil || !strings.Contains(err.Error(), "is not the bundle's roll") {
			t.Errorf("Verify = %v; want the roll refused", err)
		}
	})
	t.Run("with the owner's powers and the signing key, logged", func(t *testing.T) {
		w := newWorld(t, false)
		swap(t, w)
		old, _ := ballot.DeriveCredential("e1", w.el.Codes["V00001"])
		p := w.env.Secrets.Pseudonym("e1", "V00001")
		must(t, audit.Append(ctx, w.env.DB.Pool, audit.Entry{ElectionID: "e1", Kind: entry.KindCredentialsReplace, Actor: "cli:insider", At: w.env.Clock.Now(),
			Data: entry.CredentialReplaced{Voter: hex.EncodeToString(p[:]), Old: old.PublicHex(), New: replacementP(t, replacement)}}))
		w.drain(t)
		_, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "who has already cast a ballot") {
			t.Errorf("Verify = %v; want the replacement after the cast refused", err)
		}
	})
}
