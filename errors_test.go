package primaryvote

import "testing"

func TestErrorfWritesSentences(t *testing.T) {
	for format, want := range map[string]string{
		"no election %q":                     `No election "e1".`,
		"The request body is not valid: %s.": "The request body is not valid: e1.",
		"%q is empty":                        `"e1" is empty.`,
		"line 3: %s":                         "Line 3: e1.",
		"élection %s?":                       "Élection e1?",
	} {
		if got := Errorf(EInvalid, format, "e1").Message; got != want {
			t.Errorf("Errorf(%q) = %q; want %q", format, got, want)
		}
	}
	if got := ErrorCode(Errorf(EConflict, "x")); got != EConflict {
		t.Errorf("ErrorCode = %q", got)
	}
}
