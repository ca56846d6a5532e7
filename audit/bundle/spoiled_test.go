package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/bundle"
	"primaryvote/audit/entry"
	"primaryvote/audit/record"
	"primaryvote/ballot"
	"primaryvote/elections"
	"primaryvote/internal/fixture"
)

// checkedWorld is an election in which voters checked copies before
// casting fresh ones: V00001 and V00002 one copy each, V00003 two; V00004
// only cast. Before the close, tamper may play an insider or a page.
type checkedWorld struct {
	*world
	// copies are the checked copies' bytes and revealed texts, in order.
	copies   [][]byte
	revealed []string
}

func newCheckedWorld(t *testing.T, tamper func(w *checkedWorld)) *checkedWorld {
	t.Helper()
	env := fixture.New(t)
	w := &checkedWorld{world: &world{env: env, el: env.Setup(t, "e1", 6, true), signer: env.Signer, seq: env.Sequencer}}
	ctx := context.Background()
	check := func(voter string, sel ballot.Selections) {
		raw, revealed := env.Copy(t, w.el, voter, sel)
		if _, err := env.Elections.Spoil(ctx, elections.SpoilRequest{ElectionID: "e1", VoterID: voter, Revealed: revealed}); err != nil {
			t.Fatal(err)
		}
		w.copies, w.revealed = append(w.copies, raw), append(w.revealed, revealed)
	}
	check("V00001", selections[0])
	check("V00002", selections[1])
	check("V00003", selections[2])
	check("V00003", selections[3])
	if tamper != nil {
		tamper(w)
	}
	for i, sel := range selections {
		// A voter whose ballot an insider already put in votes no more.
		if _, _, err := env.Elections.Cast(ctx, env.CastRequest(t, w.el, w.el.Voters[i], sel)); err != nil && pv.ErrorCode(err) != pv.EConflict {
			t.Fatal(err)
		}
	}
	must(t, env.Elections.Close(ctx, "e1", "test"))
	_, err := env.Elections.Tally(ctx, "e1", "test")
	must(t, err)
	must(t, env.Decrypt(ctx, "e1", w.el.Shares[0], "test"))
	must(t, env.Decrypt(ctx, "e1", w.el.Shares[1], "test"))
	_, err = env.Elections.FinishTally(ctx, "e1", "test")
	must(t, err)
	w.drain(t)
	return w
}

// The bundle carries every checked copy, logged at the close without the
// voter's credential, and auditverify makes each one's ciphertexts again.
func TestCheckedCopiesInTheBundle(t *testing.T) {
	t.Parallel()
	w := newCheckedWorld(t, nil)
	lines := w.export(t)
	report, err := verify(lines, bundle.Options{LogKey: w.signer.VerifierKey()})
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if report.CheckedCopies != len(w.copies) {
		t.Errorf("the report counts %d checked copies; want %d", report.CheckedCopies, len(w.copies))
	}
	var text bytes.Buffer
	report.WriteText(&text)
	if !strings.Contains(text.String(), "4 copies voters checked") {
		t.Errorf("the report does not say what it checked of the copies:\n%s", text.String())
	}
	var spoiled []map[string]any
	for _, i := range find(lines, "record") {
		var rec struct {
			Record []byte `json:"record"`
		}
		must(t, json.Unmarshal([]byte(lines[i]), &rec))
		body := rec.Record[record.HeaderSize:]
		p, err := entry.Parse(body)
		must(t, err)
		if p.Kind != entry.KindBallotSpoiled {
			continue
		}
		for voter, code := range w.el.Codes {
			c, _ := ballot.DeriveCredential("e1", code)
			if bytes.Contains(body, []byte(c.PublicHex())) || bytes.Contains(body, []byte(voter)) {
				t.Errorf("a checked copy's entry names %s: %s", voter, body)
			}
		}
		var d map[string]any
		must(t, json.Unmarshal(p.Data, &d))
		spoiled = append(spoiled, d)
	}
	if len(spoiled) != len(w.copies) {
		t.Fatalf("the log has %d checked copies; voters checked %d", len(spoiled), len(w.copies))
	}
	for i := 1; i < len(spoiled); i++ {
		if spoiled[i-1]["tracking_code"].(string) >= spoiled[i]["tracking_code"].(string) {
			t.Errorf("the checked copies are not in tracking-code order")
		}
	}
}

// Each way an insider or a page could misuse a checked copy fails
// auditverify, naming it.
func TestCheckedCopiesTampering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, tc := range map[string]struct {
		tamper func(t *testing.T, w *checkedWorld)
		want   string
	}{
		// With the owner's powers: the copy's stated choices changed in the
		// database before the close logs it.
		"a copy's choices rewritten": {func(t *testing.T, w *checkedWorld) {
			_, err := w.env.DB.OwnerPool.Exec(ctx, `UPDATE spoiled_ballots SET entry = replace(convert_from(entry, 'UTF8'), '"p"', '"r"')::bytea`)
			must(t, err)
		}, "not what its seed and choices encrypt"},
		// With the owner's powers and the log's key: a checked copy cast.
		"a checked copy cast": {func(t *testing.T, w *checkedWorld) {
			raw := w.copies[0]
			sum := sha256.Sum256(raw)
			code := ballot.TrackingCode(sum)
			cred, _ := ballot.DeriveCredential("e1", w.el.Codes["V00001"])
			_, err := w.env.DB.OwnerPool.Exec(ctx, `INSERT INTO ballots (election_id, tracking_code, group_id, content, credential, idempotency_key_hash, response) VALUES ('e1', $1, 'members', $2, $3, $1, '{}')`, sum[:], raw, cred.Public())
			must(t, err)
			p := w.env.Secrets.Pseudonym("e1", "V00001")
			must(t, audit.Append(ctx, w.env.DB.Pool, audit.Entry{ElectionID: "e1", Kind: entry.KindBallotCast, Actor: "voter", At: w.env.Clock.Now(), Ref: code,
				Data: entry.Cast{Voter: hex.EncodeToString(p[:]), Group: "members", TrackingCode: code}}))
		}, "was cast"},
		// A page that casts a fresh copy made from a checked copy's seed: its
		// candidates' ciphertexts, whose randomness is public, are counted.
		// The server cannot tell; auditverify can.
		"a checked copy's randomness reused": {func(t *testing.T, w *checkedWorld) {
			r, err := ballot.ParseRevealed(w.revealed[3])
			must(t, err)
			e, err := w.env.Elections.Get(ctx, "e1")
			must(t, err)
			c, _ := ballot.DeriveCredential("e1", w.el.Codes["V00005"])
			raw, err := e.EncryptSeeded(c, ballot.Selections{"leader": {"c"}, "council": {"p"}}, r.Seed)
			must(t, err)
			_, _, err = w.env.Elections.Cast(ctx, elections.CastRequest{ElectionID: "e1", VoterID: "V00005", Group: w.el.Groups["V00005"], IdempotencyKey: strings.Repeat("k", 32), Encrypted: raw})
			must(t, err)
		}, "holds a ciphertext of checked copy"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newCheckedWorld(t, func(w *checkedWorld) { tc.tamper(t, w) })
			_, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify = %v; want it to say %q", err, tc.want)
			}
		})
	}
}
