package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"primaryvote/audit/entry"
	"primaryvote/ballot"
)

// electionLog follows what the log records about the bundle's election, one
// record at a time, and checks each entry against the lifecycle it belongs
// to and against what the bundle states.
type electionLog struct {
	v  *verifier
	id string

	status ballot.Status // "" until the election is created
	// steps are the positions of the lifecycle entries, by the status each
	// led to.
	steps map[ballot.Status]int64

	trustees *logged[entry.TrusteesSet]
	// ceremony is the key ceremony's registration and messages, in log
	// order, which trustees.setup must follow from.
	ceremony *ballot.Ceremony
	deals    []*ballot.Deal
	verdicts []*ballot.Verdict
	answers  []*ballot.Answer
	// opened is the election.open entry, whose roll commitment is checked
	// at the end, against the bundle's roll with every credential
	// replaced after it put back (replaced).
	opened   *logged[entry.Opened]
	replaced []*logged[entry.CredentialReplaced]
	// imported is the last credentials.import; sinceImport, the
	// replacements logged after it.
	imported     *logged[entry.CredentialsImported]
	sinceImport  []*logged[entry.CredentialReplaced]
	casts        int
	perGroup     map[string]int
	sums         *logged[entry.Summed]
	partials     map[int]*loggedPartial
	partialOrder []int
	tally        *logged[entry.Tallied]
	// policy is the witness policy in force (the last logged).
	policy *logged[entry.WitnessPolicy]
}

// logged is an entry's data and its position in the log.
type logged[T any] struct {
	at   int64
	data *T
}

type loggedPartial struct {
	logged[entry.PartialDecrypted]
	inBundle bool
}

func newElectionLog(v *verifier) *electionLog {
	return &electionLog{v: v, steps: map[ballot.Status]int64{}, perGroup: map[string]int{}, partials: map[int]*loggedPartial{}}
}

// stepOf is the status each lifecycle kind leads to.
var stepOf = map[entry.Kind]ballot.Status{
	entry.KindElectionCreate:    ballot.Draft,
	entry.KindElectionOpen:      ballot.Open,
	entry.KindElectionClose:     ballot.Closed,
	entry.KindElectionTallied:   ballot.Tallied,
	entry.KindElectionPublished: ballot.Published,
}

// previous is the status each step leaves.
var previous = map[ballot.Status]ballot.Status{
	ballot.Open: ballot.Draft, ballot.Closed: ballot.Open, ballot.Tallied: ballot.Closed, ballot.Published: ballot.Tallied,
}

// onEntry checks record n's entry, if it is about the bundle's election.
func (g *electionLog) onEntry(n int64, e *entry.Parsed) error {
	if e.Election != g.id {
		return nil // the log covers every election; this entry is another's or none's
	}
	if g.status == "" && e.Kind != entry.KindElectionCreate {
		return fmt.Errorf("a %s entry about election %s before its election.create", e.Kind, g.id)
	}
	data, err := e.Decode()
	if err != nil {
		return err
	}
	if to, ok := stepOf[e.Kind]; ok {
		if err := g.onStep(n, e.Kind, to, data); err != nil {
			return err
		}
	}
	switch d := data.(type) {
	case *entry.Created:
		if !bytes.Equal(d.Definition, g.v.definition) {
			return fmt.Errorf("the bundle's definition is not the one logged when election %s was created", g.id)
		}
	case *entry.RollImported:
		return g.require(entry.KindRollImport, ballot.Draft)
	case *entry.CredentialsImported:
		g.imported, g.sinceImport = &logged[entry.CredentialsImported]{at: n, data: d}, nil
		return g.require(e.Kind, ballot.Draft)
	case *entry.CredentialReplaced:
		if _, ok := g.v.roll[d.Voter]; !ok {
			return fmt.Errorf("a credential is replaced for pseudonym %s, who is not on the roll", d.Voter)
		}
		if _, voted := g.v.castBy[d.Voter]; voted {
			return fmt.Errorf("a credential is replaced for pseudonym %s, who has already cast a ballot", d.Voter)
		}
		if err := g.require(e.Kind, ballot.Draft, ballot.Open); err != nil {
			return err
		}
		r := &logged[entry.CredentialReplaced]{at: n, data: d}
		if g.status == ballot.Open {
			g.replaced = append(g.replaced, r)
		}
		g.sinceImport = append(g.sinceImport, r)
		return nil
	case *entry.CeremonyRegistered:
		return g.onRegistered(n, d)
	case *entry.Deal, *entry.Verdict, *entry.Answer:
		return g.onCeremonyMessage(e.Kind, d)
	case *entry.TrusteesSet:
		return g.onTrustees(n, d)
	case *entry.WitnessPolicy:
		if err := g.require(e.Kind, ballot.Draft); err != nil {
			return err
		}
		if err := d.Check(); err != nil {
			return fmt.Errorf("the witness policy: %v", err)
		}
		g.policy = &logged[entry.WitnessPolicy]{n, d}
		g.v.report.Witnesses = &WitnessReport{Quorum: d.Quorum, Cosigned: map[string]int64{}}
	case *entry.Opened:
		return g.onOpen(n, d)
	case *entry.Cast:
		return g.onCast(n, e.At, d)
	case *entry.Spoiled:
		return g.onSpoiled(d)
	case *entry.Closed:
		if d.Ballots != g.casts {
			return fmt.Errorf("the close records %d ballots, but %d were cast before it", d.Ballots, g.casts)
		}
	case *entry.Summed:
		return g.onSums(n, d)
	case *entry.PartialDecrypted:
		return g.onPartial(n, d)
	case *entry.Tallied:
		return g.onTally(n, d)
	}
	return nil
}

