package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"primaryvote/ballot"
)

// checkCopy is `primaryctl check`: the independent check of a copy a voter
// checked on the ballot page (ballot/FORMAT.md, "Checking a copy"), offline.
// It makes the copy again from the revealed text and the election, and
// prints the copy's tracking code and the candidates it encrypts.
func checkCopy(ctx context.Context, env *Env, args []string) error {
	flags := flag.NewFlagSet("check", flag.ContinueOnError)
	electionFile := flags.String("election", "", "the election, as GET /api/v1/elections/ID serves it (JSON)")
	pos, err := parse(flags, args, 1)
	if err != nil || *electionFile == "" {
		return errUsage
	}
	raw, err := os.ReadFile(*electionFile)
	if err != nil {
		return err
	}
	var e ballot.Election
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("%s: not an election: %v", *electionFile, err)
	}
	if e.Key == nil || len(e.Questions) == 0 {
		return fmt.Errorf("%s: the election has no questions or no public key", *electionFile)
	}
	text, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	r, err := ballot.ParseRevealed(string(text))
	if err != nil {
		return err
	}
	remade, err := e.Remake(r)
	if err != nil {
		return fmt.Errorf("the copy fails the check: %v", userMessage(err))
	}
	fmt.Fprintf(env.Stdout, "The copy is well made: every proof and its signature verify.\nTracking code: %s\n", remade.TrackingCode)
	fmt.Fprintln(env.Stdout, "Compare it with the code the ballot page showed before the voter chose to check. The copy encrypts:")
	for _, q := range e.Questions {
		var names []string
		for _, id := range remade.Selections[q.ID] {
			for _, c := range q.Candidates {
				if c.ID == id {
					names = append(names, fmt.Sprintf("%d. %s", c.Number, c.Name))
				}
			}
		}
		if len(names) == 0 {
			names = []string{"no choice"}
		}
		fmt.Fprintf(env.Stdout, "  %s: %s\n", q.Title, strings.Join(names, ", "))
	}
	return nil
}
