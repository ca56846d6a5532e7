package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// primaryDefinition is a single race, one of six candidates, like the party
// leader primaries this is built for.
const primaryDefinition = `{
  "id": "bench",
  "title": "당대표 선출 경선 (벤치마크)",
  "groups": [
    {"id": "delegates", "name": "대의원", "weight": 0.3},
    {"id": "members", "name": "권리당원", "weight": 0.4},
    {"id": "public", "name": "일반국민", "weight": 0.3}
  ],
  "questions": [
    {
      "id": "leader", "title": "당대표 (1명 선택)", "min_selections": 1, "max_selections": 1,
      "candidates": [
        {"id": "c1", "number": 1, "name": "후보 1"}, {"id": "c2", "number": 2, "name": "후보 2"},
        {"id": "c3", "number": 3, "name": "후보 3"}, {"id": "c4", "number": 4, "name": "후보 4"},
        {"id": "c5", "number": 5, "name": "후보 5"}, {"id": "c6", "number": 6, "name": "후보 6"}
      ]
    }
  ]
}
`

// demoDefinitionFile holds the demo's two races (one of four, and one or
// two of five: nine ciphertexts a ballot), which the bench plays as "bench".
const demoDefinitionFile = "cmd/primaryctl/demo.json"

// definition returns the election definition the bench plays, with id
// "bench".
func definition(ballot string) ([]byte, error) {
	if ballot == "primary" {
		return []byte(primaryDefinition), nil
	}
	raw, err := os.ReadFile(demoDefinitionFile)
	if err != nil {
		return nil, fmt.Errorf("the demo ballot is read from %s, from the repository's root: %w", demoDefinitionFile, err)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", demoDefinitionFile, err)
	}
	d["id"] = "bench"
	return json.Marshal(d)
}

// writeRoll writes a roll of n voters, M0000001 on, in the definitions'
// three groups (a tenth delegates, half members, the rest public) across
// the sixteen regions.
func writeRoll(path string, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	regions := strings.Fields("서울 부산 대구 인천 광주 대전 울산 경기 강원 충북 충남 전북 전남 경북 경남 제주")
	fmt.Fprintln(w, "voter_id,group,region")
	for i := 1; i <= n; i++ {
		group := "public"
		switch {
		case i%10 == 0:
			group = "delegates"
		case i%10 <= 5:
			group = "members"
		}
		fmt.Fprintf(w, "M%07d,%s,%s\n", i, group, regions[i%16])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// randomPassphrases makes n trustees' passphrases with crypto/rand.
func randomPassphrases(n int) []string {
	out := make([]string, n)
	for i := range out {
		b := make([]byte, 18)
		rand.Read(b)
		out[i] = hex.EncodeToString(b)
	}
	return out
}
