package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"primaryvote/audit"
	"primaryvote/audit/bundle"
	"primaryvote/audit/entry"
	"primaryvote/audit/record"
	"primaryvote/ballot"
	"primaryvote/elections"
	"primaryvote/internal/fixture"
	"primaryvote/internal/keyceremony"
)

// Untampered bundles verify at every step of an election's life.
func TestEveryStatusVerifies(t *testing.T) {
	t.Parallel()
	for _, status := range []ballot.Status{ballot.Open, ballot.Closed, ballot.Tallied, ballot.Published} {
		t.Run(string(status), func(t *testing.T) {
			w := newWorldAt(t, status)
			report, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
			if err != nil || report.Status != string(status) || !report.LogKeyPinned || len(report.Refused) != 0 {
				t.Fatalf("Verify = %+v, %v", report, err)
			}
		})
	}
	t.Run("draft", func(t *testing.T) {
		env := fixture.New(t)
		env.Setup(t, "d1", 3, false)
		if _, err := env.Sequencer.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		must(t, env.Elections.Export(context.Background(), "d1", &buf))
		if report, err := bundle.Verify(&buf, bundle.Options{LogKey: env.Signer.VerifierKey()}); err != nil || report.Status != "draft" {
			t.Fatalf("Verify(draft) = %+v, %v", report, err)
		}
	})
}

