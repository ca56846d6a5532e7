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
//	{"type":"voter","pseudonym":HEX,"group":G}                         one per voter
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

import "encoding/json"

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
	Group     string `json:"group,omitempty"`
	Content   []byte `json:"content,omitempty"`

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
