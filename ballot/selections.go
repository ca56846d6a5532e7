package ballot

import (
	"encoding/base32"
	"strings"

	pv "primaryvote"
)

// Selections maps a question id to the ids of the candidates chosen in it.
type Selections map[string][]string

// Validate checks a ballot's selections against the election: every question
// is known, every candidate belongs to its question and is chosen at most
// once, and each question has between its minimum and maximum selections (an
// omitted question counts as none).
func (e *Election) Validate(sel Selections) error {
	known := map[string]*Question{}
	for i := range e.Questions {
		known[e.Questions[i].ID] = &e.Questions[i]
	}
	for qid := range sel {
		if known[qid] == nil {
			return pv.Errorf(pv.EInvalid, "unknown question %q", qid)
		}
	}
	for _, q := range e.Questions {
		chosen := sel[q.ID]
		if len(chosen) < q.MinSelections || len(chosen) > q.MaxSelections {
			if q.MinSelections == q.MaxSelections {
				return pv.Errorf(pv.EInvalid, "question %q needs exactly %d selection(s), got %d", q.ID, q.MinSelections, len(chosen))
			}
			return pv.Errorf(pv.EInvalid, "question %q needs %d to %d selections, got %d", q.ID, q.MinSelections, q.MaxSelections, len(chosen))
		}
		seen := map[string]bool{}
		for _, c := range chosen {
			if !q.hasCandidate(c) {
				return pv.Errorf(pv.EInvalid, "question %q has no candidate %q", q.ID, c)
			}
			if seen[c] {
				return pv.Errorf(pv.EInvalid, "question %q: candidate %q chosen twice", q.ID, c)
			}
			seen[c] = true
		}
	}
	return nil
}

func (q *Question) hasCandidate(id string) bool {
	for _, c := range q.Candidates {
		if c.ID == id {
			return true
		}
	}
	return false
}

// trackingEncoding is Crockford's base32 alphabet, without padding.
var trackingEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// TrackingCode formats a ballot hash as a voter sees it: 52 symbols of
// Crockford base32 in groups of four, joined by '-'.
func TrackingCode(sum [32]byte) string {
	s := trackingEncoding.EncodeToString(sum[:])
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// ParseTrackingCode reads a tracking code as a voter may type it (any case,
// with or without hyphens or spaces, O for 0, I or L for 1) and returns it in
// its canonical form.
func ParseTrackingCode(s string) (string, error) {
	if len(s) > 128 {
		return "", pv.Errorf(pv.EInvalid, "not a tracking code")
	}
	r := strings.NewReplacer("-", "", " ", "", "O", "0", "I", "1", "L", "1")
	raw, err := trackingEncoding.DecodeString(r.Replace(strings.ToUpper(s)))
	if err != nil || len(raw) != 32 {
		return "", pv.Errorf(pv.EInvalid, "not a tracking code: it has 52 characters of 0-9 and A-Z")
	}
	return TrackingCode([32]byte(raw)), nil
}
