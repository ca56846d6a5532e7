package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"primaryvote/ballot"
	"primaryvote/elections"
)

// The key ceremony from the command line (ballot/FORMAT.md, "Key
// ceremony"). Each trustee runs these on their own machine, against the
// server's API, with their identity file; the officials register the
// trustees and finish the ceremony with database access:
//
//	trustee:  primaryctl trustees identity --name NAME --out FILE
//	official: primaryctl trustees register ID --threshold K PUBLIC.json…
//	trustee:  primaryctl trustees deal   --election ID --identity FILE
//	trustee:  primaryctl trustees judge  --election ID --identity FILE
//	trustee:  primaryctl trustees answer --election ID --identity FILE   (if complained about)
//	official: primaryctl trustees finish ID
//	trustee:  primaryctl trustees share  --election ID --identity FILE --out SHARE
//
// and anyone: primaryctl trustees status --election ID.

// readPassphrase reads a passphrase: the first line of file, or of stdin.
func readPassphrase(env *Env, file string) (string, error) {
	var r io.Reader = env.Stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", errors.New("no passphrase: give it on stdin or with --passphrase-file")
	}
	return line, nil
}

// trusteesIdentity makes a trustee's identity: the file (its private half
// under the passphrase) and, printed, the public half for the officials.
func trusteesIdentity(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("trustees identity", flag.ContinueOnError)
	name := fs.String("name", "", "the trustee's name, as the officials will register it")
	out := fs.String("out", "", "the identity file to write (it must not exist)")
	passFile := fs.String("passphrase-file", "", "file whose first line is the passphrase (default: stdin)")
	if _, err := parse(fs, args, 0); err != nil || *name == "" || *out == "" {
		return errUsage
	}
	pass, err := readPassphrase(env, *passFile)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	id, err := ballot.WriteIdentity(&buf, *name, pass)
	if err != nil {
		return err
	}
	if err := writeNew(*out, buf.Bytes(), 0o600); err != nil {
		return err
	}
	public, _ := json.MarshalIndent(id, "", "  ")
	pubFile := strings.TrimSuffix(*out, filepath.Ext(*out)) + ".public.json"
	if err := writeNew(pubFile, append(public, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "identity of %s written to %s (keep it, and its passphrase, to yourself)\n", *name, *out)
	fmt.Fprintf(env.Stdout, "its public half is in %s: give it to the election officials, and check that they register this signing key:\n  %s\n",
		pubFile, hex.EncodeToString(id.SigningKey))
	fmt.Fprintln(env.Stdout, "next: once the officials have registered the trustees, run `primaryctl trustees deal`")
	return nil
}

// trusteesRegister registers the trustees of a draft election's key
// ceremony, numbered in the order their public files are given.
func (t *tool) trusteesRegister(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("trustees register", flag.ContinueOnError)
	threshold := fs.Int("threshold", 0, "how many trustees it takes to decrypt")
	pos, err := parse(fs, args, -1)
	if err != nil || len(pos) < 2 || *threshold == 0 {
		return errUsage
	}
	c := &ballot.Ceremony{Threshold: *threshold}
	for i, path := range pos[1:] {
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var id ballot.TrusteeIdentity
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&id); err != nil {
			return fmt.Errorf("%s: not a trustee's public identity: %v", path, err)
		}
		id.Index = i + 1
		c.Trustees = append(c.Trustees, id)
	}
	if err := t.elections.RegisterTrustees(ctx, pos[0], c, t.actor); err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "election %s: %d trustees registered, any %d of whom will decrypt:\n", pos[0], len(c.Trustees), c.Threshold)
	for _, id := range c.Trustees {
		fmt.Fprintf(t.env.Stdout, "  trustee %d  %-20s signing key %s\n", id.Index, id.Name, hex.EncodeToString(id.SigningKey))
	}
	fmt.Fprintln(t.env.Stdout, "next: each trustee runs `primaryctl trustees deal`")
	return nil
}

