package bundle

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"primaryvote/audit/cosign"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"primaryvote/audit/entry"
	"primaryvote/audit/record"
	"primaryvote/ballot"
)

// Options tune Verify.
type Options struct {
	// LogKey pins the log's verifier key: the bundle's key must be this one,
	// so the bundle is the log the holder of that key signed. Without it the
	// bundle's own key is taken as given, and Verify shows only that the
	// bundle agrees with itself.
	LogKey string
	// Checkpoints are checkpoints saved earlier (for example by an observer
	// during the vote), by name. Each must verify and describe a prefix of
	// the bundle's log: that proves the log only grew since.
	Checkpoints map[string][]byte
	// Progress, if set, gets a progress line every couple of seconds.
	Progress io.Writer
	// Credentials is the credential authority's public credentials file
	// (ballot/FORMAT.md), and CredentialsSHA256 the SHA-256 the authority
	// published for it, hex. With them, the roll's credentials must be the
	// ones the authority made: the file is the one published and the one
	// the log recorded at import, and the roll's credentials and groups are
	// the file's with every logged replacement applied. That catches a
	// credential swapped in the database even before the election opened.
	Credentials       []byte
	CredentialsSHA256 string
	// Policy pins the election's witness policy, as the camps agreed it:
	// the logged policy must name the same witness keys and quorum, and the
	// bundle's final checkpoint must carry cosignatures by at least the
	// quorum of them.
	Policy *cosign.Policy
	// FromDatabase says the bundle is streamed from a database rather than
	// read from a file: failures then name what failed without a line
	// number, which would mean nothing to the reader.
	FromDatabase bool
}

// CheckOptions checks the pinned key and the saved checkpoints before any
// work: a malformed key or checkpoint is reported at once.
func CheckOptions(opts Options) error {
	if opts.LogKey != "" {
		if _, err := note.NewVerifier(opts.LogKey); err != nil {
			return fmt.Errorf("the log key is not a note verifier key: %v", err)
		}
	}
	if _, err := authorityCredentials(opts); err != nil {
		return err
	}
	if opts.Policy != nil {
		if err := opts.Policy.Check(); err != nil {
			return fmt.Errorf("the witness policy: %v", err)
		}
	}
	for name, signed := range opts.Checkpoints {
		var err error
		if opts.LogKey != "" {
			_, err = record.OpenCheckpoint(signed, opts.LogKey)
		} else {
			_, err = record.ParseSignedCheckpoint(signed)
		}
		if err != nil {
			return fmt.Errorf("checkpoint %s: %v", name, err)
		}
	}
	return nil
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
	Election string `json:"election"`
	Status   string `json:"status"`
	// LogKeyPinned says the log key was given (Options.LogKey). Without it,
	// a passing report shows only that the bundle agrees with itself: anyone
	// can make a self-consistent bundle under a key of their own.
	LogKeyPinned bool `json:"log_key_pinned"`
	// LogKey is the key the log's checkpoints verified under.
	LogKey string `json:"log_key"`
	// SavedCheckpoints counts the checkpoints given in Options that the log
	// extends.
	SavedCheckpoints int `json:"saved_checkpoints"`
	// CredentialsPinned says the roll's credentials were checked against the
	// authority's file whose SHA-256 (CredentialsSHA256) was given.
	CredentialsPinned bool   `json:"credentials_pinned"`
	CredentialsSHA256 string `json:"credentials_sha256,omitempty"`
	Steps             []Step `json:"steps"`
	// Ceremony is what the key ceremony's messages in the log give, which
	// the logged election key must be.
	Ceremony *CeremonyReport `json:"ceremony,omitempty"`
	// Witnesses is what the checkpoints' cosignatures show, when the log
	// records a witness policy for the election.
	Witnesses *WitnessReport `json:"witnesses,omitempty"`
	// CheckedCopies counts the copies voters checked instead of casting
	// (ballot.spoiled), each encrypted again from its seed and choices.
	CheckedCopies int `json:"checked_copies"`
	// Refused lists the partial decryptions that do not verify and that the
	// log records the tally refused; they were not counted.
	Refused []string      `json:"refused,omitempty"`
	Failure string        `json:"failure,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`

	// What a passing bundle shows, for a trustee about to decrypt: the
	// election with its key, the trustees, and the sums made again from
	// the ballots (nil before the tally's sums are logged).
	VerifiedElection *ballot.Election `json:"-"`
	Trustees         *ballot.Trustees `json:"-"`
	Sums             *ballot.Sums     `json:"-"`
}

