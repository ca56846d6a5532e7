package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cloudflare/circl/group"

	"primaryvote/audit/bundle"
	"primaryvote/audit/cosign"
)

var updateGolden = flag.Bool("update", false, "write testdata/golden.bundle, golden.key, golden.credentials, golden.policy and vectors.json anew from a new election (needs a database)")

// vectors are the intermediate values of the golden bundle's checks, for an
// independent implementation to compare its own against step by step.
type vectors struct {
	LogKey string `json:"log_key"`
	Record struct {
		Position  int    `json:"position"`
		PrevChain string `json:"prev_chain"`
		Body      string `json:"body"`
		Record    string `json:"record"`
		Chain     string `json:"chain"`
		LeafHash  string `json:"leaf_hash"`
	} `json:"record"`
	Checkpoint struct {
		Signed string `json:"signed"`
		Size   int    `json:"size"`
		Root   string `json:"root"`
		Chain  string `json:"chain"`
	} `json:"checkpoint"`
	// Witnesses are the logged witness policy's quorum, the witnesses that
	// cosigned the newest checkpoint, and the message the first of them
	// signed (hex).
	Witnesses struct {
		Quorum       int      `json:"quorum"`
		Final        []string `json:"final_cosigners"`
		FirstMessage string   `json:"first_cosigned_message"`
	} `json:"witnesses"`
	Roll struct {
		Leaves []string `json:"leaves"`
		Root   string   `json:"root"`
	} `json:"roll"`
	Ballot struct {
		Ballot       string `json:"ballot"`
		SHA256       string `json:"sha256"`
		TrackingCode string `json:"tracking_code"`
		Proof        struct {
			Question   int    `json:"question"`
			Option     int    `json:"option"`
			Lo         int    `json:"lo"`
			Hi         int    `json:"hi"`
			Transcript string `json:"transcript"`
			Challenge  string `json:"challenge"`
		} `json:"first_proof"`
	} `json:"ballot"`
	Partial struct {
		Trustee         int    `json:"trustee"`
		Context         string `json:"context"`
		FirstComposite  string `json:"first_composite_weight"`
		LagrangeAtZero  []int  `json:"combined_trustees"`
		CountsSumsOrder []int  `json:"counts"`
	} `json:"partial"`
}

