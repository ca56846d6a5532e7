package auth_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

func TestSignIn(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 3, true)
	env.Setup(t, "e2", 3, true)
	ctx := context.Background()
	code := el.Codes["V00001"]

	if voted, err := env.SignIn("e1", "V00001", code); err != nil || voted {
		t.Fatalf("SignIn(right code) = %v, %v", voted, err)
	}
	// Typing variants: lower case, spaces instead of hyphens, O for 0, L for 1.
	typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	typed = strings.NewReplacer("0", "o", "1", "l").Replace(typed)
	if _, err := env.SignIn("e1", "V00001", typed); err != nil {
		t.Errorf("SignIn(%q) = %v; want it accepted", typed, err)
	}

	bad := []struct{ name, election, voter, code string }{
		{"wrong code", "e1", "V00001", el.Codes["V00002"]},
		{"unknown voter", "e1", "NOBODY", code},
		{"malformed code", "e1", "V00001", "not a code"},
		{"other election", "e2", "V00001", code},
		{"unknown election", "e9", "V00001", code},
	}
	var bodies []string
	for _, tt := range bad {
		_, err := env.SignIn(tt.election, tt.voter, tt.code)
		if pv.ErrorCode(err) != pv.EUnauthorized {
			t.Errorf("SignIn(%s) = %v; want unauthorized", tt.name, err)
		}
		bodies = append(bodies, pv.ErrorMessage(err))
	}
	for _, b := range bodies {
		if b != bodies[0] {
			t.Errorf("failed sign-ins differ: %q vs %q", b, bodies[0])
		}
	}

	// A statement signed for another voter, time or election, a signature
	// replayed, and a time out of the window are refused.
	now := env.Clock.Now()
	r := fixture.SignIn("e1", "V00001", code, now)
	for name, call := range map[string]func() error{
		"another voter": func() error { _, _, err := env.Credentials.SignIn(ctx, "e1", "V00002", now, r.Signature); return err },
		"another time": func() error {
			_, _, err := env.Credentials.SignIn(ctx, "e1", "V00001", now.Add(time.Millisecond), r.Signature)
			return err
		},
		"another election": func() error { _, _, err := env.Credentials.SignIn(ctx, "e2", "V00001", now, r.Signature); return err },
	} {
		if err := call(); pv.ErrorCode(err) != pv.EUnauthorized {
			t.Errorf("%s: %v; want unauthorized", name, err)
		}
	}
	if _, _, err := env.Credentials.SignIn(ctx, "e1", "V00001", now, r.Signature); err != nil {
		t.Fatalf("SignIn = %v", err)
	}
	if _, _, err := env.Credentials.SignIn(ctx, "e1", "V00001", now, r.Signature); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("a replayed sign-in = %v; want unauthorized", err)
	}
	for _, skew := range []time.Duration{-6 * time.Minute, 6 * time.Minute} {
		old := fixture.SignIn("e1", "V00001", code, now.Add(skew))
		if _, _, err := env.Credentials.SignIn(ctx, "e1", "V00001", now.Add(skew), old.Signature); pv.ErrorCode(err) != pv.EUnauthorized || !strings.Contains(pv.ErrorMessage(err), "clock") {
			t.Errorf("a sign-in %v off = %v; want unauthorized about the clock", skew, err)
		}
	}

	// Nothing about a code is stored: the database holds the public
	// credentials only, and the log sign-ins by pseudonym.
	var dump bytes.Buffer
	rows, _ := env.DB.Pool.Query(ctx, `SELECT encode(credential, 'hex') FROM voter_credentials UNION ALL SELECT convert_from(body, 'UTF8') FROM audit_entries`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		dump.WriteString(s)
	}
	for _, c := range el.Codes {
		norm, _ := ballot.NormalizeCode(c)
		cred, _ := ballot.DeriveCredential("e1", c)
		if strings.Contains(dump.String(), norm) || strings.Contains(dump.String(), c) {
			t.Errorf("a code appears in the database")
		}
		if !strings.Contains(dump.String(), cred.PublicHex()) {
			t.Errorf("a public credential is not in the database")
		}
	}
}

