package elections

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/entry"
	"primaryvote/ballot"
)

// RollSummary describes an imported roll.
type RollSummary struct {
	Voters int            `json:"voters"`
	Groups map[string]int `json:"groups"`
	// Digest is the SHA-256 of the imported file, in hex.
	Digest string `json:"sha256"`
}

const maxRegionRunes = 64

// ImportRoll replaces the roll of a draft election with the CSV read from r:
// a header "voter_id,group,region" and one voter per line. The import is all
// or nothing: the first bad line (wrong column count, invalid UTF-8, empty or
// malformed voter id, duplicate voter id, unknown group, bad region) aborts it
// with an error naming the line, and the roll is left as it was. Rows stream
// to PostgreSQL with COPY; they are never all held in memory.
func (s *Store) ImportRoll(ctx context.Context, electionID string, r io.Reader, actor string) (*RollSummary, error) {
	digest := sha256.New()
	src := &rollReader{
		csv:        csv.NewReader(io.TeeReader(r, digest)),
		seen:       map[string]struct{}{},
		groups:     map[string]int{},
		id:         electionID,
		pseudonyms: s.pseudonyms,
	}
	src.csv.FieldsPerRecord = 3
	src.csv.ReuseRecord = true

	var summary *RollSummary
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := LockForChange(ctx, tx, electionID); err != nil {
			return err
		}
		e, err := s.get(ctx, tx, electionID)
		if err != nil {
			return err
		}
		if e.Status != ballot.Draft {
			return pv.Errorf(pv.EConflict, "election %q is %s: the roll can only change while it is a draft", electionID, e.Status)
		}
		for _, g := range e.Groups {
			src.groups[g.ID] = 0
		}
		if err := src.readHeader(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM voters WHERE election_id = $1`, electionID); err != nil {
			return fmt.Errorf("couldn't clear the old roll: %w", err)
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"voters"}, []string{"election_id", "voter_id", "group_id", "region", "pseudonym"}, src)
		if src.err != nil {
			return src.err
		}
		if err != nil {
			return fmt.Errorf("couldn't import the roll: %w", err)
		}
		if n == 0 {
			return pv.Errorf(pv.EInvalid, "the roll has no voters")
		}
		summary = &RollSummary{Voters: int(n), Groups: src.groups, Digest: hexSum(digest)}
		return audit.Append(ctx, tx, audit.Entry{
			ElectionID: electionID, Kind: entry.KindRollImport, Actor: actor, At: s.clock(),
			Data: entry.RollImported{Voters: summary.Voters, Groups: summary.Groups, SHA256: summary.Digest},
		})
	})
	if err != nil {
		return nil, err
	}
	return summary, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// rollReader is a pgx.CopyFromSource that validates the roll line by line.
type rollReader struct {
	csv        *csv.Reader
	id         string
	pseudonyms Pseudonyms
	seen       map[string]struct{}
	groups     map[string]int // group id → voters imported into it
	row        []any
	err        error
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func (r *rollReader) readHeader() error {
	rec, err := r.csv.Read()
	if errors.Is(err, io.EOF) {
		return pv.Errorf(pv.EInvalid, "the roll is empty: want a header line voter_id,group,region")
	}
	if err != nil {
		return r.csvError(err)
	}
	first := string(bytes.TrimPrefix([]byte(rec[0]), utf8BOM)) // spreadsheets often write a BOM
	if first != "voter_id" || rec[1] != "group" || rec[2] != "region" {
		return pv.Errorf(pv.EInvalid, "line 1: header must be voter_id,group,region")
	}
	return nil
}

func (r *rollReader) Next() bool {
	rec, err := r.csv.Read()
	if errors.Is(err, io.EOF) {
		return false
	}
	if err != nil {
		r.err = r.csvError(err)
		return false
	}
	line, _ := r.csv.FieldPos(0)
	if r.err = r.check(line, rec); r.err != nil {
		return false
	}
	id := rec[0]
	r.seen[id] = struct{}{}
	r.groups[rec[1]]++
	p := r.pseudonyms.Pseudonym(r.id, id)
	r.row = []any{r.id, id, rec[1], rec[2], p[:]}
	return true
}

func (r *rollReader) check(line int, rec []string) error {
	bad := func(format string, args ...any) error {
		return pv.Errorf(pv.EInvalid, "line %d: %s", line, fmt.Sprintf(format, args...))
	}
	for _, f := range rec {
		if !utf8.ValidString(f) {
			return bad("invalid UTF-8")
		}
	}
	id, group, region := rec[0], rec[1], rec[2]
	if id == "" {
		return bad("empty voter_id")
	}
	if !ballot.ValidVoterID(id) {
		return bad("voter_id %q must be 1-64 of A-Z, a-z, 0-9, '.', '_' and '-'", id)
	}
	if _, dup := r.seen[id]; dup {
		return bad("duplicate voter_id %q", id)
	}
	if _, ok := r.groups[group]; !ok {
		return bad("unknown group %q", group)
	}
	if err := ballot.CheckText("region", region, maxRegionRunes, false); err != nil {
		return bad("%s", pv.ErrorMessage(err))
	}
	return nil
}

func (r *rollReader) csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return pv.Errorf(pv.EInvalid, "line %d: want 3 columns (voter_id,group,region)", pe.Line)
		}
		return pv.Errorf(pv.EInvalid, "line %d: %v", pe.Line, pe.Err)
	}
	return fmt.Errorf("couldn't read the roll: %w", err)
}

func (r *rollReader) Values() ([]any, error) { return r.row, nil }
func (r *rollReader) Err() error             { return r.err }
