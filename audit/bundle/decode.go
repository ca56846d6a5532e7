package bundle

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// decodeLine decodes one bundle line, refusing unknown fields.
//
// Ballot and record lines, nearly all of a bundle, are first tried in the
// exact shape the exporter writes them, which takes no general JSON scanning
// of their long base64 values. A line that departs from that shape in any
// way (spacing, field order, escapes, any other number form) goes to the
// JSON decoder, and a line both accept decodes the same either way.
func decodeLine(b []byte, l *line) error {
	if decodeExported(b, l) {
		return nil
	}
	return decodeJSON(b, l)
}

// decodeJSON decodes b as exactly one JSON object.
func decodeJSON(b []byte, l *line) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(l); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

var (
	ballotHead   = []byte(`{"type":"ballot","group":"`)
	ballotMiddle = []byte(`","content":"`)
	recordHead   = []byte(`{"type":"record","position":`)
	recordMiddle = []byte(`,"record":"`)
	lineTail     = []byte(`"}`)
)

// decodeExported decodes b if it is a ballot or record line exactly as
// Export writes it, and reports whether it did.
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
	}
	return false
}

// base64Value decodes b, a base64 string's contents followed by the line's
// closing `"}`, as the JSON decoder decodes a []byte field.
func base64Value(b []byte) ([]byte, bool) {
	text, ok := bytes.CutSuffix(b, lineTail)
	if !ok || bytes.ContainsAny(text, "\"\\\r\n") {
		return nil, false
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(out, text)
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
