package elections

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
)

// The key ceremony on the server (ballot/FORMAT.md, "Key ceremony"): the
// server is only its bulletin board. An official registers the trustees;
// each trustee posts its deal, its verdict and its answers, each signed
// with its own key, which the server checks and logs; an official finishes
// the ceremony, and the log records the outcome (trustees.setup) that every
// trustee and observer can compute from the messages. The log is the board:
// the messages are read back from it.

// CeremonyState is an election's key ceremony as its log has it.
type CeremonyState struct {
	// Ceremony is nil until trustees are registered.
	Ceremony *ballot.Ceremony  `json:"ceremony"`
	Deals    []*ballot.Deal    `json:"deals"`
	Verdicts []*ballot.Verdict `json:"verdicts"`
	Answers  []*ballot.Answer  `json:"answers"`
	// Finished says the outcome is logged (trustees.setup); Setup is it.
	Finished bool               `json:"finished"`
	Setup    *entry.TrusteesSet `json:"setup,omitempty"`
}

var ceremonyKinds = []entry.Kind{entry.KindTrusteesRegister, entry.KindTrusteesDeal, entry.KindTrusteesVerdict, entry.KindTrusteesAnswer, entry.KindTrusteesSetup}

// Ceremony returns election id's key ceremony as the log has it.
func (s *Store) Ceremony(ctx context.Context, id string) (*CeremonyState, error) {
	return s.ceremony(ctx, s.pool, id)
}

func (s *Store) ceremony(ctx context.Context, q audit.Query, id string) (*CeremonyState, error) {
	entries, err := audit.Entries(ctx, q, id, ceremonyKinds)
	if err != nil {
		return nil, err
	}
	st := &CeremonyState{Deals: []*ballot.Deal{}, Verdicts: []*ballot.Verdict{}, Answers: []*ballot.Answer{}}
	for _, e := range entries {
		data, err := e.Decode()
		if err != nil {
			return nil, fmt.Errorf("election %q: the logged %s: %w", id, e.Kind, err)
		}
		switch d := data.(type) {
		case *entry.CeremonyRegistered:
			st.Ceremony = &ballot.Ceremony{ElectionID: id, Threshold: d.Threshold, Trustees: d.Trustees}
		case *entry.Deal:
			st.Deals = append(st.Deals, d)
		case *entry.Verdict:
			st.Verdicts = append(st.Verdicts, d)
		case *entry.Answer:
			st.Answers = append(st.Answers, d)
		case *entry.TrusteesSet:
			st.Finished, st.Setup = true, d
		}
	}
	return st, nil
}

// Waiting names the trustees who have yet to act in the ceremony's current
// step, and the step: "register", "deal" (until the first verdict),
// "judge", "answer", "finish" or "done".
func (st *CeremonyState) Waiting() (step string, trustees []int) {
	switch {
	case st.Finished:
		return "done", nil
	case st.Ceremony == nil:
		return "register", nil
	}
	n := len(st.Ceremony.Trustees)
	if len(st.Verdicts) == 0 {
		for i := 1; i <= n; i++ {
			if !slices.ContainsFunc(st.Deals, func(d *ballot.Deal) bool { return d.Dealer == i }) {
				trustees = append(trustees, i)
			}
		}
		if len(trustees) > 0 {
			return "deal", trustees
		}
	}
	for i := 1; i <= n; i++ {
		if !slices.ContainsFunc(st.Verdicts, func(v *ballot.Verdict) bool { return v.Trustee == i }) {
			trustees = append(trustees, i)
		}
	}
	if len(trustees) > 0 {
		return "judge", trustees
	}
	for _, v := range st.Verdicts {
		for _, d := range v.Complaints {
			if !st.answered(d, v.Trustee) && !slices.Contains(trustees, d) {
				trustees = append(trustees, d)
			}
		}
	}
	if len(trustees) > 0 {
		slices.Sort(trustees)
		return "answer", trustees
	}
	return "finish", nil
}

