package api

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	pv "primaryvote"
	"primaryvote/ballot"
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

func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"encrypted":"AAAA"}`:                      "",
		` {"encrypted":"AAAA"} `:                    "",
		`{"encrypted":"AAAA","encrypted":"AAAA"}`:   `has the key "encrypted" twice`,
		`{"encrypted":"AAAA","encrypt\u0065d":"A"}`: `has the key "encrypted" twice`,
		`{"Encrypted":"AAAA"}`:                      `unknown field "Encrypted"`,
		`{"encrypted":"AAAA","voter":"V1"}`:         `unknown field "voter"`,
		`{"encrypted":"AAAA"} {}`:                   "data after its JSON value",
		`{"encrypted":"AAAA"}x`:                     "data after its JSON value",
		`{"encrypted":["a"]}`:                       `field "encrypted" must be a string`,
		`{"encrypted":`:                             "empty or cut short",
		``:                                          "empty or cut short",
		`{"encrypted" "AAAA"}`:                      "malformed JSON at byte",
		`[]`:                                        "must be an object",
		"{\"encrypted\":\"\xff\"}":                  "not valid UTF-8",
	} {
		var req castRequest
		err := decodeStrict([]byte(body), &req)
		if want == "" {
			if err != nil {
				t.Errorf("decodeStrict(%s) = %v", body, err)
			}
			continue
		}
		if pv.ErrorCode(err) != pv.EInvalid || !strings.Contains(err.Error(), want) {
			t.Errorf("decodeStrict(%s) = %v; want an invalid-input error saying %q", body, err, want)
		}
	}
}

// BenchmarkDecodeCast reads a cast's body: one race of six candidates, a
// ballot of about 3.3 KB in base64.
func BenchmarkDecodeCast(b *testing.B) {
	body := []byte(`{"encrypted":"` + strings.Repeat("QUJD", 1150) + `"}`)
	for b.Loop() {
		var req castRequest
		if err := decodeStrict(body, &req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLargestBallotFitsACast: the cast of the largest ballot a definition
// may have, base64 in JSON, is within the body limit.
func TestLargestBallotFitsACast(t *testing.T) {
	encrypted := base64.StdEncoding.EncodeToString(make([]byte, ballot.MaxBallotSize))
	body, err := json.Marshal(castRequest{Encrypted: &encrypted})
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > maxBallotBody {
		t.Fatalf("a cast of %d ballot bytes is %d bytes; the limit is %d", ballot.MaxBallotSize, len(body), maxBallotBody)
	}
}
