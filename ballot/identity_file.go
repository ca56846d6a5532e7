package ballot

import (
	"encoding/json"
	"io"
	"unicode/utf8"

	pv "primaryvote"
)

// identityFile is a trustee's identity on their own machine (FORMAT.md,
// "Key ceremony"): the public half in the clear, the private half
// encrypted under the trustee's passphrase (argon2id, XChaCha20-Poly1305)
// with the public half as associated data.
type identityFile struct {
	Format     string  `json:"format"`
	Name       string  `json:"name"`
	SigningKey Hex     `json:"signing_key"`
	ShareKey   Hex     `json:"share_key"`
	KDF        kdfSpec `json:"kdf"`
	Nonce      string  `json:"nonce"`
	Ciphertext string  `json:"ciphertext"`
}

const identityFormat = "primaryvote-trustee-identity-v1"

func (f *identityFile) associatedData() []byte {
	ad := lp(nil, f.Format)
	ad = lp(ad, f.Name)
	ad = append(ad, f.SigningKey...)
	return append(ad, f.ShareKey...)
}

// WriteIdentity makes a new trustee identity named name and writes it,
// its private half encrypted under passphrase. It returns the public half
// (with index 0: the registration numbers the trustees).
func WriteIdentity(w io.Writer, name, passphrase string) (TrusteeIdentity, error) {
	if utf8.RuneCountInString(passphrase) < MinPassphrase {
		return TrusteeIdentity{}, pv.Errorf(pv.EInvalid, "the passphrase needs at least %d characters", MinPassphrase)
	}
	if name == "" || utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) {
		return TrusteeIdentity{}, pv.Errorf(pv.EInvalid, "a trustee's name has 1 to 100 characters")
	}
	id, s, err := NewTrusteeIdentity(0, name)
	if err != nil {
		return TrusteeIdentity{}, err
	}
	secret, err := s.secretBytes()
	if err != nil {
		return TrusteeIdentity{}, err
	}
	f := &identityFile{Format: identityFormat, Name: name, SigningKey: id.SigningKey, ShareKey: id.ShareKey}
	if f.KDF, f.Nonce, f.Ciphertext, err = sealWithPassphrase(passphrase, secret, f.associatedData()); err != nil {
		return TrusteeIdentity{}, err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return id, enc.Encode(f)
}

// ReadIdentity reads a trustee's identity file and opens its private half
// with passphrase. A wrong passphrase or a changed file is EUnauthorized.
func ReadIdentity(r io.Reader, passphrase string) (TrusteeIdentity, *TrusteeSecrets, error) {
	var f identityFile
	dec := json.NewDecoder(io.LimitReader(r, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || f.Format != identityFormat {
		return TrusteeIdentity{}, nil, pv.Errorf(pv.EInvalid, "not a %s file", identityFormat)
	}
	plain, err := openWithPassphrase(passphrase, f.KDF, f.Nonce, f.Ciphertext, f.associatedData())
	if err != nil {
		return TrusteeIdentity{}, nil, err
	}
	s, err := trusteeSecrets(plain)
	if err != nil {
		return TrusteeIdentity{}, nil, pv.Errorf(pv.EInvalid, "identity file: %v", err)
	}
	id := TrusteeIdentity{Name: f.Name, SigningKey: f.SigningKey, ShareKey: f.ShareKey}
	if !s.Matches(id) {
		return TrusteeIdentity{}, nil, pv.Errorf(pv.EInvalid, "identity file: the private half is not the public one's")
	}
	return id, s, nil
}
