package api

import (
	"encoding/json"
	"testing"

	pv "primaryvote"
)

// FuzzDecodeStrict: whatever the body, decoding a ballot request either
// fails with an invalid-input error or yields a value that re-encodes and
// decodes to itself.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{"selections":{"leader":["a"],"council":["p","q"]}}`,
		`{"selections":{"a":["x"],"a":["y"]}}`,
		`{"selections":{}} {}`,
		`{"selections":null}`,
		`{"selections":{"q":[1]}}`,
		"{\"selections\":{\"q\":[\"\xff\"]}}",
		`{"encrypted":"AAAA"}`, `{"encrypted":["a"]}`,
		`[]`, ``, `{"x":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req castRequest
		err := decodeStrict(body, &req)
		if err != nil {
			if pv.ErrorCode(err) != pv.EInvalid {
				t.Fatalf("decodeStrict(%q) = %v; want an invalid-input error", body, err)
			}
			return
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var back castRequest
		if err := decodeStrict(again, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
	})
}

func TestCheckDuplicateKeys(t *testing.T) {
	t.Parallel()
	for body, dup := range map[string]bool{
		`{"a":1,"b":{"a":2}}`:        false,
		`{"a":1,"a":2}`:              true,
		`{"a":{"b":1,"b":2}}`:        true,
		`[{"a":1},{"a":1}]`:          false,
		`{"a":[{"x":1,"x":1}]}`:      true,
		`{"a\u0041":1,"aA":2}`:       true,
		`{"selections":{"q":["a"]}}`: false,
	} {
		err := checkDuplicateKeys([]byte(body))
		if (err != nil) != dup {
			t.Errorf("checkDuplicateKeys(%s) = %v; want duplicate %v", body, err, dup)
		}
	}
}
