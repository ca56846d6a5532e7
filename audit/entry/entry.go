// Package entry is the audit log's schema: the kinds of entry, the data
// each carries, and how an entry is encoded and read back. Writers (package
// audit) and the verifier (package bundle) share it, so the two cannot drift
// apart; ../LOG.md documents it for other implementations.
package entry

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"primaryvote/audit/cosign"
	"reflect"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"primaryvote/internal/strictjson"
)

// Kind names what an entry records. The kinds and the data each carries are
// the log's schema: writers build entries from the types below and the
// verifier reads them back into the same types, so the two cannot drift
// apart. LOG.md documents every kind and field.
type Kind string

// The kinds of entry. Those marked "about an election" carry the election's
// id; the others carry none.
const (
	KindOfficialAdd          Kind = "official.add"             // Official
	KindOfficialSignIn       Kind = "official.signin"          // OfficialSignIn
	KindOfficialSignInFailed Kind = "official.signin_failed"   // OfficialSignIn
	KindOfficialDisable      Kind = "official.disable"         // OfficialAccount
	KindOfficialEnable       Kind = "official.enable"          // OfficialAccount
	KindOfficialPassword     Kind = "official.passwd"          // OfficialAccount
	KindElectionCreate       Kind = "election.create"          // Created, about an election
	KindRollImport           Kind = "roll.import"              // RollImported, about an election
	KindCredentialsImport    Kind = "credentials.import"       // CredentialsImported, about an election
	KindCredentialsReplace   Kind = "credentials.replace"      // CredentialReplaced, about an election
	KindTrusteesRegister     Kind = "trustees.register"        // CeremonyRegistered, about an election
	KindTrusteesDeal         Kind = "trustees.deal"            // Deal, about an election
	KindTrusteesVerdict      Kind = "trustees.verdict"         // Verdict, about an election
	KindTrusteesAnswer       Kind = "trustees.answer"          // Answer, about an election
	KindTrusteesSetup        Kind = "trustees.setup"           // TrusteesSet, about an election
	KindWitnessPolicy        Kind = "witnesses.policy"         // WitnessPolicy, about an election
	KindElectionOpen         Kind = "election.open"            // Opened, about an election
	KindVoterSignIns         Kind = "voter.signins"            // SignIns, about an election
	KindBallotCast           Kind = "ballot.cast"              // Cast, about an election
	KindBallotSpoiled        Kind = "ballot.spoiled"           // Spoiled, about an election
	KindElectionClose        Kind = "election.closed"          // Closed, about an election
	KindTallySums            Kind = "tally.sums"               // Summed, about an election
	KindPartialDecryption    Kind = "tally.partial_decryption" // PartialDecrypted, about an election
	KindElectionTallied      Kind = "election.tallied"         // Tallied, about an election
	KindElectionPublished    Kind = "election.published"       // Published, about an election
)

// Official records an official's addition.
type Official struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

// OfficialAccount records a change to an official's account: disabled,
// enabled again, or given a new password (never the password).
type OfficialAccount struct {
	Username string `json:"username"`
}

// OfficialSignIn records an official's sign-in or failed attempt. Username
// is left out of a failure under an unknown name, which may be a mistyped
// password.
type OfficialSignIn struct {
	Username string `json:"username,omitempty"`
}

// Created records a new election in draft. Definition is the election's
// definition document; it never changes afterwards, and everything that
// depends on the definition (the ballot, the tally, the results) reads it
// from here.
type Created struct {
	Definition json.RawMessage `json:"definition"`
}

// RollImported records a draft roll's import: the voters, per group, and the
// SHA-256 of the imported file.
type RollImported struct {
	Voters int            `json:"voters"`
	Groups map[string]int `json:"groups"`
	SHA256 string         `json:"sha256"`
}

// CredentialsImported records the import of the credential authority's
// public credentials file: how many voters, and the SHA-256 of the file,
// hex, which the authority published.
type CredentialsImported struct {
	Voters int    `json:"voters"`
	SHA256 string `json:"sha256"`
}

