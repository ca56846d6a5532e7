package ballot

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The checks a verifier runs over an election's public data, in order:
//
//	Trustees.Check           the key and the trustees' keys match the commitments
//	Election.VerifyBallot    every ballot's proofs
//	Sums.AddBallot, Equal    the sums are the sums of the ballots
//	Election.VerifyPartial   every partial decryption
//	Election.CheckResults    the combination and the results
//
// Each returns an error that says what failed.

// CheckResults checks that the given partial decryptions, which must be
// exactly Threshold verified ones, decrypt the sums to counts whose results
// encode to exactly the claimed bytes.
func (e *Election) CheckResults(t *Trustees, sums *Sums, combined []*PartialDecryption, claimed []byte) error {
	for _, p := range combined {
		if err := e.VerifyPartial(t, sums, p); err != nil {
			return err
		}
	}
	counts, err := e.Counts(t, sums, combined)
	if err != nil {
		return err
	}
	derived, err := json.Marshal(e.MakeResults(sums, counts))
	if err != nil {
		return err
	}
	if !bytes.Equal(derived, claimed) {
		return fmt.Errorf("they differ from what the partial decryptions give: %s", derived)
	}
	return nil
}