// Concurrent sign-ins share a batch of signatures: each voter gets their
// own answer, and a wrong code among them fails only its own sign-in.
func TestConcurrentSignIns(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 30, true)
	ctx := context.Background()
	now := env.Clock.Now()
	wrong := map[string]bool{"V00004": true, "V00017": true}
	errs := make([]error, len(el.Voters))
	groups := make([]string, len(el.Voters))
	var wg sync.WaitGroup
	for i, v := range el.Voters {
		code := el.Codes[v]
		if wrong[v] {
			code = el.Codes[el.Voters[(i+1)%len(el.Voters)]]
		}
		r := fixture.SignIn("e1", v, code, now)
		wg.Add(1)
		go func() {
			defer wg.Done()
			groups[i], _, errs[i] = env.Credentials.SignIn(ctx, "e1", v, now, r.Signature)
		}()
	}
	wg.Wait()
	for i, v := range el.Voters {
		switch {
		case wrong[v] && pv.ErrorCode(errs[i]) != pv.EUnauthorized:
			t.Errorf("%s with another's code: %v; want unauthorized", v, errs[i])
		case !wrong[v] && (errs[i] != nil || groups[i] != el.Groups[v]):
			t.Errorf("%s: group %q, %v; want %q", v, groups[i], errs[i], el.Groups[v])
		}
	}
}

