package ballot

import (
	"encoding/json"
	"fmt"
)

// The checks a verifier runs over an election's public data, in order:
//
//	Trustees.Check           the key and the trustees' keys match the commitments
//	Election.VerifyBallot    every ballot's proofs
//	Sums.AddBallot, Equal    the sums are the sums of the ballots
//	Election.CheckTally      the partial decryptions and the published results
//
// Each returns an error that says what failed.

// CheckTally verifies every partial decryption (naming each trustee whose
// proof fails), combines the first Threshold valid ones, and checks that the
// results derived from them are exactly the published ones.
func (e *Election) CheckTally(t *Trustees, sums *Sums, partials []*PartialDecryption, published *Results) error {
	var valid []*PartialDecryption
	var bad []error
	for _, p := range partials {
		if err := e.VerifyPartial(t, sums, p); err != nil {
			bad = append(bad, err)
			continue
		}
		valid = append(valid, p)
	}
	if len(valid) < t.Threshold {
		return fmt.Errorf("%d valid partial decryptions of the %d needed (%v)", len(valid), t.Threshold, bad)
	}
	counts, err := e.Counts(t, sums, valid[:t.Threshold])
	if err != nil {
		return err
	}
	derived, err := json.Marshal(e.MakeResults(sums, counts))
	if err != nil {
		return err
	}
	claimed, err := json.Marshal(published)
	if err != nil {
		return err
	}
	if string(derived) != string(claimed) {
		return fmt.Errorf("the published results differ from the decrypted sums: derived %s", derived)
	}
	return nil
}
