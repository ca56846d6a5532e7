package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"primaryvote/ballot"
)

// signIn is the reference voter client's sign-in: it reads the voter's code
// from the first line of stdin, derives the credential key, signs the
// sign-in statement and prints the server's answer (the session token, its
// expiry and whether the voter has voted). The code never leaves this
// process.
func signIn(ctx context.Context, env *Env, args []string) error {
	flags := flag.NewFlagSet("signin", flag.ContinueOnError)
	url := flags.String("url", "http://127.0.0.1:8080", "the server")
	election := flags.String("election", "", "the election's id")
	pos, err := parse(flags, args, 1)
	if err != nil || *election == "" {
		return errUsage
	}
	voter := pos[0]
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("couldn't read the code: %w", err)
	}
	cred, err := ballot.DeriveCredential(*election, strings.TrimSpace(line))
	if err != nil {
		return err
	}
	at := time.Now()
	body, _ := json.Marshal(map[string]any{
		"voter_id":  voter,
		"at":        at.UnixMilli(),
		"signature": cred.Sign(ballot.SignInContext, ballot.SignInStatement(*election, voter, at)),
	})
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(*url, "/")+"/api/v1/elections/"+*election+"/sessions", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if res.StatusCode != http.StatusCreated {
		var p struct{ Detail string }
		json.Unmarshal(answer, &p)
		return fmt.Errorf("sign-in refused (%s): %s", res.Status, p.Detail)
	}
	_, err = env.Stdout.Write(answer)
	return err
}
