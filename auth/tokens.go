package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	pv "primaryvote"
)

// Token lifetimes.
const (
	VoterTokenTTL    = 15 * time.Minute
	OfficialTokenTTL = 30 * time.Minute
)

const issuer = "primaryvote"

// voterAudience scopes a voter token to one election.
func voterAudience(electionID string) string { return "primaryvote:voter:" + electionID }

const officialAudience = "primaryvote:official"

// Tokens issues and checks the JWTs of signed-in voters and officials. Tokens
// are signed with Ed25519 (alg EdDSA) and carry the key id in "kid"; the
// parser accepts no other algorithm and requires iss, aud, exp and iat.
type Tokens struct {
	key   ed25519.PrivateKey
	kid   string
	clock func() time.Time
}

// NewTokens returns a token issuer for the secrets' signing key.
func NewTokens(s *Secrets, clock func() time.Time) *Tokens {
	return &Tokens{key: s.SigningKey, kid: s.KeyID(), clock: clock}
}

type officialClaims struct {
	Role Role `json:"role"`
	jwt.RegisteredClaims
}

// Principal is a signed-in official.
type Principal struct {
	Username string
	Role     Role
}

// Voter is a signed-in voter: their id and the group the roll puts them in.
type Voter struct {
	ID    string
	Group string
}

type voterClaims struct {
	Group string `json:"grp"`
	jwt.RegisteredClaims
}

// IssueVoter returns a token for v in electionID and when it expires.
func (t *Tokens) IssueVoter(electionID string, v Voter) (string, time.Time, error) {
	claims := &voterClaims{Group: v.Group, RegisteredClaims: *t.registered(v.ID, voterAudience(electionID), VoterTokenTTL)}
	s, err := t.sign(claims)
	return s, claims.ExpiresAt.Time, err
}

// IssueOfficial returns a token for an official and when it expires.
func (t *Tokens) IssueOfficial(p Principal) (string, time.Time, error) {
	claims := &officialClaims{Role: p.Role, RegisteredClaims: *t.registered(p.Username, officialAudience, OfficialTokenTTL)}
	s, err := t.sign(claims)
	return s, claims.ExpiresAt.Time, err
}

func (t *Tokens) registered(subject, audience string, ttl time.Duration) *jwt.RegisteredClaims {
	now := t.clock().Truncate(time.Second)
	id := make([]byte, 16)
	rand.Read(id)
	return &jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   subject,
		Audience:  jwt.ClaimStrings{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		ID:        hex.EncodeToString(id),
	}
}

func (t *Tokens) sign(claims jwt.Claims) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = t.kid
	s, err := tok.SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("couldn't sign token: %w", err)
	}
	return s, nil
}

// Voter returns the voter of a valid voter token for electionID.
func (t *Tokens) Voter(token, electionID string) (Voter, error) {
	var claims voterClaims
	if err := t.parse(token, voterAudience(electionID), VoterTokenTTL, &claims); err != nil {
		return Voter{}, err
	}
	if claims.Group == "" {
		return Voter{}, errBadToken
	}
	return Voter{ID: claims.Subject, Group: claims.Group}, nil
}

// Official returns the official of a valid official token.
func (t *Tokens) Official(token string) (Principal, error) {
	var claims officialClaims
	if err := t.parse(token, officialAudience, OfficialTokenTTL, &claims); err != nil {
		return Principal{}, err
	}
	role, err := ParseRole(string(claims.Role))
	if err != nil {
		return Principal{}, errBadToken
	}
	return Principal{Username: claims.Subject, Role: role}, nil
}

var errBadToken = pv.Errorf(pv.EUnauthorized, "The session is missing, invalid or expired: sign in again.")

// parse verifies a token: EdDSA under our key, our issuer, the audience, a
// subject, an iat not in the future and an exp at most ttl after it, so that
// no token, even one signed with a stolen key, lives longer than ours do.
func (t *Tokens) parse(token, audience string, ttl time.Duration, claims jwt.Claims) error {
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.clock),
	)
	_, err := p.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		if kid, _ := tok.Header["kid"].(string); kid != t.kid {
			return nil, fmt.Errorf("unknown key id")
		}
		return t.key.Public(), nil
	})
	if err != nil {
		return errBadToken
	}
	if sub, _ := claims.GetSubject(); sub == "" {
		return errBadToken
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if iat == nil || exp == nil || exp.Sub(iat.Time) > ttl {
		return errBadToken
	}
	return nil
}
