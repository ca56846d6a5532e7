// Package bundle writes an election's audit bundle and verifies one.
//
// A bundle is everything a reviewer needs to re-derive an election without
// trusting the server: the definition, the trustees' public data, the roll
// by pseudonym, every record and checkpoint of the audit log, every encrypted
// ballot, the sums, the trustees' partial decryptions and the results. It is
// JSON Lines: one JSON object per line, each with a "type", in the order
// below, ending with an "end" line that counts the lines before it so that a
// cut-off file is noticed.
//
//	{"type":"header","format":"primaryvote-bundle-v1","election":ID,"log_key":VKEY}
//	{"type":"election","status":S,"definition":{…}}                   S and the definition as logged
//	{"type":"trustees","threshold":K,"public_key":HEX,"commitments":[HEX…],"trustee_keys":[HEX…]}
//	{"type":"voter","pseudonym":HEX,"credential":HEX,"group":G}        one per voter
//	{"type":"record","position":N,"record":BASE64}                     one per log record
//	{"type":"checkpoint","signed":NOTE}                                one per checkpoint
//	{"type":"ballot","group":G,"content":BASE64}                       one per logged ballot
//	{"type":"sums","sums":BASE64}                                      once tallied
//	{"type":"partial","trustee":I,"shares":BASE64,"proof":BASE64}      one per logged partial decryption
//	{"type":"results","results":{…}}                                   as the tally logged them
//	{"type":"end","lines":N}
//
// Every line has exactly its type's members, none twice, named exactly
// (case-sensitively); bytes are padded standard base64. Everything the
// bundle states must be what its log records. audit/LOG.md specifies the
// bundle, the log, the entries and every check Verify makes;
// ballot/FORMAT.md the ballot cryptography.
package bundle

import (
	"encoding/hex"
	"encoding/json"
	"io"
)

// Format names this version of the bundle.
const Format = "primaryvote-bundle-v1"

// line is any line of a bundle; Type says which fields are set.
type line struct {
	Type string `json:"type"`

	// header
	Format   string `json:"format,omitempty"`
	Election string `json:"election,omitempty"`
	LogKey   string `json:"log_key,omitempty"`

	// election
	Status     string          `json:"status,omitempty"`
	Definition json.RawMessage `json:"definition,omitempty"`

	// trustees
	Threshold   int      `json:"threshold,omitempty"`
	PublicKey   string   `json:"public_key,omitempty"`
	Commitments []string `json:"commitments,omitempty"`
	TrusteeKeys []string `json:"trustee_keys,omitempty"`

	// voter, ballot
	Pseudonym string `json:"pseudonym,omitempty"`
	// Credential is the voter's public credential, hex, or "" in a draft
	// before the credentials are imported.
	Credential *string `json:"credential,omitempty"`
	Group      string  `json:"group,omitempty"`
	Content    []byte  `json:"content,omitempty"`

	// record, checkpoint
	Position *int64 `json:"position,omitempty"`
	Record   []byte `json:"record,omitempty"`
	Signed   string `json:"signed,omitempty"`

	// sums, partial, results
	Sums    []byte          `json:"sums,omitempty"`
	Trustee int             `json:"trustee,omitempty"`
	Shares  []byte          `json:"shares,omitempty"`
	Proof   []byte          `json:"proof,omitempty"`
	Results json.RawMessage `json:"results,omitempty"`

	// end
	Lines int `json:"lines,omitempty"`
}

// Writer writes a bundle's lines in the exporter's exact shape (the shape
// the verifier's fast path reads), counting them for the end line. Callers
// write the lines in the order above.
type Writer struct {
	enc   *json.Encoder
	lines int
}

// NewWriter returns a Writer on w. Buffer w: a bundle has a line per voter,
// record and ballot.
func NewWriter(w io.Writer) *Writer { return &Writer{enc: json.NewEncoder(w)} }

func (w *Writer) put(l line) error {
	w.lines++
	return w.enc.Encode(l)
}

// Header writes the header line.
func (w *Writer) Header(election, logKey string) error {
	return w.put(line{Type: "header", Format: Format, Election: election, LogKey: logKey})
}

// Election writes the election line: the status the log's last step gives
// and the definition exactly as logged.
func (w *Writer) Election(status string, definition []byte) error {
	return w.put(line{Type: "election", Status: status, Definition: definition})
}

// Trustees writes the trustees line, in hex as the log records them.
func (w *Writer) Trustees(threshold int, key string, commitments, trusteeKeys []string) error {
	return w.put(line{Type: "trustees", Threshold: threshold, PublicKey: key, Commitments: commitments, TrusteeKeys: trusteeKeys})
}

// Voter writes a voter line.
func (w *Writer) Voter(pseudonym, credential []byte, group string) error {
	c := hex.EncodeToString(credential)
	return w.put(line{Type: "voter", Pseudonym: hex.EncodeToString(pseudonym), Credential: &c, Group: group})
}

// Record writes a log record's line.
func (w *Writer) Record(position int64, rec []byte) error {
	return w.put(line{Type: "record", Position: &position, Record: rec})
}

// Checkpoint writes a signed checkpoint's line.
func (w *Writer) Checkpoint(signed []byte) error {
	return w.put(line{Type: "checkpoint", Signed: string(signed)})
}

// Ballot writes a ballot's line.
func (w *Writer) Ballot(group string, content []byte) error {
	return w.put(line{Type: "ballot", Group: group, Content: content})
}

// Sums writes the sums' line.
func (w *Writer) Sums(sums []byte) error { return w.put(line{Type: "sums", Sums: sums}) }

// Partial writes a partial decryption's line.
func (w *Writer) Partial(trustee int, shares, proof []byte) error {
	return w.put(line{Type: "partial", Trustee: trustee, Shares: shares, Proof: proof})
}

// Results writes the results' line, exactly as logged.
func (w *Writer) Results(results []byte) error {
	return w.put(line{Type: "results", Results: results})
}

// End writes the end line.
func (w *Writer) End() error { return w.enc.Encode(line{Type: "end", Lines: w.lines}) }
