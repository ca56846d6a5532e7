package ballot

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	pv "primaryvote"
)

// RollVoter is one line of a roll file.
type RollVoter struct {
	ID, Group, Region string
}

// MaxRegionRunes bounds a voter's region.
const MaxRegionRunes = 64

// RollReader reads a roll file strictly: a header "voter_id,group,region"
// (a spreadsheet's UTF-8 BOM allowed) and one voter per line. The first bad
// line (wrong column count, invalid UTF-8, empty or malformed voter id,
// duplicate voter id, unknown group, bad region) stops it with an error
// naming the line. It holds only the ids seen, never the whole roll.
type RollReader struct {
	csv    *csv.Reader
	known  bool           // whether groups lists the only groups allowed
	groups map[string]int // group → voters read in it
	seen   map[string]struct{}
	voter  RollVoter
	err    error
	header bool
}

// NewRollReader reads a roll from r. With groups, a voter's group must be
// one of them; with none, any well-formed group id is taken.
func NewRollReader(r io.Reader, groups ...string) *RollReader {
	rr := &RollReader{csv: csv.NewReader(r), groups: map[string]int{}, seen: map[string]struct{}{}, known: len(groups) > 0}
	for _, g := range groups {
		rr.groups[g] = 0
	}
	rr.csv.FieldsPerRecord = 3
	rr.csv.ReuseRecord = true
	return rr
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ReadHeader reads and checks the header line. Next calls it if need be.
func (r *RollReader) ReadHeader() error {
	if r.header {
		return nil
	}
	r.header = true
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

// Next reads the next voter, reporting false at the end or at the first
// bad line (see Err).
func (r *RollReader) Next() bool {
	if r.err != nil {
		return false
	}
	if !r.header {
		if r.err = r.ReadHeader(); r.err != nil {
			return false
		}
	}
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
	r.voter = RollVoter{ID: rec[0], Group: rec[1], Region: rec[2]}
	r.seen[r.voter.ID] = struct{}{}
	r.groups[r.voter.Group]++
	return true
}

// Voter is the voter Next read.
func (r *RollReader) Voter() RollVoter { return r.voter }

// Err is the first bad line's error, or a read error.
func (r *RollReader) Err() error { return r.err }

// Groups counts the voters read in each group (every known group, even
// an empty one).
func (r *RollReader) Groups() map[string]int { return r.groups }

func (r *RollReader) check(line int, rec []string) error {
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
	if !ValidVoterID(id) {
		return bad("voter_id %q must be 1-64 of A-Z, a-z, 0-9, '.', '_' and '-'", id)
	}
	if _, dup := r.seen[id]; dup {
		return bad("duplicate voter_id %q", id)
	}
	if _, ok := r.groups[group]; r.known && !ok || !r.known && !idPattern.MatchString(group) {
		return bad("unknown group %q", group)
	}
	if err := CheckText("region", region, MaxRegionRunes, false); err != nil {
		return bad("%s", pv.ErrorMessage(err))
	}
	return nil
}

func (r *RollReader) csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return pv.Errorf(pv.EInvalid, "line %d: want 3 columns (voter_id,group,region)", pe.Line)
		}
		return pv.Errorf(pv.EInvalid, "line %d: %v", pe.Line, pe.Err)
	}
	return fmt.Errorf("couldn't read the roll: %w", err)
}
