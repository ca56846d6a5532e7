package ballot

import (
	"bytes"
	"encoding/hex"
	"primaryvote/audit/entry"
	"primaryvote/audit/record"
	"sort"

	"golang.org/x/mod/sumdb/tlog"
)

// RollEntry is a voter as the public sees them: a pseudonym, the public
// credential the credential authority made them, and a group.
type RollEntry struct {
	Pseudonym  [32]byte
	Credential [32]byte
	Group      string
}

// RollCommitment is what the log records when an election opens: how many
// voters it has and the root of an RFC 6962 tree whose leaves are the roll
// entries, sorted by pseudonym, each encoded pseudonym ‖ credential ‖ group.
type RollCommitment = entry.RollCommitment

// CommitRoll sorts entries by pseudonym and returns their commitment.
func CommitRoll(entries []RollEntry) (RollCommitment, error) {
	sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i].Pseudonym[:], entries[j].Pseudonym[:]) < 0 })
	var hashes record.MemoryHashes
	for i, e := range entries {
		leaf := append(append(append(make([]byte, 0, 64+len(e.Group)), e.Pseudonym[:]...), e.Credential[:]...), e.Group...)
		hs, err := tlog.StoredHashes(int64(i), leaf, hashes)
		if err != nil {
			return RollCommitment{}, err
		}
		hashes = append(hashes, hs...)
	}
	c := RollCommitment{Voters: len(entries)}
	if len(entries) > 0 {
		root, err := tlog.TreeHash(int64(len(entries)), hashes)
		if err != nil {
			return RollCommitment{}, err
		}
		c.Root = hex.EncodeToString(root[:])
	}
	return c, nil
}
