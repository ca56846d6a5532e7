package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/argon2"

	pv "primaryvote"
	"primaryvote/audit"
)

// Role is what an official may do.
type Role string

const (
	// Admin runs elections: everything an Official may do, plus lifecycle steps.
	Admin Role = "admin"
	// Official watches an election: turnout and, later, results.
	Official Role = "official"
	// Auditor reads the audit log and bundle.
	Auditor Role = "auditor"
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Admin, Official, Auditor:
		return r, nil
	}
	return "", pv.Errorf(pv.EInvalid, "unknown role %q: want admin, official or auditor", s)
}

// Has reports whether r grants what the want role grants. Admin includes
// Official; Auditor stands alone.
func (r Role) Has(want Role) bool {
	return r == want || (r == Admin && want == Official)
}

// Password hashing parameters: argon2id at OWASP's recommended m=19 MiB, t=2,
// p=1; concurrent hashes are bounded so sign-in floods cannot exhaust memory.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
	minPassword  = 12
	maxPassword  = 256
)

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Officials stores officials' accounts and signs them in.
type Officials struct {
	pool  *pgxpool.Pool
	clock func() time.Time
	// slots bounds concurrent password hashes: each takes 19 MiB and a core.
	slots chan struct{}
	dummy string
}

// NewOfficials returns an account store.
func NewOfficials(pool *pgxpool.Pool, clock func() time.Time) *Officials {
	return &Officials{
		pool: pool, clock: clock,
		slots: make(chan struct{}, runtime.GOMAXPROCS(0)),
		dummy: hashPassword("not a password: equalises sign-in timing"),
	}
}

// NewPassword returns a random 20-character password (120 bits).
func NewPassword() string {
	b := make([]byte, 15)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Add creates an official's account.
func (o *Officials) Add(ctx context.Context, username string, role Role, password, actor string) error {
	if !usernamePattern.MatchString(username) {
		return pv.Errorf(pv.EInvalid, "username %q must be 1-64 of a-z, 0-9, '.', '_' and '-'", username)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(password); n < minPassword || len(password) > maxPassword || !utf8.ValidString(password) {
		return pv.Errorf(pv.EInvalid, "a password needs %d to %d characters", minPassword, maxPassword)
	}
	hash := hashPassword(password)
	return pgx.BeginFunc(ctx, o.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO officials (username, password_hash, role) VALUES ($1, $2, $3)`, username, hash, role)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return pv.Errorf(pv.EConflict, "official %q already exists", username)
		}
		if err != nil {
			return fmt.Errorf("couldn't add official: %w", err)
		}
		return audit.Append(ctx, tx, audit.Entry{
			Kind: audit.KindOfficialAdd, Actor: actor, At: o.clock(),
			Data: audit.Official{Username: username, Role: string(role)},
		})
	})
}

// SignIn checks an official's password and returns their role. Unknown users
// and wrong passwords get the same error after the same work. Both outcomes
// are logged.
func (o *Officials) SignIn(ctx context.Context, username, password string) (Role, error) {
	var hash, role string
	err := o.pool.QueryRow(ctx, `SELECT password_hash, role FROM officials WHERE username = $1`, username).Scan(&hash, &role)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("couldn't read official: %w", err)
	}
	known := err == nil
	if !known {
		hash = o.dummy
	}
	select {
	case o.slots <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	ok := checkPassword(hash, password)
	<-o.slots

	kind := audit.KindOfficialSignIn
	if !known || !ok {
		kind = audit.KindOfficialSignInFailed
	}
	var data audit.OfficialSignIn
	if known {
		data.Username = username // an unknown name may be a mistyped password: not logged
	}
	if err := audit.Append(ctx, o.pool, audit.Entry{Kind: kind, Actor: "official", At: o.clock(), Data: data}); err != nil {
		return "", err
	}
	if !known || !ok {
		return "", pv.Errorf(pv.EUnauthorized, "The username or password is not correct.")
	}
	return Role(role), nil
}

// hashPassword returns the PHC string of an argon2id hash with a fresh salt.
func hashPassword(password string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// checkPassword compares password with a PHC argon2id string in constant time.
func checkPassword(phc, password string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m < 19*1024 || t < 1 || p < 1 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