func TestImportCredentials(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	ctx := context.Background()
	if err := env.Elections.Create(ctx, fixture.Definition("e1"), "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Elections.ImportRoll(ctx, "e1", strings.NewReader("voter_id,group,region\nA1,members,x\nA2,public,y\n"), "test"); err != nil {
		t.Fatal(err)
	}
	roll := []ballot.RollVoter{{ID: "A1", Group: "members"}, {ID: "A2", Group: "public"}}
	codes, public := fixture.Authority("e1", roll)
	_, tooMany := fixture.Authority("e1", append(roll, ballot.RollVoter{ID: "A3", Group: "public"}))
	_, tooFew := fixture.Authority("e1", roll[:1])
	_, wrongGroup := fixture.Authority("e1", []ballot.RollVoter{{ID: "A1", Group: "members"}, {ID: "A2", Group: "members"}})
	for name, c := range map[string]struct {
		file []byte
		want string
	}{
		"a voter not on the roll": {tooMany, `voter "A3" is not on the roll`},
		"a voter missing":         {tooFew, "The credentials file has 1 voters; the roll has 2"},
		"another group":           {wrongGroup, `voter "A2" is in group "public" on the roll, not "members"`},
		"a malformed file":        {[]byte("voter_id,code\n"), "header"},
	} {
		if _, err := env.Credentials.Import(ctx, "e1", bytes.NewReader(c.file), "test"); pv.ErrorCode(err) != pv.EInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want invalid, %q", name, err, c.want)
		}
	}
	if n := env.Count(t, `SELECT count(*) FROM voter_credentials`); n != 0 {
		t.Errorf("a refused import left %d credentials", n)
	}
	sum, err := env.Credentials.Import(ctx, "e1", bytes.NewReader(public), "cli:authority")
	if err != nil || sum.Voters != 2 {
		t.Fatalf("Import = %+v, %v", sum, err)
	}
	digest := sha256.Sum256(public)
	if sum.SHA256 != hex.EncodeToString(digest[:]) {
		t.Errorf("Import's hash %s is not the file's", sum.SHA256)
	}
	if n := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'credentials.import' AND position($1 in convert_from(body, 'UTF8')) > 0`, sum.SHA256); n != 1 {
		t.Errorf("import entries with the file's hash = %d; want 1", n)
	}
	// A second import replaces the first, whole.
	codes2, public2 := fixture.Authority("e1", roll)
	if _, err := env.Credentials.Import(ctx, "e1", bytes.NewReader(public2), "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.SignIn("e1", "A1", codes["A1"]); err == nil {
		t.Error("a code of the first import still signs in")
	}
	if _, err := env.SignIn("e1", "A1", codes2["A1"]); err != nil {
		t.Errorf("SignIn after the second import = %v", err)
	}
}

func TestReplaceCredential(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	el := env.Setup(t, "e1", 3, true)
	ctx := context.Background()
	newCodes, replacement := fixture.Authority("e1", []ballot.RollVoter{{ID: "V00001", Group: "members"}})
	if _, err := env.Credentials.Replace(ctx, "e1", bytes.NewReader(replacement), "cli:authority"); err != nil {
		t.Fatalf("Replace = %v", err)
	}
	if _, err := env.SignIn("e1", "V00001", el.Codes["V00001"]); pv.ErrorCode(err) != pv.EUnauthorized {
		t.Errorf("the old code after Replace = %v; want unauthorized", err)
	}
	if _, err := env.SignIn("e1", "V00001", newCodes["V00001"]); err != nil {
		t.Errorf("the new code = %v", err)
	}
	old, _ := ballot.DeriveCredential("e1", el.Codes["V00001"])
	fresh, _ := ballot.DeriveCredential("e1", newCodes["V00001"])
	p := env.Secrets.Pseudonym("e1", "V00001")
	if n := env.Count(t, `SELECT count(*) FROM audit_entries WHERE kind = 'credentials.replace' AND convert_from(body, 'UTF8') LIKE '%' || $1 || '%' || $2 || '%' || $3 || '%'`,
		hex.EncodeToString(p[:]), old.PublicHex(), fresh.PublicHex()); n != 1 {
		t.Errorf("replace entries naming the pseudonym, the old and the new credential = %d; want 1", n)
	}

	// Refused: a voter not on the roll, another group, a credential that
	// is another voter's, a file of two voters, and a voter who has voted.
	_, stranger := fixture.Authority("e1", []ballot.RollVoter{{ID: "NOBODY", Group: "members"}})
	_, wrongGroup := fixture.Authority("e1", []ballot.RollVoter{{ID: "V00002", Group: "members"}})
	_, two := fixture.Authority("e1", []ballot.RollVoter{{ID: "V00002", Group: "public"}, {ID: "V00003", Group: "members"}})
	theirs, _ := ballot.DeriveCredential("e1", el.Codes["V00003"])
	taken := ballot.AppendCredentialLine([]byte(ballot.CredentialsHeader+"\n"), ballot.PublicCredential{VoterID: "V00002", Group: "public", P: theirs.Public()})
	for name, c := range map[string]struct {
		file []byte
		code pv.Code
	}{
		"not on the roll": {stranger, pv.ENotFound},
		"another group":   {wrongGroup, pv.EInvalid},
		"another's":       {taken, pv.EConflict},
		"two voters":      {two, pv.EInvalid},
	} {
		if _, err := env.Credentials.Replace(ctx, "e1", bytes.NewReader(c.file), "test"); pv.ErrorCode(err) != c.code {
			t.Errorf("Replace(%s) = %v; want %s", name, err, c.code)
		}
	}
	if _, _, err := env.Elections.Cast(ctx, env.CastRequest(t, el, "V00002", ballot.Selections{"leader": {"a"}, "council": {"p"}})); err != nil {
		t.Fatal(err)
	}
	_, again := fixture.Authority("e1", []ballot.RollVoter{{ID: "V00002", Group: "public"}})
	if _, err := env.Credentials.Replace(ctx, "e1", bytes.NewReader(again), "test"); pv.ErrorCode(err) != pv.EConflict || !strings.Contains(err.Error(), "already voted") {
		t.Errorf("Replace after the voter voted = %v; want conflict", err)
	}
	if err := env.Elections.Close(ctx, "e1", "test"); err != nil {
		t.Fatal(err)
	}
	_, late := fixture.Authority("e1", []ballot.RollVoter{{ID: "V00003", Group: "members"}})
	if _, err := env.Credentials.Replace(ctx, "e1", bytes.NewReader(late), "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Replace after close = %v; want conflict", err)
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
	good, exp, err := tokens.IssueVoter("e1", auth.Voter{ID: "V1", Group: "members"})
	if err != nil || exp.Sub(clock.Now()) > 15*time.Minute {
		t.Fatalf("IssueVoter = %v, expires %v", err, exp)
	}
	if v, err := tokens.Voter(good, "e1"); err != nil || v != (auth.Voter{ID: "V1", Group: "members"}) {
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
		c := jwt.MapClaims{"iss": "primaryvote", "sub": "V1", "grp": "members", "aud": []string{"primaryvote:voter:e1"},
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
		"no group":              sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(func(c jwt.MapClaims) { delete(c, "grp") }), kid),
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
	// Each bad token differs from this good one in its one flaw.
	if v, err := tokens.Voter(sign(jwt.SigningMethodEdDSA, secrets.SigningKey, claims(nil), kid), "e1"); err != nil || v.Group != "members" {
		t.Fatalf("Voter(the bad tokens' claims, well signed) = %+v, %v", v, err)
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
