package entry

import (
	"os"
	"strings"
	"testing"
	"time"
)

// LOG.md documents every entry kind with every member of its data, so that
// the schema and its document cannot drift apart.
func TestLogDocumentsEveryKind(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../LOG.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[Kind]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		for _, k := range strings.Split(cells[1], ",") {
			rows[Kind(strings.Trim(strings.TrimSpace(k), "`"))] = line
		}
	}
	for _, k := range Kinds() {
		row, ok := rows[k]
		if !ok {
			t.Errorf("LOG.md has no row for kind %s", k)
			continue
		}
		data := schema[k].data
		for i := range data.NumField() {
			name, _, _ := cutTag(data.Field(i).Tag.Get("json"))
			if !strings.Contains(row, "`"+name+"`") {
				t.Errorf("LOG.md's row for %s does not name the member %q", k, name)
			}
		}
		if about := strings.Contains(strings.Split(row, "|")[2], "yes"); about != schema[k].election {
			t.Errorf("LOG.md says %s is about an election: %v; the schema says %v", k, about, schema[k].election)
		}
	}
}

// testEntry is a header and its data, as a writer makes them.
type testEntry struct {
	Election string
	Kind     Kind
	Actor    string
	At       time.Time
	Data     any
}

func (e testEntry) encode() ([]byte, error) {
	return Encode(Header{Election: e.Election, Kind: e.Kind, Actor: e.Actor, At: e.At}, e.Data)
}

// Writers cannot drift from the schema: an entry's data must be of its
// kind's type, and its election set exactly when the kind is about one.
func TestEncodeRefusesEntriesOffTheSchema(t *testing.T) {
	t.Parallel()
	at := time.Unix(0, 0)
	for _, e := range []testEntry{
		{Election: "e1", Kind: KindBallotCast, Actor: "voter", At: at, Data: map[string]string{"voter": "00"}},
		{Election: "e1", Kind: KindBallotCast, Actor: "voter", At: at, Data: &Cast{}},
		{Election: "e1", Kind: KindBallotCast, Actor: "voter", At: at, Data: SignIns{}},
		{Kind: KindBallotCast, Actor: "voter", At: at, Data: Cast{}},
		{Election: "e1", Kind: KindOfficialAdd, Actor: "cli:root", At: at, Data: OfficialSignIn{}},
		{Election: "e1", Kind: "ballot.spoiled", Actor: "voter", At: at, Data: Cast{}},
		{Election: "e1", Kind: KindElectionOpen, Actor: "cli:root", At: at},
	} {
		if b, err := e.encode(); err == nil {
			t.Errorf("Encode(%s, %T) = %s; want refused", e.Kind, e.Data, b)
		}
	}
}

// Every entry a writer can make parses back, strictly, into the same data.
func TestParseEntryRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	e := testEntry{Election: "e1", Kind: KindTallySums, Actor: "cli:root", At: at,
		Data: Summed{Ballots: 3, PerGroup: []int{1, 2}, SumsSHA256: "ab"}}
	body, err := e.encode()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(body)
	if err != nil {
		t.Fatalf("ParseEntry(%s) = %v", body, err)
	}
	data, err := p.Decode()
	if err != nil || p.Kind != e.Kind || p.Election != "e1" || !p.At.Equal(at) {
		t.Fatalf("ParseEntry(%s) = %+v, %v", body, p, err)
	}
	if got := *data.(*Summed); got.Ballots != 3 || len(got.PerGroup) != 2 || got.SumsSHA256 != "ab" {
		t.Errorf("Decode = %+v", got)
	}
	for _, bad := range []string{
		strings.Replace(string(body), `"kind"`, `"Kind"`, 1),
		strings.Replace(string(body), `"ballots":3`, `"ballots":3,"ballots":4`, 1),
		strings.Replace(string(body), `"ballots":3,`, ``, 1),
		strings.Replace(string(body), `"ballots":3`, `"ballots":3,"extra":1`, 1),
		strings.Replace(string(body), `"election":"e1",`, ``, 1),
		strings.Replace(string(body), `tally.sums`, `tally.other`, 1),
		string(body) + ` {}`,
	} {
		p, err := Parse([]byte(bad))
		if err == nil {
			_, err = p.Decode()
		}
		if err == nil {
			t.Errorf("ParseEntry+Decode(%s) passed; want refused", bad)
		}
	}
}

// FuzzParseEntry: no input panics the entry parser, and whatever it
// accepts decodes into its kind's data or is refused with an error.
func FuzzParseEntry(f *testing.F) {
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for _, e := range []testEntry{
		{Election: "e1", Kind: KindBallotCast, Actor: "voter", At: at, Data: Cast{Voter: "ab", Group: "members", TrackingCode: "X"}},
		{Election: "e1", Kind: KindElectionTallied, Actor: "cli:root", At: at, Data: Tallied{From: "closed", To: "tallied", Trustees: []int{1, 2}, Refused: []Refusal{}, Results: []byte(`{}`)}},
		{Kind: KindOfficialSignInFailed, Actor: "official", At: at, Data: OfficialSignIn{}},
	} {
		b, err := e.encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		if _, err := p.Decode(); err == nil && p.Kind == "" {
			t.Fatalf("%q: decoded an entry without a kind", b)
		}
	})
}
