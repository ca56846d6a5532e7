package ballot

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseDefinition(f *testing.F) {
	f.Add([]byte(`{"id":"e1","title":"T","groups":[{"id":"g","name":"G","weight":1}],"questions":[{"id":"q","title":"Q","min_selections":1,"max_selections":1,"candidates":[{"id":"c","number":1,"name":"C","statement":""}]}]}`))
	f.Add([]byte(`{"id":"e1"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDefinition(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever parses is valid, and every question can be answered.
		if err := d.Validate(); err != nil {
			t.Fatalf("parsed definition fails Validate: %v", err)
		}
		for _, q := range d.Questions {
			if q.MinSelections > len(q.Candidates) || q.MaxSelections < 1 {
				t.Fatalf("question %s cannot be answered", q.ID)
			}
		}
	})
}

// FuzzRollReader: the roll reader never panics, and every row it passes to
// the database satisfies the roll's rules.
func FuzzRollReader(f *testing.F) {
	f.Add("voter_id,group,region\nA1,members,north\nA2,public,서울\n")
	f.Add("voter_id,group,region\nA1,members,north\nA1,public,x\n")
	f.Add("voter_id,group,region\n\"A1\",\"members\",\"a,b\"\n")
	f.Add("\ufeffvoter_id,group,region\nA1,nobody,x\n")
	f.Fuzz(func(t *testing.T, file string) {
		r := &rollReader{csv: csv.NewReader(strings.NewReader(file)), seen: map[string]struct{}{},
			groups: map[string]int{"members": 0, "public": 0}, id: "e1", pseudonyms: fakePseudonyms{}}
		r.csv.FieldsPerRecord = 3
		r.csv.ReuseRecord = true
		if r.readHeader() != nil {
			return
		}
		ids := map[string]bool{}
		for r.Next() {
			row, _ := r.Values()
			id, group, region := row[1].(string), row[2].(string), row[3].(string)
			if !voterIDPattern.MatchString(id) || ids[id] {
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