// onStep checks a lifecycle entry: one step forward, each step once, its
// from and to the statuses it leaves and reaches.
func (g *electionLog) onStep(n int64, kind entry.Kind, to ballot.Status, data any) error {
	if first, twice := g.steps[to]; twice {
		return fmt.Errorf("a second %s entry (the first is record %d)", kind, first)
	}
	from := previous[to]
	if g.status != from {
		return fmt.Errorf("%s while the election is %s", kind, g.status)
	}
	if to != ballot.Draft {
		var gotFrom, gotTo string
		switch d := data.(type) {
		case *entry.Opened:
			gotFrom, gotTo = d.From, d.To
		case *entry.Closed:
			gotFrom, gotTo = d.From, d.To
		case *entry.Tallied:
			gotFrom, gotTo = d.From, d.To
		case *entry.Published:
			gotFrom, gotTo = d.From, d.To
		}
		if gotFrom != string(from) || gotTo != string(to) {
			return fmt.Errorf("the %s entry says %s → %s; the step is %s → %s", kind, gotFrom, gotTo, from, to)
		}
	}
	g.status, g.steps[to] = to, n
	return nil
}

// require checks that an entry of kind comes while the election is in one
// of the statuses.
func (g *electionLog) require(kind entry.Kind, statuses ...ballot.Status) error {
	if !slices.Contains(statuses, g.status) {
		return fmt.Errorf("%s while the election is %s", kind, g.status)
	}
	return nil
}

// onRegistered starts the key ceremony: once, while a draft.
func (g *electionLog) onRegistered(n int64, d *entry.CeremonyRegistered) error {
	if err := g.require(entry.KindTrusteesRegister, ballot.Draft); err != nil {
		return err
	}
	if g.ceremony != nil {
		return fmt.Errorf("the trustees are registered twice (record %d)", n)
	}
	c := &ballot.Ceremony{ElectionID: g.id, Threshold: d.Threshold, Trustees: d.Trustees}
	if err := c.Check(); err != nil {
		return fmt.Errorf("the registered trustees (record %d): %v", n, err)
	}
	g.ceremony = c
	return nil
}