// trusteesFinish decides the ceremony and stores its outcome.
func (t *tool) trusteesFinish(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("trustees finish", flag.ContinueOnError)
	force := fs.Bool("force", false, "finish without the verdicts or answers still missing (their dealers are excluded)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return errUsage
	}
	out, err := t.elections.FinishCeremony(ctx, pos[0], t.actor, *force)
	if out != nil {
		printOutcome(t.env.Stdout, out)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "election %s's key is set: %s\nnext: each trustee runs `primaryctl trustees share`; then the election can open\n",
		pos[0], hex.EncodeToString(out.Trustees.Key.Bytes()))
	return nil
}

func printOutcome(w io.Writer, out *ballot.Outcome) {
	fmt.Fprintf(w, "qualified dealers: %v\n", out.Qualified)
	for i := 1; i <= len(out.Qualified)+len(out.Excluded); i++ {
		if why, ok := out.Excluded[i]; ok {
			fmt.Fprintf(w, "excluded: trustee %d %s\n", i, why)
		}
	}
}

// trusteeFlags are the flags of a trustee's commands.
type trusteeFlags struct {
	*flag.FlagSet
	url, election, identity, passFile *string
}

func newTrusteeFlags(name string) trusteeFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return trusteeFlags{FlagSet: fs,
		url:      fs.String("url", "http://127.0.0.1:8080", "the server"),
		election: fs.String("election", "", "the election's id"),
		identity: fs.String("identity", "", "the trustee's identity file"),
		passFile: fs.String("passphrase-file", "", "file whose first line is the passphrase (default: stdin)"),
	}
}

// trusteeSession is a trustee at work: the server, the ceremony as the
// server's log has it, the trustee's number in it and its keys.
type trusteeSession struct {
	srv     *server
	st      *ceremonyView
	me      int
	secrets *ballot.TrusteeSecrets
	pass    string
	env     *Env
}

// ceremonyView is the server's answer to GET …/ceremony.
type ceremonyView struct {
	Step       string `json:"step"`
	WaitingFor []int  `json:"waiting_for"`
	elections.CeremonyState
}

func fetchCeremony(ctx context.Context, srv *server) (*ceremonyView, error) {
	var v ceremonyView
	if err := srv.get(ctx, "/ceremony", "", &v); err != nil {
		return nil, err
	}
	if v.Ceremony != nil {
		v.Ceremony.ElectionID = srv.election
	}
	return &v, nil
}

// open reads the identity and the ceremony, and finds the trustee in it.
func (f trusteeFlags) open(ctx context.Context, env *Env, args []string, want int) (*trusteeSession, []string, error) {
	pos, err := parse(f.FlagSet, args, want)
	if err != nil || *f.election == "" || *f.identity == "" {
		return nil, nil, errUsage
	}
	pass, err := readPassphrase(env, *f.passFile)
	if err != nil {
		return nil, nil, err
	}
	file, err := os.Open(*f.identity)
	if err != nil {
		return nil, nil, err
	}
	defer file.Close()
	id, secrets, err := ballot.ReadIdentity(file, pass)
	if err != nil {
		return nil, nil, err
	}
	s := &trusteeSession{srv: newServer(*f.url, *f.election), secrets: secrets, pass: pass, env: env}
	if s.st, err = fetchCeremony(ctx, s.srv); err != nil {
		return nil, nil, err
	}
	if s.st.Ceremony == nil {
		return nil, nil, fmt.Errorf("election %s has no trustees registered yet: ask the officials to run `primaryctl trustees register`", *f.election)
	}
	for _, t := range s.st.Ceremony.Trustees {
		if bytes.Equal(t.SigningKey, id.SigningKey) {
			if !secrets.Matches(t) {
				return nil, nil, fmt.Errorf("trustee %d is registered with another share key than this identity's", t.Index)
			}
			s.me = t.Index
		}
	}
	if s.me == 0 {
		return nil, nil, fmt.Errorf("this identity (%s, signing key %s) is not a registered trustee of election %s", id.Name, hex.EncodeToString(id.SigningKey), *f.election)
	}
	return s, pos, nil
}

