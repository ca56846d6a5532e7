// Package auth signs people in: voters with the one-time credential the party
// sent them, officials with a username and password, and both get a short-lived
// JWT that the API checks on every request.
//
// Voter codes carry at least 112 bits of entropy and are stored only as
// HMAC-SHA256 under a server pepper: a fast hash on purpose, because a slow one
// would turn the opening surge into a self-inflicted denial of service, and the
// entropy is the protection. Officials' passwords, chosen by people, are hashed
// with argon2id.
//
// Secrets (the pepper and the token signing key) live as files in a secrets
// directory, created with crypto/rand on first use and never logged.
package auth
