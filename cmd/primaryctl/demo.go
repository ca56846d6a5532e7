package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"primaryvote/audit/cosign"
	"strings"
	"time"

	pv "primaryvote"
	"primaryvote/api"
	"primaryvote/audit/witness"
	"primaryvote/auth"
	"primaryvote/ballot"
)

//go:embed demo.json
var demoDefinition []byte

const (
	demoVoters = 1000
	demoAdmin  = "admin"
)

var demoRegions = []string{"서울", "부산", "대구", "인천", "광주", "대전", "울산", "경기", "강원", "충북", "충남", "전북", "전남", "경북", "경남", "제주"}

// demo seeds the demo election: it creates it, imports a roll of 1,000
// voters, issues their codes into DIR/voters.csv, adds an admin whose
// password goes to DIR/officials.csv, runs a 2-of-3 key ceremony whose share
// files and passphrases go to DIR, and opens the election. Each step is
// skipped when already done, so a second run changes nothing; a run cut off
// half-way is finished by the next one.
func (t *tool) demo(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("demo", flag.ContinueOnError)
	dir := flags.String("dir", ".data/demo", "where to write the demo's credentials")
	site := flags.String("link", "http://127.0.0.1:8080", "the demo's site, for the voters' voting links")
	witnessAddrs := flags.String("witnesses", "127.0.0.1:7381,127.0.0.1:7382", "where the demo's two witnesses listen (scripts/run serves them)")
	if _, err := parse(flags, args, 0); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	votersFile := filepath.Join(*dir, "voters.csv")
	officialsFile := filepath.Join(*dir, "officials.csv")

	if err := t.demoOfficial(ctx, officialsFile); err != nil {
		return err
	}

	d, err := ballot.ParseDefinition(bytes.NewReader(demoDefinition))
	if err != nil {
		return fmt.Errorf("demo definition: %w", err)
	}
	e, err := t.elections.Get(ctx, d.ID)
	if pv.ErrorCode(err) == pv.ENotFound {
		if err = t.elections.Create(ctx, d, t.actor); err == nil {
			e, err = t.elections.Get(ctx, d.ID)
		}
	}
	if err != nil {
		return err
	}
	if e.Status == ballot.Draft {
		var roll bytes.Buffer
		if _, err := t.elections.ImportRoll(ctx, d.ID, io.TeeReader(demoRoll(d), &roll), t.actor); err != nil {
			return err
		}
		// The demo plays the credential authority too: the codes go to a
		// file beside the demo, the public credentials to the server.
		var voters []ballot.RollVoter
		for rr := ballot.NewRollReader(&roll); rr.Next(); {
			voters = append(voters, rr.Voter())
		}
		codes, public, err := authority(ctx, d.ID, voters, *site)
		if err != nil {
			return err
		}
		if _, err := writeFileAtomic(votersFile, func(w io.Writer) (int, error) { return w.Write(codes) }); err != nil {
			return err
		}
		if _, err := t.credentials.Import(ctx, d.ID, bytes.NewReader(public), t.actor); err != nil {
			return err
		}
		if err := t.demoTrustees(ctx, d.ID, *dir); err != nil {
			return err
		}
		if err := t.demoWitnesses(ctx, d.ID, *dir, strings.Split(*witnessAddrs, ",")); err != nil {
			return err
		}
		if err := t.elections.Open(ctx, d.ID, t.actor); err != nil {
			return err
		}
		fmt.Fprintf(t.env.Stdout, "demo election %q seeded and opened with %d voters\n", d.ID, demoVoters)
	} else {
		fmt.Fprintf(t.env.Stdout, "demo election %q already seeded (%s)\n", d.ID, e.Status)
		if _, err := os.Stat(votersFile); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(t.env.Stdout, "%s is missing, and the server never holds codes: make clean and seed the demo again\n", votersFile)
		}
	}
	fmt.Fprintf(t.env.Stdout, "voter credentials:  %s\nofficial accounts:  %s\ntrustees (2 of 3):  %s\nwitnesses (2 of 2): %s\n",
		votersFile, officialsFile, filepath.Join(*dir, "trustees.csv"), filepath.Join(*dir, "witness-{1,2}"))
	return nil
}

