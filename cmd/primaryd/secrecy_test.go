package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/hkdf"

	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/internal/dbtest"
	"primaryvote/internal/fixture"
)

// Candidate ids that cannot occur by chance in hex or base64 output.
var leaderIDs = []string{"kimhaneul", "leebada", "parkseojun", "choiminji"}
var councilIDs = []string{"jungwoosung", "kangsora", "yoondohyun", "jangnara", "hanjimin"}

// TestNoPlaintextChoiceAnywhere casts known votes through the real server,
// then searches a pg_dump of the whole database and the server's debug log
// for any trace of a choice, and finally tallies with two of three trustees
// and checks the published results against the known votes.
func TestNoPlaintextChoiceAnywhere(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	secrets := env.SecretsDir
	def := fixture.Definition("secret")
	for i := range def.Questions[0].Candidates {
		def.Questions[0].Candidates[i].ID = leaderIDs[i]
	}
	for i := range def.Questions[1].Candidates {
		def.Questions[1].Candidates[i].ID = councilIDs[i]
	}
	el := env.SetupWith(t, def, 10, true)
	if err := env.Officials.Add(context.Background(), "chair", auth.Admin, "chair password 1234", "test"); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	m := &Main{
		Config: Config{Addr: "127.0.0.1:0", DatabaseURL: env.DB.URL, SecretsDir: secrets, MaxConns: 10, ShutdownTimeout: 5 * time.Second, LogOrigin: "primaryvote.test/log"},
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := client{t, "http://" + m.Addr()}

	// Known votes: voter i (1-based) is in members if odd, public if even.
	votes := []struct{ leader, council []string }{
		{[]string{"kimhaneul"}, []string{"kangsora", "hanjimin"}},
		{[]string{"leebada"}, []string{"kangsora"}},
		{[]string{"kimhaneul"}, []string{"jangnara"}},
		{[]string{"choiminji"}, []string{"jungwoosung", "kangsora"}},
		{[]string{"kimhaneul"}, []string{"yoondohyun", "hanjimin"}},
		{[]string{"leebada"}, []string{"hanjimin"}},
		{[]string{"parkseojun"}, []string{"kangsora", "jangnara"}},
	}
	want := map[string][2]int{}
	for i, v := range votes {
		voter := el.Voters[i]
		st, body := c.call("POST", "/api/v1/elections/secret/sessions", "", "", signInBody("secret", voter, el.Codes[voter]))
		if st != 201 {
			t.Fatalf("sign in: %d %s", st, body)
		}
		cast := fixture.CastBody(env.Ballot(t, el, voter, ballot.Selections{"leader": v.leader, "council": v.council}))
		if st, body := c.call("POST", "/api/v1/elections/secret/ballots", field(t, body, "token"), "k", cast); st != 201 {
			t.Fatalf("cast: %d %s", st, body)
		}
		for _, id := range append(append([]string{}, v.leader...), v.council...) {
			w := want[id]
			w[i%2]++
			want[id] = w
		}
	}
	st, body := c.call("POST", "/api/v1/officials/sessions", "", "", `{"username":"chair","password":"chair password 1234"}`)
	if st != 201 {
		t.Fatal(body)
	}
	if st, body := c.call("POST", "/api/v1/elections/secret/close", field(t, body, "token"), "", ""); st != 200 {
		t.Fatalf("close: %d %s", st, body)
	}

	// The whole database, with every bytea decoded, mentions each candidate
	// only where the definition is stored: the election.create audit entry.
	// No ballot, receipt or other log entry does.
	dump := dbtest.Dump(t, env.DB.URL)
	for _, id := range append(append([]string{}, leaderIDs...), councilIDs...) {
		if n := strings.Count(dump, id); n != 1 {
			t.Errorf("%q occurs %d times in the database dump; want 1 (the definition's audit entry)", id, n)
		}
	}
	// The attack of an insider with the database and the secrets directory:
	// a ballot body has few possible values, so hash every one of them under
	// every key the database and the secrets give, and look for the
	// idempotency records. Nothing matches.
	if matches := votesFromIdempotencyRecords(t, env, secrets); matches != 0 {
		t.Errorf("%d votes recovered from the idempotency records with the database and the secrets", matches)
	}
	// A request body's key, quoted (the definition's "min_selections" is fine).
	if strings.Contains(dump, `"selections"`) {
		t.Error(`the database dump contains "selections"`)
	}
	for _, id := range append(append([]string{`"selections"`}, leaderIDs...), councilIDs...) {
		if strings.Contains(logs.String(), id) {
			t.Errorf("the server log contains %q", id)
		}
	}

	// Two of three trustees decrypt the totals; the results are the known votes.
	ctx := context.Background()
	if _, err := env.Elections.Tally(ctx, "secret", "test"); err != nil {
		t.Fatal(err)
	}
	for _, share := range []ballot.TrusteeShare{el.Shares[0], el.Shares[2]} {
		if err := env.Decrypt(ctx, "secret", share, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Elections.FinishTally(ctx, "secret", "test"); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.call("GET", "/api/v1/elections/secret/results", "", "", ""); st != 404 {
		t.Errorf("results before publication: %d; want 404", st)
	}
	if err := env.Elections.Publish(ctx, "secret", "test"); err != nil {
		t.Fatal(err)
	}
	st, body = c.call("GET", "/api/v1/elections/secret/results", "", "", "")
	var res ballot.Results
	if st != 200 || json.Unmarshal([]byte(body), &res) != nil {
		t.Fatalf("results: %d %s", st, body)
	}
	if res.Ballots != len(votes) || res.Groups[0].Ballots != 4 || res.Groups[1].Ballots != 3 {
		t.Errorf("ballots = %d (%+v); want 7 (4 members, 3 public)", res.Ballots, res.Groups)
	}
	for _, q := range res.Questions {
		for _, cand := range q.Candidates {
			if w := want[cand.ID]; cand.Votes[0] != w[0] || cand.Votes[1] != w[1] {
				t.Errorf("%s: votes %v; want %v", cand.ID, cand.Votes, w)
			}
		}
	}
	// Leader, members: kim 3 of 4 (75%), park 1 (25%); public: lee 2 of 3
	// (66.67%), choi 1 (33.33%). Combined 50/50: kim 37.5, lee 33.33.
	leader := res.Questions[0].Candidates
	if leader[0].ID != "kimhaneul" || leader[0].Combined != 37.5 || leader[1].ID != "leebada" || leader[1].Combined != 33.33 {
		t.Errorf("leader results = %+v", leader)
	}
}

// votesFromIdempotencyRecords tries every possible ballot body of the
// "secret" election, in the form the test sends, under every key an insider
// holds — each file in the secrets directory, keys derived from the pepper,
// every value stored beside the records — and counts the idempotency
// records that any of them reproduces.
func votesFromIdempotencyRecords(t *testing.T, env *fixture.Env, secretsDir string) int {
	t.Helper()
	var bodies [][]byte
	for _, l := range leaderIDs {
		for i, a := range councilIDs {
			sels := [][]string{{a}}
			for j, b := range councilIDs {
				if i != j {
					sels = append(sels, []string{a, b})
				}
			}
			for _, council := range sels {
				body, _ := json.Marshal(map[string]any{"selections": map[string][]string{"leader": {l}, "council": council}})
				bodies = append(bodies, body)
			}
		}
	}
	keys := [][]byte{nil, env.Secrets.Pepper, env.Secrets.SigningKey.Seed()}
	files, err := os.ReadDir(secretsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(secretsDir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, b, bytes.TrimSpace(b))
	}
	for _, info := range []string{"primaryvote request mac v1", "primaryvote pseudonym v1"} {
		k := make([]byte, 32)
		io.ReadFull(hkdf.New(sha256.New, env.Secrets.Pepper, nil, []byte(info)), k)
		keys = append(keys, k)
	}
	rows, err := env.DB.Pool.Query(context.Background(), `SELECT idempotency_key_hash, tracking_code, response FROM ballots WHERE election_id = 'secret'`)
	if err != nil {
		t.Fatal(err)
	}
	type record struct{ keyHash, mac, response []byte }
	var records []record
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.keyHash, &r.mac, &r.response); err != nil {
			t.Fatal(err)
		}
		records = append(records, r)
	}
	rows.Close()
	if len(records) == 0 {
		t.Fatal("no idempotency records to attack")
	}
	for _, r := range records {
		keys = append(keys, r.keyHash, r.mac, r.response)
	}
	matches := 0
	for _, r := range records {
		for _, body := range bodies {
			plain := sha256.Sum256(body)
			found := bytes.Equal(r.mac, plain[:])
			for _, k := range keys {
				m := hmac.New(sha256.New, k)
				m.Write(body)
				found = found || bytes.Equal(r.mac, m.Sum(nil))
			}
			if found {
				matches++
			}
		}
	}
	return matches
}
