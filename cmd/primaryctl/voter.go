package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"primaryvote/audit"
	"primaryvote/ballot"
)

// signIn is the reference voter client's sign-in: it reads the voter's code
// from the first line of stdin, derives the credential key, signs the
// sign-in statement and prints the server's answer (the session token, its
// expiry and whether the voter has voted). The code never leaves this
// process.
func signIn(ctx context.Context, env *Env, args []string) error {
	d, _, err := newDeviceFlags("signin").device(env, args, 1)
	if err != nil {
		return err
	}
	answer, err := d.signIn(ctx)
	if err != nil {
		return err
	}
	_, err = env.Stdout.Write(answer)
	return err
}

// vote is the reference voter client: it does what the ballot page does on
// a phone. It reads the code from stdin and derives the credential key;
// signs in; reads the election and its key; encrypts the choices, proves
// them and signs the ballot; casts it under a fresh Idempotency-Key
// (retrying network errors and 5xx with the same key and ballot); checks
// the receipt names the ballot's own tracking code; and, once the ballot is
// in the log, checks its inclusion proof against a checkpoint signed by the
// log key (--log-key, or the server's own). Neither the code nor a choice
// leaves this process.
func vote(ctx context.Context, env *Env, args []string) error {
	flags := newDeviceFlags("vote")
	logKey := flags.String("log-key", "", "the log's verifier key, as published; the server's own if not given")
	wait := flags.Duration("wait", 30*time.Second, "how long to wait for the ballot to be in the log")
	d, pos, err := flags.device(env, args, -1)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return errUsage
	}
	sel, err := parseChoices(pos[1:])
	if err != nil {
		return err
	}
	answer, err := d.signIn(ctx)
	if err != nil {
		return err
	}
	var sess struct{ Token string }
	json.Unmarshal(answer, &sess)
	var b struct {
		Election *ballot.Election `json:"election"`
		Voted    bool             `json:"voted"`
		Receipt  json.RawMessage  `json:"receipt"`
	}
	if err := d.get(ctx, "/ballot", sess.Token, &b); err != nil {
		return err
	}
	if b.Voted {
		return fmt.Errorf("voter %s has already voted; the receipt: %s", d.voter, b.Receipt)
	}
	if b.Election == nil || b.Election.Key == nil {
		return fmt.Errorf("election %s has no key to encrypt under", d.election)
	}
	raw, err := b.Election.Encrypt(d.credential, sel)
	if err != nil {
		return err
	}
	code := ballot.TrackingCode(sha256.Sum256(raw))
	fmt.Fprintf(env.Stderr, "encrypted, proved and signed on this machine: tracking code %s\n", code)
	body, _ := json.Marshal(map[string]string{"encrypted": base64.StdEncoding.EncodeToString(raw)})
	receipt, err := d.cast(ctx, sess.Token, body)
	if err != nil {
		return err
	}
	var r struct {
		TrackingCode string `json:"tracking_code"`
	}
	if json.Unmarshal(receipt, &r) != nil || r.TrackingCode != code {
		return fmt.Errorf("the server's receipt %s is not for the ballot sent (tracking code %s): keep this output and tell an election official", receipt, code)
	}
	if _, err := fmt.Fprintf(env.Stdout, "%s\n", bytes.TrimSpace(receipt)); err != nil {
		return err
	}
	key := *logKey
	if key == "" {
		k, err := d.text(ctx, "/api/v1/log/key")
		if err != nil {
			return fmt.Errorf("couldn't read the log key: %w", err)
		}
		key = strings.TrimSpace(k)
		fmt.Fprintln(env.Stderr, "checking against the server's own log key; pass --log-key with the published one to check the server too")
	}
	deadline := time.Now().Add(*wait)
	for {
		var in struct {
			InLog bool `json:"in_log"`
			*audit.Inclusion
		}
		if err := d.get(ctx, "/receipts/"+code, "", &in); err != nil {
			return err
		}
		if in.InLog && in.Inclusion != nil {
			c, err := in.CheckCast(key, d.election, code)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stderr, "ballot %s is record %d of the log, proven under the signed checkpoint of %d records\n", code, in.Position, c.Size)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ballot %s was cast but is not in the log after %s: check it later at /verify", code, *wait)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// parseChoices reads QUESTION=CANDIDATE[,CANDIDATE…] arguments; a question
// with no candidate chosen is QUESTION=.
func parseChoices(args []string) (ballot.Selections, error) {
	sel := ballot.Selections{}
	for _, a := range args {
		q, cands, ok := strings.Cut(a, "=")
		if !ok || q == "" {
			return nil, fmt.Errorf("choice %q: want QUESTION=CANDIDATE[,CANDIDATE…]", a)
		}
		if _, dup := sel[q]; dup {
			return nil, fmt.Errorf("question %q is given twice", q)
		}
		sel[q] = []string{}
		if cands != "" {
			sel[q] = strings.Split(cands, ",")
		}
	}
	return sel, nil
}

// device is the reference client's state: the server, the election, the
// voter and the credential key their code derives.
type device struct {
	*server
	voter      string
	credential *ballot.Credential
}

// deviceFlags are the flags of the commands that act as a voter's device:
// the server and the election.
type deviceFlags struct {
	*flag.FlagSet
	url, election *string
}

func newDeviceFlags(name string) deviceFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return deviceFlags{FlagSet: fs,
		url:      fs.String("url", "http://127.0.0.1:8080", "the server"),
		election: fs.String("election", "", "the election's id")}
}

