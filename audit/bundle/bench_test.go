package bundle

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit/entry"
	"primaryvote/audit/record"
	"primaryvote/ballot"
	"primaryvote/internal/keyceremony"
)

// BenchmarkVerifyElectorate runs the verifier over a bundle of a whole
// electorate (224,556 voters, or PV_BENCH_VOTERS), every voter having cast a
// 5-candidate single-choice ballot, with every proof checked. The bundle is
// synthesised in memory (no database): real ballots, log, checkpoints, sums,
// partial decryptions and results.
func BenchmarkVerifyElectorate(b *testing.B) {
	n := 224556
	if s := os.Getenv("PV_BENCH_VOTERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	path, key := synthesiseBundle(b, n)
	st, _ := os.Stat(path)
	b.Logf("bundle of %d ballots: %d MB", n, st.Size()>>20)
	b.ResetTimer()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		report, err := Verify(bufio.NewReaderSize(f, 1<<20), Options{LogKey: key})
		f.Close()
		if err != nil {
			b.Fatalf("Verify = %v", err)
		}
		for _, s := range report.Steps {
			b.Logf("%-24s %8d %8.2fs", s.Name, s.Count, s.Duration.Seconds())
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "ballots/s")
}

func synthesiseBundle(b *testing.B, n int) (string, string) {
	b.Helper()
	d := &ballot.Definition{ID: "bench", Title: "Benchmark",
		Groups: []ballot.Group{{ID: "members", Name: "M", Weight: 0.5}, {ID: "public", Name: "P", Weight: 0.5}},
		Questions: []ballot.Question{{ID: "leader", Title: "Leader", MinSelections: 1, MaxSelections: 1, Candidates: []ballot.Candidate{
			{ID: "a", Number: 1, Name: "A"}, {ID: "b", Number: 2, Name: "B"}, {ID: "c", Number: 3, Name: "C"}, {ID: "d", Number: 4, Name: "D"}, {ID: "e", Number: 5, Name: "E"}}}}}
	kc, err := keyceremony.RunLogged("bench", 2, 3)
	if err != nil {
		b.Fatal(err)
	}
	tr, shares := kc.Trustees, kc.Shares
	e := &ballot.Election{ID: d.ID, Title: d.Title, Status: ballot.Tallied, Groups: d.Groups, Questions: d.Questions, Key: tr.Key}
	signer, err := record.GenerateSigner("primaryvote.bench/log")
	if err != nil {
		b.Fatal(err)
	}

	// Ballots, each signed with its voter's credential, in parallel.
	creds := make([][32]byte, n)
	contents := make([][]byte, n)
	parsed := make([]*ballot.EncryptedBallot, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				c, err := ballot.DeriveCredential(d.ID, ballot.NewCode())
				if err != nil {
					panic(err)
				}
				raw, err := e.Encrypt(c, ballot.Selections{"leader": {d.Questions[0].Candidates[i%5].ID}})
				if err != nil {
					panic(err)
				}
				creds[i] = [32]byte(c.Public())
				contents[i] = raw
				parsed[i], _ = e.ParseBallot(raw)
			}
		}()
	}
	wg.Wait()
	groupOf := func(i int) string { return d.Groups[i%2].ID }
	roll := make([]ballot.RollEntry, n)
	pseudonym := func(i int) [32]byte {
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(i))
		return sha256.Sum256(buf[:])
	}
	for i := range roll {
		roll[i] = ballot.RollEntry{Pseudonym: pseudonym(i), Credential: creds[i], Group: groupOf(i)}
	}
	commitment, err := ballot.CommitRoll(append([]ballot.RollEntry(nil), roll...))
	if err != nil {
		b.Fatal(err)
	}
	sums := e.NewSums()
	for i, p := range parsed {
		sums.AddBallot(e, groupOf(i), p)
	}
	sumsBytes := sums.Encode()
	var partials []*ballot.PartialDecryption
	for _, s := range shares[:2] {
		p, err := e.PartialDecrypt(tr, sums, s)
		if err != nil {
			b.Fatal(err)
		}
		partials = append(partials, p)
	}
	counts, err := e.Counts(tr, sums, partials)
	if err != nil {
		b.Fatal(err)
	}
	results, _ := json.Marshal(e.MakeResults(sums, counts))

	path := filepath.Join(b.TempDir(), "bench.bundle")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(bw)
	lines := 0
	put := func(l line) {
		lines++
		if err := enc.Encode(l); err != nil {
			b.Fatal(err)
		}
	}
	def, _ := json.Marshal(d)
	put(line{Type: "header", Format: Format, Election: "bench", LogKey: signer.VerifierKey()})
	put(line{Type: "election", Status: "tallied", Definition: def})
	var commitments, public []string
	for o := 0; o < len(tr.EncodeCommitments()); o += 32 {
		commitments = append(commitments, hex.EncodeToString(tr.EncodeCommitments()[o:o+32]))
	}
	for o := 0; o < len(tr.EncodePublic()); o += 32 {
		public = append(public, hex.EncodeToString(tr.EncodePublic()[o:o+32]))
	}
	put(line{Type: "trustees", Threshold: 2, PublicKey: hex.EncodeToString(tr.Key.Bytes()), Commitments: commitments, TrusteeKeys: public})
	for _, r := range roll {
		c := hex.EncodeToString(r.Credential[:])
		put(line{Type: "voter", Pseudonym: hex.EncodeToString(r.Pseudonym[:]), Credential: &c, Group: r.Group})
	}

	// The log: the election's creation, key and opening, one cast per
	// ballot, the close, the tally; a checkpoint every 2,000 records.
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	bodies := [][]byte{}
	add := func(kind entry.Kind, data any) {
		body, err := entry.Encode(entry.Header{Election: "bench", Kind: kind, Actor: "bench", At: at}, data)
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	defDigest := sha256.Sum256(def)
	add(entry.KindElectionCreate, entry.Created{Definition: def})
	add(entry.KindTrusteesRegister, entry.CeremonyRegistered{Threshold: kc.Ceremony.Threshold, Trustees: kc.Ceremony.Trustees})
	for _, d := range kc.Deals {
		add(entry.KindTrusteesDeal, *d)
	}
	for _, v := range kc.Verdicts {
		add(entry.KindTrusteesVerdict, *v)
	}
	add(entry.KindTrusteesSetup, entry.TrusteesSet{Threshold: 2, Trustees: 3, PublicKey: hex.EncodeToString(tr.Key.Bytes()), Commitments: commitments, TrusteePublicKeys: public})
	add(entry.KindElectionOpen, entry.Opened{From: "draft", To: "open", Voters: n, Roll: commitment, DefinitionSHA256: hex.EncodeToString(defDigest[:])})
	perGroup := make([]int, len(d.Groups))
	for i := range n {
		p := pseudonym(i)
		perGroup[i%2]++
		add(entry.KindBallotCast, entry.Cast{Voter: hex.EncodeToString(p[:]), Group: groupOf(i), TrackingCode: ballot.TrackingCode(sha256.Sum256(contents[i]))})
	}
	add(entry.KindElectionClose, entry.Closed{From: "open", To: "closed", Ballots: n})
	digest := sha256.Sum256(sumsBytes)
	add(entry.KindTallySums, entry.Summed{Ballots: n, PerGroup: perGroup, SumsSHA256: hex.EncodeToString(digest[:])})
	for _, p := range partials {
		sd := sha256.Sum256(p.EncodeShares())
		add(entry.KindPartialDecryption, entry.PartialDecrypted{Trustee: p.Trustee, SharesSHA256: hex.EncodeToString(sd[:]), Proof: hex.EncodeToString(p.Proof)})
	}
	add(entry.KindElectionTallied, entry.Tallied{From: "closed", To: "tallied", Trustees: []int{1, 2}, Refused: []entry.Refusal{}, Results: results})
	var hashes record.MemoryHashes
	var chain tlog.Hash
	var checkpoints []string
	for i, body := range bodies {
		rec := record.Frame(int64(i), chain, body)
		hs, err := tlog.StoredHashes(int64(i), rec, hashes)
		if err != nil {
			b.Fatal(err)
		}
		hashes = append(hashes, hs...)
		chain = record.ChainHash(rec)
		pos := int64(i)
		put(line{Type: "record", Position: &pos, Record: rec})
		if size := int64(i + 1); size%2000 == 0 || i == len(bodies)-1 {
			root, _ := tlog.TreeHash(size, hashes)
			signed, err := signer.Sign(record.Checkpoint{Origin: signer.Origin(), Size: size, Root: root, Chain: chain})
			if err != nil {
				b.Fatal(err)
			}
			checkpoints = append(checkpoints, string(signed))
		}
	}
	for _, c := range checkpoints {
		put(line{Type: "checkpoint", Signed: c})
	}
	for i, c := range contents {
		put(line{Type: "ballot", Group: groupOf(i), Content: c})
	}
	put(line{Type: "sums", Sums: sumsBytes})
	for _, p := range partials {
		put(line{Type: "partial", Trustee: p.Trustee, Shares: p.EncodeShares(), Proof: p.Proof})
	}
	put(line{Type: "results", Results: results})
	enc.Encode(line{Type: "end", Lines: lines})
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path, signer.VerifierKey()
}