// registered refuses a ceremony step before the trustees are registered.
func (st *CeremonyState) registered(id string) error {
	if st.Ceremony == nil {
		return pv.Errorf(pv.EConflict, "election %q has no trustees registered for its key ceremony", id)
	}
	return nil
}

func (st *CeremonyState) answered(dealer, complainer int) bool {
	return slices.ContainsFunc(st.Answers, func(a *ballot.Answer) bool { return a.Dealer == dealer && a.Complainer == complainer })
}

// RegisterTrustees registers the trustees of draft election id's key
// ceremony, numbered in order, with its threshold. It is done once.
func (s *Store) RegisterTrustees(ctx context.Context, id string, c *ballot.Ceremony, actor string) error {
	c.ElectionID = id
	if err := c.Check(); err != nil {
		return err
	}
	return s.ceremonyStep(ctx, id, func(tx pgx.Tx, st *CeremonyState) (audit.Entry, error) {
		if st.Ceremony != nil {
			return audit.Entry{}, pv.Errorf(pv.EConflict, "election %q's trustees are already registered", id)
		}
		if _, err := s.storedTrustees(ctx, tx, id); err == nil {
			return audit.Entry{}, pv.Errorf(pv.EConflict, "election %q already has a key", id)
		}
		return audit.Entry{Kind: entry.KindTrusteesRegister, Actor: actor, Ref: "register",
			Data: entry.CeremonyRegistered{Threshold: c.Threshold, Trustees: c.Trustees}}, nil
	})
}

// PostDeal posts a trustee's deal: signed by the dealer, once, before any
// verdict.
func (s *Store) PostDeal(ctx context.Context, id string, d *ballot.Deal) error {
	return s.ceremonyStep(ctx, id, func(tx pgx.Tx, st *CeremonyState) (audit.Entry, error) {
		if err := st.registered(id); err != nil {
			return audit.Entry{}, err
		}
		if err := st.Ceremony.CheckDeal(d); err != nil {
			return audit.Entry{}, err
		}
		if len(st.Verdicts) > 0 {
			return audit.Entry{}, pv.Errorf(pv.EConflict, "the trustees are judging the deals: dealing is over")
		}
		if slices.ContainsFunc(st.Deals, func(x *ballot.Deal) bool { return x.Dealer == d.Dealer }) {
			return audit.Entry{}, pv.Errorf(pv.EConflict, "trustee %d has already dealt", d.Dealer)
		}
		return audit.Entry{Kind: entry.KindTrusteesDeal, Actor: fmt.Sprintf("trustee:%d", d.Dealer), Ref: fmt.Sprintf("deal:%d", d.Dealer), Data: *d}, nil
	})
}

// PostVerdict posts a trustee's verdict on the deals: signed by it, once,
// complaining only about dealers who dealt.
func (s *Store) PostVerdict(ctx context.Context, id string, v *ballot.Verdict) error {
	return s.ceremonyStep(ctx, id, func(tx pgx.Tx, st *CeremonyState) (audit.Entry, error) {
		if err := st.registered(id); err != nil {
			return audit.Entry{}, err
		}
		if err := st.Ceremony.CheckVerdict(v); err != nil {
			return audit.Entry{}, err
		}
		if len(st.Deals) == 0 {
			return audit.Entry{}, pv.Errorf(pv.EConflict, "no trustee has dealt yet")
		}
		if slices.ContainsFunc(st.Verdicts, func(x *ballot.Verdict) bool { return x.Trustee == v.Trustee }) {
			return audit.Entry{}, pv.Errorf(pv.EConflict, "trustee %d has already given its verdict", v.Trustee)
		}
		for _, d := range v.Complaints {
			if !slices.ContainsFunc(st.Deals, func(x *ballot.Deal) bool { return x.Dealer == d }) {
				return audit.Entry{}, pv.Errorf(pv.EInvalid, "trustee %d complains about trustee %d, who has not dealt", v.Trustee, d)
			}
		}
		return audit.Entry{Kind: entry.KindTrusteesVerdict, Actor: fmt.Sprintf("trustee:%d", v.Trustee), Ref: fmt.Sprintf("verdict:%d", v.Trustee), Data: *v}, nil
	})
}

