// Package strictjson reads JSON documents that are signed, logged or
// verified, where two readers must never see different values in the same
// bytes: a member the target type does not name, a member named twice (Go's
// encoding/json keeps the last), a member whose name differs from the
// type's only in case (encoding/json matches those), invalid UTF-8 and data
// after the value are all errors.
package strictjson

import (
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

var options = json.JoinOptions(
	json.RejectUnknownMembers(true),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// Unmarshal decodes exactly one JSON value from b into v under the rules
// above.
func Unmarshal(b []byte, v any) error {
	return json.Unmarshal(b, v, options)
}
