package bundle

import (
	"reflect"
	"strings"
	"testing"
)

// TestDecodeLineAgreesWithJSON checks that the fast path for ballot, record
// and voter lines decodes exactly what the JSON decoder does, and leaves
// every other shape to it.
func TestDecodeLineAgreesWithJSON(t *testing.T) {
	t.Parallel()
	fast := []string{
		`{"type":"ballot","group":"members","content":"UFZCMQ=="}`,
		`{"type":"ballot","group":"","content":""}`,
		`{"type":"record","position":0,"record":"AAEC"}`,
		`{"type":"record","position":123456789012345678,"record":"UFZMMQ=="}`,
		`{"type":"voter","pseudonym":"00","credential":"11","group":"members"}`,
		`{"type":"voter","pseudonym":"00","credential":"","group":"members"}`,
	}
	slow := []string{
		`{"type": "ballot","group":"members","content":"UFZCMQ=="}`,                              // spacing
		`{"type":"ballot","content":"UFZCMQ==","group":"members"}`,                               // member order
		`{"type":"ballot","group":"m\u0065mbers","content":"UFZCMQ=="}`,                          // an escape
		`{"type":"ballot","group":"회원","content":"UFZCMQ=="}`,                                    // not ASCII
		`{"type":"ballot","group":"members","content":"UFZCMQ==","extra":1}`,                     // unknown member
		`{"type":"ballot","group":"members","content":"UFZC\nMQ=="}`,                             // control character
		`{"type":"ballot","group":"members","content":"UFZC\u004dQ=="}`,                          // escaped base64
		`{"type":"ballot","group":"members","content":"UFZCMQ="}`,                                // bad base64
		`{"type":"ballot","group":"members","content":"UFZCMR=="}`,                               // non-canonical base64
		`{"type":"ballot","group":"members","content":"UFZCMQ"}`,                                 // unpadded base64
		`{"type":"ballot","group":"members","content":"-_8="}`,                                   // URL alphabet
		`{"type":"ballot","group":"members","content":"UFZCMQ=="}{"type":"end"}`,                 // two values
		`{"type":"ballot","group":"members","content":"UFZCMQ=="} `,                              // trailing space
		`{"type":"record","position":01,"record":"AAEC"}`,                                        // leading zero
		`{"type":"record","position":-1,"record":"AAEC"}`,                                        // negative
		`{"type":"record","position":1e3,"record":"AAEC"}`,                                       // exponent
		`{"type":"record","position":1.0,"record":"AAEC"}`,                                       // fraction
		`{"type":"record","position":99999999999999999999,"record":"AAEC"}`,                      // too big
		`{"type":"record","position":1,"record":"AAEC","position":2}`,                            // repeated member
		`{"type":"record","position":1,"record":null}`,                                           // null
		`{"type":"voter","pseudonym":"00","credential":"11","group":"members","group":"public"}`, // repeated member
		`{"type":"voter","pseudonym":"00","credential":"11","Group":"members"}`,                  // case variant
		`{"type":"voter","pseudonym":"0\u0030","credential":"11","group":"members"}`,             // an escape
		`{"type":"voter","group":"members","credential":"11","pseudonym":"00"}`,                  // member order
		`{"type":"voter","pseudonym":"00","group":"members"}`,                                    // no credential
		`{"type":"sums","sums":"AAEC"}`,                                                          // another type
	}
	for _, s := range append(fast, slow...) {
		var viaJSON, viaLine line
		errJSON := decodeJSON([]byte(s), &viaJSON)
		errLine := decodeLine([]byte(s), &viaLine)
		if (errJSON == nil) != (errLine == nil) || !reflect.DeepEqual(viaJSON, viaLine) {
			t.Errorf("%s:\n JSON  %+v, %v\n line  %+v, %v", s, viaJSON, errJSON, viaLine, errLine)
		}
	}
	for _, s := range fast {
		if !decodeExported([]byte(s), new(line)) {
			t.Errorf("%s: not taken by the fast path", s)
		}
	}
	for _, s := range slow {
		if decodeExported([]byte(s), new(line)) {
			t.Errorf("%s: taken by the fast path", s)
		}
	}
}

// TestDecodeLineIsStrict: every line is exactly its type's members, each
// once, named exactly.
func TestDecodeLineIsStrict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`{"type":"results","results":{"a":1},"results":{"a":2}}`, `duplicate object member name "results"`},
		{`{"type":"results","results":{"a":1,"a":2}}`, `duplicate object member name "a"`},
		{`{"type":"partial","Trustee":1,"trustee":1,"shares":"","proof":""}`, `unexpected member "Trustee"`},
		{`{"Type":"end","lines":1}`, `no type`},
		{`{"type":"end","lines":1,"trustee":2}`, `unexpected member "trustee" in a end line`},
		{`{"type":"partial","trustee":1,"shares":""}`, `a partial line without "proof"`},
		{`{"type":"spoiled","content":""}`, `unknown type "spoiled"`},
		{`{"type":"end","lines":1} {"type":"end","lines":1}`, `after top-level value`},
		{`["type","end"]`, `unmarshal JSON array`},
		{"{\"type\":\"election\",\"status\":\"open\",\"definition\":{\"id\":\"\xff\"}}", `invalid UTF-8`},
	} {
		var l line
		if err := decodeLine([]byte(tc.in), &l); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decodeLine(%s) = %v; want an error containing %q", tc.in, err, tc.want)
		}
	}
}

// FuzzDecodeLine: whatever the fast path accepts, the JSON decoder accepts
// and decodes the same.
func FuzzDecodeLine(f *testing.F) {
	for _, s := range []string{
		`{"type":"ballot","group":"members","content":"UFZCMQ=="}`,
		`{"type":"record","position":7,"record":"AAEC"}`,
		`{"type":"voter","pseudonym":"00ff","credential":"aa","group":"members"}`,
		`{"type":"ballot","group":"members","content":"UFZCMR=="}`,
		`{"type":"end","lines":3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var viaFast, viaJSON line
		if !decodeExported(b, &viaFast) {
			return
		}
		if err := decodeJSON(b, &viaJSON); err != nil {
			t.Fatalf("%q: the fast path accepts it, the JSON decoder says %v", b, err)
		}
		if !reflect.DeepEqual(viaFast, viaJSON) {
			t.Fatalf("%q: fast %+v, JSON %+v", b, viaFast, viaJSON)
		}
	})
}