// onCeremonyMessage checks one message of the key ceremony as the server
// should have before logging it: after the registration and before the
// outcome, signed by its trustee for this election, in its step and once.
func (g *electionLog) onCeremonyMessage(kind entry.Kind, data any) error {
	if err := g.require(kind, ballot.Draft); err != nil {
		return err
	}
	c := g.ceremony
	switch {
	case c == nil:
		return fmt.Errorf("a %s entry before the trustees are registered", kind)
	case g.trustees != nil:
		return fmt.Errorf("a %s entry after the key ceremony finished (record %d)", kind, g.trustees.at)
	}
	switch d := data.(type) {
	case *ballot.Deal:
		if err := c.CheckDeal(d); err != nil {
			return err
		}
		if len(g.verdicts) > 0 {
			return fmt.Errorf("trustee %d deals after the verdicts began", d.Dealer)
		}
		if slices.ContainsFunc(g.deals, func(x *ballot.Deal) bool { return x.Dealer == d.Dealer }) {
			return fmt.Errorf("trustee %d deals twice", d.Dealer)
		}
		g.deals = append(g.deals, d)
	case *ballot.Verdict:
		if err := c.CheckVerdict(d); err != nil {
			return err
		}
		if slices.ContainsFunc(g.verdicts, func(x *ballot.Verdict) bool { return x.Trustee == d.Trustee }) {
			return fmt.Errorf("trustee %d gives two verdicts", d.Trustee)
		}
		for _, i := range d.Complaints {
			if !slices.ContainsFunc(g.deals, func(x *ballot.Deal) bool { return x.Dealer == i }) {
				return fmt.Errorf("trustee %d complains about trustee %d, who did not deal", d.Trustee, i)
			}
		}
		g.verdicts = append(g.verdicts, d)
	case *ballot.Answer:
		if err := c.CheckAnswer(d); err != nil {
			return err
		}
		if !slices.ContainsFunc(g.verdicts, func(v *ballot.Verdict) bool {
			return v.Trustee == d.Complainer && slices.Contains(v.Complaints, d.Dealer)
		}) {
			return fmt.Errorf("trustee %d answers a complaint trustee %d did not make", d.Dealer, d.Complainer)
		}
		if slices.ContainsFunc(g.answers, func(a *ballot.Answer) bool { return a.Dealer == d.Dealer && a.Complainer == d.Complainer }) {
			return fmt.Errorf("trustee %d answers trustee %d twice", d.Dealer, d.Complainer)
		}
		g.answers = append(g.answers, d)
	}
	return nil
}

// checkCeremony decides the logged ceremony, as every trustee does, and
// checks the logged outcome is what its messages give: the qualified
// dealers' summed commitments, so the election key and every trustee's key.
func (g *electionLog) checkCeremony(n int64, d *entry.TrusteesSet) error {
	if g.ceremony == nil {
		return fmt.Errorf("the election key (record %d) was set without a key ceremony in the log", n)
	}
	out, err := g.ceremony.Decide(g.deals, g.verdicts, g.answers)
	if err != nil {
		return fmt.Errorf("the key ceremony's messages give no key, yet record %d sets one: %v", n, err)
	}
	key, commitments, public := out.Trustees.Hex()
	if key != d.PublicKey || !slices.Equal(commitments, d.Commitments) || !slices.Equal(public, d.TrusteePublicKeys) || d.Trustees != len(public) {
		return fmt.Errorf("the election key logged at record %d is not the one the key ceremony's messages give (%s)", n, key)
	}
	g.v.report.Ceremony = &CeremonyReport{Trustees: len(g.ceremony.Trustees), Threshold: g.ceremony.Threshold, Qualified: out.Qualified, Excluded: out.Excluded,
		Deals: len(g.deals), Verdicts: len(g.verdicts), Answers: len(g.answers)}
	return nil
}

func (g *electionLog) onTrustees(n int64, d *entry.TrusteesSet) error {
	if err := g.require(entry.KindTrusteesSetup, ballot.Draft); err != nil {
		return err
	}
	if g.trustees != nil {
		return fmt.Errorf("a second trustees.setup entry (the first is record %d)", g.trustees.at)
	}
	if err := g.checkCeremony(n, d); err != nil {
		return err
	}
	g.trustees = &logged[entry.TrusteesSet]{n, d}
	t := g.v.trustees
	if t == nil {
		return fmt.Errorf("the log records the trustees' keys, but the bundle has no trustees line")
	}
	key, err1 := hex.DecodeString(d.PublicKey)
	commitments, err2 := decodeHexList(d.Commitments)
	public, err3 := decodeHexList(d.TrusteePublicKeys)
	switch {
	case err1 != nil || err2 != nil || err3 != nil:
		return fmt.Errorf("malformed trustees.setup data")
	case d.Threshold != t.Threshold || d.Trustees != len(t.Public) || len(d.TrusteePublicKeys) != d.Trustees:
		return fmt.Errorf("the bundle's trustees (%d of %d) are not the ones logged (%d of %d)", t.Threshold, len(t.Public), d.Threshold, d.Trustees)
	case !bytes.Equal(key, t.Key.Bytes()):
		return fmt.Errorf("the bundle's election key is not the one logged when the trustees were set up")
	case !bytes.Equal(commitments, t.EncodeCommitments()):
		return fmt.Errorf("the bundle's trustee commitments are not the ones logged when the trustees were set up")
	case !bytes.Equal(public, t.EncodePublic()):
		return fmt.Errorf("the bundle's trustee keys are not the ones logged when the trustees were set up")
	}
	return nil
}

