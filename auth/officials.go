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
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/argon2"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
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

// ValidUsername reports whether name is a well-formed official's username:
// 1–64 of a-z 0-9 . _ -, starting with a letter or digit.
func ValidUsername(name string) bool { return usernamePattern.MatchString(name) }

// Officials stores officials' accounts and signs them in.
type Officials struct {
	pool  *pgxpool.Pool
	clock func() time.Time
	// slots bounds concurrent password hashes: each takes 19 MiB and a core.
	slots chan struct{}
	dummy string

	mu       sync.Mutex
	accounts map[string]account // Current's cache
}

type account struct {
	role Role // "" for an account that is missing or disabled
	at   time.Time
}

// accountTTL is how long Current reuses what it read of an account: a
// disabled account or a changed role takes effect on every server within it.
const accountTTL = 2 * time.Second

// NewOfficials returns an account store.
func NewOfficials(pool *pgxpool.Pool, clock func() time.Time) *Officials {
	return &Officials{
		pool: pool, clock: clock,
		slots:    make(chan struct{}, runtime.GOMAXPROCS(0)),
		dummy:    hashPassword("not a password: equalises sign-in timing"),
		accounts: map[string]account{},
	}
}

// errNoAccount ends the session of an official whose account is gone or
// disabled.
var errNoAccount = pv.Errorf(pv.EUnauthorized, "This official account is disabled or no longer exists.")

// Current returns the role an official holds now, or an EUnauthorized error
// if the account is missing or disabled. Every official request checks it,
// so a token outlives neither its account nor a change of role; it reads the
// database at most every couple of seconds per account.
func (o *Officials) Current(ctx context.Context, username string) (Role, error) {
	now := time.Now()
	o.mu.Lock()
	a, ok := o.accounts[username]
	o.mu.Unlock()
	if !ok || now.Sub(a.at) > accountTTL {
		var (
			role     string
			disabled bool
		)
		err := o.pool.QueryRow(ctx, `SELECT role, disabled FROM officials WHERE username = $1`, username).Scan(&role, &disabled)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("couldn't read official: %w", err)
		}
		a = account{at: now}
		if err == nil && !disabled {
			a.role = Role(role)
		}
		o.mu.Lock()
		if len(o.accounts) > 10_000 {
			clear(o.accounts)
		}
		o.accounts[username] = a
		o.mu.Unlock()
	}
	if a.role == "" {
		return "", errNoAccount
	}
	return a.role, nil
}

// Account is an official's account as List shows it.
type Account struct {
	Username string
	Role     Role
	Disabled bool
	Created  time.Time
}

// List returns every official's account, by username.
func (o *Officials) List(ctx context.Context) ([]Account, error) {
	rows, err := o.pool.Query(ctx, `SELECT username, role, disabled, created_at FROM officials ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("couldn't list officials: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Account, error) {
		var a Account
		err := r.Scan(&a.Username, &a.Role, &a.Disabled, &a.Created)
		return a, err
	})
}

// SetDisabled disables an official's account, ending their sessions, or
// enables it again.
func (o *Officials) SetDisabled(ctx context.Context, username string, disabled bool, actor string) error {
	kind := entry.KindOfficialEnable
	if disabled {
		kind = entry.KindOfficialDisable
	}
	return o.change(ctx, username, kind, actor, `UPDATE officials SET disabled = $2 WHERE username = $1`, disabled)
}

// SetPassword gives an official a new password.
func (o *Officials) SetPassword(ctx context.Context, username, password, actor string) error {
	if err := checkNewPassword(password); err != nil {
		return err
	}
	return o.change(ctx, username, entry.KindOfficialPassword, actor, `UPDATE officials SET password_hash = $2 WHERE username = $1`, hashPassword(password))
}

// change updates one official's account and logs it in one transaction.
func (o *Officials) change(ctx context.Context, username string, kind entry.Kind, actor, update string, value any) error {
	err := pgx.BeginFunc(ctx, o.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, update, username, value)
		if err != nil {
			return fmt.Errorf("couldn't change official %s: %w", username, err)
		}
		if tag.RowsAffected() != 1 {
			return pv.Errorf(pv.ENotFound, "no official %q", username)
		}
		return audit.Append(ctx, tx, audit.Entry{Kind: kind, Actor: actor, At: o.clock(), Data: entry.OfficialAccount{Username: username}})
	})
	o.mu.Lock()
	delete(o.accounts, username)
	o.mu.Unlock()
	return err
}

func checkNewPassword(password string) error {
	if n := utf8.RuneCountInString(password); n < minPassword || len(password) > maxPassword || !utf8.ValidString(password) {
		return pv.Errorf(pv.EInvalid, "a password needs %d to %d characters", minPassword, maxPassword)
	}
	return nil
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
	if err := checkNewPassword(password); err != nil {
		return err
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
			Kind: entry.KindOfficialAdd, Actor: actor, At: o.clock(),
			Data: entry.Official{Username: username, Role: string(role)},
		})
	})
}

// SignIn checks an official's password and returns their role. Unknown
// users, disabled accounts and wrong passwords get the same error after the
// same work. Both outcomes are logged.
func (o *Officials) SignIn(ctx context.Context, username, password string) (Role, error) {
	var (
		hash, role string
		disabled   bool
	)
	err := o.pool.QueryRow(ctx, `SELECT password_hash, role, disabled FROM officials WHERE username = $1`, username).Scan(&hash, &role, &disabled)
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
	ok := checkPassword(hash, password) && !disabled
	<-o.slots

	kind := entry.KindOfficialSignIn
	if !known || !ok {
		kind = entry.KindOfficialSignInFailed
	}
	var data entry.OfficialSignIn
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