// demoTrustees runs the demo's key ceremony (any 2 of 3 trustees decrypt)
// unless its key exists. The three demo trustees run it through the same
// commands and the same API as trustees on their own machines do, against
// the API served on a loopback port for the length of the ceremony. Their
// passphrases, identity and share files go to DIR (trustees.csv lists
// them). A ceremony cut off half-way is taken up where it stopped.
func (t *tool) demoTrustees(ctx context.Context, id, dir string) error {
	_, err := t.elections.Trustees(ctx, id)
	finished := err == nil
	if err != nil && pv.ErrorCode(err) != pv.ENotFound {
		return err
	}
	list := filepath.Join(dir, "trustees.csv")
	type trustee struct{ passphrase, identity, share string }
	var trustees []trustee
	if rows, err := readCSV(list); err == nil && len(rows) == 4 {
		for _, r := range rows[1:] {
			trustees = append(trustees, trustee{r[1], r[3], r[2]})
		}
	} else {
		for i := 1; i <= 3; i++ {
			base := filepath.Join(dir, fmt.Sprintf("%s-trustee-%d", id, i))
			for _, f := range []string{base + ".identity", base + ".public.json", base + ".share"} {
				os.Remove(f) // of a ceremony that never got registered
			}
			trustees = append(trustees, trustee{auth.NewPassword(), base + ".identity", base + ".share"})
		}
		if _, err := writeFileAtomic(list, func(w io.Writer) (int, error) {
			c := csv.NewWriter(w)
			c.Write([]string{"trustee", "passphrase", "share_file", "identity_file"})
			for i, tr := range trustees {
				c.Write([]string{fmt.Sprint(i + 1), tr.passphrase, tr.share, tr.identity})
			}
			c.Flush()
			return len(trustees), c.Error()
		}); err != nil {
			return err
		}
	}

	missing := false
	for _, tr := range trustees {
		if _, err := os.Stat(tr.share); err != nil {
			missing = true
		}
	}
	if finished && !missing {
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	board := &http.Server{Handler: api.New(api.Config{}, api.Services{Elections: t.elections, Database: t.pool}, nil), ReadHeaderTimeout: 5 * time.Second}
	go board.Serve(ln)
	defer board.Close()
	url := "http://" + ln.Addr().String()

	quiet := *t
	quiet.env = &Env{Stdout: io.Discard, Stderr: io.Discard}
	as := func(tr trustee) *Env {
		return &Env{Stdin: strings.NewReader(tr.passphrase + "\n"), Stdout: io.Discard, Stderr: io.Discard}
	}
	st, err := t.elections.Ceremony(ctx, id)
	if err != nil {
		return err
	}
	if st.Ceremony == nil {
		args := []string{id, "--threshold", "2"}
		for i, tr := range trustees {
			os.Remove(tr.identity)
			os.Remove(strings.TrimSuffix(tr.identity, ".identity") + ".public.json")
			if err := trusteesIdentity(ctx, as(tr), []string{"--name", fmt.Sprintf("Demo trustee %d", i+1), "--out", tr.identity}); err != nil {
				return err
			}
			args = append(args, strings.TrimSuffix(tr.identity, ".identity")+".public.json")
		}
		if err := quiet.trusteesRegister(ctx, args); err != nil {
			return err
		}
	}
	if !finished {
		for _, step := range []func(context.Context, *Env, []string) error{trusteesDeal, trusteesJudge, trusteesAnswer} {
			for _, tr := range trustees {
				if err := step(ctx, as(tr), []string{"--url", url, "--election", id, "--identity", tr.identity}); err != nil {
					return err
				}
			}
		}
		if err := quiet.trusteesFinish(ctx, []string{id}); err != nil {
			return err
		}
	}
	for _, tr := range trustees {
		if _, err := os.Stat(tr.share); err == nil {
			continue
		}
		if err := trusteesShare(ctx, as(tr), []string{"--url", url, "--election", id, "--identity", tr.identity, "--out", tr.share}); err != nil {
			return err
		}
	}
	return nil
}

// demoWitnesses makes the demo's two witnesses, as two camps would on
// their own machines (DIR/witness-1 and -2, pinned to this log's key), and
// sets the election's witness policy: both must cosign. scripts/run serves
// them at addrs.
func (t *tool) demoWitnesses(ctx context.Context, id, dir string, addrs []string) error {
	if len(addrs) != 2 {
		return fmt.Errorf("the demo has two witnesses, not %d addresses", len(addrs))
	}
	policy := &cosign.Policy{Quorum: 2}
	for i, addr := range addrs {
		wdir := filepath.Join(dir, fmt.Sprintf("witness-%d", i+1))
		b, err := os.ReadFile(filepath.Join(wdir, witness.KeyFile))
		var k *cosign.Key
		switch {
		case errors.Is(err, fs.ErrNotExist):
			k, err = witness.Init(wdir, fmt.Sprintf("camp-%c.demo/witness", 'a'+i), t.signer.VerifierKey())
		case err == nil:
			k, err = cosign.ParseKey(string(b))
		}
		if err != nil {
			return err
		}
		policy.Witnesses = append(policy.Witnesses, cosign.Witness{Key: k.VerifierKey(), URL: "http://" + strings.TrimSpace(addr)})
	}
	return t.elections.SetWitnesses(ctx, id, policy, t.actor)
}

// readCSV reads a whole CSV file.
func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return csv.NewReader(f).ReadAll()
}

// demoOfficial adds the demo admin unless officials.csv already names it.
func (t *tool) demoOfficial(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	password := auth.NewPassword()
	err := t.officials.Add(ctx, demoAdmin, auth.Admin, password, t.actor)
	if pv.ErrorCode(err) == pv.EConflict {
		return fmt.Errorf("official %q exists but %s is missing; add another admin with: primaryctl official add --username NAME --role admin", demoAdmin, path)
	}
	if err != nil {
		return err
	}
	_, err = writeFileAtomic(path, func(w io.Writer) (int, error) {
		c := csv.NewWriter(w)
		c.Write([]string{"username", "password", "role"})
		c.Write([]string{demoAdmin, password, string(auth.Admin)})
		c.Flush()
		return 1, c.Error()
	})
	return err
}

// demoRoll spreads the demo voters over groups (10% delegates, 50% members,
// 40% public) and regions. The roll is public data; math/rand is fine.
func demoRoll(d *ballot.Definition) io.Reader {
	r := rand.New(rand.NewPCG(2026, 6))
	var b bytes.Buffer
	b.WriteString("voter_id,group,region\n")
	for i := 1; i <= demoVoters; i++ {
		group := d.Groups[2].ID
		switch p := r.IntN(10); {
		case p == 0:
			group = d.Groups[0].ID
		case p <= 5:
			group = d.Groups[1].ID
		}
		fmt.Fprintf(&b, "V%06d,%s,%s\n", i, group, demoRegions[r.IntN(len(demoRegions))])
	}
	return &b
}
