// Package ballot runs elections: their definitions and lifecycle, the voter
// roll, casting one secret ballot per voter, turnout, and the count.
//
// The rules that matter most are enforced by the database, not by checks in
// Go: one ballot per voter is the primary key of the participation table, and
// a ballot, its participation row, its idempotency record and its audit entry
// commit in one transaction. The ballots table has no voter column, no
// timestamp and no sequential id.
//
// Ballots are secret because they are encrypted, not because the database is
// trusted. Each candidate on a ballot is an exponential-ElGamal ciphertext of
// 0 or 1 under the election key, on ristretto255, with a zero-knowledge
// proof that it is 0 or 1, and each question carries a proof that its total
// is within the allowed number of selections (Encrypt, VerifyBallot). The
// trustees make the election key together in a key ceremony (Ceremony), and
// its secret is never assembled: after the vote, the ciphertexts are
// added up per candidate and group (Tally), each trustee publishes a partial
// decryption with a proof (PartialDecrypt), and any threshold of them give
// the counts (Counts, MakeResults). Everything a verifier needs is public, and
// the checks are functions here (see verify.go); FORMAT.md gives the bytes.
package ballot

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"time"
	"unicode/utf8"

	pv "primaryvote"
	"primaryvote/internal/strictjson"
)

// Status is an election's place in its lifecycle. It only moves forward:
// draft → open → closed → tallied → published.
type Status string

const (
	Draft     Status = "draft"
	Open      Status = "open"
	Closed    Status = "closed"
	Tallied   Status = "tallied"
	Published Status = "published"
)

// Election is an election's definition and state.
type Election struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	// OpensAt and ClosesAt bound when ballots are accepted, by the server's
	// clock, in addition to the election being open. Either may be nil.
	OpensAt   *time.Time `json:"opens_at,omitempty"`
	ClosesAt  *time.Time `json:"closes_at,omitempty"`
	Groups    []Group    `json:"groups"`
	Questions []Question `json:"questions"`
	// Key is the election's public key, set by the key ceremony (nil before).
	Key *ElectionKey `json:"public_key,omitempty"`
}

// Group is a voter group; its weight is its share of the combined result.
type Group struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
}

// Question is one contest on the ballot: a voter selects between
// MinSelections and MaxSelections of its candidates.
type Question struct {
	ID            string      `json:"id"`
	Title         string      `json:"title"`
	MinSelections int         `json:"min_selections"`
	MaxSelections int         `json:"max_selections"`
	Candidates    []Candidate `json:"candidates"`
}

// Candidate is one option of a question.
type Candidate struct {
	ID        string `json:"id"`
	Number    int    `json:"number"`
	Name      string `json:"name"`
	Statement string `json:"statement"`
}

// Definition is the document an official writes to create an election (see
// README.md, "Election definition").
type Definition struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	OpensAt   *time.Time `json:"opens_at,omitempty"`
	ClosesAt  *time.Time `json:"closes_at,omitempty"`
	Groups    []Group    `json:"groups"`
	Questions []Question `json:"questions"`
}

