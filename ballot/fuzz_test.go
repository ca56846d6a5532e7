package ballot

import (
	"bytes"
	"testing"
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
