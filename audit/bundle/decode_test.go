package bundle

import (
	"reflect"
	"strings"
	"testing"
)

// TestDecodeLineAgreesWithJSON checks that the fast path for ballot and
// record lines decodes exactly what the JSON decoder does, and leaves every
// other shape to it.
func TestDecodeLineAgreesWithJSON(t *testing.T) {
	fast := []string{
		`{"type":"ballot","group":"members","content":"UFZCMQ=="}`,
		`{"type":"ballot","group":"","content":""}`,
		`{"type":"record","position":0,"record":"AAEC"}`,
		`{"type":"record","position":123456789012345678,"record":"UFZMMQ=="}`,
	}
	slow := []string{
		`{"type": "ballot","group":"members","content":"UFZCMQ=="}`,              // spacing
		`{"type":"ballot","content":"UFZCMQ==","group":"members"}`,               // field order
		`{"type":"ballot","group":"m\u0065mbers","content":"UFZCMQ=="}`,          // an escape
		`{"type":"ballot","group":"회원","content":"UFZCMQ=="}`,                    // not ASCII
		`{"type":"ballot","group":"members","content":"UFZCMQ==","extra":1}`,     // unknown field
		`{"type":"ballot","group":"members","content":"UFZC\nMQ=="}`,             // control character
		`{"type":"ballot","group":"members","content":"UFZC\u004dQ=="}`,          // escaped base64
		`{"type":"ballot","group":"members","content":"UFZCMQ="}`,                // bad base64
		`{"type":"ballot","group":"members","content":"UFZCMQ=="}{"type":"end"}`, // two values
		`{"type":"ballot","group":"members","content":"UFZCMQ=="} `,              // trailing space
		`{"type":"record","position":01,"record":"AAEC"}`,                        // leading zero
		`{"type":"record","position":-1,"record":"AAEC"}`,                        // negative
		`{"type":"record","position":1e3,"record":"AAEC"}`,                       // exponent
		`{"type":"record","position":99999999999999999999,"record":"AAEC"}`,      // too big
		`{"type":"record","position":1,"record":"AAEC","position":2}`,            // repeated field
		`{"type":"record","position":1,"record":null}`,                           // null
		`{"type":"voter","pseudonym":"00","group":"members"}`,                    // another type
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
	if err := decodeLine([]byte(`{"type":"end","lines":1} {"type":"end"}`), new(line)); err == nil || !strings.Contains(err.Error(), "more than one") {
		t.Errorf("two values on a line: %v", err)
	}
}