// TestGoldenBundle verifies the committed bundle with auditverify's code and
// re-derives it with the independent implementation in spec_test.go, which
// must reproduce the committed vectors. go test -run GoldenBundle -update
// makes them anew.
func TestGoldenBundle(t *testing.T) {
	t.Parallel()
	dir := "testdata"
	if *updateGolden {
		// Three camps witness it, two of whom make a checkpoint count.
		x := newWitnessed(t)
		for i := range selections {
			x.cast(t, i)
		}
		x.push(t)
		x.env.Tally(t, x.el)
		must(t, x.env.Elections.Publish(context.Background(), "e1", "test"))
		x.push(t)
		lines := x.export(t)
		policy, _ := json.Marshal(x.policy)
		must(t, os.WriteFile(filepath.Join(dir, "golden.bundle"), []byte(strings.Join(lines, "")), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "golden.key"), []byte(x.env.Signer.VerifierKey()+"\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "golden.credentials"), x.el.Credentials, 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "golden.policy"), append(policy, '\n'), 0o644))
		v := specDerive(t, lines)
		b, _ := json.MarshalIndent(v, "", "  ")
		must(t, os.WriteFile(filepath.Join(dir, "vectors.json"), append(b, '\n'), 0o644))
	}
	raw, err := os.ReadFile(filepath.Join(dir, "golden.bundle"))
	must(t, err)
	key, err := os.ReadFile(filepath.Join(dir, "golden.key"))
	must(t, err)
	creds, err := os.ReadFile(filepath.Join(dir, "golden.credentials"))
	must(t, err)
	credSum := sha256.Sum256(creds)
	rawPolicy, err := os.ReadFile(filepath.Join(dir, "golden.policy"))
	must(t, err)
	var policy cosign.Policy
	must(t, json.Unmarshal(rawPolicy, &policy))
	report, err := bundle.Verify(bytes.NewReader(raw), bundle.Options{LogKey: strings.TrimSpace(string(key)),
		Credentials: creds, CredentialsSHA256: hex.EncodeToString(credSum[:]), Policy: &policy})
	if err != nil || report.Status != "published" || !report.CredentialsPinned || report.Witnesses == nil || !report.Witnesses.PolicyPinned {
		t.Fatalf("Verify(golden bundle) = %+v, %v", report, err)
	}

	got := specDerive(t, strings.SplitAfter(strings.TrimSuffix(string(raw), "\n"), "\n"))
	var want vectors
	b, err := os.ReadFile(filepath.Join(dir, "vectors.json"))
	must(t, err)
	must(t, json.Unmarshal(b, &want))
	if !reflect.DeepEqual(got, &want) {
		gb, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("the golden bundle's vectors, derived from the documents, are not the committed ones:\n%s", gb)
	}
}

// specDerive checks a bundle by the documents alone and returns its vectors.
// Any departure from the documents fails the test.
func specDerive(t *testing.T, lines []string) *vectors {
	t.Helper()
	fatal := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("by the documents: "+format, args...)
	}
	v := &vectors{}
	byType := map[string][]map[string]json.RawMessage{}
	for _, l := range lines {
		var m map[string]json.RawMessage
		must(t, json.Unmarshal([]byte(l), &m))
		var typ string
		must(t, json.Unmarshal(m["type"], &typ))
		byType[typ] = append(byType[typ], m)
	}
	str := func(m map[string]json.RawMessage, k string) string {
		var s string
		must(t, json.Unmarshal(m[k], &s))
		return s
	}
	b64 := func(m map[string]json.RawMessage, k string) []byte {
		b, err := base64.StdEncoding.Strict().DecodeString(str(m, k))
		must(t, err)
		return b
	}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		must(t, err)
		return b
	}
	electionID := str(byType["header"][0], "election")
	v.LogKey = str(byType["header"][0], "log_key")

	// The log: framing, chain, and the entries about this election.
	var (
		records [][]byte
		chain   = make([]byte, 32)
		entries []map[string]json.RawMessage
	)
	for i, m := range byType["record"] {
		rec := b64(m, "record")
		var pos int
		must(t, json.Unmarshal(m["position"], &pos))
		if pos != i || binary.BigEndian.Uint64(rec[4:12]) != uint64(i) || !bytes.Equal(rec[12:44], chain) {
			fatal("record %d: framing or chain", i)
		}
		body := rec[44:]
		if !bytes.Equal(specFrame(uint64(i), chain, body), rec) {
			fatal("record %d: not \"PVL1\" ‖ u64be(position) ‖ chain ‖ body", i)
		}
		if i == 0 {
			leaf := sha256.Sum256(append([]byte{0}, rec...))
			c := sha256.Sum256(rec)
			v.Record.Position, v.Record.PrevChain, v.Record.Body = 0, hex.EncodeToString(chain), string(body)
			v.Record.Record, v.Record.Chain, v.Record.LeafHash = hex.EncodeToString(rec), hex.EncodeToString(c[:]), hex.EncodeToString(leaf[:])
		}
		c := sha256.Sum256(rec)
		chain = c[:]
		records = append(records, rec)
		var e map[string]json.RawMessage
		must(t, json.Unmarshal(body, &e))
		if e["election"] != nil && str(e, "election") == electionID {
			entries = append(entries, e)
		}
	}
	data := func(kind string) map[string]json.RawMessage {
		for _, e := range entries {
			if str(e, "kind") == kind {
				var d map[string]json.RawMessage
				must(t, json.Unmarshal(e["data"], &d))
				return d
			}
		}
		fatal("no %s entry", kind)
		return nil
	}

	// The newest checkpoint signs the whole log.
	var newest string
	size := -1
	for _, m := range byType["checkpoint"] {
		text, err := specOpenNote(str(m, "signed"), v.LogKey)
		if err != nil {
			fatal("checkpoint: %v", err)
		}
		f := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		n, _ := strconv.Atoi(f[1])
		root, _ := base64.StdEncoding.DecodeString(f[2])
		if len(f) != 4 || !bytes.Equal(root, specTreeHash(records[:n])) || !strings.HasPrefix(f[3], "primaryvote-chain ") {
			fatal("checkpoint of size %d: not the tree of the first %d records", n, n)
		}
		if n > size {
			size, newest = n, str(m, "signed")
		}
	}
	if size != len(records) {
		fatal("the newest checkpoint covers %d of %d records", size, len(records))
	}
	text, _ := specOpenNote(newest, v.LogKey)
	// The witness policy in force is the last logged before the opening;
	// the newest checkpoint must carry its quorum of cosignatures.
	var policyData []byte
	for _, e := range entries {
		if k := str(e, "kind"); k == "election.open" {
			break
		} else if k == "witnesses.policy" {
			policyData = e["data"]
		}
	}
	if policyData == nil {
		fatal("no witnesses.policy entry before election.open")
	}
	quorum, cosigners, first, err := specCosigners(policyData, text, newest)
	if err != nil || len(cosigners) < quorum {
		fatal("the newest checkpoint's cosignatures: %v %v (quorum %d)", cosigners, err, quorum)
	}
	v.Witnesses.Quorum, v.Witnesses.Final, v.Witnesses.FirstMessage = quorum, cosigners, hex.EncodeToString(first)
	f := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	lastChain, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(f[3], "primaryvote-chain "))
	if !bytes.Equal(lastChain, chain) {
		fatal("the newest checkpoint's chain hash is not the last record's")
	}
	v.Checkpoint.Signed, v.Checkpoint.Size = newest, size
	v.Checkpoint.Root, v.Checkpoint.Chain = hex.EncodeToString(specTreeHash(records)), hex.EncodeToString(chain)

	// The definition, byte for byte the logged one.
	var election map[string]json.RawMessage
	must(t, json.Unmarshal(data("election.create")["definition"], &election))
	if !bytes.Equal(byType["election"][0]["definition"], data("election.create")["definition"]) {
		fatal("the bundle's definition is not the logged bytes")
	}
	digest := sha256.Sum256(byType["election"][0]["definition"])
	var open struct {
		DefinitionSHA256 string `json:"definition_sha256"`
		Roll             struct {
			Voters int
			Root   string
		}
	}
	openData, _ := json.Marshal(data("election.open"))
	must(t, json.Unmarshal(openData, &open))
	if open.DefinitionSHA256 != hex.EncodeToString(digest[:]) {
		fatal("election.open's definition_sha256")
	}
	var def struct {
		Groups []struct {
			ID     string
			Weight float64
		}
		Questions []struct {
			MinSelections int `json:"min_selections"`
			MaxSelections int `json:"max_selections"`
			Candidates    []struct{ ID string }
		}
	}
	must(t, json.Unmarshal(byType["election"][0]["definition"], &def))
	var questions []specQuestion
	for _, q := range def.Questions {
		questions = append(questions, specQuestion{candidates: len(q.Candidates), min: q.MinSelections, max: q.MaxSelections})
	}
	groupIndex := map[string]int{}
	for i, g := range def.Groups {
		groupIndex[g.ID] = i
	}

	// The roll commitment: leaves pseudonym ‖ credential ‖ group, sorted by
	// pseudonym (the golden election replaces no credential after opening).
	var leaves [][]byte
	for _, m := range byType["voter"] {
		leaf := append(unhex(str(m, "pseudonym")), unhex(str(m, "credential"))...)
		leaves = append(leaves, append(leaf, str(m, "group")...))
	}
	sort.Slice(leaves, func(i, j int) bool { return bytes.Compare(leaves[i][:32], leaves[j][:32]) < 0 })
	rollRoot := hex.EncodeToString(specTreeHash(leaves))
	if open.Roll.Root != rollRoot || open.Roll.Voters != len(leaves) {
		fatal("the roll commitment")
	}
	for _, l := range leaves {
		v.Roll.Leaves = append(v.Roll.Leaves, hex.EncodeToString(l))
	}
	v.Roll.Root = rollRoot

	// Every ballot: its tracking code is logged, every proof holds; the sums.
	key := unhex(str(byType["trustees"][0], "public_key"))
	logged := map[string]bool{}
	for _, e := range entries {
		if str(e, "kind") == "ballot.cast" {
			var d struct {
				TrackingCode string `json:"tracking_code"`
			}
			must(t, json.Unmarshal(e["data"], &d))
			logged[d.TrackingCode] = true
		}
	}
	rollCredentials := map[string]bool{}
	for _, m := range byType["voter"] {
		rollCredentials[str(m, "credential")] = true
	}
	nSums := 0
	for _, q := range questions {
		nSums += q.candidates * len(def.Groups)
	}
	sumA, sumB := make([]group.Element, nSums), make([]group.Element, nSums)
	for i := range sumA {
		sumA[i], sumB[i] = r255.Identity(), r255.Identity()
	}
	perGroup := make([]int, len(def.Groups))
	for bi, m := range byType["ballot"] {
		raw := b64(m, "content")
		sum := sha256.Sum256(raw)
		code := specTrackingCode(sum[:])
		if !logged[code] {
			fatal("ballot %s is not logged", code)
		}
		sb, err := specParseBallot(raw, electionID, questions)
		if err != nil {
			fatal("ballot %s: %v", code, err)
		}
		cts, proofs := sb.cts, sb.proofs
		if !rollCredentials[hex.EncodeToString(sb.credential)] {
			fatal("ballot %s names a credential that is not on the roll", code)
		}
		if err := specCheckBallotSignature(sb); err != nil {
			fatal("ballot %s: its signature: %v", code, err)
		}
		for pi, p := range proofs {
			if err := specCheckRangeProof(electionID, key, p); err != nil {
				fatal("ballot %s, proof %d: %v", code, pi, err)
			}
		}
		gi := groupIndex[str(m, "group")]
		perGroup[gi]++
		for k, ct := range cts {
			a, _ := specElement(ct[0])
			b, _ := specElement(ct[1])
			j := k*len(def.Groups) + gi
			sumA[j].Add(sumA[j], a)
			sumB[j].Add(sumB[j], b)
		}
		if bi == 0 {
			v.Ballot.Ballot, v.Ballot.SHA256, v.Ballot.TrackingCode = hex.EncodeToString(raw), hex.EncodeToString(sum[:]), code
			p := proofs[0]
			v.Ballot.Proof.Question, v.Ballot.Proof.Option, v.Ballot.Proof.Lo, v.Ballot.Proof.Hi = p.question, p.option, p.lo, p.hi
			v.Ballot.Proof.Transcript = hex.EncodeToString(specTranscript(electionID, key, p))
			v.Ballot.Proof.Challenge = hex.EncodeToString(scalarBytes(specHashToScalar(specTranscript(electionID, key, p), []byte("primaryvote-v1-challenge"))))
		}
	}
	want := []byte{}
	for _, n := range perGroup {
		want = binary.BigEndian.AppendUint32(want, uint32(n))
	}
	var alphas [][]byte
	for j := range sumA {
		alphas = append(alphas, elementBytes(sumA[j]))
		want = append(append(want, elementBytes(sumA[j])...), elementBytes(sumB[j])...)
	}
	if !bytes.Equal(b64(byType["sums"][0], "sums"), want) {
		fatal("the sums are not u32 counts per group, then α ‖ β per question, candidate and group")
	}

	// Every partial decryption's proof; the trustees the tally combined give
	// the counts.
	trusteeKeys := map[int][]byte{}
	var keys []string
	must(t, json.Unmarshal(byType["trustees"][0]["trustee_keys"], &keys))
	for i, k := range keys {
		trusteeKeys[i+1] = unhex(k)
	}
	shares := map[int][]group.Element{}
	for pi, m := range byType["partial"] {
		var trustee int
		must(t, json.Unmarshal(m["trustee"], &trustee))
		raw := b64(m, "shares")
		var ds [][]byte
		for o := 0; o < len(raw); o += 32 {
			ds = append(ds, raw[o:o+32])
			e, err := specElement(raw[o : o+32])
			if err != nil {
				fatal("trustee %d: share %d", trustee, o/32)
			}
			shares[trustee] = append(shares[trustee], e)
		}
		first, err := specDLEQ(electionID, trusteeKeys[trustee], alphas, ds, b64(m, "proof"))
		if err != nil {
			fatal("trustee %d: %v", trustee, err)
		}
		if pi == 0 {
			v.Partial.Trustee, v.Partial.Context = trustee, "primaryvote-v1-partial-decryption-"+electionID
			v.Partial.FirstComposite = hex.EncodeToString(first)
		}
	}
	var tally struct {
		Trustees []int           `json:"trustees"`
		Results  json.RawMessage `json:"results"`
	}
	tallied, _ := json.Marshal(data("election.tallied"))
	must(t, json.Unmarshal(tallied, &tally))
	// λ_i = Π_{j≠i} j / (j − i)
	lambda := map[int]group.Scalar{}
	for _, i := range tally.Trustees {
		num, den := r255.NewScalar().SetUint64(1), r255.NewScalar().SetUint64(1)
		for _, j := range tally.Trustees {
			if j != i {
				num.Mul(num, r255.NewScalar().SetUint64(uint64(j)))
				den.Mul(den, r255.NewScalar().Sub(r255.NewScalar().SetUint64(uint64(j)), r255.NewScalar().SetUint64(uint64(i))))
			}
		}
		lambda[i] = r255.NewScalar().Mul(num, r255.NewScalar().Inv(den))
	}
	ballots := len(byType["ballot"])
	var counts []int
	for j := range sumB {
		d := r255.Identity()
		for _, i := range tally.Trustees {
			d.Add(d, r255.NewElement().Mul(shares[i][j], lambda[i]))
		}
		target := r255.NewElement().Add(sumB[j], r255.NewElement().Neg(d))
		n := -1
		for c, acc := 0, r255.Identity(); c <= ballots; c++ {
			if acc.IsEqual(target) {
				n = c
				break
			}
			acc.Add(acc, r255.Generator())
		}
		if n < 0 {
			fatal("sum %d does not decrypt to a count in [0, %d]", j, ballots)
		}
		counts = append(counts, n)
	}
	v.Partial.LagrangeAtZero, v.Partial.CountsSumsOrder = tally.Trustees, counts

	// The results: votes, per-group shares, combined shares, order.
	if !bytes.Equal(byType["results"][0]["results"], tally.Results) {
		fatal("the bundle's results are not the logged bytes")
	}
	var results struct {
		Ballots   int
		Groups    []struct{ Ballots int }
		Questions []struct {
			Candidates []struct {
				ID       string
				Votes    []int
				Percent  []float64
				Combined float64 `json:"combined_percent"`
				Total    int     `json:"total_votes"`
			}
		}
	}
	must(t, json.Unmarshal(tally.Results, &results))
	round2 := func(f float64) float64 { return math.Round(f*100) / 100 }
	weightSum := 0.0
	for gi, g := range def.Groups {
		if results.Groups[gi].Ballots != perGroup[gi] {
			fatal("group %s's ballots", g.ID)
		}
		if perGroup[gi] > 0 {
			weightSum += g.Weight
		}
	}
	j := 0
	for qi, q := range def.Questions {
		selections := make([]int, len(def.Groups))
		for k := range q.Candidates {
			for gi := range def.Groups {
				selections[gi] += counts[j+k*len(def.Groups)+gi]
			}
		}
		got := results.Questions[qi].Candidates
		if len(got) != len(q.Candidates) {
			fatal("question %d's candidates", qi)
		}
		type ranked struct {
			id       string
			votes    []int
			percent  []float64
			combined float64
		}
		var want []ranked
		for _, c := range q.Candidates {
			r := ranked{id: c.ID}
			for gi, g := range def.Groups {
				n := counts[j+gi]
				share := 0.0
				if selections[gi] > 0 {
					share = 100 * float64(n) / float64(selections[gi])
				}
				r.votes = append(r.votes, n)
				r.percent = append(r.percent, round2(share))
				if perGroup[gi] > 0 {
					r.combined += g.Weight / weightSum * share
				}
			}
			r.combined = round2(r.combined)
			want = append(want, r)
			j += len(def.Groups)
		}
		sort.SliceStable(want, func(a, b int) bool { return want[a].combined > want[b].combined })
		for k, w := range want {
			c := got[k]
			if c.ID != w.id || !reflect.DeepEqual(c.Votes, w.votes) || !reflect.DeepEqual(c.Percent, w.percent) || c.Combined != w.combined {
				fatal("question %d, place %d: got %+v; the documents give %+v", qi, k+1, c, w)
			}
		}
	}
	if results.Ballots != ballots {
		fatal("results count %d ballots, the bundle has %d", results.Ballots, ballots)
	}
	return v
}