// WitnessReport sums up the witnessing: the logged policy's quorum,
// whether it was pinned, the witnesses that cosigned the final checkpoint,
// and the newest size each witness cosigned (every cosignature verified).
type WitnessReport struct {
	Quorum       int              `json:"quorum"`
	PolicyPinned bool             `json:"policy_pinned"`
	FinalSize    int64            `json:"final_size"`
	Final        []string         `json:"final_cosigners"`
	Cosigned     map[string]int64 `json:"cosigned_sizes"`
}

// CeremonyReport sums up the key ceremony: its trustees and threshold, the
// messages checked (each signed by its trustee for this election), and the
// qualified and excluded dealers.
type CeremonyReport struct {
	Trustees  int            `json:"trustees"`
	Threshold int            `json:"threshold"`
	Deals     int            `json:"deals"`
	Verdicts  int            `json:"verdicts"`
	Answers   int            `json:"answers"`
	Qualified []int          `json:"qualified"`
	Excluded  map[int]string `json:"excluded,omitempty"`
}

// Verify reads a bundle and re-derives everything in it against its log:
//
//   - the log: every record's framing, position and chain hash, the Merkle
//     tree, every checkpoint's signature, size, root and chain hash, every
//     checkpoint given in opts, and that the newest checkpoint covers every
//     record (nothing unsigned is trusted);
//   - the log's entries: every one well formed and of a known kind; the
//     election's lifecycle in order (created, opened, closed, tallied,
//     published, each once), each entry in the step it belongs to;
//   - the key ceremony: the registered trustees, every deal, verdict and
//     answer signed by its trustee for this election and in its step, and
//     the logged election key and trustee keys exactly what the messages
//     give (the qualified dealers' commitments, summed);
//   - the bundle against the log: the definition is the one created, the
//     trustees the ones set up, the status the log's last step, the sums,
//     partial decryptions and results the ones the tally logged;
//   - the roll: unique pseudonyms and public credentials whose commitment
//     is the one logged when the election opened (each credential replaced
//     since put back);
//   - the ballots: each cast between the logged open and close and inside
//     the election's window, by a voter on the roll, in their group, once;
//     the count at close equal to the ballots; the bundle's ballots exactly
//     the logged ones; every ballot's proofs, each bound to the credential
//     the ballot names, which must be the casting voter's, and its
//     signature by that credential (so a ballot is one voter's, and there
//     is one per credential);
//   - the count: the sums are the sums of the ballots; every partial
//     decryption verifies unless the tally refused it; the trustees the
//     tally combined give exactly the logged results.
//
// It returns the report and, if anything fails, an error naming the first
// failure and where it is.
func Verify(r io.Reader, opts Options) (*Report, error) {
	now := time.Now()
	v := &verifier{opts: opts, report: &Report{LogKeyPinned: opts.LogKey != "", LogKey: opts.LogKey}, start: now, lastReport: now,
		roll: map[string]string{}, credentials: map[string]bool{}, credentialOf: map[string][]byte{}, castBy: map[string]int64{}, cast: map[string]castEntry{}, seen: map[string]bool{},
		spoiled: map[string]bool{}, spoiledAlphas: map[[32]byte]string{},
		valid: map[int]*ballot.PartialDecryption{}}
	v.log = newElectionLog(v)
	err := CheckOptions(opts)
	if err == nil {
		err = v.run(r)
	}
	v.report.Elapsed = time.Since(v.start)
	if err != nil {
		v.report.Failure = err.Error()
	} else {
		v.report.VerifiedElection, v.report.Trustees = v.election, v.trustees
		if v.bundleSums != nil {
			v.report.Sums = v.sums
		}
	}
	return v.report, err
}