func (g *electionLog) onOpen(n int64, d *entry.Opened) error {
	if g.trustees == nil {
		return fmt.Errorf("the election opens before its trustees are set up")
	}
	digest := sha256.Sum256(g.v.definition)
	if d.DefinitionSHA256 != hex.EncodeToString(digest[:]) {
		return fmt.Errorf("the election opens with definition SHA-256 %s, not the created definition's (%x)", d.DefinitionSHA256, digest)
	}
	g.opened = &logged[entry.Opened]{at: n, data: d}
	return nil
}

// checkRollAtOpen checks the roll commitment logged at election.open: the
// bundle's roll, each credential replaced since then put back to the one it
// replaced (every replacement naming the credential then in force), must be
// the roll committed.
func (g *electionLog) checkRollAtOpen() error {
	if g.opened == nil {
		return nil
	}
	roll := append([]ballot.RollEntry(nil), g.v.rollList...)
	at := make(map[string]int, len(roll))
	for i, e := range roll {
		at[hex.EncodeToString(e.Pseudonym[:])] = i
	}
	for k := len(g.replaced) - 1; k >= 0; k-- {
		r := g.replaced[k]
		i, ok := at[r.data.Voter]
		if !ok {
			return fmt.Errorf("record %d replaces the credential of pseudonym %s, who is not on the bundle's roll", r.at, r.data.Voter)
		}
		if hex.EncodeToString(roll[i].Credential[:]) != r.data.New {
			return fmt.Errorf("record %d replaces pseudonym %s's credential with %s, but the credential in force after it is %x", r.at, r.data.Voter, r.data.New, roll[i].Credential)
		}
		old, err := ballot.ParsePublicCredential(r.data.Old)
		if err != nil {
			return fmt.Errorf("record %d: the replaced credential: %v", r.at, err)
		}
		roll[i].Credential = [32]byte(old)
	}
	want, err := ballot.CommitRoll(roll)
	if err != nil {
		return err
	}
	if d := g.opened.data; d.Roll != want || d.Voters != want.Voters {
		return fmt.Errorf("record %d: the roll committed when the election opened (%d voters, root %s) is not the bundle's roll (%d voters, root %s)",
			g.opened.at, d.Roll.Voters, d.Roll.Root, want.Voters, want.Root)
	}
	return nil
}

func (g *electionLog) onCast(n int64, at time.Time, d *entry.Cast) error {
	switch g.status {
	case ballot.Open:
	case ballot.Draft:
		return fmt.Errorf("ballot %s is cast before the election opened", d.TrackingCode)
	default:
		return fmt.Errorf("ballot %s is cast after the election closed (record %d)", d.TrackingCode, g.steps[ballot.Closed])
	}
	e := g.v.election
	if (e.OpensAt != nil && at.Before(e.OpensAt.Truncate(time.Second))) || (e.ClosesAt != nil && !at.Before(*e.ClosesAt)) {
		return fmt.Errorf("ballot %s is cast at %s, outside the election's window", d.TrackingCode, at.UTC().Format(time.RFC3339))
	}
	v := g.v
	group, ok := v.roll[d.Voter]
	if !ok {
		return fmt.Errorf("ballot %s is cast by pseudonym %s, who is not on the roll", d.TrackingCode, d.Voter)
	}
	if first, twice := v.castBy[d.Voter]; twice {
		return fmt.Errorf("pseudonym %s casts a second ballot (the first is record %d)", d.Voter, first)
	}
	if group != d.Group {
		return fmt.Errorf("pseudonym %s is in group %q, the entry says %q", d.Voter, group, d.Group)
	}
	if _, dup := v.cast[d.TrackingCode]; dup {
		return fmt.Errorf("tracking code %s is logged twice", d.TrackingCode)
	}
	v.castBy[d.Voter] = n
	v.cast[d.TrackingCode] = castEntry{voter: d.Voter, group: d.Group, position: n}
	g.casts++
	g.perGroup[d.Group]++
	return nil
}

