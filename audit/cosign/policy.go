package cosign

import (
	"errors"
	"fmt"
	"net/url"
	"slices"

	"golang.org/x/mod/sumdb/note"
)

// Policy is an election's witness policy: the witnesses that cosign the
// log's checkpoints and how many of their cosignatures make a checkpoint
// count. It is set before the election opens and logged
// (`witnesses.policy`, audit/LOG.md).
type Policy struct {
	// Quorum is how many of the witnesses must cosign a checkpoint.
	Quorum    int       `json:"quorum"`
	Witnesses []Witness `json:"witnesses"`
}

// Witness is one witness: its verifier key (NewVerifier), whose name names
// the witness, and the submission prefix the log pushes its checkpoints to.
type Witness struct {
	Key string `json:"key"`
	URL string `json:"url"`
}

// MaxWitnesses bounds a policy's witnesses.
const MaxWitnesses = 16

// Check checks the policy: 1 to MaxWitnesses witnesses, each a valid
// cosignature key whose name no other witness has, with an http(s)
// submission prefix, and a quorum of at least one and at most every
// witness.
func (p *Policy) Check() error {
	if len(p.Witnesses) == 0 || len(p.Witnesses) > MaxWitnesses {
		return fmt.Errorf("a witness policy names 1 to %d witnesses, not %d", MaxWitnesses, len(p.Witnesses))
	}
	if p.Quorum < 1 || p.Quorum > len(p.Witnesses) {
		return fmt.Errorf("the quorum must be from 1 to the %d witnesses, not %d", len(p.Witnesses), p.Quorum)
	}
	var names []string
	for i, w := range p.Witnesses {
		v, err := NewVerifier(w.Key)
		if err != nil {
			return fmt.Errorf("witness %d: %v", i+1, err)
		}
		if slices.Contains(names, v.Name()) {
			return fmt.Errorf("witness %d: another witness is named %q", i+1, v.Name())
		}
		names = append(names, v.Name())
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("witness %d (%s): its URL %q is not an http or https address without a query", i+1, v.Name(), w.URL)
		}
	}
	return nil
}

// Names returns the witnesses' names, in the policy's order.
func (p *Policy) Names() []string {
	out := make([]string, 0, len(p.Witnesses))
	for _, w := range p.Witnesses {
		if v, err := NewVerifier(w.Key); err == nil {
			out = append(out, v.Name())
		}
	}
	return out
}

// Equal reports whether q sets the same quorum and witness keys as p (the
// push addresses may differ).
func (p *Policy) Equal(q *Policy) bool {
	if p.Quorum != q.Quorum || len(p.Witnesses) != len(q.Witnesses) {
		return false
	}
	keys := func(p *Policy) []string {
		var k []string
		for _, w := range p.Witnesses {
			k = append(k, w.Key)
		}
		slices.Sort(k)
		return k
	}
	return slices.Equal(keys(p), keys(q))
}

// Cosigners opens a signed checkpoint with its cosignatures: the log's
// signature must verify under logKey, and every cosignature by one of the
// policy's witnesses must verify. It returns the names of the policy's
// witnesses that cosigned it, in the policy's order; signatures by other
// keys are ignored.
func (p *Policy) Cosigners(signed []byte, logKey string) ([]string, error) {
	logV, err := note.NewVerifier(logKey)
	if err != nil {
		return nil, fmt.Errorf("bad log key: %v", err)
	}
	vs := []note.Verifier{logV}
	for _, w := range p.Witnesses {
		v, err := NewVerifier(w.Key)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	var invalid *note.InvalidSignatureError
	if errors.As(err, &invalid) {
		return nil, fmt.Errorf("the signature by %s does not verify", invalid.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("the checkpoint does not open: %v", err)
	}
	byLog := false
	var names []string
	for _, s := range n.Sigs {
		if s.Name == logV.Name() && s.Hash == logV.KeyHash() {
			byLog = true
			continue
		}
		names = append(names, s.Name)
	}
	if !byLog {
		return nil, errors.New("the checkpoint is not signed by the log's key")
	}
	var ordered []string
	for _, name := range p.Names() {
		if slices.Contains(names, name) {
			ordered = append(ordered, name)
		}
	}
	return ordered, nil
}
