// Package keyceremony runs a whole key ceremony in one process, for tests
// and benchmarks that need an election key and no server: every trustee's
// part, as their machines would play it over the board (ballot.Ceremony).
// A real election never does this: each trustee runs their part on their
// own machine (primaryctl trustees …).
package keyceremony

import (
	"fmt"

	"github.com/cloudflare/circl/group"

	"primaryvote/ballot"
)

// Run runs an honest k-of-n key ceremony for election id and returns its
// outcome and every trustee's share.
func Run(id string, k, n int) (*ballot.Trustees, []ballot.TrusteeShare, error) {
	r, err := RunLogged(id, k, n)
	if err != nil {
		return nil, nil, err
	}
	return r.Trustees, r.Shares, nil
}

// Result is a whole ceremony: its registration and messages, as the log
// records them, its outcome, and every trustee's share.
type Result struct {
	Ceremony *ballot.Ceremony
	Deals    []*ballot.Deal
	Verdicts []*ballot.Verdict
	Trustees *ballot.Trustees
	Shares   []ballot.TrusteeShare
}

// RunLogged is Run, with the messages a log would hold.
func RunLogged(id string, k, n int) (*Result, error) {
	c := &ballot.Ceremony{ElectionID: id, Threshold: k}
	var secrets []*ballot.TrusteeSecrets
	for i := 1; i <= n; i++ {
		ident, s, err := ballot.NewTrusteeIdentity(i, fmt.Sprintf("Trustee %d", i))
		if err != nil {
			return nil, err
		}
		c.Trustees, secrets = append(c.Trustees, ident), append(secrets, s)
	}
	var deals []*ballot.Deal
	for i, s := range secrets {
		d, err := c.Deal(i+1, s)
		if err != nil {
			return nil, err
		}
		deals = append(deals, d)
	}
	var verdicts []*ballot.Verdict
	var opened []map[int]group.Scalar
	for i, s := range secrets {
		v, o, err := c.Judge(i+1, deals, s)
		if err != nil {
			return nil, err
		}
		verdicts, opened = append(verdicts, v), append(opened, o)
	}
	out, err := c.Decide(deals, verdicts, nil)
	if err != nil {
		return nil, err
	}
	var shares []ballot.TrusteeShare
	for i := range secrets {
		s, err := c.Combine(i+1, out, opened[i], nil)
		if err != nil {
			return nil, err
		}
		shares = append(shares, s)
	}
	return &Result{Ceremony: c, Deals: deals, Verdicts: verdicts, Trustees: out.Trustees, Shares: shares}, nil
}