// onSpoiled checks a checked copy's entry: logged while the election was
// open (the close logs them), once, never a cast ballot's, and its
// ciphertexts exactly what its seed and choices make under the election's
// key. Their α are kept, so that no counted ballot reuses one.
func (g *electionLog) onSpoiled(d *entry.Spoiled) error {
	if err := g.require(entry.KindBallotSpoiled, ballot.Open); err != nil {
		return err
	}
	v := g.v
	if _, err := ballot.ParseTrackingCode(d.TrackingCode); err != nil {
		return fmt.Errorf("checked copy %q: not a tracking code", d.TrackingCode)
	}
	if e, cast := v.cast[d.TrackingCode]; cast {
		return fmt.Errorf("checked copy %s was cast (record %d): its choices are public", d.TrackingCode, e.position)
	}
	if v.spoiled[d.TrackingCode] {
		return fmt.Errorf("checked copy %s is logged twice", d.TrackingCode)
	}
	if v.election.Key == nil {
		return fmt.Errorf("checked copy %s without the election key", d.TrackingCode)
	}
	seed, err := hex.DecodeString(d.Seed)
	if err != nil || len(seed) != ballot.SeedSize || hex.EncodeToString(seed) != d.Seed {
		return fmt.Errorf("checked copy %s: the seed is not %d bytes in lower-case hex", d.TrackingCode, ballot.SeedSize)
	}
	want, err := v.election.SpoiledCiphertexts(seed, d.Choices)
	if err != nil {
		return fmt.Errorf("checked copy %s: %v", d.TrackingCode, err)
	}
	if !slices.EqualFunc(want, d.Ciphertexts, slices.Equal) {
		return fmt.Errorf("checked copy %s: its ciphertexts are not what its seed and choices encrypt", d.TrackingCode)
	}
	v.spoiled[d.TrackingCode] = true
	v.report.CheckedCopies++
	for _, q := range want {
		for _, ct := range q {
			a, _ := hex.DecodeString(ct[:64])
			v.spoiledAlphas[[32]byte(a)] = d.TrackingCode
		}
	}
	return nil
}

func (g *electionLog) onSums(n int64, d *entry.Summed) error {
	if err := g.require(entry.KindTallySums, ballot.Closed); err != nil {
		return err
	}
	if g.sums != nil {
		return fmt.Errorf("a second tally.sums entry (the first is record %d)", g.sums.at)
	}
	if d.Ballots != g.casts {
		return fmt.Errorf("the tally sums %d ballots, but %d were cast", d.Ballots, g.casts)
	}
	groups := g.v.election.Groups
	if len(d.PerGroup) != len(groups) {
		return fmt.Errorf("the tally counts ballots for %d groups; the election has %d", len(d.PerGroup), len(groups))
	}
	for i, gr := range groups {
		if d.PerGroup[i] != g.perGroup[gr.ID] {
			return fmt.Errorf("the tally counts %d ballots in group %s, but %d were cast", d.PerGroup[i], gr.ID, g.perGroup[gr.ID])
		}
	}
	g.sums = &logged[entry.Summed]{n, d}
	return nil
}

func (g *electionLog) onPartial(n int64, d *entry.PartialDecrypted) error {
	if err := g.require(entry.KindPartialDecryption, ballot.Closed); err != nil {
		return err
	}
	if g.sums == nil {
		return fmt.Errorf("trustee %d decrypts before the tally's sums", d.Trustee)
	}
	if g.trustees == nil || d.Trustee < 1 || d.Trustee > g.trustees.data.Trustees {
		return fmt.Errorf("a partial decryption by trustee %d: the election has %d trustees", d.Trustee, g.trusteeCount())
	}
	if first, twice := g.partials[d.Trustee]; twice {
		return fmt.Errorf("trustee %d's second partial decryption (the first is record %d)", d.Trustee, first.at)
	}
	g.partials[d.Trustee] = &loggedPartial{logged: logged[entry.PartialDecrypted]{n, d}}
	g.partialOrder = append(g.partialOrder, d.Trustee)
	return nil
}

