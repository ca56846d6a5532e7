package elections

import (
	"crypto/sha256"
	"strings"
	"testing"
	"unicode/utf8"

	"primaryvote/ballot"
)

// FuzzRollReader: the roll reader never panics, and every row it passes to
// the database satisfies the roll's rules.
func FuzzRollReader(f *testing.F) {
	f.Add("voter_id,group,region\nA1,members,north\nA2,public,서울\n")
	f.Add("voter_id,group,region\nA1,members,north\nA1,public,x\n")
	f.Add("voter_id,group,region\n\"A1\",\"members\",\"a,b\"\n")
	f.Add("\ufeffvoter_id,group,region\nA1,nobody,x\n")
	f.Fuzz(func(t *testing.T, file string) {
		r := &rollReader{roll: ballot.NewRollReader(strings.NewReader(file), "members", "public"), id: "e1", pseudonyms: fakePseudonyms{}}
		if r.roll.ReadHeader() != nil {
			return
		}
		ids := map[string]bool{}
		for r.Next() {
			row, _ := r.Values()
			id, group, region := row[1].(string), row[2].(string), row[3].(string)
			if !ballot.ValidVoterID(id) || ids[id] {
				t.Fatalf("accepted voter id %q", id)
			}
			ids[id] = true
			if group != "members" && group != "public" {
				t.Fatalf("accepted group %q", group)
			}
			if region == "" || !utf8.ValidString(region) {
				t.Fatalf("accepted region %q", region)
			}
		}
	})
}

type fakePseudonyms struct{}

func (fakePseudonyms) Pseudonym(e, v string) [32]byte { return sha256.Sum256([]byte(e + "/" + v)) }
