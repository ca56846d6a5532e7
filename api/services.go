package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"primaryvote/audit/cosign"
	"time"

	"github.com/go-chi/chi/v5"

	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/auth"
	"primaryvote/ballot"
	"primaryvote/elections"
)

// Services are what the API serves. Each is the small interface the
// handlers use, so that a test can serve the API over fakes; primaryd gives
// it elections.Store, auth.Credentials, auth.Officials, audit.Log, the
// database pool and web.Pages.
type Services struct {
	Elections   Elections
	Credentials Credentials
	Officials   Officials
	// Tokens issues and checks the session tokens; it holds no state.
	Tokens *auth.Tokens
	Log    Log
	// Database answers readiness.
	Database Database
	// Pages serves the web pages; nil serves the API alone.
	Pages Pages
	// Pusher, if set, gives the witnesses' metrics.
	Pusher Pusher
}

// Elections is the election service (elections.Store).
type Elections interface {
	// Public lists every election past draft; GetPublic returns one (a
	// draft is ENotFound, as an unknown id is); Get returns any, for
	// officials.
	Public(ctx context.Context) ([]ballot.Election, error)
	GetPublic(ctx context.Context, id string) (*ballot.Election, error)
	Get(ctx context.Context, id string) (*ballot.Election, error)
	Open(ctx context.Context, id, actor string) error
	Close(ctx context.Context, id, actor string) error
	// Cast casts a ballot once per voter and Idempotency-Key and returns
	// the receipt, and whether it replays an earlier answer.
	Cast(ctx context.Context, req elections.CastRequest) (response []byte, replayed bool, err error)
	// Ceremony is an election's key ceremony as its log has it; PostDeal,
	// PostVerdict and PostAnswer post a trustee's signed messages to it.
	Ceremony(ctx context.Context, id string) (*elections.CeremonyState, error)
	PostDeal(ctx context.Context, id string, d *ballot.Deal) error
	PostVerdict(ctx context.Context, id string, v *ballot.Verdict) error
	PostAnswer(ctx context.Context, id string, a *ballot.Answer) error
	// PostPartial stores a trustee's partial decryption of the sums, which
	// must verify against them.
	PostPartial(ctx context.Context, id string, p *ballot.PartialDecryption, actor string) error
	// Spoil records a copy the voter checked instead of casting.
	Spoil(ctx context.Context, req elections.SpoilRequest) (*elections.Spoiled, error)
	// Receipt is the voter's receipt, or nil if they have not voted.
	Receipt(ctx context.Context, electionID, voterID string) (json.RawMessage, error)
	Results(ctx context.Context, id string) (json.RawMessage, error)
	Turnout(ctx context.Context, electionID string) (*elections.Turnout, error)
	// SetWitnesses sets a draft election's witness policy.
	SetWitnesses(ctx context.Context, id string, p *cosign.Policy, actor string) error
	// Export writes the election's audit bundle.
	Export(ctx context.Context, id string, w io.Writer) error
}

// Credentials signs voters in by their credential keys (auth.Credentials).
type Credentials interface {
	// SignIn checks the signature of the sign-in statement for the voter
	// and the time at, and returns the voter's group and whether they have
	// voted.
	SignIn(ctx context.Context, electionID, voterID string, at time.Time, signature []byte) (group string, voted bool, err error)
}

// Officials checks officials' passwords and accounts (auth.Officials).
type Officials interface {
	SignIn(ctx context.Context, username, password string) (auth.Role, error)
	// Current returns the role of an enabled account, or EUnauthorized.
	Current(ctx context.Context, username string) (auth.Role, error)
}

// Log is the audit log for its readers (audit.Log).
type Log interface {
	VerifierKey() string
	LatestCheckpoint(ctx context.Context) ([]byte, error)
	Include(ctx context.Context, electionID string, kind entry.Kind, ref string) (*audit.Inclusion, error)
	RecentActivity(ctx context.Context, electionID string, limit int) ([]audit.Activity, error)
	Sequence(ctx context.Context) error
	// Witnesses is how far the election's witnesses have cosigned the
	// log; audit.ErrNoPolicy when it has none.
	Witnesses(ctx context.Context, electionID string) (*audit.WitnessView, error)
}

// Pusher is what this server knows of the witnesses it pushes to
// (audit.Pusher), for the metrics.
type Pusher interface {
	Status() []audit.WitnessStatus
}

// Database is the database's reachability (a *pgxpool.Pool).
type Database interface {
	Ping(ctx context.Context) error
}

// Pages are the web pages (web.Pages), which the site serves beside the API.
type Pages interface {
	Routes(r chi.Router)
	NotFound(w http.ResponseWriter, r *http.Request)
}
