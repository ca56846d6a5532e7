package cosign

import (
	"fmt"
	"net/url"
	"slices"

	"golang.org/x/mod/sumdb/note"

	"primaryvote/audit/record"
	"primaryvote/internal/strictjson"
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

// ParsePolicy reads a policy's JSON strictly (internal/strictjson) and
// checks it.
func ParsePolicy(b []byte) (*Policy, error) {
	var p Policy
	if err := strictjson.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("a witness policy: %v", err)
	}
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("a witness policy: %v", err)
	}
	return &p, nil
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

// Open opens a signed checkpoint with its cosignatures: the log's
// signature must verify under logKey, and every cosignature by one of the
// policy's witnesses must verify. It returns the checkpoint and the names
// of the policy's witnesses that cosigned it, in the policy's order;
// signatures by other keys are ignored.
func (p *Policy) Open(signed []byte, logKey string) (record.Checkpoint, []string, error) {
	vs := make([]note.Verifier, 0, len(p.Witnesses))
	for _, w := range p.Witnesses {
		v, err := NewVerifier(w.Key)
		if err != nil {
			return record.Checkpoint{}, nil, err
		}
		vs = append(vs, v)
	}
	c, names, err := record.OpenCosigned(signed, logKey, vs...)
	if err != nil {
		return c, nil, err
	}
	var ordered []string
	for _, v := range vs {
		if slices.Contains(names, v.Name()) {
			ordered = append(ordered, v.Name())
		}
	}
	return c, ordered, nil
}

// Cosigners is Open's names of the policy's witnesses that cosigned.
func (p *Policy) Cosigners(signed []byte, logKey string) ([]string, error) {
	_, names, err := p.Open(signed, logKey)
	return names, err
}