// status prints where the ceremony is and what comes next.
func (s *trusteeSession) status(ctx context.Context) {
	st, err := fetchCeremony(ctx, s.srv)
	if err != nil {
		return
	}
	printStatus(s.env.Stdout, st)
}

func printStatus(w io.Writer, st *ceremonyView) {
	names := func(ids []int) string {
		var out []string
		for _, i := range ids {
			out = append(out, fmt.Sprintf("%d (%s)", i, st.Ceremony.Trustees[i-1].Name))
		}
		return strings.Join(out, ", ")
	}
	switch st.Step {
	case "register":
		fmt.Fprintln(w, "step: register — the officials have not registered the trustees yet")
	case "deal":
		fmt.Fprintf(w, "step: deal — waiting for trustees %s to run `primaryctl trustees deal`\n", names(st.WaitingFor))
	case "judge":
		fmt.Fprintf(w, "step: judge — waiting for trustees %s to run `primaryctl trustees judge`\n", names(st.WaitingFor))
	case "answer":
		fmt.Fprintf(w, "step: answer — complaints against trustees %s wait for `primaryctl trustees answer`\n", names(st.WaitingFor))
	case "finish":
		fmt.Fprintln(w, "step: finish — every trustee has acted: the officials run `primaryctl trustees finish`")
	case "done":
		fmt.Fprintln(w, "step: done — the election key is set; each trustee runs `primaryctl trustees share` (once)")
	}
}

func trusteesStatus(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("trustees status", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "the server")
	election := fs.String("election", "", "the election's id")
	if _, err := parse(fs, args, 0); err != nil || *election == "" {
		return errUsage
	}
	st, err := fetchCeremony(ctx, newServer(*url, *election))
	if err != nil {
		return err
	}
	if st.Ceremony != nil {
		fmt.Fprintf(env.Stdout, "election %s: %d-of-%d key ceremony; %d deals, %d verdicts, %d answers\n", *election,
			st.Ceremony.Threshold, len(st.Ceremony.Trustees), len(st.Deals), len(st.Verdicts), len(st.Answers))
	}
	printStatus(env.Stdout, st)
	return nil
}

func trusteesDeal(ctx context.Context, env *Env, args []string) error {
	s, _, err := newTrusteeFlags("trustees deal").open(ctx, env, args, 0)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(s.st.Deals, func(d *ballot.Deal) bool { return d.Dealer == s.me }) {
		fmt.Fprintf(env.Stdout, "trustee %d has already dealt\n", s.me)
	} else {
		d, err := s.st.Ceremony.Deal(s.me, s.secrets)
		if err != nil {
			return err
		}
		if err := s.srv.post(ctx, "/ceremony/deals", d); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "trustee %d dealt: its commitments and a sealed share for each of the %d trustees are on the board\n", s.me, len(s.st.Ceremony.Trustees))
	}
	s.status(ctx)
	return nil
}

func trusteesJudge(ctx context.Context, env *Env, args []string) error {
	f := newTrusteeFlags("trustees judge")
	now := f.Bool("now", false, "judge the deals on the board now, although some trustees have not dealt (they are excluded)")
	s, _, err := f.open(ctx, env, args, 0)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(s.st.Verdicts, func(v *ballot.Verdict) bool { return v.Trustee == s.me }) {
		fmt.Fprintf(env.Stdout, "trustee %d has already given its verdict\n", s.me)
		s.status(ctx)
		return nil
	}
	if s.st.Step == "deal" && !*now {
		printStatus(env.Stdout, s.st)
		return errors.New("not every trustee has dealt: wait, or judge the deals there are with --now")
	}
	v, _, err := s.st.Ceremony.Judge(s.me, s.st.Deals, s.secrets)
	if err != nil {
		return err
	}
	if err := s.srv.post(ctx, "/ceremony/verdicts", v); err != nil {
		return err
	}
	if len(v.Complaints) == 0 {
		fmt.Fprintf(env.Stdout, "trustee %d opened every share dealt to it, and each matches its dealer's commitments\n", s.me)
	} else {
		fmt.Fprintf(env.Stdout, "trustee %d complains about dealers %v: their shares to it do not open or do not match their commitments; each must answer\n", s.me, v.Complaints)
	}
	s.status(ctx)
	return nil
}

