package bundle

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit"
	"primaryvote/ballot"
)

// Options tune Verify.
type Options struct {
	// LogKey pins the log's verifier key. When set, the bundle's own key must
	// be this one; otherwise the bundle's key is taken as given.
	LogKey string
	// Checkpoints are checkpoints saved earlier (for example by an observer
	// during the vote), by name. Each must verify and be consistent with the
	// bundle's log: that proves the log only grew since.
	Checkpoints map[string][]byte
	// Progress, if set, gets a progress line every couple of seconds.
	Progress io.Writer
}

// Step is one part of the verification and what it covered.
type Step struct {
	Name     string        `json:"name"`
	Count    int           `json:"count"`
	Duration time.Duration `json:"duration_ns"`
}

// Report says what Verify checked and, if something failed, the first
// failure.
type Report struct {
	Election string        `json:"election"`
	Status   string        `json:"status"`
	Steps    []Step        `json:"steps"`
	Failure  string        `json:"failure,omitempty"`
	Elapsed  time.Duration `json:"elapsed_ns"`
}

// Verify reads a bundle and re-derives everything in it:
//
//   - the log: every record's position and chain hash, the Merkle tree, every
//     checkpoint's signature, size, root and chain hash, and every checkpoint
//     given in opts (so truncation or rewriting since then is caught);
//   - the roll: unique pseudonyms whose commitment is the one logged when
//     the election opened;
//   - the ballots: each logged ballot's voter is on the roll, in its group,
//     and votes once; the bundle's ballots are exactly the logged ones; every
//     ballot's proofs hold;
//   - the count: the sums are the sums of the ballots, every partial
//     decryption's proof holds, and the published results follow from them.
//
// It returns the report and, if anything fails, an error naming the first
// failing line or entry.
func Verify(r io.Reader, opts Options) (*Report, error) {
	now := time.Now()
	v := &verifier{opts: opts, report: &Report{}, start: now, lastReport: now, roll: map[string]string{},
		castBy: map[string]int64{}, cast: map[string]castEntry{}, seen: map[string]bool{}}
	err := v.run(r)
	v.report.Elapsed = time.Since(v.start)
	if err != nil {
		v.report.Failure = err.Error()
	}
	return v.report, err
}

type castEntry struct {
	group    string
	position int64
}

type verifier struct {
	opts   Options
	report *Report
	start  time.Time

	lineNo   int
	header   line
	logKey   string
	election *ballot.Election
	trustees *ballot.Trustees

	roll       map[string]string // pseudonym → group
	rollList   []ballot.RollEntry
	rollLogged *ballot.RollCommitment

	records int64
	chains  []tlog.Hash
	hashes  audit.MemoryHashes

	castBy     map[string]int64     // pseudonym → position of its ballot.cast
	cast       map[string]castEntry // tracking code → entry
	sumsDigest string
	seen       map[string]bool // tracking codes of ballots in the bundle

	checkpoints int
	ballots     int
	sums        *ballot.Sums
	bundleSums  *ballot.Sums
	partials    []*ballot.PartialDecryption
	results     *ballot.Results
	stepStart   time.Time
	stepName    string
	stepCount   int
	lastReport  time.Time

	work     chan ballotJob
	wg       sync.WaitGroup
	mu       sync.Mutex
	firstBad *lineError
	partSums []*ballot.Sums
}

type ballotJob struct {
	line    int
	group   string
	content []byte
}

type lineError struct {
	line int
	err  error
}

func (v *verifier) fail(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", v.lineNo, fmt.Sprintf(format, args...))
}

func (v *verifier) step(name string) {
	now := time.Now()
	if v.stepName != "" && v.stepName != name {
		v.report.Steps = append(v.report.Steps, Step{Name: v.stepName, Count: v.stepCount, Duration: now.Sub(v.stepStart)})
	}
	if v.stepName != name {
		v.stepName, v.stepStart, v.stepCount = name, now, 0
	}
	v.stepCount++
	if v.opts.Progress != nil && now.Sub(v.lastReport) > 2*time.Second {
		v.lastReport = now
		fmt.Fprintf(v.opts.Progress, "  … %s: %d (%.0fs)\n", name, v.stepCount, now.Sub(v.start).Seconds())
	}
}