// device parses args (the voter id first, want positional arguments in
// all, any number if negative) and makes the voter's device from the code
// on stdin. It returns the positional arguments.
func (f deviceFlags) device(env *Env, args []string, want int) (*device, []string, error) {
	pos, err := parse(f.FlagSet, args, want)
	if err != nil || *f.election == "" || len(pos) == 0 {
		return nil, nil, errUsage
	}
	d, err := newDevice(env, *f.url, *f.election, pos[0])
	return d, pos, err
}

// newDevice reads the voter's code from the first line of stdin and derives
// the credential key.
func newDevice(env *Env, url, election, voter string) (*device, error) {
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("couldn't read the code: %w", err)
	}
	cred, err := ballot.DeriveCredential(election, strings.TrimSpace(line))
	if err != nil {
		return nil, err
	}
	return &device{server: newServer(url, election), voter: voter, credential: cred}, nil
}

// signIn signs the sign-in statement and returns the server's answer.
func (d *device) signIn(ctx context.Context) ([]byte, error) {
	at := time.Now()
	body, _ := json.Marshal(map[string]any{
		"voter_id":  d.voter,
		"at":        at.UnixMilli(),
		"signature": d.credential.Sign(ballot.SignInContext, ballot.SignInStatement(d.election, d.voter, at)),
	})
	st, answer, err := d.do(ctx, "POST", d.base()+"/sessions", "", "", body)
	if err != nil {
		return nil, err
	}
	if st != http.StatusCreated {
		return nil, fmt.Errorf("sign-in refused (%d): %s", st, problemDetail(answer))
	}
	return answer, nil
}

// cast sends the ballot under one Idempotency-Key until the server answers
// for it: network errors, 429 and 5xx are retried with the same key and
// body for up to a minute, so a flaky connection never casts two ballots.
func (d *device) cast(ctx context.Context, token string, body []byte) ([]byte, error) {
	var k [16]byte
	rand.Read(k[:])
	key := hex.EncodeToString(k[:])
	deadline := time.Now().Add(time.Minute)
	backoff := 250 * time.Millisecond
	for {
		st, answer, err := d.do(ctx, "POST", d.base()+"/ballots", token, key, body)
		switch {
		case err == nil && st == http.StatusCreated:
			return answer, nil
		case err == nil && st < 500 && st != http.StatusTooManyRequests:
			return nil, fmt.Errorf("the ballot was refused (%d): %s", st, problemDetail(answer))
		case time.Now().After(deadline):
			return nil, fmt.Errorf("the ballot could not be sent (last: %d %v); run the command again: it casts nothing twice", st, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
