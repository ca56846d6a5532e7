package auth_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	pv "primaryvote"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

func TestNewCodeEntropyAndFormat(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		c := ballot.NewCode()
		if len(c) != 29 || strings.Count(c, "-") != 4 {
			t.Fatalf("NewCode() = %q; want 5 groups of 5", c)
		}
		if seen[c] {
			t.Fatalf("NewCode() repeated %q", c)
		}
		seen[c] = true
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 3, true)
	ctx := context.Background()
	code := el.Codes["V00001"]

	if err := env.Credentials.Check(ctx, "e1", "V00001", code); err != nil {
		t.Fatalf("Check(right code) = %v", err)
	}
	// Typing variants: lower case, spaces instead of hyphens, O for 0, L for 1.
	typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	typed = strings.NewReplacer("0", "o", "1", "l").Replace(typed)
	if err := env.Credentials.Check(ctx, "e1", "V00001", typed); err != nil {
		t.Errorf("Check(%q) = %v; want it accepted", typed, err)
	}

	bad := []struct{ name, voter, code string }{
		{"wrong code", "V00001", el.Codes["V00002"]},
		{"unknown voter", "NOBODY", code},
		{"malformed code", "V00001", "not a code"},
		{"empty code", "V00001", ""},
		{"other election", "V00001", code},
	}
	var bodies []string
	for _, tt := range bad {
		election := "e1"
		if tt.name == "other election" {
			election = "e2"
		}
		err := env.Credentials.Check(ctx, election, tt.voter, tt.code)
		if pv.ErrorCode(err) != pv.EUnauthorized {
			t.Errorf("Check(%s) = %v; want unauthorized", tt.name, err)
		}
		bodies = append(bodies, pv.ErrorMessage(err))
	}
	for _, b := range bodies {
		if b != bodies[0] {
			t.Errorf("failed sign-ins differ: %q vs %q", b, bodies[0])
		}
	}

	// Re-issuing invalidates the old code.
	fresh, err := env.Credentials.Reissue(ctx, "e1", "V00001", "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Credentials.Check(ctx, "e1", "V00001", code); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("old code after Reissue = %v; want unauthorized", err)
	}
	if err := env.Credentials.Check(ctx, "e1", "V00001", fresh); err != nil {
		t.Errorf("new code = %v", err)
	}
	if _, err := env.Credentials.Reissue(ctx, "e1", "NOBODY", "test"); pv.ErrorCode(err) != pv.ENotFound {
		t.Errorf("Reissue(unknown voter) = %v; want not found", err)
	}
	// The re-issue names the voter by pseudonym, so that it can be matched
	// to the ballot that followed.
	p := env.Secrets.Pseudonym("e1", "V00001")
	if n := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'credentials.reissue' AND position($1 in convert_from(body, 'UTF8')) > 0`, hex.EncodeToString(p[:])); n != 1 {
		t.Errorf("re-issue entries naming V00001's pseudonym = %d; want 1", n)
	}

	// Only hashes are stored, and the log holds counts, never codes.
	var dump bytes.Buffer
	rows, _ := env.DB.Pool.Query(ctx, `SELECT code_hash::text FROM voter_credentials UNION ALL SELECT convert_from(body, 'UTF8') FROM audit_entries`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		dump.WriteString(s)
	}
	for _, c := range append([]string{fresh}, el.Codes["V00002"], el.Codes["V00003"]) {
		norm := strings.ReplaceAll(c, "-", "")
		if strings.Contains(dump.String(), norm) || strings.Contains(dump.String(), c) {
			t.Errorf("a code appears in the database")
		}
	}
}

func TestIssueAllWritesEveryVoter(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 25, false)
	var out bytes.Buffer
	n, err := env.Credentials.IssueAll(context.Background(), "e1", &out, "test")
	if err != nil || n != 25 {
		t.Fatalf("IssueAll = %d, %v", n, err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(recs) != 26 || strings.Join(recs[0], ",") != "voter_id,code" {
		t.Fatalf("IssueAll output: %d records, %v", len(recs), err)
	}
	for _, r := range recs[1:] {
		if err := env.Credentials.Check(context.Background(), "e1", r[0], r[1]); err != nil {
			t.Errorf("Check(%s) with the issued code = %v", r[0], err)
		}
		if r[1] == el.Codes[r[0]] {
			t.Errorf("voter %s kept the old code", r[0])
		}
		if err := env.Credentials.Check(context.Background(), "e1", r[0], el.Codes[r[0]]); err == nil {
			t.Errorf("old code of %s still works", r[0])
		}
	}
}

func TestOfficials(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	ctx := context.Background()
	o := env.Officials
	if err := o.Add(ctx, "alice", auth.Admin, "correct horse battery", "test"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, user, pw string }{
		{"short password", "bob", "short"},
		{"bad username", "Bob Smith", "long enough password"},
	} {
		if err := o.Add(ctx, tt.user, auth.Official, tt.pw, "test"); pv.ErrorCode(err) != pv.EInvalid {
			t.Errorf("Add(%s) = %v; want invalid", tt.name, err)
		}
	}
	if err := o.Add(ctx, "alice", auth.Official, "another long password", "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Add(duplicate) = %v; want conflict", err)
	}
	role, err := o.SignIn(ctx, "alice", "correct horse battery")
	if err != nil || role != auth.Admin {
		t.Errorf("SignIn = %v, %v; want admin", role, err)
	}
	for _, tt := range []struct{ user, pw string }{{"alice", "wrong password!"}, {"mallory", "correct horse battery"}} {
		if _, err := o.SignIn(ctx, tt.user, tt.pw); pv.ErrorCode(err) != pv.EUnauthorized {
			t.Errorf("SignIn(%s) = %v; want unauthorized", tt.user, err)
		}
	}
	var hash string
	env.DB.Pool.QueryRow(ctx, `SELECT password_hash FROM officials WHERE username = 'alice'`).Scan(&hash)
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("password hash %q; want argon2id m=19456,t=2,p=1", hash)
	}
	ok := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'official.signin'`)
	failed := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'official.signin_failed'`)
	if ok != 1 || failed != 2 {
		t.Errorf("sign-in audit entries: %d ok, %d failed; want 1, 2", ok, failed)
	}
	if n := env.Count(t, `SELECT count(*) FROM audit_entries WHERE position('correct horse' in convert_from(body, 'UTF8')) > 0`); n != 0 {
		t.Errorf("a password appears in the audit log")
	}
}

// Disabling an account ends its sessions and refuses its password;
// enabling it again restores both; a new password replaces the old. Every
// change is logged, never a password.
func TestOfficialAccounts(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	ctx := context.Background()
	o := env.Officials
	if err := o.Add(ctx, "alice", auth.Admin, "correct horse battery", "test"); err != nil {
		t.Fatal(err)
	}
	if role, err := o.Current(ctx, "alice"); err != nil || role != auth.Admin {
		t.Fatalf("Current(alice) = %v, %v", role, err)
	}
	if err := o.SetDisabled(ctx, "alice", true, "cli:root"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Current(ctx, "alice"); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("Current(disabled) = %v; want unauthorized", err)
	}
	if _, err := o.SignIn(ctx, "alice", "correct horse battery"); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("SignIn(disabled) = %v; want unauthorized", err)
	}
	if err := o.SetDisabled(ctx, "alice", false, "cli:root"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.SignIn(ctx, "alice", "correct horse battery"); err != nil {
		t.Errorf("SignIn(enabled again) = %v", err)
	}
	if err := o.SetPassword(ctx, "alice", "short", "cli:root"); pv.ErrorCode(err) != pv.EInvalid {
		t.Errorf("SetPassword(short) = %v; want invalid", err)
	}
	if err := o.SetPassword(ctx, "alice", "a new long password", "cli:root"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.SignIn(ctx, "alice", "correct horse battery"); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("SignIn(old password) = %v; want unauthorized", err)
	}
	if _, err := o.SignIn(ctx, "alice", "a new long password"); err != nil {
		t.Errorf("SignIn(new password) = %v", err)
	}
	for _, err := range []error{o.SetDisabled(ctx, "nobody", true, "x"), o.SetPassword(ctx, "nobody", "a long enough password", "x")} {
		if pv.ErrorCode(err) != pv.ENotFound {
			t.Errorf("a change to an unknown official = %v; want not found", err)
		}
	}
	// Demoted in the database by another server, then removed: each is
	// seen once the cache has lapsed.
	if _, err := env.DB.OwnerPool.Exec(ctx, `UPDATE officials SET role = 'auditor' WHERE username = 'alice'`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if role, err := o.Current(ctx, "alice"); err != nil || role != auth.Auditor {
		t.Errorf("Current(demoted) = %v, %v; want auditor", role, err)
	}
	if _, err := env.DB.OwnerPool.Exec(ctx, `DELETE FROM officials WHERE username = 'alice'`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if _, err := o.Current(ctx, "alice"); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("Current(removed) = %v; want unauthorized", err)
	}
	for kind, want := range map[string]int{"official.disable": 1, "official.enable": 1, "official.passwd": 1} {
		if n := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = $1`, kind); n != want {
			t.Errorf("%s entries = %d; want %d", kind, n, want)
		}
	}
	if n := env.Count(t, `SELECT count(*) FROM audit_entries WHERE position('new long password' in convert_from(body, 'UTF8')) > 0`); n != 0 {
		t.Errorf("a password appears in the audit log")
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		have, want auth.Role
		ok         bool
	}{
		{auth.Admin, auth.Admin, true}, {auth.Admin, auth.Official, true}, {auth.Admin, auth.Auditor, false},
		{auth.Official, auth.Official, true}, {auth.Official, auth.Admin, false},
		{auth.Auditor, auth.Auditor, true}, {auth.Auditor, auth.Official, false},
	}
	for _, tt := range tests {
		if got := tt.have.Has(tt.want); got != tt.ok {
			t.Errorf("%s.Has(%s) = %v; want %v", tt.have, tt.want, got, tt.ok)
		}
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	clock := fixture.NewClock()
	secrets, err := auth.LoadSecrets(t.TempDir(), "primaryvote.test/log")
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(secrets, clock.Now)
	good, exp, err := tokens.IssueVoter("e1", "V1")
	if err != nil || exp.Sub(clock.Now()) > 15*time.Minute {
		t.Fatalf("IssueVoter = %v, expires %v", err, exp)
	}
	if v, err := tokens.Voter(good, "e1"); err != nil || v != "V1" {
		t.Fatalf("Voter(good) = %q, %v", v, err)
	}
	official, _, _ := tokens.IssueOfficial(auth.Principal{Username: "alice", Role: auth.Admin})
	if p, err := tokens.Official(official); err != nil || p.Role != auth.Admin || p.Username != "alice" {
		t.Fatalf("Official(good) = %+v, %v", p, err)
	}

	kid := secrets.KeyID()
	pub := secrets.SigningKey.Public().(ed25519.PublicKey)
	now := clock.Now()
	claims := func(mut func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "primaryvote", "sub": "V1", "aud": []string{"primaryvote:voter:e1"},
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
		if mut != nil {
			mut(c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, key any, c jwt.MapClaims, kid string) string {
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	_, otherKey, _ := ed25519.GenerateKey(nil)
	unsigned := func(c jwt.MapClaims) string {
		h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
		b, _ := json.Marshal(c)
		return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(b) + "."
	}
	tampered := []byte(good)
	tampered[len(tampered)-5] ^= 1

	bad := map[string]string{
		"alg none":              unsigned(claims(nil)),
		"HS256 with the pubkey": sign(jwt.SigningMethodHS256, []byte(pub), claims(nil), kid),
		"other key":             sign(jwt.SigningMethodEdDSA, otherKey, claims(nil), kid),
		"unknown kid":           sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(nil), "0000"),
		"expired":               sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() }), kid),
		"no exp":                sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(func(c jwt.MapClaims) { delete(c, "exp") }), kid),
		"no iss":                sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(func(c jwt.MapClaims) { delete(c, "iss") }), kid),
		"wrong audience":        sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(func(c jwt.MapClaims) { c["aud"] = []string{"primaryvote:voter:e2"} }), kid),
		"official token":        official,
		"no subject":            sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(func(c jwt.MapClaims) { delete(c, "sub") }), kid),
		"no iat":                sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(func(c jwt.MapClaims) { delete(c, "iat") }), kid),
		"iat in the future":     sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() }), kid),
		"a ten-year lifetime":   sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(func(c jwt.MapClaims) { c["exp"] = now.AddDate(10, 0, 0).Unix() }), kid),
		"a lifetime over 15 min": sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(-time.Minute).Unix(), now.Add(15*time.Minute).Unix()
		}), kid),
		"tampered signature": string(tampered),
		"garbage":            "not.a.token",
		"empty":              "",
	}
	for name, tok := range bad {
		if _, err := tokens.Voter(tok, "e1"); pv.ErrorCode(err) != pv.EUnauthorized {
			t.Errorf("Voter(%s) = %v; want unauthorized", name, err)
		}
	}
	// A voter token is no official token.
	if _, err := tokens.Official(good); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("Official(voter token) = %v; want unauthorized", err)
	}
	// Tokens expire.
	clock.Set(now.Add(16 * time.Minute))
	if _, err := tokens.Voter(good, "e1"); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("Voter(after 16 minutes) = %v; want unauthorized", err)
	}
}

func TestLoadSecretsIsStable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := auth.LoadSecrets(dir, "primaryvote.test/log")
	if err != nil {
		t.Fatal(err)
	}
	b, err := auth.LoadSecrets(dir, "primaryvote.test/log")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Pepper, b.Pepper) || !a.SigningKey.Equal(b.SigningKey) || a.Log.VerifierKey() != b.Log.VerifierKey() {
		t.Error("LoadSecrets made new secrets on the second load")
	}
	if bytes.Equal(a.Pepper, make([]byte, 32)) {
		t.Error("pepper is all zero")
	}
	if _, err := auth.LoadSecrets(dir, "another/log"); err == nil || !strings.Contains(err.Error(), "not \"another/log\"") {
		t.Errorf("LoadSecrets with another log's name: %v", err)
	}
	for _, name := range []string{"pepper", "checkpoint.key"} {
		corrupt := t.TempDir()
		os.WriteFile(filepath.Join(corrupt, name), []byte("not a key\n"), 0o600)
		if _, err := auth.LoadSecrets(corrupt, "primaryvote.test/log"); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("LoadSecrets with a corrupt %s: %v", name, err)
		}
	}
}