// PostAnswer posts a dealer's answer to a complaint against it: signed by
// the dealer, once per complaint.
func (s *Store) PostAnswer(ctx context.Context, id string, a *ballot.Answer) error {
	return s.ceremonyStep(ctx, id, func(tx pgx.Tx, st *CeremonyState) (audit.Entry, error) {
		if err := st.registered(id); err != nil {
			return audit.Entry{}, err
		}
		if err := st.Ceremony.CheckAnswer(a); err != nil {
			return audit.Entry{}, err
		}
		if !slices.ContainsFunc(st.Verdicts, func(v *ballot.Verdict) bool {
			return v.Trustee == a.Complainer && slices.Contains(v.Complaints, a.Dealer)
		}) {
			return audit.Entry{}, pv.Errorf(pv.EConflict, "trustee %d has no complaint against trustee %d to answer", a.Complainer, a.Dealer)
		}
		if st.answered(a.Dealer, a.Complainer) {
			return audit.Entry{}, pv.Errorf(pv.EConflict, "trustee %d has already answered trustee %d's complaint", a.Dealer, a.Complainer)
		}
		return audit.Entry{Kind: entry.KindTrusteesAnswer, Actor: fmt.Sprintf("trustee:%d", a.Dealer), Ref: fmt.Sprintf("answer:%d:%d", a.Dealer, a.Complainer), Data: *a}, nil
	})
}

// FinishCeremony decides the ceremony from its messages, as every trustee
// and observer can, and stores and logs its outcome: the election key, the
// summed commitments and each trustee's public key. Unless force is set it
// waits for every trustee's verdict and every answer; with force, a dealer
// with an unanswered complaint is excluded. It fails, storing nothing, with
// fewer qualified dealers than the threshold.
func (s *Store) FinishCeremony(ctx context.Context, id, actor string, force bool) (*ballot.Outcome, error) {
	var out *ballot.Outcome
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		st, err := s.lockCeremony(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := st.registered(id); err != nil {
			return err
		}
		if step, waiting := st.Waiting(); step != "finish" && !force {
			return pv.Errorf(pv.EConflict, "the ceremony is at step %q, waiting for trustees %v", step, waiting)
		}
		if out, err = st.Ceremony.Decide(st.Deals, st.Verdicts, st.Answers); err != nil {
			return err
		}
		return s.setTrustees(ctx, tx, id, out.Trustees, actor)
	})
	return out, err
}

// lockCeremony takes the election's lock and reads its ceremony, which
// must be registered and not finished, with the election a draft.
func (s *Store) lockCeremony(ctx context.Context, tx pgx.Tx, id string) (*CeremonyState, error) {
	status, err := LockForChange(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if status != ballot.Draft {
		return nil, pv.Errorf(pv.EConflict, "election %q is %s: its key ceremony runs while it is a draft", id, status)
	}
	st, err := s.ceremony(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if st.Finished {
		return nil, pv.Errorf(pv.EConflict, "election %q's key ceremony has finished", id)
	}
	return st, nil
}

// ceremonyStep runs one step under the election's lock and logs the entry
// it returns.
func (s *Store) ceremonyStep(ctx context.Context, id string, step func(tx pgx.Tx, st *CeremonyState) (audit.Entry, error)) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		st, err := s.lockCeremony(ctx, tx, id)
		if err != nil {
			return err
		}
		e, err := step(tx, st)
		if err != nil {
			return err
		}
		e.ElectionID, e.At = id, s.clock()
		return audit.Append(ctx, tx, e)
	})
}