type castEntry struct {
	voter    string // the pseudonym that cast it
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
	// definition is the bundle's definition, as its bytes.
	definition []byte
	trustees   *ballot.Trustees

	roll         map[string]string // pseudonym → group
	rollList     []ballot.RollEntry
	credentials  map[string]bool   // public credentials on the roll, hex
	credentialOf map[string][]byte // pseudonym → public credential
	rollChecks   rollChecks        // the roll's credentials, decoding

	records int64
	chains  []tlog.Hash
	hashes  record.MemoryHashes
	newest  int64 // the size of the newest checkpoint
	// signedAt holds each checkpoint's text by size, to name a split view;
	// newestCosigners are the policy's witnesses that cosigned the newest.
	signedAt        map[int64]string
	newestCosigners []string

	log    *electionLog
	castBy map[string]int64     // pseudonym → position of its ballot.cast
	cast   map[string]castEntry // tracking code → entry
	seen   map[string]bool      // tracking codes of ballots in the bundle
	// spoiled are the checked copies' tracking codes, and spoiledAlphas
	// their ciphertexts' α (whose randomness is public), each to its copy.
	spoiled       map[string]bool
	spoiledAlphas map[[32]byte]string

	checkpoints int
	ballots     int
	sums        *ballot.Sums // the sums of the bundle's ballots
	bundleSums  *ballot.Sums // the bundle's sums line, once checked
	lastPartial int
	valid       map[int]*ballot.PartialDecryption // verified partial decryptions by trustee
	sawResults  bool

	stepStart  time.Time
	stepName   string
	stepCount  int
	lastReport time.Time

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

// fail returns an error at the current line.
func (v *verifier) fail(format string, args ...any) error {
	return v.failAt(v.lineNo, format, args...)
}

func (v *verifier) failAt(lineNo int, format string, args ...any) error {
	if v.opts.FromDatabase {
		return fmt.Errorf(format, args...)
	}
	return fmt.Errorf("line %d: %s", lineNo, fmt.Sprintf(format, args...))
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

// The sections of a bundle, in order; those marked repeat may have many
// lines, the others one at most.
const (
	secHeader = iota
	secElection
	secTrustees
	secRoll        // repeat
	secRecords     // repeat
	secCheckpoints // repeat
	secBallots     // repeat
	secSums
	secPartials // repeat
	secResults
	secEnd
)

var sections = map[string]int{"header": secHeader, "election": secElection, "trustees": secTrustees, "voter": secRoll,
	"record": secRecords, "checkpoint": secCheckpoints, "ballot": secBallots, "sums": secSums, "partial": secPartials,
	"results": secResults, "end": secEnd}

func repeats(sec int) bool {
	return sec == secRoll || sec == secRecords || sec == secCheckpoints || sec == secBallots || sec == secPartials
}

func (v *verifier) run(r io.Reader) error {
	chunks := make(chan lineChunk, 8)
	done := make(chan struct{})
	defer close(done)
	go readLines(r, chunks, done)
	defer v.stopWorkers()

	last := -1
	for c := range chunks {
		for _, d := range c.lines {
			v.lineNo++
			if last == secEnd {
				return v.firstFailure(v.fail("data after the end line"))
			}
			if d.err != nil {
				return v.firstFailure(v.fail("not a bundle line: %v", d.err))
			}
			l := d.l
			sec := sections[l.Type]
			if sec < last || (sec == last && !repeats(sec)) || (last == -1 && sec != secHeader) {
				return v.firstFailure(v.fail("unexpected %q line here", l.Type))
			}
			for ; last < sec; last++ {
				if err := v.leave(last); err != nil {
					return v.firstFailure(err)
				}
			}
			if err := v.onLine(l); err != nil {
				return v.firstFailure(err)
			}
		}
		if c.err != nil {
			return v.firstFailure(v.failAt(v.lineNo+1, "%v", c.err))
		}
	}
	if last != secEnd {
		return v.firstFailure(fmt.Errorf("the bundle is cut off: no end line after line %d", v.lineNo))
	}
	v.step("done")
	return nil
}

func (v *verifier) onLine(l line) error {
	switch l.Type {
	case "header":
		return v.onHeader(l)
	case "election":
		return v.onElection(l)
	case "trustees":
		return v.onTrustees(l)
	case "voter":
		return v.onVoter(l)
	case "record":
		return v.onRecord(l)
	case "checkpoint":
		return v.onCheckpoint(l)
	case "ballot":
		return v.onBallot(l)
	case "sums":
		return v.onSums(l)
	case "partial":
		return v.onPartial(l)
	case "results":
		return v.onResults(l)
	case "end":
		if l.Lines != v.lineNo-1 {
			return v.fail("the end line counts %d lines, the bundle has %d", l.Lines, v.lineNo-1)
		}
	}
	return nil
}

// leave runs the checks due when section sec ends, whether or not the
// bundle had lines in it. Their errors name what they concern rather than a
// line.
func (v *verifier) leave(sec int) error {
	switch sec {
	case secHeader:
		if v.header.Type == "" {
			return errors.New("no header line")
		}
	case secRoll:
		if bad := v.rollChecks.finish(); bad != nil {
			return v.failAt(bad.line, "%v", bad.err)
		}
	case secElection:
		if v.election == nil {
			return errors.New("no election line")
		}
	case secCheckpoints:
		return v.finishLog()
	case secBallots:
		return v.finishBallots()
	case secSums:
		if s := v.log.sums; s != nil && v.bundleSums == nil {
			return fmt.Errorf("the log records the tally's sums (record %d), but the bundle has no sums line", s.at)
		}
	case secPartials:
		for _, t := range v.log.partialOrder {
			if p := v.log.partials[t]; !p.inBundle {
				return fmt.Errorf("record %d logs trustee %d's partial decryption, which the bundle does not have", p.at, t)
			}
		}
	case secResults:
		if t := v.log.tally; t != nil && !v.sawResults {
			return fmt.Errorf("the log records the tally's results (record %d), but the bundle has no results line", t.at)
		}
	}
	return nil
}

func (v *verifier) onHeader(l line) error {
	if l.Format != Format || l.Election == "" || l.LogKey == "" {
		return v.fail("not a %s header", Format)
	}
	if _, err := note.NewVerifier(l.LogKey); err != nil {
		return v.fail("the bundle's log key is malformed: %v", err)
	}
	v.header, v.logKey = l, l.LogKey
	if v.opts.LogKey != "" && v.opts.LogKey != l.LogKey {
		return v.fail("the bundle's log key is not the pinned one (%s)", v.opts.LogKey)
	}
	v.report.Election, v.report.LogKey = l.Election, l.LogKey
	v.log.id = l.Election
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
	switch ballot.Status(l.Status) {
	case ballot.Draft, ballot.Open, ballot.Closed, ballot.Tallied, ballot.Published:
	default:
		return v.fail("unknown status %q", l.Status)
	}
	v.definition = l.Definition
	v.election = &ballot.Election{ID: d.ID, Title: d.Title, Status: ballot.Status(l.Status), OpensAt: d.OpensAt, ClosesAt: d.ClosesAt,
		Groups: d.Groups, Questions: d.Questions}
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
	if err != nil || len(p) != 32 || hex.EncodeToString(p) != l.Pseudonym {
		return v.fail("bad pseudonym %q: want 64 lower-case hex digits", l.Pseudonym)
	}
	if _, dup := v.roll[l.Pseudonym]; dup {
		return v.fail("pseudonym %s is on the roll twice", l.Pseudonym)
	}
	if !v.hasGroup(l.Group) {
		return v.fail("pseudonym %s is in unknown group %q", l.Pseudonym, l.Group)
	}
	entry := ballot.RollEntry{Pseudonym: [32]byte(p), Group: l.Group}
	switch {
	case l.Credential == nil || *l.Credential == "" && v.election.Status != ballot.Draft:
		return v.fail("pseudonym %s has no public credential", l.Pseudonym)
	case *l.Credential != "":
		c, err := ballot.ParsePublicCredentialHex(*l.Credential)
		if err != nil {
			return v.fail("pseudonym %s: %v", l.Pseudonym, err)
		}
		v.rollChecks.add(v.lineNo, l.Pseudonym, c)
		if v.credentials[*l.Credential] {
			return v.fail("credential %s is on the roll twice", *l.Credential)
		}
		v.credentials[*l.Credential] = true
		v.credentialOf[l.Pseudonym] = c
		entry.Credential = [32]byte(c)
	}
	v.roll[l.Pseudonym] = l.Group
	v.rollList = append(v.rollList, entry)
	v.step("roll")
	return nil
}

// rollChecks decodes the roll's public credentials on the other cores
// while the roll is read (decoding one takes a square root, a tenth of
// reading the roll), and keeps the first line whose credential does not
// decode: finish reports it.
type rollChecks struct {
	pending []pendingCredential
	wg      sync.WaitGroup
	mu      sync.Mutex
	bad     *lineError
}

type pendingCredential struct {
	line       int
	pseudonym  string
	credential []byte
}

// credentialsABatch is how many credentials one goroutine decodes.
const credentialsABatch = 4096

func (c *rollChecks) add(line int, pseudonym string, credential []byte) {
	c.pending = append(c.pending, pendingCredential{line, pseudonym, credential})
	if len(c.pending) == credentialsABatch {
		c.start()
	}
}

func (c *rollChecks) start() {
	batch := c.pending
	c.pending = nil
	if len(batch) == 0 {
		return
	}
	c.wg.Go(func() {
		for _, p := range batch {
			if err := ballot.CheckPublicCredential(p.credential); err != nil {
				c.mu.Lock()
				if c.bad == nil || p.line < c.bad.line {
					c.bad = &lineError{p.line, fmt.Errorf("pseudonym %s: %w", p.pseudonym, err)}
				}
				c.mu.Unlock()
				return
			}
		}
	})
}

// finish waits for every check and returns the first line whose
// credential does not decode, or nil.
func (c *rollChecks) finish() *lineError {
	c.start()
	c.wg.Wait()
	return c.bad
}

// firstFailure returns err, or an earlier line's failure that a check
// still going on found: the verifier names the first failure by line.
func (v *verifier) firstFailure(err error) error {
	if bad := v.rollChecks.finish(); bad != nil {
		return v.failAt(bad.line, "%v", bad.err)
	}
	return err
}

func (v *verifier) hasGroup(id string) bool {
	for _, g := range v.election.Groups {
		if g.ID == id {
			return true
		}
	}
	return false
}

func (v *verifier) onRecord(l line) error {
	if l.Position == nil || *l.Position != v.records {
		return v.fail("record at position %v; expected position %d (a record is missing, added or out of order)", posString(l.Position), v.records)
	}
	n := v.records
	idx, prev, body, err := record.Parse(l.Record)
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
	v.chains = append(v.chains, record.ChainHash(l.Record))
	v.records++
	v.step("log records")

	e, err := entry.Parse(body)
	if err != nil {
		return v.fail("record %d: %v", n, err)
	}
	if err := v.log.onEntry(n, e); err != nil {
		return v.fail("record %d: %v", n, err)
	}
	return nil
}

func (v *verifier) onCheckpoint(l line) error {
	var (
		c     record.Checkpoint
		names []string
		err   error
	)
	if p := v.log.policy; p != nil {
		c, names, err = p.data.Open([]byte(l.Signed), v.logKey)
	} else {
		c, err = record.OpenCheckpoint([]byte(l.Signed), v.logKey)
	}
	if err != nil {
		return v.fail("checkpoint %d: %v", v.checkpoints+1, err)
	}
	if text, ok := v.signedAt[c.Size]; ok && text != string(c.Body()) {
		return v.fail("two different checkpoints of size %d are signed by the log's key: a split view", c.Size)
	}
	if err := v.checkCheckpoint(c); err != nil {
		return v.fail("checkpoint of size %d: %v", c.Size, err)
	}
	if v.signedAt == nil {
		v.signedAt = map[int64]string{}
	}
	v.signedAt[c.Size] = string(c.Body())
	if v.log.policy != nil {
		w := v.report.Witnesses
		for _, name := range names {
			w.Cosigned[name] = max(w.Cosigned[name], c.Size)
		}
		if c.Size >= v.newest {
			v.newestCosigners = names
		}
	}
	v.newest = max(v.newest, c.Size)
	v.checkpoints++
	v.step("checkpoints")
	return nil
}

// checkCheckpoint checks that c describes a prefix of the bundle's log.
func (v *verifier) checkCheckpoint(c record.Checkpoint) error {
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
		return fmt.Errorf("its tree hash is not the tree hash of the first %d records: the log was rewritten, or shown differently to others (a split view)", c.Size)
	}
	if v.chains[c.Size-1] != c.Chain {
		return fmt.Errorf("its chain hash is not record %d's", c.Size-1)
	}
	return nil
}

// finishLog runs the checks due once the whole log and its checkpoints are
// read: nothing unsigned, the saved checkpoints, and the log's account of
// the election against the bundle's.
func (v *verifier) finishLog() error {
	if v.records == 0 {
		return errors.New("the bundle has no log records")
	}
	if v.newest < v.records {
		return fmt.Errorf("records %d to %d are not covered by any signed checkpoint (the newest covers %d records): they are not trusted", v.newest, v.records-1, v.newest)
	}
	for name, signed := range v.opts.Checkpoints {
		c, err := record.OpenCheckpoint(signed, v.logKey)
		if err != nil {
			return fmt.Errorf("checkpoint %s: %v", name, err)
		}
		if text, ok := v.signedAt[c.Size]; ok && text != string(c.Body()) {
			return fmt.Errorf("checkpoint %s and the bundle's checkpoint of size %d differ, and the log's key signed both: a split view", name, c.Size)
		}
		if err := v.checkCheckpoint(c); err != nil {
			return fmt.Errorf("checkpoint %s (size %d): %v", name, c.Size, err)
		}
		v.report.SavedCheckpoints++
		v.step("saved checkpoints")
	}
	if err := v.checkWitnessed(); err != nil {
		return err
	}
	return v.log.finish()
}

func (v *verifier) onBallot(l line) error {
	if v.work == nil {
		if v.election.Key == nil {
			return v.fail("ballots without the election key")
		}
		v.startWorkers()
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
	// The ballot must be signed with the credential of the voter who cast
	// it (a credential is never replaced once its voter has cast): the
	// signature itself is checked with the proofs.
	if err := ballot.CheckBallotCredential(v.election, l.Content, v.credentialOf[e.voter]); err != nil {
		return v.fail("ballot %s (record %d, pseudonym %s): %v", code, e.position, e.voter, err)
	}
	if len(v.spoiledAlphas) > 0 {
		alphas, err := v.election.Alphas(l.Content)
		if err != nil {
			return v.fail("ballot %s: %v", code, err)
		}
		for _, a := range alphas {
			if copyCode, ok := v.spoiledAlphas[[32]byte(a)]; ok {
				return v.fail("ballot %s (record %d) holds a ciphertext of checked copy %s, whose randomness is public", code, e.position, copyCode)
			}
		}
	}
	v.seen[code] = true
	v.ballots++
	v.step("ballots (every proof and signature)")
	v.work <- ballotJob{line: v.lineNo, group: l.Group, content: l.Content}
	return nil
}

// ballotsABatch is how many ballots a worker checks at once: enough that
// the batch's multi-scalar multiplication costs a few additions a point.
const ballotsABatch = 1024

func (v *verifier) startWorkers() {
	v.work = make(chan ballotJob, 64)
	for range runtime.GOMAXPROCS(0) {
		s := v.election.NewSums()
		v.partSums = append(v.partSums, s)
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			v.verifyBallots(v.work, s)
		}()
	}
}

// stopWorkers stops the ballot workers if they run.
func (v *verifier) stopWorkers() {
	if v.work != nil {
		close(v.work)
		v.wg.Wait()
		v.work = nil
	}
}

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
	batch.Reserve(ballotsABatch)
	flush := func() {
		if i, err := batch.Verify(); err != nil {
			fail(lines[i], err)
		}
		batch, _ = v.election.NewBatch()
		batch.Reserve(ballotsABatch)
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
	v.stopWorkers()
	if v.firstBad != nil {
		return v.failAt(v.firstBad.line, "%v", v.firstBad.err)
	}
	for code, e := range v.cast {
		if !v.seen[code] {
			return fmt.Errorf("record %d logs ballot %s, which the bundle does not have", e.position, code)
		}
	}
	v.sums = v.election.NewSums()
	for _, s := range v.partSums {
		v.sums.Merge(s)
	}
	return nil
}

func (v *verifier) onSums(l line) error {
	logged := v.log.sums
	if logged == nil {
		return v.fail("the bundle has sums, but the log records no tally")
	}
	s, err := v.election.DecodeSums(l.Sums)
	if err != nil {
		return v.fail("%v", err)
	}
	if !s.Equal(v.sums) {
		return v.fail("the stored sums are not the sums of the ballots")
	}
	digest := sha256.Sum256(l.Sums)
	if logged.data.SumsSHA256 != hex.EncodeToString(digest[:]) {
		return v.fail("the sums are not the ones the tally logged (record %d)", logged.at)
	}
	v.bundleSums = s
	v.step("sums")
	return nil
}

func (v *verifier) onPartial(l line) error {
	t := l.Trustee
	if t <= v.lastPartial {
		return v.fail("trustee %d's partial decryption appears twice or out of order", t)
	}
	v.lastPartial = t
	if v.trustees == nil || t < 1 || t > len(v.trustees.Public) {
		return v.fail("a partial decryption by trustee %d: the election has %d trustees", t, v.trusteeCount())
	}
	logged, ok := v.log.partials[t]
	if !ok {
		return v.fail("trustee %d's partial decryption is not in the log", t)
	}
	digest := sha256.Sum256(l.Shares)
	if logged.data.SharesSHA256 != hex.EncodeToString(digest[:]) || logged.data.Proof != hex.EncodeToString(l.Proof) {
		return v.fail("trustee %d's partial decryption is not the one the log records (record %d)", t, logged.at)
	}
	logged.inBundle = true
	if v.bundleSums == nil {
		return v.fail("a partial decryption without sums")
	}
	p, err := ballot.DecodePartial(t, l.Shares, l.Proof)
	if err == nil {
		err = v.election.VerifyPartial(v.trustees, v.bundleSums, p)
	}
	refused, combined := v.log.refused(t), v.log.combined(t)
	switch {
	case err != nil && refused:
		v.report.Refused = append(v.report.Refused, fmt.Sprintf("%v (the tally refused it, record %d)", err, v.log.tally.at))
	case err != nil && combined:
		return v.fail("%v, yet the tally combined it (record %d)", err, v.log.tally.at)
	case err != nil:
		return v.fail("%v", err)
	case refused:
		return v.fail("the tally (record %d) refused trustee %d's partial decryption, but it verifies", v.log.tally.at, t)
	default:
		v.valid[t] = p
	}
	v.step("partial decryptions")
	return nil
}

func (v *verifier) trusteeCount() int {
	if v.trustees == nil {
		return 0
	}
	return len(v.trustees.Public)
}

func (v *verifier) onResults(l line) error {
	v.sawResults = true
	tally := v.log.tally
	if tally == nil {
		return v.fail("the bundle has results, but the log records no tally")
	}
	if !bytes.Equal(l.Results, tally.data.Results) {
		return v.fail("the bundle's results are not the ones the tally logged (record %d)", tally.at)
	}
	var combined []*ballot.PartialDecryption
	for _, t := range tally.data.Trustees {
		p, ok := v.valid[t]
		if !ok {
			return v.fail("the tally (record %d) combined trustee %d's partial decryption, which does not verify", tally.at, t)
		}
		combined = append(combined, p)
	}
	if err := v.election.CheckResults(v.trustees, v.bundleSums, combined, tally.data.Results); err != nil {
		return v.fail("the results the tally logged (record %d): %v", tally.at, err)
	}
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

// authorityCredentials checks the authority's file against its published
// hash and reads it: each public credential, hex, with its voter's group.
// It returns nil when no file is given.
func authorityCredentials(opts Options) (map[string]string, error) {
	if opts.Credentials == nil && opts.CredentialsSHA256 == "" {
		return nil, nil
	}
	if opts.Credentials == nil || opts.CredentialsSHA256 == "" {
		return nil, errors.New("the authority's credentials file and the SHA-256 it published go together")
	}
	sum := sha256.Sum256(opts.Credentials)
	if hex.EncodeToString(sum[:]) != opts.CredentialsSHA256 {
		return nil, fmt.Errorf("the credentials file's SHA-256 is %x, not the published %s", sum, opts.CredentialsSHA256)
	}
	groups := map[string]string{}
	err := ballot.ReadCredentials(bytes.NewReader(opts.Credentials), func(c ballot.PublicCredential) error {
		groups[hex.EncodeToString(c.P)] = c.Group
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("the authority's credentials file: %v", err)
	}
	return groups, nil
}

// checkWitnessed checks the final checkpoint against the pinned witness
// policy, if one was given.
func (v *verifier) checkWitnessed() error {
	pinned, logged := v.opts.Policy, v.log.policy
	if w := v.report.Witnesses; w != nil {
		w.FinalSize, w.Final = v.newest, v.newestCosigners
		if w.Final == nil {
			w.Final = []string{}
		}
	}
	if pinned == nil {
		return nil
	}
	if logged == nil {
		return fmt.Errorf("a witness policy is pinned, but the log records none for election %s", v.log.id)
	}
	if !pinned.Equal(logged.data) {
		return fmt.Errorf("the witness policy logged at record %d (quorum %d of %s) is not the pinned one (quorum %d of %s)",
			logged.at, logged.data.Quorum, strings.Join(logged.data.Names(), ", "), pinned.Quorum, strings.Join(pinned.Names(), ", "))
	}
	v.report.Witnesses.PolicyPinned = true
	if got := len(v.newestCosigners); got < pinned.Quorum {
		return fmt.Errorf("the final checkpoint (size %d) is cosigned by %d of the policy's witnesses (%s), fewer than its quorum of %d: the witnesses have not seen this log",
			v.newest, got, strings.Join(v.newestCosigners, ", "), pinned.Quorum)
	}
	return nil
}