// CredentialReplaced records that one voter, named by pseudonym (hex), lost
// their code and the authority gave them a new credential: the old and new
// public credentials, hex.
type CredentialReplaced struct {
	Voter string `json:"voter"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// CeremonyRegistered records the trustees an official registered for an
// election's key ceremony, numbered 1…n, with the threshold (FORMAT.md,
// "Key ceremony"). The ceremony's messages, each signed by its trustee,
// are logged as they are posted: trustees.deal, trustees.verdict and
// trustees.answer (package ballot makes and checks them).
type CeremonyRegistered struct {
	Threshold int               `json:"threshold"`
	Trustees  []TrusteeIdentity `json:"trustees"`
}

// Hex is bytes that JSON carries as lower-case hex.
type Hex []byte

// MarshalText encodes h in lower-case hex.
func (h Hex) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// UnmarshalText decodes lower-case hex strictly.
func (h *Hex) UnmarshalText(text []byte) error {
	b, err := hex.DecodeString(string(text))
	if err != nil || hex.EncodeToString(b) != string(text) {
		return fmt.Errorf("want lower-case hex")
	}
	*h = b
	return nil
}

// TrusteeIdentity is the public half of a trustee's identity, as an
// official registers it for an election.
type TrusteeIdentity struct {
	Index int    `json:"index"` // 1…n
	Name  string `json:"name"`
	// SigningKey is the Ed25519 key that signs the trustee's messages.
	SigningKey Hex `json:"signing_key"`
	// ShareKey is the X25519 public key shares are encrypted to.
	ShareKey Hex `json:"share_key"`
}

// Deal is dealer i's deal in the key ceremony: its commitments, its share
// for every trustee sealed to that trustee, the same shares sealed to the
// dealer itself, and its signature.
type Deal struct {
	Dealer      int   `json:"dealer"`
	Commitments []Hex `json:"commitments"`
	Shares      []Hex `json:"shares"`
	Kept        []Hex `json:"kept"`
	Signature   Hex   `json:"signature"`
}

// Verdict is a trustee's judgement of the deals dealt to it: the dealers
// it complains about, ascending.
type Verdict struct {
	Trustee    int   `json:"trustee"`
	Complaints []int `json:"complaints"`
	Signature  Hex   `json:"signature"`
}

// Answer is a dealer's answer to a complaint: the complainer's share,
// revealed.
type Answer struct {
	Dealer     int `json:"dealer"`
	Complainer int `json:"complainer"`
	Share      Hex `json:"share"`
	Signature  Hex `json:"signature"`
}

// TrusteesSet records the public outcome of the key ceremony: the election
// key, the Feldman commitments and each trustee's public key, hex-encoded
// elements, trustees in order 1…n.
type TrusteesSet struct {
	Threshold         int      `json:"threshold"`
	Trustees          int      `json:"trustees"`
	PublicKey         string   `json:"public_key"`
	Commitments       []string `json:"commitments"`
	TrusteePublicKeys []string `json:"trustee_public_keys"`
}

// RollCommitment commits to an election's roll: how many voters it has and
// the root, in hex, of an RFC 6962 tree over the roll entries (LOG.md).
type RollCommitment struct {
	Voters int    `json:"voters"`
	Root   string `json:"root"`
}

// Opened records an election's opening: the roll it opened with and the
// SHA-256 of its definition as Created logged it.
type Opened struct {
	From             string         `json:"from"`
	To               string         `json:"to"`
	Voters           int            `json:"voters"`
	Roll             RollCommitment `json:"roll"`
	DefinitionSHA256 string         `json:"definition_sha256"`
}

// SignIns counts the voter sign-ins one server saw between From and To:
// those that succeeded, and the failures, with a code that is not the
// voter's and with a voter id that is not on the roll. Sign-ins are counted,
// not logged one by one: nobody can grow the signed log, which every bundle
// carries, by signing in or failing to; a failure takes the same work
// whatever failed; and a sign-in needs no write of its own (a sign-in can
// cast nothing: a ballot must be signed with the voter's credential).
type SignIns struct {
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	SignedIn     int       `json:"signed_in"`
	WrongCode    int       `json:"wrong_code"`
	UnknownVoter int       `json:"unknown_voter"`
}

// Cast records one ballot: who cast it (by pseudonym), their group and the
// ballot's tracking code.
type Cast struct {
	Voter        string `json:"voter"`
	Group        string `json:"group"`
	TrackingCode string `json:"tracking_code"`
}

// Spoiled records a copy of a ballot that a voter checked instead of
// casting (ballot/FORMAT.md, "Checking a copy"): its tracking code, seed and
// choices, and the ciphertexts those make, each α ‖ β in hex per question
// and candidate. Nothing in it names the voter. The copies are logged
// together when the election closes, in tracking-code order, so that
// neither their place in the log nor their time ties one to a voter.
type Spoiled struct {
	TrackingCode string              `json:"tracking_code"`
	Seed         string              `json:"seed"`
	Choices      map[string][]string `json:"choices"`
	Ciphertexts  [][]string          `json:"ciphertexts"`
}

// Closed records an election's closing and how many ballots were cast.
type Closed struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Ballots int    `json:"ballots"`
}

// Summed records the tally's encrypted sums: the ballots added, per group in
// definition order, and the SHA-256 of the sums' encoding.
type Summed struct {
	Ballots    int    `json:"ballots"`
	PerGroup   []int  `json:"per_group"`
	SumsSHA256 string `json:"sums_sha256"`
}

// PartialDecrypted records one trustee's partial decryption of the sums: the
// SHA-256 of its shares' encoding and its proof, in hex.
type PartialDecrypted struct {
	Trustee      int    `json:"trustee"`
	SharesSHA256 string `json:"shares_sha256"`
	Proof        string `json:"proof"`
}

// Refusal is a partial decryption the tally refused, and why.
type Refusal struct {
	Trustee int    `json:"trustee"`
	Reason  string `json:"reason"`
}

// Tallied records the count: which trustees' partial decryptions were
// combined, which were refused, and the results.
type Tallied struct {
	From     string          `json:"from"`
	To       string          `json:"to"`
	Trustees []int           `json:"trustees"`
	Refused  []Refusal       `json:"refused"`
	Results  json.RawMessage `json:"results"`
}

// Published records the results' publication.
type Published struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// WitnessPolicy is an election's witness policy (cosign.Policy): the
// witnesses whose cosignatures count and how many make a quorum.
type WitnessPolicy = cosign.Policy

// kindInfo is a kind's data type and whether it is about an election.
type kindInfo struct {
	data     reflect.Type
	election bool
}

var schema = map[Kind]kindInfo{
	KindOfficialAdd:          {reflect.TypeFor[Official](), false},
	KindOfficialSignIn:       {reflect.TypeFor[OfficialSignIn](), false},
	KindOfficialSignInFailed: {reflect.TypeFor[OfficialSignIn](), false},
	KindOfficialDisable:      {reflect.TypeFor[OfficialAccount](), false},
	KindOfficialEnable:       {reflect.TypeFor[OfficialAccount](), false},
	KindOfficialPassword:     {reflect.TypeFor[OfficialAccount](), false},
	KindElectionCreate:       {reflect.TypeFor[Created](), true},
	KindRollImport:           {reflect.TypeFor[RollImported](), true},
	KindCredentialsImport:    {reflect.TypeFor[CredentialsImported](), true},
	KindCredentialsReplace:   {reflect.TypeFor[CredentialReplaced](), true},
	KindTrusteesRegister:     {reflect.TypeFor[CeremonyRegistered](), true},
	KindTrusteesDeal:         {reflect.TypeFor[Deal](), true},
	KindTrusteesVerdict:      {reflect.TypeFor[Verdict](), true},
	KindTrusteesAnswer:       {reflect.TypeFor[Answer](), true},
	KindTrusteesSetup:        {reflect.TypeFor[TrusteesSet](), true},
	KindWitnessPolicy:        {reflect.TypeFor[WitnessPolicy](), true},
	KindElectionOpen:         {reflect.TypeFor[Opened](), true},
	KindVoterSignIns:         {reflect.TypeFor[SignIns](), true},
	KindBallotCast:           {reflect.TypeFor[Cast](), true},
	KindBallotSpoiled:        {reflect.TypeFor[Spoiled](), true},
	KindElectionClose:        {reflect.TypeFor[Closed](), true},
	KindTallySums:            {reflect.TypeFor[Summed](), true},
	KindPartialDecryption:    {reflect.TypeFor[PartialDecrypted](), true},
	KindElectionTallied:      {reflect.TypeFor[Tallied](), true},
	KindElectionPublished:    {reflect.TypeFor[Published](), true},
}

// Kinds returns every kind of entry.
func Kinds() []Kind {
	out := make([]Kind, 0, len(schema))
	for k := range schema {
		out = append(out, k)
	}
	return out
}

// Header says which action an entry records.
type Header struct {
	// Election is the election the action concerns, or "" for a kind about
	// none (an official's sign-in).
	Election string
	Kind     Kind
	// Actor is who did it: "official:NAME", "cli:USER", "voter", "official"
	// or "system".
	Actor string
	// At is when, by the acting server's clock.
	At time.Time
}

// body is the stored form of an entry. The election is part of the hashed
// bytes, so a verifier knows which election every record concerns.
type body struct {
	Election string    `json:"election,omitempty"`
	Kind     Kind      `json:"kind"`
	Actor    string    `json:"actor"`
	At       time.Time `json:"at"`
	Data     any       `json:"data"`
}

// Encode returns the bytes stored for an entry: a JSON object with the
// members election (omitted when ""), kind, actor, at (RFC 3339, UTC) and
// data (LOG.md). It refuses data that is not of the kind's type, and an
// election set for a kind about none or missing for one about an election.
func Encode(h Header, data any) ([]byte, error) {
	info, ok := schema[h.Kind]
	switch {
	case !ok:
		return nil, fmt.Errorf("entry: unknown entry kind %q", h.Kind)
	case reflect.TypeOf(data) != info.data:
		return nil, fmt.Errorf("entry: a %s entry carries %v data, not %T", h.Kind, info.data, data)
	case info.election != (h.Election != ""):
		return nil, fmt.Errorf("entry: a %s entry has election %q", h.Kind, h.Election)
	}
	b, err := json.Marshal(body{Election: h.Election, Kind: h.Kind, Actor: h.Actor, At: h.At.UTC(), Data: data})
	if err != nil {
		return nil, fmt.Errorf("couldn't encode entry %s: %w", h.Kind, err)
	}
	return b, nil
}

// Parsed is an entry read back from its stored body. Data is still encoded;
// Decode gives the kind's typed data.
type Parsed struct {
	Election string         `json:"election"`
	Kind     Kind           `json:"kind"`
	Actor    string         `json:"actor"`
	At       time.Time      `json:"at"`
	Data     jsontext.Value `json:"data"`
}

// ParseEntry parses a stored entry body strictly. The kind must be known,
// with an election exactly when it is about one, and the data present.
func Parse(body []byte) (*Parsed, error) {
	var p Parsed
	if err := strictjson.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("malformed entry: %v", err)
	}
	info, ok := schema[p.Kind]
	switch {
	case !ok:
		return nil, fmt.Errorf("unknown entry kind %q", p.Kind)
	case info.election != (p.Election != ""):
		return nil, fmt.Errorf("a %s entry with election %q", p.Kind, p.Election)
	case len(p.Data) == 0:
		return nil, fmt.Errorf("a %s entry without data", p.Kind)
	}
	return &p, nil
}

// Decode returns the entry's data as a pointer to its kind's type (*Cast for
// a ballot.cast entry, and so on), read strictly: every member the type
// names must be present and no other.
func (p *Parsed) Decode() (any, error) {
	info := schema[p.Kind]
	v := reflect.New(info.data)
	if err := strictjson.Unmarshal(p.Data, v.Interface()); err != nil {
		return nil, fmt.Errorf("malformed %s data: %v", p.Kind, err)
	}
	if err := requireAll(p.Data, info.data); err != nil {
		return nil, fmt.Errorf("malformed %s data: %v", p.Kind, err)
	}
	return v.Interface(), nil
}

// requireAll checks that the JSON object b has a member for every field of
// struct type t, except fields tagged omitempty.
func requireAll(b []byte, t reflect.Type) error {
	var members map[string]jsontext.Value
	if err := jsonv2.Unmarshal(b, &members); err != nil {
		return err
	}
	for i := range t.NumField() {
		name, opts, _ := cutTag(t.Field(i).Tag.Get("json"))
		if _, ok := members[name]; !ok && opts != "omitempty" {
			return fmt.Errorf("no %q member", name)
		}
	}
	return nil
}

func cutTag(tag string) (name, opts string, ok bool) {
	for i := range len(tag) {
		if tag[i] == ',' {
			return tag[:i], tag[i+1:], true
		}
	}
	return tag, "", false
}