// Limits on a definition.
const (
	maxDefinitionBytes = 1 << 20
	maxQuestions       = 50
	maxCandidates      = 100
	maxGroups          = 20
	maxTitleRunes      = 200
	maxStatementRunes  = 2000
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ParseDefinition reads and validates an election definition. Unknown,
// repeated and case-variant members, trailing data and invalid UTF-8 are
// errors.
func ParseDefinition(r io.Reader) (*Definition, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxDefinitionBytes+1))
	if err != nil {
		return nil, fmt.Errorf("couldn't read definition: %w", err)
	}
	if len(data) > maxDefinitionBytes {
		return nil, pv.Errorf(pv.EInvalid, "definition is larger than %d bytes", maxDefinitionBytes)
	}
	if !utf8.Valid(data) {
		return nil, pv.Errorf(pv.EInvalid, "definition is not valid UTF-8")
	}
	var d Definition
	if err := strictjson.Unmarshal(data, &d); err != nil {
		return nil, pv.Errorf(pv.EInvalid, "definition: %v", err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Validate checks every rule of a definition and returns the first broken one.
func (d *Definition) Validate() error {
	bad := func(format string, args ...any) error { return pv.Errorf(pv.EInvalid, format, args...) }
	if !idPattern.MatchString(d.ID) {
		return bad("election id %q must be 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit", d.ID)
	}
	if err := CheckText("election title", d.Title, maxTitleRunes, false); err != nil {
		return err
	}
	if d.OpensAt != nil && d.ClosesAt != nil && !d.OpensAt.Before(*d.ClosesAt) {
		return bad("opens_at must be before closes_at")
	}
	if len(d.Groups) == 0 || len(d.Groups) > maxGroups {
		return bad("an election needs 1 to %d voter groups", maxGroups)
	}
	seen := map[string]bool{}
	var total float64
	for _, g := range d.Groups {
		if !idPattern.MatchString(g.ID) {
			return bad("group id %q must be 1-64 of a-z, 0-9, '-' and '_'", g.ID)
		}
		if seen[g.ID] {
			return bad("group %q is defined twice", g.ID)
		}
		seen[g.ID] = true
		if err := CheckText("group "+g.ID+" name", g.Name, maxTitleRunes, false); err != nil {
			return err
		}
		if !(g.Weight > 0 && g.Weight <= 1) {
			return bad("group %q weight must be in (0, 1]", g.ID)
		}
		total += g.Weight
	}
	if math.Abs(total-1) > 1e-9 {
		return bad("group weights must add up to 1 (they add up to %g)", total)
	}
	if len(d.Questions) == 0 || len(d.Questions) > maxQuestions {
		return bad("an election needs 1 to %d questions", maxQuestions)
	}
	seenQ := map[string]bool{}
	for _, q := range d.Questions {
		if !idPattern.MatchString(q.ID) {
			return bad("question id %q must be 1-64 of a-z, 0-9, '-' and '_'", q.ID)
		}
		if seenQ[q.ID] {
			return bad("question %q is defined twice", q.ID)
		}
		seenQ[q.ID] = true
		if err := CheckText("question "+q.ID+" title", q.Title, maxTitleRunes, false); err != nil {
			return err
		}
		n := len(q.Candidates)
		if n == 0 || n > maxCandidates {
			return bad("question %q needs 1 to %d candidates", q.ID, maxCandidates)
		}
		if q.MinSelections < 0 || q.MaxSelections < 1 || q.MinSelections > q.MaxSelections || q.MaxSelections > n {
			return bad("question %q: need 0 <= min_selections <= max_selections <= %d and max_selections >= 1", q.ID, n)
		}
		seenC := map[string]bool{}
		seenN := map[int]bool{}
		for _, c := range q.Candidates {
			if !idPattern.MatchString(c.ID) {
				return bad("question %q: candidate id %q must be 1-64 of a-z, 0-9, '-' and '_'", q.ID, c.ID)
			}
			if seenC[c.ID] {
				return bad("question %q: candidate %q is defined twice", q.ID, c.ID)
			}
			seenC[c.ID] = true
			if c.Number < 1 || seenN[c.Number] {
				return bad("question %q: candidate %q needs a unique number >= 1", q.ID, c.ID)
			}
			seenN[c.Number] = true
			if err := CheckText("candidate "+c.ID+" name", c.Name, maxTitleRunes, false); err != nil {
				return err
			}
			if err := CheckText("candidate "+c.ID+" statement", c.Statement, maxStatementRunes, true); err != nil {
				return err
			}
		}
	}
	if n := (&Election{ID: d.ID, Questions: d.Questions}).BallotSize(); n > MaxBallotSize {
		return bad("an encrypted ballot for this definition would take %d bytes; at most %d fit in a cast (fewer questions or candidates)", n, MaxBallotSize)
	}
	return nil
}

// MaxBallotSize bounds an encrypted ballot, so that every ballot a
// definition allows fits in the body of a cast, base64 in JSON. A question
// of n candidates takes about 512·n bytes of it.
const MaxBallotSize = 46 << 10

// CheckText allows printable text of at most max runes, no control
// characters, and empty text only if mayBeEmpty; what names it in the error.
func CheckText(what, s string, max int, mayBeEmpty bool) error {
	if s == "" && !mayBeEmpty {
		return pv.Errorf(pv.EInvalid, "%s is empty", what)
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return pv.Errorf(pv.EInvalid, "%s must be valid UTF-8 of at most %d characters", what, max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return pv.Errorf(pv.EInvalid, "%s contains a control character", what)
		}
	}
	return nil
}

// Phase is where an election stands for a voter: what the pages say of it.
type Phase string

const (
	PhaseDraft     Phase = "draft"     // not public yet
	PhaseUpcoming  Phase = "upcoming"  // open, before its window
	PhaseVoting    Phase = "voting"    // taking ballots
	PhaseEnded     Phase = "ended"     // past its window or closed; the count is under way
	PhasePublished Phase = "published" // the results are public
)

// PhaseAt returns e's phase at t.
func (e *Election) PhaseAt(t time.Time) Phase {
	switch e.Status {
	case Draft:
		return PhaseDraft
	case Published:
		return PhasePublished
	case Open:
		switch {
		case e.OpensAt != nil && t.Before(*e.OpensAt):
			return PhaseUpcoming
		case e.ClosesAt != nil && !t.Before(*e.ClosesAt):
			return PhaseEnded
		}
		return PhaseVoting
	}
	return PhaseEnded
}

// AcceptsBallotsAt reports whether e takes ballots at t: it is open and t is
// inside its window.
func (e *Election) AcceptsBallotsAt(t time.Time) error {
	if e.Status != Open {
		return pv.Errorf(pv.EConflict, "the election is %s, not open", e.Status)
	}
	if e.OpensAt != nil && t.Before(*e.OpensAt) {
		return pv.Errorf(pv.EConflict, "voting has not started yet; it opens at %s", e.OpensAt.UTC().Format(time.RFC3339))
	}
	if e.ClosesAt != nil && !t.Before(*e.ClosesAt) {
		return pv.Errorf(pv.EConflict, "voting ended at %s", e.ClosesAt.UTC().Format(time.RFC3339))
	}
	return nil
}