// A decoded bundle line, or why the line is not one.
type decoded struct {
	l   line
	err error
}

// lineChunk is a run of decoded lines; err is the reader's error after the
// last of them.
type lineChunk struct {
	lines []decoded
	err   error
}

// readLines reads and decodes r's lines on its own goroutine, so that JSON
// decoding overlaps the checks, and sends them in order, in chunks. It stops
// after the first line that does not decode, at the end of r, or when done
// is closed.
func readLines(r io.Reader, out chan<- lineChunk, done <-chan struct{}) {
	defer close(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	const chunkSize = 256
	chunk := make([]decoded, 0, chunkSize)
	send := func(c lineChunk) bool {
		select {
		case out <- c:
			return true
		case <-done:
			return false
		}
	}
	for sc.Scan() {
		var d decoded
		d.err = decodeLine(sc.Bytes(), &d.l)
		if chunk = append(chunk, d); d.err != nil {
			break
		}
		if len(chunk) == chunkSize {
			if !send(lineChunk{lines: chunk}) {
				return
			}
			chunk = make([]decoded, 0, chunkSize)
		}
	}
	send(lineChunk{lines: chunk, err: sc.Err()})
}

func (v *verifier) run(r io.Reader) error {
	chunks := make(chan lineChunk, 8)
	done := make(chan struct{})
	defer close(done)
	go readLines(r, chunks, done)

	order := map[string]int{"header": 0, "election": 1, "trustees": 2, "voter": 3, "record": 4, "checkpoint": 5, "ballot": 6, "sums": 7, "partial": 8, "results": 9, "end": 10}
	last := -1
	ended := false
	for c := range chunks {
		for _, d := range c.lines {
			v.lineNo++
			if ended {
				return v.fail("data after the end line")
			}
			if d.err != nil {
				return v.fail("not a bundle line: %v", d.err)
			}
			l := d.l
			o, ok := order[l.Type]
			if !ok || o < last || (o == last && o != 3 && o != 4 && o != 5 && o != 6 && o != 8) {
				return v.fail("unexpected %q line here", l.Type)
			}
			if o > last {
				if err := v.finishSection(last, o); err != nil {
					return err
				}
			}
			last = o
			var err error
			switch l.Type {
			case "header":
				err = v.onHeader(l)
			case "election":
				err = v.onElection(l)
			case "trustees":
				err = v.onTrustees(l)
			case "voter":
				err = v.onVoter(l)
			case "record":
				err = v.onRecord(l)
			case "checkpoint":
				err = v.onCheckpoint(l)
			case "ballot":
				err = v.onBallot(l)
			case "sums":
				err = v.onSums(l)
			case "partial":
				err = v.onPartial(l)
			case "results":
				err = v.onResults(l)
			case "end":
				if l.Lines != v.lineNo-1 {
					return v.fail("the end line counts %d lines, the bundle has %d", l.Lines, v.lineNo-1)
				}
				ended = true
			}
			if err != nil {
				return err
			}
		}
		if c.err != nil {
			return fmt.Errorf("line %d: %w", v.lineNo+1, c.err)
		}
	}
	if !ended {
		return fmt.Errorf("the bundle is cut off: no end line after line %d", v.lineNo)
	}
	v.step("done")
	return nil
}

// finishSection runs the checks due when a section ends, before the next.
func (v *verifier) finishSection(prev, next int) error {
	if prev < 4 && next >= 4 { // roll done
		if v.election == nil {
			return v.fail("no election line")
		}
	}
	if prev <= 5 && next > 5 { // log done
		if err := v.checkExternalCheckpoints(); err != nil {
			return err
		}
		if v.checkpoints == 0 && v.records > 0 {
			return v.fail("no checkpoint signs the log")
		}
	}
	if prev <= 6 && next > 6 { // ballots done
		if err := v.finishBallots(); err != nil {
			return err
		}
	}
	if prev <= 8 && next > 8 && next != 10 && v.sums == nil {
		return v.fail("results without sums")
	}
	return nil
}

func (v *verifier) onHeader(l line) error {
	if l.Format != Format || l.Election == "" || l.LogKey == "" {
		return v.fail("not a %s header", Format)
	}
	v.header, v.logKey = l, l.LogKey
	if v.opts.LogKey != "" && v.opts.LogKey != l.LogKey {
		return v.fail("the bundle's log key is not the pinned one (%s)", v.opts.LogKey)
	}
	v.report.Election = l.Election
	return nil
}

func (v *verifier) onElection(l line) error {
	d, err := ballot.ParseDefinition(bytes.NewReader(l.Definition))
	if err != nil {
		return v.fail("election definition: %v", err)
	}
	if d.ID != v.header.Election {
		return v.fail("the definition is for election %q", d.ID)
	}
	v.election = &ballot.Election{ID: d.ID, Title: d.Title, Status: ballot.Status(l.Status), Groups: d.Groups, Questions: d.Questions}
	v.report.Status = l.Status
	v.step("election")
	return nil
}

func (v *verifier) onTrustees(l line) error {
	key, err1 := hex.DecodeString(l.PublicKey)
	commitments, err2 := decodeHexList(l.Commitments)
	public, err3 := decodeHexList(l.TrusteeKeys)
	if err := errors.Join(err1, err2, err3); err != nil {
		return v.fail("trustees: %v", err)
	}
	t, err := ballot.DecodeTrustees(l.Threshold, key, commitments, public)
	if err != nil {
		return v.fail("%v", err)
	}
	v.trustees = t
	v.election.Key = t.Key
	v.step("trustees")
	return nil
}

func (v *verifier) onVoter(l line) error {
	p, err := hex.DecodeString(l.Pseudonym)
	if err != nil || len(p) != 32 {
		return v.fail("bad pseudonym")
	}
	if _, dup := v.roll[l.Pseudonym]; dup {
		return v.fail("pseudonym %s is on the roll twice", l.Pseudonym)
	}
	known := false
	for _, g := range v.election.Groups {
		known = known || g.ID == l.Group
	}
	if !known {
		return v.fail("pseudonym %s is in unknown group %q", l.Pseudonym, l.Group)
	}
	v.roll[l.Pseudonym] = l.Group
	v.rollList = append(v.rollList, ballot.RollEntry{Pseudonym: [32]byte(p), Group: l.Group})
	v.step("roll")
	return nil
}

// entry is the part of an entry body the verifier reads.
type entry struct {
	Election string          `json:"election"`
	Kind     string          `json:"kind"`
	Data     json.RawMessage `json:"data"`
}

func (v *verifier) onRecord(l line) error {
	if l.Position == nil || *l.Position != v.records {
		return v.fail("record at position %v; expected position %d (a record is missing, added or out of order)", posString(l.Position), v.records)
	}
	n := v.records
	idx, prev, body, err := audit.ParseRecord(l.Record)
	if err != nil || idx != n {
		return v.fail("record %d is malformed or claims index %d", n, idx)
	}
	var chain tlog.Hash
	if n > 0 {
		chain = v.chains[n-1]
	}
	if prev != chain {
		return v.fail("record %d: its previous-chain hash does not match record %d (one of them was altered)", n, n-1)
	}
	hs, err := tlog.StoredHashes(n, l.Record, v.hashes)
	if err != nil {
		return v.fail("record %d: %v", n, err)
	}
	v.hashes = append(v.hashes, hs...)
	v.chains = append(v.chains, audit.ChainHash(l.Record))
	v.records++
	v.step("log records")

	var e entry
	if err := json.Unmarshal(body, &e); err != nil {
		return v.fail("record %d: the entry is not JSON", n)
	}
	return v.onEntry(n, e, body)
}

// onEntry checks what an entry says about this election.
func (v *verifier) onEntry(n int64, e entry, body []byte) error {
	var mine struct {
		Data struct {
			Voter        string                 `json:"voter"`
			Group        string                 `json:"group"`
			TrackingCode string                 `json:"tracking_code"`
			Roll         *ballot.RollCommitment `json:"roll"`
			SumsSHA256   string                 `json:"sums_sha256"`
		} `json:"data"`
	}
	if e.Election != v.election.ID {
		return nil // the log covers every election; this entry is another's
	}
	switch e.Kind {
	case "election.open", "ballot.cast", "tally.sums":
	default:
		return nil
	}
	if err := json.Unmarshal(body, &mine); err != nil {
		return v.fail("record %d: malformed %s entry", n, e.Kind)
	}
	d := mine.Data
	switch e.Kind {
	case "election.open":
		if d.Roll == nil {
			return v.fail("record %d: the election opened without a roll commitment", n)
		}
		want, err := ballot.CommitRoll(append([]ballot.RollEntry(nil), v.rollList...))
		if err != nil {
			return err
		}
		if *d.Roll != want {
			return v.fail("record %d: the roll committed when the election opened (%d voters, root %s) is not the bundle's roll (%d voters, root %s)",
				n, d.Roll.Voters, d.Roll.Root, want.Voters, want.Root)
		}
		v.rollLogged = d.Roll
	case "ballot.cast":
		group, ok := v.roll[d.Voter]
		if !ok {
			return v.fail("record %d: ballot %s is cast by pseudonym %s, who is not on the roll", n, d.TrackingCode, d.Voter)
		}
		if first, twice := v.castBy[d.Voter]; twice {
			return v.fail("record %d: pseudonym %s casts a second ballot (the first is record %d)", n, d.Voter, first)
		}
		if group != d.Group {
			return v.fail("record %d: pseudonym %s is in group %q, the entry says %q", n, d.Voter, group, d.Group)
		}
		if _, dup := v.cast[d.TrackingCode]; dup {
			return v.fail("record %d: tracking code %s is logged twice", n, d.TrackingCode)
		}
		v.castBy[d.Voter] = n
		v.cast[d.TrackingCode] = castEntry{group: d.Group, position: n}
	case "tally.sums":
		v.sumsDigest = d.SumsSHA256
	}
	return nil
}

func (v *verifier) onCheckpoint(l line) error {
	c, err := audit.OpenCheckpoint([]byte(l.Signed), v.logKey)
	if err != nil {
		return v.fail("checkpoint %d: %v", v.checkpoints+1, err)
	}
	if err := v.checkCheckpoint(c); err != nil {
		return v.fail("checkpoint of size %d: %v", c.Size, err)
	}
	v.checkpoints++
	v.step("checkpoints")
	return nil
}

// checkCheckpoint checks that c describes a prefix of the bundle's log.
func (v *verifier) checkCheckpoint(c audit.Checkpoint) error {
	if c.Size > v.records {
		return fmt.Errorf("it covers %d records but the log has only %d: the log was truncated", c.Size, v.records)
	}
	if c.Size == 0 {
		return errors.New("empty")
	}
	root, err := tlog.TreeHash(c.Size, v.hashes)
	if err != nil {
		return err
	}
	if root != c.Root {
		return fmt.Errorf("its tree hash is not the tree hash of the first %d records: the log was rewritten", c.Size)
	}
	if v.chains[c.Size-1] != c.Chain {
		return fmt.Errorf("its chain hash is not record %d's", c.Size-1)
	}
	return nil
}

func (v *verifier) checkExternalCheckpoints() error {
	for name, signed := range v.opts.Checkpoints {
		c, err := audit.OpenCheckpoint(signed, v.logKey)
		if err != nil {
			return fmt.Errorf("checkpoint %s: %v", name, err)
		}
		if err := v.checkCheckpoint(c); err != nil {
			return fmt.Errorf("checkpoint %s (size %d): %v", name, c.Size, err)
		}
		v.step("saved checkpoints")
	}
	return nil
}

func (v *verifier) onBallot(l line) error {
	if v.work == nil {
		if v.election.Key == nil {
			return v.fail("ballots without the election key")
		}
		workers := runtime.GOMAXPROCS(0)
		v.work = make(chan ballotJob, 64)
		for range workers {
			s := v.election.NewSums()
			v.partSums = append(v.partSums, s)
			v.wg.Add(1)
			go func() {
				defer v.wg.Done()
				v.verifyBallots(v.work, s)
			}()
		}
	}
	code := ballot.TrackingCode(sha256.Sum256(l.Content))
	e, ok := v.cast[code]
	if !ok {
		return v.fail("ballot %s is not in the log (a ballot was replaced or added)", code)
	}
	if v.seen[code] {
		return v.fail("ballot %s appears twice", code)
	}
	if e.group != l.Group {
		return v.fail("ballot %s is in group %q; its log entry (record %d) says %q", code, l.Group, e.position, e.group)
	}
	v.seen[code] = true
	v.ballots++
	v.step("ballots (every proof)")
	v.work <- ballotJob{line: v.lineNo, group: l.Group, content: l.Content}
	return nil
}

// ballotsABatch is how many ballots a worker checks at once: enough that
// the batch's multi-scalar multiplication costs a few additions a point.
const ballotsABatch = 1024

// verifyBallots checks the ballots from jobs in batches and adds them to s,
// and keeps the first failure (by line) in v.firstBad.
func (v *verifier) verifyBallots(jobs <-chan ballotJob, s *ballot.Sums) {
	fail := func(line int, err error) {
		v.mu.Lock()
		if v.firstBad == nil || line < v.firstBad.line {
			v.firstBad = &lineError{line, err}
		}
		v.mu.Unlock()
	}
	var lines []int
	// NewBatch fails only without a key, which onBallot has checked.
	batch, _ := v.election.NewBatch()
	flush := func() {
		if i, err := batch.Verify(); err != nil {
			fail(lines[i], err)
		}
		batch, _ = v.election.NewBatch()
		lines = lines[:0]
	}
	for j := range jobs {
		b, err := batch.Add(j.content)
		if err == nil {
			err = s.AddBallot(v.election, j.group, b)
		}
		if err != nil {
			fail(j.line, err)
			continue
		}
		if lines = append(lines, j.line); len(lines) == ballotsABatch {
			flush()
		}
	}
	flush()
}

func (v *verifier) finishBallots() error {
	if v.work != nil {
		close(v.work)
		v.wg.Wait()
		if v.firstBad != nil {
			return fmt.Errorf("line %d: %v", v.firstBad.line, v.firstBad.err)
		}
	}
	for code, e := range v.cast {
		if !v.seen[code] {
			return fmt.Errorf("record %d logs ballot %s, which the bundle does not have", e.position, code)
		}
	}
	if v.election != nil && v.rollLogged == nil && v.election.Status != ballot.Draft {
		return errors.New("the log has no roll commitment for this election (no election.open entry)")
	}
	if v.election != nil {
		v.sums = v.election.NewSums()
		for _, s := range v.partSums {
			v.sums.Merge(s)
		}
	}
	return nil
}

func (v *verifier) onSums(l line) error {
	s, err := v.election.DecodeSums(l.Sums)
	if err != nil {
		return v.fail("%v", err)
	}
	if !s.Equal(v.sums) {
		return v.fail("the stored sums are not the sums of the ballots")
	}
	digest := sha256.Sum256(l.Sums)
	if v.sumsDigest != hex.EncodeToString(digest[:]) {
		return v.fail("the sums are not the ones logged by the tally")
	}
	v.bundleSums = s
	v.step("sums")
	return nil
}

func (v *verifier) onPartial(l line) error {
	p, err := ballot.DecodePartial(l.Trustee, l.Shares, l.Proof)
	if err != nil {
		return v.fail("%v", err)
	}
	v.partials = append(v.partials, p)
	v.step("partial decryptions")
	return nil
}

func (v *verifier) onResults(l line) error {
	var r ballot.Results
	if err := json.Unmarshal(l.Results, &r); err != nil {
		return v.fail("results: %v", err)
	}
	if v.bundleSums == nil || v.trustees == nil {
		return v.fail("results without sums or trustees")
	}
	if err := v.election.CheckTally(v.trustees, v.bundleSums, v.partials, &r); err != nil {
		return v.fail("%v", err)
	}
	v.results = &r
	v.step("results")
	return nil
}

func decodeHexList(list []string) ([]byte, error) {
	var out []byte
	for _, s := range list {
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

func posString(p *int64) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}
