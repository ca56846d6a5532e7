package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit"
	"primaryvote/audit/bundle"
	"primaryvote/audit/entry"
	"primaryvote/audit/record"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

// world is an election with four of its six voters' ballots cast, taken as
// far as a status (closed, counted by trustees 1 and 3 of 3, published), and
// sequenced into the log.
type world struct {
	env    *fixture.Env
	el     *fixture.Election
	signer *record.Signer
	seq    *audit.Sequencer
	// midway is the checkpoint an observer saved after the votes were cast.
	midway []byte
}

var selections = []ballot.Selections{
	{"leader": {"a"}, "council": {"p", "q"}},
	{"leader": {"b"}, "council": {"q"}},
	{"leader": {"a"}, "council": {"r"}},
	{"leader": {"c"}, "council": {"s", "t"}},
}

func newWorld(t *testing.T, finish bool) *world {
	t.Helper()
	if finish {
		return newWorldAt(t, ballot.Published)
	}
	return newWorldAt(t, ballot.Open)
}

func newWorldAt(t *testing.T, status ballot.Status) *world {
	t.Helper()
	env := fixture.New(t)
	w := &world{env: env, el: env.Setup(t, "e1", 6, true), signer: env.Signer, seq: env.Sequencer}
	ctx := context.Background()
	for i, sel := range selections {
		if _, err := env.SignIn("e1", w.el.Voters[i], w.el.Codes[w.el.Voters[i]]); err != nil {
			t.Fatal(err)
		}
		if _, _, err := env.Elections.Cast(ctx, env.CastRequest(t, w.el, w.el.Voters[i], sel)); err != nil {
			t.Fatal(err)
		}
	}
	w.drain(t)
	w.midway, _ = audit.LatestCheckpoint(ctx, env.DB.Pool)
	if status == ballot.Open {
		return w
	}
	must(t, env.Elections.Close(ctx, "e1", "test"))
	if status != ballot.Closed {
		_, err := env.Elections.Tally(ctx, "e1", "test")
		must(t, err)
		must(t, env.Decrypt(ctx, "e1", w.el.Shares[0], "test"))
		must(t, env.Decrypt(ctx, "e1", w.el.Shares[2], "test"))
		_, err = env.Elections.FinishTally(ctx, "e1", "test")
		must(t, err)
	}
	if status == ballot.Published {
		must(t, env.Elections.Publish(ctx, "e1", "test"))
	}
	w.drain(t)
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) drain(t *testing.T) {
	t.Helper()
	if _, err := w.seq.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (w *world) export(t *testing.T) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := w.env.Elections.Export(context.Background(), "e1", &buf); err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

func verify(lines []string, opts bundle.Options) (*bundle.Report, error) {
	return bundle.Verify(strings.NewReader(strings.TrimSuffix(strings.Join(lines, ""), "\n")+"\n"), opts)
}

// find returns the indexes of lines of a type, in order.
func find(lines []string, typ string) []int {
	var out []int
	for i, l := range lines {
		if strings.HasPrefix(l, `{"type":"`+typ+`"`) {
			out = append(out, i)
		}
	}
	return out
}

func decode(t *testing.T, l string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(l), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encode(m map[string]any) string {
	b, _ := json.Marshal(m)
	return string(b) + "\n"
}

// fixEnd recounts the end line after lines were added or removed.
func fixEnd(lines []string) []string {
	lines[len(lines)-1] = fmt.Sprintf(`{"type":"end","lines":%d}`, len(lines)-1) + "\n"
	return lines
}

func TestUntamperedBundleVerifies(t *testing.T) {
	t.Parallel()
	w := newWorld(t, true)
	lines := w.export(t)
	report, err := verify(lines, bundle.Options{LogKey: w.signer.VerifierKey(), Checkpoints: map[string][]byte{"midway": w.midway}})
	if err != nil {
		t.Fatalf("Verify = %v\n%+v", err, report)
	}
	steps := map[string]int{}
	for _, s := range report.Steps {
		steps[s.Name] = s.Count
	}
	if steps["ballots (every proof and signature)"] != 4 || steps["roll"] != 6 || steps["partial decryptions"] != 2 || steps["results"] != 1 || steps["saved checkpoints"] != 1 {
		t.Errorf("report steps = %+v", report.Steps)
	}
	if report.Status != "published" {
		t.Errorf("status = %q", report.Status)
	}
	// A bundle of an election still open verifies too.
	open := newWorld(t, false)
	if _, err := verify(open.export(t), bundle.Options{}); err != nil {
		t.Errorf("Verify(open election) = %v", err)
	}
}

func TestTamperedBundlesFail(t *testing.T) {
	t.Parallel()
	w := newWorld(t, true)
	clean := w.export(t)
	records := find(clean, "record")
	ballots := find(clean, "ballot")
	voters := find(clean, "voter")
	// RFC 9496's first non-square: 64 lower-case hex digits, no element.
	const notAnElement = "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371"
	results := find(clean, "results")[0]
	key := w.signer.VerifierKey()

	// A second valid ballot of a voter who has voted, to replace a ballot with.
	other := w.env.Ballot(t, w.el, w.el.Voters[0], ballot.Selections{"leader": {"d"}, "council": {"p"}})

	tests := []struct {
		name   string
		tamper func(l []string) []string
		want   string
	}{
		{"one byte of an entry changed (still valid JSON)", func(l []string) []string {
			m := decode(t, l[records[3]])
			rec := bytes.Replace(mustB64(t, m["record"].(string)), []byte(`"actor":"test"`), []byte(`"actor":"tesT"`), 1)
			m["record"] = rec
			l[records[3]] = encode(m)
			return l
		}, "record 4: its previous-chain hash does not match record 3"},
		{"one byte of an entry changed (no longer JSON)", func(l []string) []string {
			m := decode(t, l[records[3]])
			rec := mustB64(t, m["record"].(string))
			rec[len(rec)-1] = 'X'
			m["record"] = rec
			l[records[3]] = encode(m)
			return l
		}, "record 3: malformed entry"},
		{"an entry deleted", func(l []string) []string {
			return fixEnd(append(l[:records[5]], l[records[5]+1:]...))
		}, "expected position 5"},
		{"an entry inserted", func(l []string) []string {
			out := append([]string{}, l[:records[5]]...)
			out = append(out, l[records[2]])
			return fixEnd(append(out, l[records[5]:]...))
		}, "expected position 5"},
		{"two entries swapped", func(l []string) []string {
			l[records[6]], l[records[7]] = l[records[7]], l[records[6]]
			return l
		}, "expected position 6"},
		{"a ballot replaced", func(l []string) []string {
			m := decode(t, l[ballots[1]])
			m["content"] = other
			l[ballots[1]] = encode(m)
			return l
		}, "is not in the log"},
		{"a ballot removed", func(l []string) []string {
			return fixEnd(append(l[:ballots[0]], l[ballots[0]+1:]...))
		}, "which the bundle does not have"},
		{"a result altered", func(l []string) []string {
			l[results] = strings.Replace(l[results], `"votes": [`, `"votes": [9, `, 1)
			l[results] = strings.Replace(l[results], `"votes":[`, `"votes":[9,`, 1)
			return l
		}, "results"},
		{"the bundle cut off", func(l []string) []string {
			return l[:len(l)-1]
		}, "cut off"},
		{"a roll credential that does not decode", func(l []string) []string {
			m := decode(t, l[voters[2]])
			m["credential"] = notAnElement
			l[voters[2]] = encode(m)
			return l
		}, fmt.Sprintf("line %d: pseudonym %s: not a public credential", voters[2]+1, decode(t, clean[voters[2]])["pseudonym"])},
		// The check of a credential runs while later lines are read: the
		// first failure by line is still the one named.
		{"a roll credential that does not decode, then a pseudonym twice", func(l []string) []string {
			m := decode(t, l[voters[1]])
			m["credential"] = notAnElement
			l[voters[1]] = encode(m)
			m = decode(t, l[voters[3]])
			m["pseudonym"] = decode(t, l[voters[0]])["pseudonym"]
			l[voters[3]] = encode(m)
			return l
		}, fmt.Sprintf("line %d: pseudonym %s: not a public credential", voters[1]+1, decode(t, clean[voters[1]])["pseudonym"])},
		{"another log key", func(l []string) []string {
			m := decode(t, l[0])
			other, _ := record.GenerateSigner("primaryvote.test/log")
			m["log_key"] = other.VerifierKey()
			l[0] = encode(m)
			return l
		}, "pinned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := tt.tamper(append([]string{}, clean...))
			_, err := verify(lines, bundle.Options{LogKey: key})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// Whoever stole the signing key can cut the log's tail and sign a checkpoint
// for what is left: the bundle is then consistent in itself, but a checkpoint
// an observer saved earlier exposes it.
func TestTruncationCaughtBySavedCheckpoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t, true)
	saved, _ := audit.LatestCheckpoint(context.Background(), w.env.DB.Pool)
	lines := w.export(t)
	records := find(lines, "record")
	n := int64(len(records))

	// Drop the last record (the publication) and re-sign with the stolen key.
	cut := append([]string{}, lines[:records[n-1]]...)
	var (
		hashes record.MemoryHashes
		chain  tlog.Hash
	)
	for k, i := range records[:n-1] {
		rec := mustB64(t, decode(t, lines[i])["record"].(string))
		hs, err := tlog.StoredHashes(int64(k), rec, hashes)
		must(t, err)
		hashes = append(hashes, hs...)
		chain = record.ChainHash(rec)
	}
	root, _ := tlog.TreeHash(n-1, hashes)
	forged, err := w.signer.Sign(record.Checkpoint{Origin: w.signer.Origin(), Size: n - 1, Root: root, Chain: chain})
	must(t, err)
	for _, i := range find(lines, "checkpoint") {
		c, _ := record.OpenCheckpoint([]byte(decode(t, lines[i])["signed"].(string)), w.signer.VerifierKey())
		if c.Size < n {
			cut = append(cut, lines[i])
		}
	}
	cut = append(cut, encode(map[string]any{"type": "checkpoint", "signed": string(forged)}))
	// What is left says the election is tallied, not published.
	cut[1] = strings.Replace(cut[1], `"status":"published"`, `"status":"tallied"`, 1)
	cut = append(cut, lines[find(lines, "checkpoint")[len(find(lines, "checkpoint"))-1]+1:]...)
	cut = fixEnd(cut)

	if _, err := verify(cut, bundle.Options{LogKey: w.signer.VerifierKey()}); err != nil {
		t.Fatalf("the truncated, re-signed bundle should be consistent by itself: %v", err)
	}
	_, err = verify(cut, bundle.Options{LogKey: w.signer.VerifierKey(), Checkpoints: map[string][]byte{"observer.txt": saved}})
	if err == nil || !strings.Contains(err.Error(), "observer.txt") || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("Verify with the observer's checkpoint = %v; want truncation caught", err)
	}
}

// An insider with the database owner's powers drops the ballots' constraints
// and stores ballots and their log entries directly: a second ballot for
// a voter, one for a pseudonym not on the roll, and (holding every server
// secret but no voter's code) ballots for a voter who has not voted. The
// verifier names each.
func TestForgedCastsCaught(t *testing.T) {
	t.Parallel()
	sel := ballot.Selections{"leader": {"d"}, "council": {"p"}}
	pseudonym := func(w *world, voter string) string {
		p := w.env.Secrets.Pseudonym("e1", voter)
		return hex.EncodeToString(p[:])
	}
	insider, err := ballot.DeriveCredential("e1", ballot.NewCode())
	must(t, err)
	// sign signs a ballot's bytes anew with c, as whoever holds c can, and
	// puts the hints of its elements after the signature.
	sign := func(w *world, raw []byte, c *ballot.Credential) []byte {
		e, err := w.env.Elections.Get(context.Background(), "e1")
		must(t, err)
		signed := raw[:e.SignedSize()]
		whole, err := e.AppendHints(append(append([]byte(nil), signed...), c.Sign(ballot.BallotContext, signed)...))
		must(t, err)
		return whole
	}
	head := len("PVB2") + 1 + len("e1")
	for _, tc := range []struct {
		name string
		// voter is whom the cast is logged for; forge makes the ballot.
		voter func(w *world) string
		forge func(w *world) []byte
		want  string
	}{
		{"a pseudonym voting twice (with the voter's own code)", func(w *world) string { return pseudonym(w, w.el.Voters[0]) },
			func(w *world) []byte { return w.env.Ballot(t, w.el, w.el.Voters[0], sel) }, "casts a second ballot"},
		{"a pseudonym not on the roll", func(w *world) string { return pseudonym(w, "NOT-ON-ROLL") },
			func(w *world) []byte { return w.env.Ballot(t, w.el, w.el.Voters[5], sel) }, "not on the roll"},
		{"a ballot for a voter who has not voted, under a credential the insider made", func(w *world) string { return pseudonym(w, w.el.Voters[5]) },
			func(w *world) []byte {
				e, _ := w.env.Elections.Get(context.Background(), "e1")
				raw, err := e.Encrypt(insider, sel)
				must(t, err)
				return raw
			}, "made with a credential that is not this voter's"},
		{"a ballot for a voter who has not voted, naming their credential, signed by the insider", func(w *world) string { return pseudonym(w, w.el.Voters[5]) },
			func(w *world) []byte {
				// The voter's P in the ballot, the proofs made for it by an
				// honest device's code... which the insider does not have:
				// only the signature is theirs.
				return sign(w, w.env.Ballot(t, w.el, w.el.Voters[5], sel), insider)
			}, "its signature does not verify under the credential it names"},
		{"one race of another voter's ballot copied into a ballot of this voter", func(w *world) string { return pseudonym(w, w.el.Voters[5]) },
			func(w *world) []byte {
				theirs := w.env.Ballot(t, w.el, w.el.Voters[0], ballot.Selections{"leader": {"b"}, "council": {"q"}})
				mine := w.env.Ballot(t, w.el, w.el.Voters[5], sel)
				race := 4*(64+256) + 128 // the leader race: four candidates and the total's proof
				copy(mine[head+32:head+32+race], theirs[head+32:head+32+race])
				c, err := ballot.DeriveCredential("e1", w.el.Codes[w.el.Voters[5]])
				must(t, err)
				return sign(w, mine, c)
			}, `question "leader", candidate "a": the proof that it encrypts 0 or 1 does not verify`},
		// The response z of the first candidate's first branch is off by
		// one: every challenge still holds, one equation does not.
		{"a ballot whose proof does not verify", func(w *world) string { return pseudonym(w, w.el.Voters[5]) },
			func(w *world) []byte {
				raw := w.env.Ballot(t, w.el, w.el.Voters[5], sel)
				raw[head+32+64+96] ^= 1
				c, _ := ballot.DeriveCredential("e1", w.el.Codes[w.el.Voters[5]])
				return sign(w, raw, c)
			}, `: invalid: Encrypted ballot: question "leader", candidate "a": the proof that it encrypts 0 or 1 does not verify`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, false)
			ctx := context.Background()
			_, err := w.env.DB.OwnerPool.Exec(ctx, `ALTER TABLE ballots DROP CONSTRAINT ballots_credential_listed, DROP CONSTRAINT ballots_pkey`)
			must(t, err)
			raw := tc.forge(w)
			group := "public" // voter 5 and the stranger; voter 0 votes again in hers
			if tc.name[:3] == "a p" && strings.Contains(tc.name, "twice") {
				group = "members"
			}
			sum := sha256.Sum256(raw)
			code := ballot.TrackingCode(sum)
			_, err = w.env.DB.OwnerPool.Exec(ctx, `INSERT INTO ballots (election_id, tracking_code, group_id, content, credential, idempotency_key_hash, response) VALUES ('e1', $1, $3, $2, $4, $1, '{}')`,
				sum[:], raw, group, raw[head:head+32])
			must(t, err)
			must(t, audit.Append(ctx, w.env.DB.Pool, audit.Entry{ElectionID: "e1", Kind: entry.KindBallotCast, Actor: "voter", At: w.env.Clock.Now(), Ref: code,
				Data: entry.Cast{Voter: tc.voter(w), Group: group, TrackingCode: code}}))
			w.drain(t)
			if _, err := verify(w.export(t), bundle.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify = %v; want %q", err, tc.want)
			}
		})
	}
}

// Someone with the database owner's powers grants themselves the right,
// disables the trigger and rewrites a record in place; the chain breaks.
func TestDatabaseTamperingCaught(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	ctx := context.Background()
	must(t, func() error {
		_, err := w.env.DB.OwnerPool.Exec(ctx, `GRANT UPDATE ON audit_log TO CURRENT_USER;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE audit_log SET record = overlay(record placing 'X'::bytea from length(record) - 2) WHERE position = 2;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`)
		return err
	}())
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(w.env.Elections.Export(ctx, "e1", pw)) }()
	_, err := bundle.Verify(pr, bundle.Options{LogKey: w.signer.VerifierKey()})
	if err == nil || !strings.Contains(err.Error(), "record 2") {
		t.Errorf("Verify(tampered database) = %v; want record 2 named", err)
	}
}

func mustB64(t *testing.T, s string) []byte {
	var b []byte
	if err := json.Unmarshal([]byte(`"`+s+`"`), &b); err != nil {
		t.Fatal(err)
	}
	return b
}
