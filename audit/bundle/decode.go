package bundle

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"primaryvote/internal/strictjson"
)

// members are the members of each type of line: every one is required and
// no other is allowed.
var members = map[string][]string{
	"header":     {"type", "format", "election", "log_key"},
	"election":   {"type", "status", "definition"},
	"trustees":   {"type", "threshold", "public_key", "commitments", "trustee_keys"},
	"voter":      {"type", "pseudonym", "credential", "group"},
	"record":     {"type", "position", "record"},
	"checkpoint": {"type", "signed"},
	"ballot":     {"type", "group", "content"},
	"sums":       {"type", "sums"},
	"partial":    {"type", "trustee", "shares", "proof"},
	"results":    {"type", "results"},
	"end":        {"type", "lines"},
}

// decodeLine decodes one bundle line strictly (see the package doc): one
// JSON object with exactly its type's members, no member twice, names
// matched case-sensitively, standard padded base64 for bytes.
//
// Ballot, record and voter lines, nearly all of a bundle, are first tried in
// the exact shape the exporter writes them, which takes no general JSON
// scanning of their long values. A line that departs from that shape in any
// way (spacing, member order, escapes, any other number form) goes to the
// JSON decoder, and a line both accept decodes the same either way
// (FuzzDecodeLine).
func decodeLine(b []byte, l *line) error {
	if decodeExported(b, l) {
		return nil
	}
	return decodeJSON(b, l)
}

// decodeJSON decodes b as exactly one JSON object of a known type of line.
func decodeJSON(b []byte, l *line) error {
	var m map[string]jsontext.Value
	if err := strictjson.Unmarshal(b, &m); err != nil {
		return err
	}
	var typ string
	if err := jsonv2.Unmarshal(m["type"], &typ); err != nil || m["type"] == nil {
		return fmt.Errorf("no type")
	}
	want, ok := members[typ]
	if !ok {
		return fmt.Errorf("unknown type %q", typ)
	}
	for name := range m {
		if !slices.Contains(want, name) {
			return fmt.Errorf("unexpected member %q in a %s line", name, typ)
		}
	}
	for _, name := range want {
		if _, ok := m[name]; !ok {
			return fmt.Errorf("a %s line without %q", typ, name)
		}
	}
	*l = line{}
	return strictjson.Unmarshal(b, l)
}

var (
	ballotHead   = []byte(`{"type":"ballot","group":"`)
	ballotMiddle = []byte(`","content":"`)
	recordHead   = []byte(`{"type":"record","position":`)
	recordMiddle = []byte(`,"record":"`)
	voterHead    = []byte(`{"type":"voter","pseudonym":"`)
	voterCred    = []byte(`","credential":"`)
	voterMiddle  = []byte(`","group":"`)
	lineTail     = []byte(`"}`)
)

// decodeExported decodes b if it is a ballot, record or voter line exactly
// as Export writes it, and reports whether it did.
func decodeExported(b []byte, l *line) bool {
	switch {
	case bytes.HasPrefix(b, ballotHead):
		group, rest, ok := bytes.Cut(b[len(ballotHead):], []byte(`"`))
		if !ok || !plain(group) || !bytes.HasPrefix(rest, ballotMiddle[1:]) {
			return false
		}
		content, ok := base64Value(rest[len(ballotMiddle)-1:])
		if !ok {
			return false
		}
		*l = line{Type: "ballot", Group: string(group), Content: content}
		return true
	case bytes.HasPrefix(b, recordHead):
		digits, rest, ok := bytes.Cut(b[len(recordHead):], []byte(`,`))
		if !ok || !naturalNumber(digits) || !bytes.HasPrefix(rest, recordMiddle[1:]) {
			return false
		}
		pos, err := strconv.ParseInt(string(digits), 10, 64)
		if err != nil {
			return false
		}
		record, ok := base64Value(rest[len(recordMiddle)-1:])
		if !ok {
			return false
		}
		*l = line{Type: "record", Position: &pos, Record: record}
		return true
	case bytes.HasPrefix(b, voterHead):
		pseudonym, rest, ok := bytes.Cut(b[len(voterHead):], []byte(`"`))
		if !ok || !plain(pseudonym) || !bytes.HasPrefix(rest, voterCred[1:]) {
			return false
		}
		credential, rest, ok := bytes.Cut(rest[len(voterCred)-1:], []byte(`"`))
		if !ok || !plain(credential) || !bytes.HasPrefix(rest, voterMiddle[1:]) {
			return false
		}
		group, ok := bytes.CutSuffix(rest[len(voterMiddle)-1:], lineTail)
		if !ok || !plain(group) {
			return false
		}
		c := string(credential)
		*l = line{Type: "voter", Pseudonym: string(pseudonym), Credential: &c, Group: string(group)}
		return true
	}
	return false
}

// base64Value decodes b, a base64 string's contents followed by the line's
// closing `"}`, as the JSON decoder decodes a []byte member.
func base64Value(b []byte) ([]byte, bool) {
	text, ok := bytes.CutSuffix(b, lineTail)
	if !ok || bytes.ContainsAny(text, "\"\\\r\n") {
		return nil, false
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Strict().Decode(out, text)
	if err != nil {
		return nil, false
	}
	return out[:n], true
}

// plain reports whether b is printable ASCII without quotes or
// backslashes: a JSON string's contents that mean exactly their bytes.
func plain(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// naturalNumber reports whether b is a JSON integer ≥ 0 in its shortest
// form, below 10^18 (so it fits an int64).
func naturalNumber(b []byte) bool {
	if len(b) == 0 || len(b) > 18 || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
