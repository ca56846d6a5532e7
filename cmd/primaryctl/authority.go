package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"primaryvote/ballot"
)

// credentialsGenerate is the credential authority's command. It runs
// offline, with no database and no server secrets: from the roll it makes
// each voter a code and the credential the code derives, and writes the
// private codes file (for the mail merge; never given to the server) and
// the public credentials file, whose SHA-256 the committee publishes.
func credentialsGenerate(ctx context.Context, env *Env, args []string) error {
	flags := flag.NewFlagSet("credentials generate", flag.ContinueOnError)
	election := flags.String("election", "", "the election's id")
	rollFile := flags.String("roll", "", "the roll (CSV voter_id,group,region)")
	out := flags.String("out", "", "the directory to write the two files to")
	voter := flags.String("voter", "", "only this voter of the roll, who lost their code: a replacement")
	link := flags.String("link", "", "the voting site (https://…): the codes file gets each voter's voting link, the voter id and code in its fragment")
	if _, err := parse(flags, args, 0); err != nil || *election == "" || *rollFile == "" || *out == "" {
		return errUsage
	}
	if !ballot.ValidElectionID(*election) {
		return fmt.Errorf("election id %q must be 1-64 of a-z, 0-9, '-' and '_'", *election)
	}
	if *link != "" {
		if err := ballot.CheckSiteURL(*link); err != nil {
			return err
		}
	}
	name := *election
	if *voter != "" {
		if !ballot.ValidVoterID(*voter) {
			return fmt.Errorf("voter id %q must be 1-64 of A-Z, a-z, 0-9, '.', '_' and '-'", *voter)
		}
		name += "-" + *voter
	}
	codesPath := filepath.Join(*out, name+"-codes.csv")
	publicPath := filepath.Join(*out, name+"-credentials.csv")
	for _, p := range []string{codesPath, publicPath} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s already exists: codes once sent must not be replaced by accident; remove it or choose another --out", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}

	start := time.Now()
	f, err := os.Open(*rollFile)
	if err != nil {
		return err
	}
	defer f.Close()
	roll := ballot.NewRollReader(bufio.NewReaderSize(f, 1<<16))
	var voters []ballot.RollVoter
	for roll.Next() {
		if v := roll.Voter(); *voter == "" || v.ID == *voter {
			voters = append(voters, v)
		}
	}
	if err := roll.Err(); err != nil {
		return err
	}
	switch {
	case *voter != "" && len(voters) == 0:
		return fmt.Errorf("voter %q is not on the roll", *voter)
	case len(voters) == 0:
		return errors.New("the roll has no voters")
	}

	codesFile, publicFile, err := authority(ctx, *election, voters, *link)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	if err := writeNew(codesPath, codesFile, 0o600); err != nil {
		return err
	}
	if err := writeNew(publicPath, publicFile, 0o644); err != nil {
		os.Remove(codesPath)
		return err
	}
	sum := sha256.Sum256(publicFile)
	fmt.Fprintf(env.Stdout, "credentials for %d voters of %s made in %.2fs\n", len(voters), *election, time.Since(start).Seconds())
	fmt.Fprintf(env.Stdout, "voters' codes (private: for the mail merge, never to the server): %s\n", codesPath)
	if *voter != "" {
		fmt.Fprintf(env.Stdout, "public credential (for the server: primaryctl credentials replace %s FILE): %s\n", *election, publicPath)
	} else {
		fmt.Fprintf(env.Stdout, "public credentials (for the server: primaryctl credentials import %s FILE): %s\n", *election, publicPath)
	}
	fmt.Fprintf(env.Stdout, "sha256 of the public credentials (publish it): %s\n", hex.EncodeToString(sum[:]))
	return nil
}

// authority does the credential authority's work for voters: a code each
// and the credential it derives. It returns the private codes file
// (voter_id,code, and each voter's voting link on site when there is one)
// and the public credentials file.
func authority(ctx context.Context, election string, voters []ballot.RollVoter, site string) (codesFile, publicFile []byte, err error) {
	codes, public := generateCredentials(ctx, election, voters)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if site == "" {
		codesFile = append(codesFile, "voter_id,code\n"...)
	} else {
		codesFile = append(codesFile, "voter_id,code,link\n"...)
	}
	publicFile = append(publicFile, ballot.CredentialsHeader+"\n"...)
	for i, v := range voters {
		codesFile = fmt.Appendf(codesFile, "%s,%s", v.ID, codes[i])
		if site != "" {
			codesFile = append(append(codesFile, ','), ballot.VotingLink(site, election, v.ID, codes[i])...)
		}
		codesFile = append(codesFile, '\n')
		publicFile = ballot.AppendCredentialLine(publicFile, public[i])
	}
	return codesFile, publicFile, nil
}

// generateCredentials makes every voter a code and derives its credential,
// on every core.
func generateCredentials(ctx context.Context, election string, voters []ballot.RollVoter) ([]string, []ballot.PublicCredential) {
	codes := make([]string, len(voters))
	public := make([]ballot.PublicCredential, len(voters))
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(voters) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(voters); lo += chunk {
		hi := min(lo+chunk, len(voters))
		wg.Go(func() {
			for i := lo; i < hi && ctx.Err() == nil; i++ {
				code := ballot.NewCode()
				c, err := ballot.DeriveCredential(election, code)
				if err != nil {
					panic("a new code does not derive: " + err.Error())
				}
				codes[i] = code
				public[i] = ballot.PublicCredential{VoterID: voters[i].ID, Group: voters[i].Group, P: c.Public()}
			}
		})
	}
	wg.Wait()
	return codes, public
}

// writeNew writes a file that must not exist yet, durably.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
