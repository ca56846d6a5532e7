package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"primaryvote/audit/cosign"
	"time"

	"github.com/go-chi/chi/v5"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/elections"
)

func (s *Server) getElection(w http.ResponseWriter, r *http.Request) {
	e, err := s.svc.Elections.GetPublic(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

type sessionResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	// Voted says, for a voter, whether they have cast their ballot.
	Voted *bool `json:"voted,omitempty"`
}

// createVoterSession signs a voter in by possession of their credential key:
// the device signs the sign-in statement (FORMAT.md) with the key the code
// derives, and sends the voter id, the time (milliseconds since the epoch)
// and the signature. The code never leaves the device.
func (s *Server) createVoterSession(w http.ResponseWriter, r *http.Request) {
	var req struct {
		VoterID   string `json:"voter_id"`
		At        *int64 `json:"at"`
		Signature []byte `json:"signature"`
	}
	if _, err := readJSON(w, r, maxSessionBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.VoterID == "" || req.At == nil || len(req.Signature) == 0 || len(req.VoterID) > 64 {
		s.writeError(w, r, pv.Errorf(pv.EInvalid, "voter_id (at most 64 characters), at and signature are required: the device signs in with the voter's code."))
		return
	}
	if !ballot.ValidVoterID(req.VoterID) {
		// Such an id is on no roll; saying so tells nothing about anyone.
		s.writeError(w, r, pv.Errorf(pv.EInvalid, "voter_id is not a voter id: letters, digits, '.', '_' and '-' only."))
		return
	}
	if len(req.Signature) != ballot.SignatureSize {
		s.writeError(w, r, pv.Errorf(pv.EInvalid, "signature must be %d bytes in standard base64.", ballot.SignatureSize))
		return
	}
	id := chi.URLParam(r, "id")
	if _, err := s.svc.Elections.GetPublic(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.voterLimiter.RespondOnLimit(w, r, clientIPFrom(r.Context())+"\x00"+id+"\x00"+req.VoterID) {
		return
	}
	group, voted, err := s.svc.Credentials.SignIn(r.Context(), id, req.VoterID, time.UnixMilli(*req.At), req.Signature)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	token, exp, err := s.svc.Tokens.IssueVoter(id, auth.Voter{ID: req.VoterID, Group: group})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, sessionResponse{Token: token, ExpiresAt: exp, Voted: &voted})
}

type ballotResponse struct {
	Election *ballot.Election `json:"election"`
	Voted    bool             `json:"voted"`
	Receipt  json.RawMessage  `json:"receipt,omitempty"`
}

func (s *Server) getBallot(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	e, err := s.svc.Elections.GetPublic(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	receipt, err := s.svc.Elections.Receipt(r.Context(), id, voterFrom(r.Context()).ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ballotResponse{Election: e, Voted: receipt != nil, Receipt: receipt})
}

// castRequest is the body of POST …/ballots: the ballot the voter's device
// encrypted, proved and signed (standard base64 of the canonical bytes,
// FORMAT.md). A body with selections is refused: the server never takes a
// choice.
type castRequest struct {
	Encrypted  *string         `json:"encrypted,omitempty"`
	Selections json.RawMessage `json:"selections,omitempty"`
}

func (s *Server) castBallot(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if err := elections.ValidIdempotencyKey(key); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req castRequest
	if _, err := readJSON(w, r, maxBallotBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Selections != nil || req.Encrypted == nil {
		s.writeError(w, r, elections.ErrPlaintext)
		return
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(*req.Encrypted)
	if err != nil || len(raw) == 0 {
		s.writeError(w, r, pv.Errorf(pv.EInvalid, "encrypted must be the ballot's bytes in standard base64."))
		return
	}
	voter := voterFrom(r.Context())
	cast := elections.CastRequest{
		ElectionID:     chi.URLParam(r, "id"),
		VoterID:        voter.ID,
		Group:          voter.Group,
		IdempotencyKey: key,
		Encrypted:      raw,
	}
	resp, replayed, err := s.svc.Elections.Cast(r.Context(), cast)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.WriteHeader(http.StatusCreated)
	w.Write(resp)
}

// ceremonyResponse is an election's key ceremony, with its step and who
// the step waits for.
type ceremonyResponse struct {
	Step       string `json:"step"`
	WaitingFor []int  `json:"waiting_for"`
	*elections.CeremonyState
}

// getCeremony serves an election's key ceremony: public, as its log is, and
// for a draft too (the trustees run it before the election opens).
func (s *Server) getCeremony(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := s.svc.Elections.Get(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.svc.Elections.Ceremony(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	step, waiting := st.Waiting()
	if waiting == nil {
		waiting = []int{}
	}
	writeJSON(w, http.StatusOK, ceremonyResponse{Step: step, WaitingFor: waiting, CeremonyState: st})
}

// postCeremony posts a trustee's ceremony message of kind deal, verdict or
// answer. The message's signature by the trustee's registered key is its
// authority: no session is needed, and none would do.
func (s *Server) postCeremony(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		var err error
		switch kind {
		case "deal":
			var d ballot.Deal
			if _, err = readJSON(w, r, maxBallotBody, &d); err == nil {
				err = s.svc.Elections.PostDeal(r.Context(), id, &d)
			}
		case "verdict":
			var v ballot.Verdict
			if _, err = readJSON(w, r, maxSessionBody, &v); err == nil {
				err = s.svc.Elections.PostVerdict(r.Context(), id, &v)
			}
		case "answer":
			var a ballot.Answer
			if _, err = readJSON(w, r, maxSessionBody, &a); err == nil {
				err = s.svc.Elections.PostAnswer(r.Context(), id, &a)
			}
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"posted": kind})
	}
}

// postPartial stores a trustee's partial decryption of a closed election's
// sums: {"trustee": i, "shares": hex, "proof": hex}. Its proof, checked
// against the sums and the trustee's public key, is its authority.
func (s *Server) postPartial(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Trustee int        `json:"trustee"`
		Shares  ballot.Hex `json:"shares"`
		Proof   ballot.Hex `json:"proof"`
	}
	if _, err := readJSON(w, r, maxBallotBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := ballot.DecodePartial(req.Trustee, req.Shares, req.Proof)
	if err != nil {
		s.writeError(w, r, pv.Errorf(pv.EInvalid, "not a partial decryption: %v", err))
		return
	}
	if err := s.svc.Elections.PostPartial(r.Context(), chi.URLParam(r, "id"), p, fmt.Sprintf("trustee:%d", req.Trustee)); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]int{"trustee": req.Trustee})
}

// spoilCopy records a copy of the voter's ballot that they checked instead
// of casting: {"revealed": "<the revealed copy's text>"} (ballot/FORMAT.md).
func (s *Server) spoilCopy(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Revealed string `json:"revealed"`
	}
	if _, err := readJSON(w, r, maxSpoiledBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Revealed == "" {
		s.writeError(w, r, pv.Errorf(pv.EInvalid, "revealed must be the text of the checked copy."))
		return
	}
	if _, err := ballot.ParseRevealed(req.Revealed); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Each well-formed copy counts towards the voter's bound, kept or not.
	id, voter := chi.URLParam(r, "id"), voterFrom(r.Context()).ID
	if s.checkLimiter.RespondOnLimit(w, r, id+"\x00"+voter) {
		return
	}
	got, err := s.svc.Elections.Spoil(r.Context(), elections.SpoilRequest{ElectionID: id, VoterID: voter, Revealed: req.Revealed})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, got)
}

func (s *Server) createOfficialSession(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if _, err := readJSON(w, r, maxSessionBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Username == "" || req.Password == "" || len(req.Username) > 64 || len(req.Password) > 256 {
		s.writeError(w, r, pv.Errorf(pv.EInvalid, "username and password are required."))
		return
	}
	if !auth.ValidUsername(req.Username) {
		s.writeError(w, r, pv.Errorf(pv.EInvalid, "username is not a username: lower-case letters, digits, '.', '_' and '-' only."))
		return
	}
	ip := clientIPFrom(r.Context())
	if d := s.officialFailures.wait(ip); d > 0 {
		s.tooManyFor(w, d)
		return
	}
	if s.officialLimiter.RespondOnLimit(w, r, ip+"\x00"+req.Username) {
		return
	}
	role, err := s.svc.Officials.SignIn(r.Context(), req.Username, req.Password)
	if pv.ErrorCode(err) == pv.EUnauthorized {
		s.officialFailures.fail(ip)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.officialFailures.succeed(ip)
	token, exp, err := s.svc.Tokens.IssueOfficial(auth.Principal{Username: req.Username, Role: role})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, sessionResponse{Token: token, ExpiresAt: exp})
}

func (s *Server) getTurnout(w http.ResponseWriter, r *http.Request) {
	t, err := s.svc.Elections.Turnout(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) openElection(w http.ResponseWriter, r *http.Request) {
	s.lifecycle(w, r, s.svc.Elections.Open)
}

func (s *Server) closeElection(w http.ResponseWriter, r *http.Request) {
	s.lifecycle(w, r, s.svc.Elections.Close)
}

func (s *Server) lifecycle(w http.ResponseWriter, r *http.Request, step func(ctx context.Context, id, actor string) error) {
	id := chi.URLParam(r, "id")
	if err := step(r.Context(), id, "official:"+officialFrom(r.Context()).Username); err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.svc.Elections.Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": e.ID, "status": e.Status})
}

func (s *Server) getResults(w http.ResponseWriter, r *http.Request) {
	body, err := s.svc.Elections.Results(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// getCheckpoint serves the audit log's latest signed checkpoint, a note
// (golang.org/x/mod/sumdb/note) over a C2SP tlog-checkpoint body, with
// every witness's cosignature the service holds for it. The log covers
// every election, so every election serves the same checkpoint.
func (s *Server) getCheckpoint(w http.ResponseWriter, r *http.Request) {
	if _, err := s.svc.Elections.GetPublic(r.Context(), chi.URLParam(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	signed, err := s.svc.Log.LatestCheckpoint(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if signed == nil {
		s.writeError(w, r, pv.Errorf(pv.ENotFound, "The audit log has no checkpoint yet."))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(signed)
}

// getWitnesses serves the election's witness policy with how far each
// witness has cosigned the log: the size of the newest checkpoint it
// cosigned, when, and how many records it lags.
func (s *Server) getWitnesses(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := s.svc.Elections.GetPublic(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.svc.Log.Witnesses(r.Context(), id)
	if errors.Is(err, audit.ErrNoPolicy) {
		err = pv.Errorf(pv.ENotFound, "Election %s has no witness policy.", id)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// putWitnesses sets a draft election's witness policy: {"quorum": q,
// "witnesses": [{"key": witness verifier key, "url": submission prefix}]}.
func (s *Server) putWitnesses(w http.ResponseWriter, r *http.Request) {
	var p cosign.Policy
	if _, err := readJSON(w, r, maxPolicyBody, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	if err := s.svc.Elections.SetWitnesses(r.Context(), id, &p, "official:"+officialFrom(r.Context()).Username); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// getLogKey serves the note verifier key that checks the log's checkpoints.
func (s *Server) getLogKey(w http.ResponseWriter, r *http.Request) {
	if s.svc.Log == nil || s.svc.Log.VerifierKey() == "" {
		s.writeError(w, r, pv.Errorf(pv.ENotFound, "This server has no audit log key."))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, s.svc.Log.VerifierKey()+"\n")
}

// receiptResponse says whether a ballot is in the audit log and proves it.
type receiptResponse struct {
	TrackingCode string `json:"tracking_code"`
	InLog        bool   `json:"in_log"`
	// Status is "logged", or "queued" for a ballot cast seconds ago, or
	// "spoiled" for a copy a voter checked instead of casting, which the
	// log got when the election closed (with the entry's inclusion).
	Status string `json:"status"`
	*audit.Inclusion
}

func (s *Server) getReceipt(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := s.svc.Elections.GetPublic(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	code, err := ballot.ParseTrackingCode(chi.URLParam(r, "code"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	in, err := s.svc.Log.Include(r.Context(), id, entry.KindBallotCast, code)
	if errors.Is(err, audit.ErrNotLogged) {
		switch in, err := s.svc.Log.Include(r.Context(), id, entry.KindBallotSpoiled, code); {
		case err == nil:
			writeJSON(w, http.StatusOK, receiptResponse{TrackingCode: code, InLog: true, Status: "spoiled", Inclusion: in})
			return
		case errors.Is(err, audit.ErrQueued):
			writeJSON(w, http.StatusOK, receiptResponse{TrackingCode: code, Status: "spoiled"})
			return
		}
	}
	switch {
	case errors.Is(err, audit.ErrQueued):
		writeJSON(w, http.StatusOK, receiptResponse{TrackingCode: code, Status: "queued"})
	case errors.Is(err, audit.ErrNotLogged):
		s.writeError(w, r, pv.Errorf(pv.ENotFound, "No ballot with tracking code %s is in this election's log.", code))
	case err != nil:
		s.writeError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, receiptResponse{TrackingCode: code, InLog: true, Status: "logged", Inclusion: in})
	}
}

// listElections lists every election past draft: id, title, status, window.
func (s *Server) listElections(w http.ResponseWriter, r *http.Request) {
	out, err := s.svc.Elections.Public(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// getActivity lists the election's latest logged actions: who did what.
func (s *Server) getActivity(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := s.svc.Elections.Get(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	entries, err := s.svc.Log.RecentActivity(r.Context(), id, 50)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, entries)
}

// getBundle sequences the log, then streams the election's audit bundle
// for auditors.
func (s *Server) getBundle(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := s.svc.Elections.Get(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Log.Sequence(r.Context()); err != nil {
		s.writeError(w, r, fmt.Errorf("couldn't sequence the log: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", id+".bundle"))
	if err := s.svc.Elections.Export(r.Context(), id, w); err != nil {
		// Headers are gone; the bundle's missing end line tells the verifier.
		s.logger.ErrorContext(r.Context(), "bundle export failed", "election", id, "err", err)
	}
}