func (g *electionLog) onTally(n int64, d *entry.Tallied) error {
	if g.sums == nil || g.trustees == nil {
		return fmt.Errorf("the election is tallied without sums")
	}
	if len(d.Trustees) != g.trustees.data.Threshold {
		return fmt.Errorf("the tally combines %d partial decryptions; the threshold is %d", len(d.Trustees), g.trustees.data.Threshold)
	}
	used := map[int]bool{}
	for _, t := range d.Trustees {
		if _, ok := g.partials[t]; !ok || used[t] {
			return fmt.Errorf("the tally combines trustee %d's partial decryption, which the log does not record (once) before it", t)
		}
		used[t] = true
	}
	for _, r := range d.Refused {
		if _, ok := g.partials[r.Trustee]; !ok || used[r.Trustee] {
			return fmt.Errorf("the tally refuses trustee %d's partial decryption, which the log does not record before it, or which it combines", r.Trustee)
		}
		used[r.Trustee] = true
	}
	g.tally = &logged[entry.Tallied]{n, d}
	return nil
}

func (g *electionLog) trusteeCount() int {
	if g.trustees == nil {
		return 0
	}
	return g.trustees.data.Trustees
}

// refused reports whether the tally refused trustee t's partial decryption.
func (g *electionLog) refused(t int) bool {
	if g.tally == nil {
		return false
	}
	for _, r := range g.tally.data.Refused {
		if r.Trustee == t {
			return true
		}
	}
	return false
}

// combined reports whether the tally combined trustee t's partial
// decryption.
func (g *electionLog) combined(t int) bool {
	return g.tally != nil && slices.Contains(g.tally.data.Trustees, t)
}

// finish runs the checks due at the end of the log.
func (g *electionLog) finish() error {
	v := g.v
	if g.status == "" {
		return fmt.Errorf("the log has no election.create entry for election %s", g.id)
	}
	if v.election.Status != g.status {
		return fmt.Errorf("the bundle's election line says the election is %s, but its last step in the log is %s (record %d)",
			v.election.Status, g.status, g.steps[g.status])
	}
	if v.trustees != nil && g.trustees == nil {
		return fmt.Errorf("the bundle's trustees are not in the log (no trustees.setup entry)")
	}
	if err := g.checkRollAtOpen(); err != nil {
		return err
	}
	return g.checkAuthority()
}

// checkAuthority checks the roll's credentials against the authority's
// file, if one was given: the import logged that file's hash, and the
// roll's credentials and groups are the file's with every replacement
// logged since the import applied in order, each replacing a credential
// then in the set.
func (g *electionLog) checkAuthority() error {
	v := g.v
	made, err := authorityCredentials(v.opts)
	if err != nil || made == nil {
		return err
	}
	if g.imported == nil {
		return fmt.Errorf("the log records no credentials.import for election %s, so its credentials cannot be the authority's", g.id)
	}
	if g.imported.data.SHA256 != v.opts.CredentialsSHA256 {
		return fmt.Errorf("record %d: the credentials imported (SHA-256 %s) are not the file the authority published (SHA-256 %s)",
			g.imported.at, g.imported.data.SHA256, v.opts.CredentialsSHA256)
	}
	for _, r := range g.sinceImport {
		group, ok := made[r.data.Old]
		if !ok {
			return fmt.Errorf("record %d replaces credential %s, which is not one the authority made or a replacement logged before", r.at, r.data.Old)
		}
		delete(made, r.data.Old)
		made[r.data.New] = group
	}
	for _, e := range v.rollList {
		c := hex.EncodeToString(e.Credential[:])
		group, ok := made[c]
		switch {
		case !ok:
			return fmt.Errorf("pseudonym %x's credential %s is not one the authority made, nor a logged replacement of one", e.Pseudonym, c)
		case group != e.Group:
			return fmt.Errorf("pseudonym %x is in group %q, but the authority made credential %s for group %q", e.Pseudonym, e.Group, c, group)
		}
		delete(made, c)
	}
	if len(made) > 0 {
		return fmt.Errorf("%d credentials the authority made are on no voter of the roll", len(made))
	}
	v.report.CredentialsPinned, v.report.CredentialsSHA256 = true, v.opts.CredentialsSHA256
	return nil
}