// Everything the bundle states must be what the log recorded.
func TestBundleDisagreeingWithItsLogFails(t *testing.T) {
	t.Parallel()
	w := newWorld(t, true)
	clean := w.export(t)
	key := w.signer.VerifierKey()
	election := find(clean, "election")[0]
	partials := find(clean, "partial")
	results := find(clean, "results")[0]

	tests := []struct {
		name   string
		tamper func(l []string) []string
		want   string
	}{
		{"the winner relabelled, with the results that definition gives", func(l []string) []string {
			return relabel(t, l)
		}, "record 0: the bundle's definition is not the one logged when election e1 was created"},
		{"the definition edited in a way that changes nothing counted", func(l []string) []string {
			l[election] = strings.Replace(l[election], `"title":"Test primary e1"`, `"title":"Test primary e2"`, 1)
			return l
		}, "the bundle's definition is not the one logged"},
		{"another key ceremony's trustees", func(l []string) []string {
			tr, _, err := keyceremony.Run("e1", 2, 3)
			must(t, err)
			l[find(l, "trustees")[0]] = trusteesLine(tr)
			return l
		}, "the bundle's election key is not the one logged when the trustees were set up"},
		{"the status", func(l []string) []string {
			l[election] = strings.Replace(l[election], `"status":"published"`, `"status":"tallied"`, 1)
			return l
		}, "the bundle's election line says the election is tallied, but its last step in the log is published (record "},
		{"an edited partial decryption", func(l []string) []string {
			a, b := decode(t, l[partials[0]]), decode(t, l[partials[1]])
			b["shares"] = a["shares"]
			l[partials[1]] = encode(b)
			return l
		}, "trustee 3's partial decryption is not the one the log records (record "},
		{"a partial decryption by trustee 4 of 3", func(l []string) []string {
			l[partials[1]] = strings.Replace(l[partials[1]], `"trustee":3`, `"trustee":4`, 1)
			return l
		}, "a partial decryption by trustee 4: the election has 3 trustees"},
		{"a logged partial decryption left out", func(l []string) []string {
			return fixEnd(append(l[:partials[1]], l[partials[1]+1:]...))
		}, "logs trustee 3's partial decryption, which the bundle does not have"},
		{"the results left out", func(l []string) []string {
			return fixEnd(append(l[:results], l[results+1:]...))
		}, "the log records the tally's results (record "},
		{"the sums left out", func(l []string) []string {
			s := find(l, "sums")[0]
			return fixEnd(append(l[:s], l[s+1:]...))
		}, "the log records the tally's sums (record "},
		{"a fake results member before the real one", func(l []string) []string {
			l[results] = strings.Replace(l[results], `{"type":"results",`, `{"type":"results","results":{"election":"e1"},`, 1)
			return l
		}, fmt.Sprintf(`line %d: not a bundle line: jsontext: duplicate object member name "results"`, results+1)},
		{"a case-variant member", func(l []string) []string {
			l[partials[0]] = strings.Replace(l[partials[0]], `"trustee":`, `"Trustee":`, 1)
			return l
		}, fmt.Sprintf(`line %d: not a bundle line: unexpected member "Trustee" in a partial line`, partials[0]+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := tt.tamper(append([]string{}, clean...))
			_, err := verify(lines, bundle.Options{LogKey: key})
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// relabel swaps the first and last candidates of the first question in the
// bundle's definition and puts in the results that definition gives: a
// consistent bundle in which the loser has won.
func relabel(t *testing.T, l []string) []string {
	el := find(l, "election")[0]
	var line struct {
		Status     string
		Definition *ballot.Definition
	}
	must(t, json.Unmarshal([]byte(l[el]), &line))
	d := line.Definition
	e := &ballot.Election{ID: d.ID, Groups: d.Groups, Questions: d.Questions}
	sums, err := e.DecodeSums(mustB64(t, decode(t, l[find(l, "sums")[0]])["sums"].(string)))
	must(t, err)
	var published ballot.Results
	must(t, json.Unmarshal([]byte(resultsOf(t, l)), &published))
	// The counts, in the sums' order, as the definition lists candidates.
	var counts []int
	for qi, q := range d.Questions {
		for _, c := range q.Candidates {
			for _, cr := range published.Questions[qi].Candidates {
				if cr.ID == c.ID {
					counts = append(counts, cr.Votes...)
				}
			}
		}
	}
	q := &d.Questions[0]
	last := len(q.Candidates) - 1
	q.Candidates[0], q.Candidates[last] = q.Candidates[last], q.Candidates[0]
	q.Candidates[0].Number, q.Candidates[last].Number = q.Candidates[last].Number, q.Candidates[0].Number
	def, _ := json.Marshal(d)
	res, _ := json.Marshal(e.MakeResults(sums, counts))
	l[el] = encode(map[string]any{"type": "election", "status": line.Status, "definition": json.RawMessage(def)})
	l[find(l, "results")[0]] = encode(map[string]any{"type": "results", "results": json.RawMessage(res)})
	return l
}

// resultsOf returns the results line's results member as JSON text.
func resultsOf(t *testing.T, l []string) string {
	var line struct{ Results json.RawMessage }
	must(t, json.Unmarshal([]byte(l[find(l, "results")[0]]), &line))
	return string(line.Results)
}

func trusteesLine(tr *ballot.Trustees) string {
	hexes := func(b []byte) []string {
		var out []string
		for o := 0; o < len(b); o += 32 {
			out = append(out, hex.EncodeToString(b[o:o+32]))
		}
		return out
	}
	return encode(map[string]any{"type": "trustees", "threshold": tr.Threshold, "public_key": hex.EncodeToString(tr.Key.Bytes()),
		"commitments": hexes(tr.EncodeCommitments()), "trustee_keys": hexes(tr.EncodePublic())})
}

// An insider with the schema owner's powers rewrites the logged definition (swapping two
// candidates' names) before the tally. The tally refuses to use it, and the
// verifier names the record.
func TestDefinitionRewrittenInTheDatabase(t *testing.T) {
	t.Parallel()
	w := newWorldAt(t, ballot.Closed)
	ctx := context.Background()
	var (
		position int64
		record   []byte
	)
	must(t, w.env.DB.Pool.QueryRow(ctx, `SELECT position, record FROM audit_log WHERE election_id = 'e1' AND kind = 'election.create'`).Scan(&position, &record))
	swapped := bytes.ReplaceAll(record, []byte(`"Candidate A"`), []byte(`"Candidate @"`))
	swapped = bytes.ReplaceAll(swapped, []byte(`"Candidate D"`), []byte(`"Candidate A"`))
	swapped = bytes.ReplaceAll(swapped, []byte(`"Candidate @"`), []byte(`"Candidate D"`))
	owner := w.env.DB.OwnerPool
	_, err := owner.Exec(ctx, `GRANT UPDATE ON audit_log TO CURRENT_USER`)
	must(t, err)
	_, err = owner.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`)
	must(t, err)
	_, err = owner.Exec(ctx, `UPDATE audit_log SET record = $1 WHERE position = $2`, swapped, position)
	must(t, err)

	// A new process (primaryctl tally) reads the definition from the log and
	// proves it against the signed checkpoint.
	fresh := elections.New(w.env.DB.Pool, w.env.Clock.Now, w.env.Secrets, w.signer.VerifierKey())
	_, err = fresh.Tally(ctx, "e1", "test")
	t.Log(err)
	want := fmt.Sprintf("record %d (election.create) is not the one the signed log holds", position)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Tally after the definition was rewritten = %v; want %q", err, want)
	}
	if n := w.env.Count(t, `SELECT count(*) FROM tallies`); n != 0 {
		t.Errorf("%d tallies stored", n)
	}
	_, err = verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
	t.Log(err)
	want = fmt.Sprintf("record %d: its previous-chain hash does not match record %d", position+1, position)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Verify = %v; want %q", err, want)
	}
}

// The listing copy of an election's title and window never changes, and
// the status only moves one step forward, even for the application's role.
func TestElectionRowOnlyMovesForward(t *testing.T) {
	t.Parallel()
	w := newWorldAt(t, ballot.Closed)
	for _, stmt := range []string{
		`UPDATE elections SET title = 'Another' WHERE id = 'e1'`,
		`UPDATE elections SET closes_at = now() + interval '1 day' WHERE id = 'e1'`,
		`UPDATE elections SET status = 'open' WHERE id = 'e1'`,
		`UPDATE elections SET status = 'published' WHERE id = 'e1'`,
		`DELETE FROM elections WHERE id = 'e1'`,
	} {
		if _, err := w.env.DB.Pool.Exec(context.Background(), stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
}

// forgeCast stores voter i's ballot (made by their device) and logs its
// cast directly, as an insider with the application's database role could.
// It returns the tracking code.
func (w *world) forgeCast(t *testing.T, i int) string {
	t.Helper()
	ctx := context.Background()
	raw := w.env.Ballot(t, w.el, w.el.Voters[i], ballot.Selections{"leader": {"d"}, "council": {"p"}})
	c, err := ballot.DeriveCredential("e1", w.el.Codes[w.el.Voters[i]])
	must(t, err)
	sum := sha256.Sum256(raw)
	code := ballot.TrackingCode(sum)
	group := "members"
	if (i+1)%2 == 0 {
		group = "public"
	}
	_, err = w.env.DB.Pool.Exec(ctx, `INSERT INTO ballots (election_id, tracking_code, group_id, content, credential, idempotency_key_hash, response) VALUES ('e1', $1, $2, $3, $4, $1, '{}')`, sum[:], group, raw, c.Public())
	must(t, err)
	p := w.env.Secrets.Pseudonym("e1", w.el.Voters[i])
	must(t, audit.Append(ctx, w.env.DB.Pool, audit.Entry{ElectionID: "e1", Kind: entry.KindBallotCast, Actor: "voter", At: w.env.Clock.Now(), Ref: code,
		Data: entry.Cast{Voter: hex.EncodeToString(p[:]), Group: group, TrackingCode: code}}))
	return code
}

func TestLifecycleInTheLog(t *testing.T) {
	t.Parallel()
	t.Run("a ballot cast after the close", func(t *testing.T) {
		w := newWorldAt(t, ballot.Closed)
		code := w.forgeCast(t, 4)
		w.drain(t)
		_, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
		t.Log(err)
		want := "ballot " + code + " is cast after the election closed (record "
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Verify = %v; want %q", err, want)
		}
	})
	t.Run("the close's count is not the ballots", func(t *testing.T) {
		w := newWorldAt(t, ballot.Open)
		// A cast logged with no ballot stored: the close counts the ballots.
		w.forgeCast(t, 4)
		_, err := w.env.DB.OwnerPool.Exec(context.Background(), `DELETE FROM ballots b USING voter_credentials c
WHERE c.election_id = 'e1' AND c.voter_id = $1 AND b.election_id = c.election_id AND b.credential = c.credential`, w.el.Voters[4])
		must(t, err)
		must(t, w.env.Elections.Close(context.Background(), "e1", "test"))
		w.drain(t)
		_, err = verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "the close records 4 ballots, but 5 were cast before it") {
			t.Errorf("Verify = %v; want the close's count refused", err)
		}
	})
	t.Run("a credential replaced after the close, for nobody on the roll, and after the voter voted", func(t *testing.T) {
		for _, tc := range []struct {
			status ballot.Status
			voter  string
			want   string
		}{
			{ballot.Closed, "V00005", "credentials.replace while the election is closed"},
			{ballot.Open, "NOT-ON-ROLL", "who is not on the roll"},
			{ballot.Open, "V00001", "who has already cast a ballot"},
		} {
			w := newWorldAt(t, tc.status)
			p := w.env.Secrets.Pseudonym("e1", tc.voter)
			must(t, audit.Append(context.Background(), w.env.DB.Pool, audit.Entry{ElectionID: "e1", Kind: entry.KindCredentialsReplace,
				Actor: "cli:x", At: w.env.Clock.Now(), Data: entry.CredentialReplaced{Voter: hex.EncodeToString(p[:]), Old: strings.Repeat("00", 32), New: strings.Repeat("11", 32)}}))
			w.drain(t)
			_, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify = %v; want %q", err, tc.want)
			}
		}
	})
	t.Run("credentials after opening: replaced by the rules, or swapped by an insider", func(t *testing.T) {
		w := newWorldAt(t, ballot.Open) // voters 1-5 of 6 have voted
		ctx := context.Background()
		// V00006 lost their code: the authority's replacement verifies.
		_, replacement := fixture.Authority("e1", []ballot.RollVoter{{ID: "V00006", Group: "public"}})
		if _, err := w.env.Credentials.Replace(ctx, "e1", bytes.NewReader(replacement), "cli:authority"); err != nil {
			t.Fatal(err)
		}
		w.drain(t)
		if _, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()}); err != nil {
			t.Fatalf("Verify after a replacement = %v", err)
		}
		// An insider with the owner's role swaps V00006's credential for
		// one of their own, beside the log.
		theirs, _ := ballot.DeriveCredential("e1", ballot.NewCode())
		_, err := w.env.DB.OwnerPool.Exec(ctx, `UPDATE voter_credentials SET credential = $1 WHERE election_id = 'e1' AND voter_id = 'V00006'`, theirs.Public())
		must(t, err)
		_, err = verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "replaces pseudonym") || !strings.Contains(err.Error(), "but the credential in force after it is "+theirs.PublicHex()) {
			t.Errorf("Verify after a swapped credential = %v; want the replacement's mismatch", err)
		}
		// And V00005's, who has no replacement to hide behind.
		_, err = w.env.DB.OwnerPool.Exec(ctx, `UPDATE voter_credentials SET credential = $1 WHERE election_id = 'e1' AND voter_id = 'V00006'`, mustHex(t, replacementP(t, replacement)))
		must(t, err)
		_, err = w.env.DB.OwnerPool.Exec(ctx, `UPDATE voter_credentials SET credential = $1 WHERE election_id = 'e1' AND voter_id = 'V00005'`, theirs.Public())
		must(t, err)
		_, err = verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "the roll committed when the election opened") {
			t.Errorf("Verify after a swapped credential = %v; want the roll commitment refused", err)
		}
	})
	t.Run("a ballot cast outside the window", func(t *testing.T) {
		env := fixture.New(t)
		d := fixture.Definition("e1")
		now := env.Clock.Now()
		opens, closes := now.Add(-time.Hour), now.Add(time.Hour)
		d.OpensAt, d.ClosesAt = &opens, &closes
		w := &world{env: env, el: env.SetupWith(t, d, 6, true), signer: env.Signer, seq: env.Sequencer}
		w.forgeCast(t, 0) // inside the window
		env.Clock.Set(closes)
		code := w.forgeCast(t, 1)
		w.drain(t)
		_, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
		t.Log(err)
		want := "ballot " + code + " is cast at " + closes.UTC().Format(time.RFC3339) + ", outside the election's window"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Verify = %v; want %q", err, want)
		}
	})
}

// Records past the newest checkpoint need no key to add: the hash chain can
// be continued by anyone. Two forged, correctly proven ballots for voters
// who had not voted, appended that way, are not trusted.
func TestRecordsAfterTheNewestCheckpointFail(t *testing.T) {
	t.Parallel()
	w := newWorldAt(t, ballot.Open)
	lines := w.export(t)
	records := find(lines, "record")
	ballots := find(lines, "ballot")
	n := int64(len(records))
	last := mustB64(t, decode(t, lines[records[n-1]])["record"].(string))
	chain := record.ChainHash(last)
	var forgedRecords, forgedBallots []string
	for k, i := range []int{4, 5} {
		raw := w.env.Ballot(t, w.el, w.el.Voters[i], ballot.Selections{"leader": {"d"}, "council": {"p"}})
		code := ballot.TrackingCode(sha256.Sum256(raw))
		group := []string{"members", "public"}[k]
		p := w.env.Secrets.Pseudonym("e1", w.el.Voters[i])
		body, err := audit.Encode(audit.Entry{ElectionID: "e1", Kind: entry.KindBallotCast, Actor: "voter", At: w.env.Clock.Now(),
			Data: entry.Cast{Voter: hex.EncodeToString(p[:]), Group: group, TrackingCode: code}})
		must(t, err)
		pos := n + int64(k)
		rec := record.Frame(pos, chain, body)
		chain = record.ChainHash(rec)
		forgedRecords = append(forgedRecords, encode(map[string]any{"type": "record", "position": pos, "record": rec}))
		forgedBallots = append(forgedBallots, encode(map[string]any{"type": "ballot", "group": group, "content": raw}))
	}
	var out []string
	for i, l := range lines {
		out = append(out, l)
		if i == records[n-1] {
			out = append(out, forgedRecords...)
		}
		if i == ballots[len(ballots)-1] {
			out = append(out, forgedBallots...)
		}
	}
	_, err := verify(fixEnd(out), bundle.Options{LogKey: w.signer.VerifierKey()})
	t.Log(err)
	want := fmt.Sprintf("records %d to %d are not covered by any signed checkpoint", n, n+1)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Verify = %v; want %q", err, want)
	}
}

// summed returns a closed world whose ballots are summed, with what a
// trustee needs to decrypt.
func summed(t *testing.T) (*world, *ballot.Election, *ballot.Trustees, *ballot.Sums) {
	t.Helper()
	w := newWorldAt(t, ballot.Closed)
	ctx := context.Background()
	sums, err := w.env.Elections.Tally(ctx, "e1", "test")
	must(t, err)
	e, err := w.env.Elections.Get(ctx, "e1")
	must(t, err)
	tr, err := w.env.Elections.Trustees(ctx, "e1")
	must(t, err)
	return w, e, tr, sums
}

// postPartial stores and logs a partial decryption as the service does,
// without checking it: what a dishonest trustee or insider submits.
func (w *world) postPartial(t *testing.T, p *ballot.PartialDecryption) {
	t.Helper()
	ctx := context.Background()
	shares := p.EncodeShares()
	digest := sha256.Sum256(shares)
	_, err := w.env.DB.Pool.Exec(ctx, `INSERT INTO partial_decryptions (election_id, trustee, shares, proof) VALUES ('e1', $1, $2, $3)`, p.Trustee, shares, p.Proof)
	must(t, err)
	must(t, audit.Append(ctx, w.env.DB.Pool, audit.Entry{ElectionID: "e1", Kind: entry.KindPartialDecryption, Actor: "test", At: w.env.Clock.Now(),
		Data: entry.PartialDecrypted{Trustee: p.Trustee, SharesSHA256: hex.EncodeToString(digest[:]), Proof: hex.EncodeToString(p.Proof)}}))
}

// lie logs a tally the service never made and moves the election on.
func (w *world) lie(t *testing.T, tally entry.Tallied) {
	t.Helper()
	ctx := context.Background()
	tally.From, tally.To = "closed", "tallied"
	must(t, audit.Append(ctx, w.env.DB.Pool, audit.Entry{ElectionID: "e1", Kind: entry.KindElectionTallied, Actor: "test", At: w.env.Clock.Now(), Data: tally}))
	_, err := w.env.DB.Pool.Exec(ctx, `UPDATE elections SET status = 'tallied' WHERE id = 'e1'`)
	must(t, err)
}

func TestPartialDecryptionsAgainstTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Trustee 3 posts trustee 1's shares and proof as its own.
	bogus := func(t *testing.T, e *ballot.Election, tr *ballot.Trustees, sums *ballot.Sums, w *world) *ballot.PartialDecryption {
		p, err := e.PartialDecrypt(tr, sums, w.el.Shares[0])
		must(t, err)
		p.Trustee = 3
		return p
	}

	t.Run("refused by the tally: reported, not counted", func(t *testing.T) {
		w, e, tr, sums := summed(t)
		must(t, w.env.Decrypt(ctx, "e1", w.el.Shares[0], "test"))
		w.postPartial(t, bogus(t, e, tr, sums, w))
		must(t, w.env.Decrypt(ctx, "e1", w.el.Shares[1], "test"))
		report, err := w.env.Elections.FinishTally(ctx, "e1", "test")
		must(t, err)
		if fmt.Sprint(report.Used) != "[1 2]" || len(report.Rejected) != 1 || report.Rejected[0].Trustee != 3 {
			t.Fatalf("FinishTally = %+v", report)
		}
		must(t, w.env.Elections.Publish(ctx, "e1", "test"))
		w.drain(t)
		got, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
		if err != nil || len(got.Refused) != 1 || !strings.HasPrefix(got.Refused[0], "trustee 3: ") || !strings.Contains(got.Refused[0], "the tally refused it") {
			t.Fatalf("Verify = %+v, %v; want trustee 3 reported as refused", got, err)
		}
		t.Log(got.Refused)
	})
	t.Run("combined although it does not verify", func(t *testing.T) {
		w, e, tr, sums := summed(t)
		must(t, w.env.Decrypt(ctx, "e1", w.el.Shares[0], "test"))
		w.postPartial(t, bogus(t, e, tr, sums, w))
		w.lie(t, entry.Tallied{Trustees: []int{1, 3}, Refused: []entry.Refusal{}, Results: json.RawMessage(`{}`)})
		w.drain(t)
		_, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "trustee 3: the partial decryption's proof does not verify, yet the tally combined it (record ") {
			t.Errorf("Verify = %v; want trustee 3's partial decryption refused", err)
		}
	})
	t.Run("refused although it verifies", func(t *testing.T) {
		w, e, tr, sums := summed(t)
		var partials []*ballot.PartialDecryption
		for _, s := range w.el.Shares {
			must(t, w.env.Decrypt(ctx, "e1", s, "test"))
			p, err := e.PartialDecrypt(tr, sums, s)
			must(t, err)
			partials = append(partials, p)
		}
		counts, err := e.Counts(tr, sums, partials[:2])
		must(t, err)
		results, _ := json.Marshal(e.MakeResults(sums, counts))
		w.lie(t, entry.Tallied{Trustees: []int{1, 2}, Refused: []entry.Refusal{{Trustee: 3, Reason: "made up"}}, Results: results})
		w.drain(t)
		_, err = verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()})
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "refused trustee 3's partial decryption, but it verifies") {
			t.Errorf("Verify = %v; want the refusal of a valid partial decryption caught", err)
		}
	})
	t.Run("a decryption after the tally", func(t *testing.T) {
		w := newWorldAt(t, ballot.Tallied)
		err := w.env.Decrypt(ctx, "e1", w.el.Shares[1], "test")
		if err == nil || !strings.Contains(err.Error(), "tallied") {
			t.Errorf("Decrypt after the tally = %v; want refused", err)
		}
	})
}

// replacementP is the public credential, hex, of a one-voter credentials file.
func replacementP(t *testing.T, file []byte) string {
	t.Helper()
	var p string
	must(t, ballot.ReadCredentials(bytes.NewReader(file), func(c ballot.PublicCredential) error {
		p = hex.EncodeToString(c.P)
		return nil
	}))
	return p
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	must(t, err)
	return b
}

// With the authority's file and its published hash, the roll's credentials
// must be the ones the authority made: a credential an insider swaps in the
// database before the election opens, which the roll commitment then
// covers, is caught.
func TestCredentialsAreTheAuthoritys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pinned := func(file []byte) bundle.Options {
		sum := sha256.Sum256(file)
		return bundle.Options{Credentials: file, CredentialsSHA256: hex.EncodeToString(sum[:])}
	}
	setup := func(t *testing.T, swap bool) (*world, []byte) {
		env := fixture.New(t)
		el := env.Setup(t, "e1", 6, false)
		if swap {
			theirs, _ := ballot.DeriveCredential("e1", ballot.NewCode())
			_, err := env.DB.OwnerPool.Exec(ctx, `UPDATE voter_credentials SET credential = $1 WHERE election_id = 'e1' AND voter_id = 'V00004'`, theirs.Public())
			must(t, err)
		}
		must(t, env.Elections.Open(ctx, "e1", "test"))
		w := &world{env: env, el: el, signer: env.Signer, seq: env.Sequencer}
		w.drain(t)
		return w, el.Credentials
	}

	t.Run("the authority's, with a replacement", func(t *testing.T) {
		w, file := setup(t, false)
		_, replacement := fixture.Authority("e1", []ballot.RollVoter{{ID: "V00002", Group: "public"}})
		if _, err := w.env.Credentials.Replace(ctx, "e1", bytes.NewReader(replacement), "cli:authority"); err != nil {
			t.Fatal(err)
		}
		w.drain(t)
		opts := pinned(file)
		opts.LogKey = w.signer.VerifierKey()
		report, err := verify(w.export(t), opts)
		if err != nil || !report.CredentialsPinned {
			t.Fatalf("Verify = %+v, %v", report, err)
		}
		var out bytes.Buffer
		report.WriteText(&out)
		if !strings.Contains(out.String(), "credentials are the authority's") {
			t.Errorf("report: %s", out.String())
		}
	})
	t.Run("one swapped before opening", func(t *testing.T) {
		w, file := setup(t, true)
		// Without the authority's file the swap is consistent with the log.
		if _, err := verify(w.export(t), bundle.Options{LogKey: w.signer.VerifierKey()}); err != nil {
			t.Fatalf("Verify without the file = %v", err)
		}
		_, err := verify(w.export(t), pinned(file))
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "is not one the authority made") {
			t.Errorf("Verify = %v; want the swapped credential named", err)
		}
	})
	t.Run("another file than the one imported", func(t *testing.T) {
		w, _ := setup(t, false)
		_, other := fixture.Authority("e1", []ballot.RollVoter{{ID: "V00001", Group: "members"}})
		_, err := verify(w.export(t), pinned(other))
		if err == nil || !strings.Contains(err.Error(), "are not the file the authority published") {
			t.Errorf("Verify = %v; want the import's hash refused", err)
		}
	})
	t.Run("a file that is not the published one", func(t *testing.T) {
		_, file := setup(t, false)
		opts := pinned(file)
		opts.CredentialsSHA256 = strings.Repeat("0", 64)
		if err := bundle.CheckOptions(opts); err == nil || !strings.Contains(err.Error(), "not the published") {
			t.Errorf("CheckOptions = %v; want the hash refused before any work", err)
		}
		if err := bundle.CheckOptions(bundle.Options{Credentials: file}); err == nil {
			t.Error("CheckOptions took a file without its published hash")
		}
	})
}