func trusteesAnswer(ctx context.Context, env *Env, args []string) error {
	s, _, err := newTrusteeFlags("trustees answer").open(ctx, env, args, 0)
	if err != nil {
		return err
	}
	var deal *ballot.Deal
	for _, d := range s.st.Deals {
		if d.Dealer == s.me {
			deal = d
		}
	}
	answered := 0
	for _, v := range s.st.Verdicts {
		if deal == nil || !slices.Contains(v.Complaints, s.me) ||
			slices.ContainsFunc(s.st.Answers, func(a *ballot.Answer) bool { return a.Dealer == s.me && a.Complainer == v.Trustee }) {
			continue
		}
		a, err := s.st.Ceremony.Answer(deal, v.Trustee, s.secrets)
		if err != nil {
			return err
		}
		if err := s.srv.post(ctx, "/ceremony/answers", a); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "trustee %d revealed the share it dealt to trustee %d, for anyone to check\n", s.me, v.Trustee)
		answered++
	}
	if answered == 0 {
		fmt.Fprintf(env.Stdout, "no complaint against trustee %d waits for an answer\n", s.me)
	}
	s.status(ctx)
	return nil
}

// trusteesShare combines the trustee's share of the finished ceremony's
// key, after deciding the ceremony itself from the board and checking the
// server stored the same outcome, and writes it under the passphrase.
func trusteesShare(ctx context.Context, env *Env, args []string) error {
	f := newTrusteeFlags("trustees share")
	out := f.String("out", "", "the share file to write (it must not exist)")
	s, _, err := f.open(ctx, env, args, 0)
	if err != nil {
		return err
	}
	if *out == "" {
		return errUsage
	}
	if !s.st.Finished || s.st.Setup == nil {
		printStatus(env.Stdout, s.st)
		return errors.New("the ceremony has not finished")
	}
	c := s.st.Ceremony
	outcome, err := c.Decide(s.st.Deals, s.st.Verdicts, s.st.Answers)
	if err != nil {
		return err
	}
	key, _, _ := outcome.Trustees.Hex()
	if key != s.st.Setup.PublicKey {
		return fmt.Errorf("the server logged election key %s, but the board's messages give %s: do not use this election", s.st.Setup.PublicKey, key)
	}
	printOutcome(env.Stdout, outcome)
	judged := slices.DeleteFunc(slices.Clone(s.st.Deals), func(d *ballot.Deal) bool { return !slices.Contains(outcome.Qualified, d.Dealer) })
	_, opened, err := c.Judge(s.me, judged, s.secrets)
	if err != nil {
		return err
	}
	share, err := c.Combine(s.me, outcome, opened, s.st.Answers)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := ballot.WriteShare(&buf, outcome.Trustees, share, s.pass); err != nil {
		return err
	}
	if err := writeNew(*out, buf.Bytes(), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "trustee %d's share of election %s's key (%s) is in %s, under the identity's passphrase; it matches the trustee's logged public key\n",
		s.me, c.ElectionID, key, *out)
	return nil
}

// logKey prints the log's verifier key as the server states it, for a
// trustee or observer to compare with the one the committee published.
func logKey(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("log key", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "the server")
	if _, err := parse(fs, args, 0); err != nil {
		return errUsage
	}
	key, err := newServer(*url, "").text(ctx, "/api/v1/log/key")
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, strings.TrimSpace(key))
	return nil
}
