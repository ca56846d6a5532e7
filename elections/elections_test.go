package elections_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	pv "primaryvote"
	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func TestParseDefinition(t *testing.T) {
	t.Parallel()
	good := `{"id":"e1","title":"T","groups":[{"id":"g","name":"G","weight":1}],
"questions":[{"id":"q","title":"Q","min_selections":1,"max_selections":1,"candidates":[{"id":"c","number":1,"name":"C","statement":""}]}]}`
	if _, err := ballot.ParseDefinition(strings.NewReader(good)); err != nil {
		t.Fatalf("ParseDefinition(good) = %v", err)
	}
	tests := []struct{ name, old, new string }{
		{"unknown field", `"title":"T"`, `"title":"T","colour":"red"`},
		{"bad id", `"id":"e1"`, `"id":"E 1"`},
		{"empty title", `"title":"T"`, `"title":""`},
		{"weights not 1", `"weight":1`, `"weight":0.5`},
		{"zero weight", `"weight":1`, `"weight":0`},
		{"min above max", `"min_selections":1,"max_selections":1`, `"min_selections":2,"max_selections":1`},
		{"max above candidates", `"max_selections":1`, `"max_selections":2`},
		{"max zero", `"min_selections":1,"max_selections":1`, `"min_selections":0,"max_selections":0`},
		{"candidate number zero", `"number":1`, `"number":0`},
		{"control character", `"name":"C"`, `"name":"C\u0007"`},
		{"no questions", `"questions":[{`, `"questions":[],"x":[{`},
		{"trailing data", `]}]}`, `]}]} {}`},
		{"window reversed", `"title":"T"`, `"title":"T","opens_at":"2026-01-02T00:00:00Z","closes_at":"2026-01-01T00:00:00Z"`},
		{"a member twice", `"title":"T"`, `"title":"Fake","title":"T"`},
		{"a member twice, nested", `"name":"C"`, `"name":"Fake","name":"C"`},
		{"a case-variant member", `"title":"T"`, `"Title":"T"`},
		{"a case-variant member, nested", `"weight":1`, `"Weight":1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(good, tt.old, tt.new, 1)
			if doc == good {
				t.Fatalf("test case does not change the document")
			}
			if _, err := ballot.ParseDefinition(strings.NewReader(doc)); pv.ErrorCode(err) != pv.EInvalid {
				t.Errorf("ParseDefinition(%s) = %v; want %s", tt.name, err, pv.EInvalid)
			}
		})
	}
	if _, err := ballot.ParseDefinition(bytes.NewReader([]byte{'{', 0xff, '}'})); pv.ErrorCode(err) != pv.EInvalid {
		t.Errorf("ParseDefinition(bad UTF-8) = %v; want invalid", err)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	ctx := context.Background()
	e := env.Elections

	if err := e.Create(ctx, fixture.Definition("e1"), "test"); err != nil {
		t.Fatal(err)
	}
	if err := e.Create(ctx, fixture.Definition("e1"), "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Create twice = %v; want conflict", err)
	}
	if err := e.Open(ctx, "e1", "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Open without a roll = %v; want conflict", err)
	}
	if _, err := e.ImportRoll(ctx, "e1", stringsReader("voter_id,group,region\nA,members,x\nB,public,y\n"), "test"); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(ctx, "e1", "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Open without credentials = %v; want conflict", err)
	}
	codes, public := fixture.Authority("e1", []ballot.RollVoter{{ID: "A", Group: "members"}, {ID: "B", Group: "public"}})
	if _, err := env.Credentials.Import(ctx, "e1", bytes.NewReader(public), "test"); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(ctx, "e1", "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Open without a key = %v; want conflict", err)
	}
	env.SetTrustees(t, "e1")
	if _, err := e.FinishCeremony(ctx, "e1", "test", true); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("finishing the key ceremony twice = %v; want conflict", err)
	}
	if err := e.Close(ctx, "e1", "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Close a draft = %v; want conflict", err)
	}
	if err := e.Open(ctx, "e1", "test"); err != nil {
		t.Fatalf("Open = %v", err)
	}
	if err := e.Open(ctx, "e1", "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Open twice = %v; want conflict", err)
	}
	if _, err := e.ImportRoll(ctx, "e1", stringsReader("voter_id,group,region\nC,members,x\n"), "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("ImportRoll when open = %v; want conflict", err)
	}
	if _, err := env.Credentials.Import(ctx, "e1", bytes.NewReader(public), "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Import credentials when open = %v; want conflict", err)
	}
	if err := e.Close(ctx, "e1", "test"); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := e.Open(ctx, "e1", "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("reopen a closed election = %v; want conflict", err)
	}
	_, replacement := fixture.Authority("e1", []ballot.RollVoter{{ID: "A", Group: "members"}})
	if _, err := env.Credentials.Replace(ctx, "e1", bytes.NewReader(replacement), "test"); pv.ErrorCode(err) != pv.EConflict {
		t.Errorf("Replace a credential when closed = %v; want conflict", err)
	}
	if _, err := env.SignIn("e1", "A", codes["A"]); err != nil {
		t.Errorf("the imported code after close = %v", err)
	}
	if err := e.Open(ctx, "nope", "test"); pv.ErrorCode(err) != pv.ENotFound {
		t.Errorf("Open unknown = %v; want not found", err)
	}
	got, err := e.Get(ctx, "e1")
	if err != nil || got.Status != ballot.Closed {
		t.Errorf("Get = %v, %v; want closed", got, err)
	}
	want := []string{"election.create", "roll.import", "credentials.import",
		"trustees.register", "trustees.deal", "trustees.deal", "trustees.deal", "trustees.verdict", "trustees.verdict", "trustees.verdict",
		"trustees.setup", "election.open", "election.closed"}
	rows, _ := env.DB.Pool.Query(ctx, `SELECT kind FROM audit_entries WHERE election_id = 'e1' ORDER BY id`)
	var kinds []string
	for rows.Next() {
		var k string
		rows.Scan(&k)
		kinds = append(kinds, k)
	}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("audit kinds = %v; want %v", kinds, want)
	}
}

func TestImportRollIsAllOrNothing(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	ctx := context.Background()
	if err := env.Elections.Create(ctx, fixture.Definition("e1"), "test"); err != nil {
		t.Fatal(err)
	}
	const previous = "voter_id,group,region\nOLD1,members,north\nOLD2,public,south\n"
	if _, err := env.Elections.ImportRoll(ctx, "e1", stringsReader(previous), "test"); err != nil {
		t.Fatal(err)
	}
	head := "voter_id,group,region\nA1,members,north\nA2,public,south\n"
	tests := []struct {
		name, file, wantMsg string
	}{
		{"unknown group", head + "A3,delegates,north\n", "Line 4: unknown group"},
		{"duplicate voter", head + "A1,public,north\n", "Line 4: duplicate voter_id"},
		{"invalid UTF-8", head + "A3,members,\xff\xfe\n", "Line 4: invalid UTF-8"},
		{"too many columns", head + "A3,members,north,extra\n", "Line 4: want 3 columns"},
		{"too few columns", head + "A3,members\n", "Line 4: want 3 columns"},
		{"empty id", head + ",members,north\n", "Line 4: empty voter_id"},
		{"bad id", head + "A 3,members,north\n", "Line 4: voter_id"},
		{"empty region", head + "A3,members,\n", "Line 4: Region is empty"},
		{"bad quote", head + "A3,\"members,north\n", "Line 4"},
		{"bad header", "id,group,region\nA1,members,north\n", "Line 1: header"},
		{"empty file", "", "empty"},
		{"header only", "voter_id,group,region\n", "no voters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.Elections.ImportRoll(ctx, "e1", stringsReader(tt.file), "test")
			if pv.ErrorCode(err) != pv.EInvalid || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("ImportRoll = %v; want invalid, mentioning %q", err, tt.wantMsg)
			}
			if got := env.Count(t, `SELECT count(*) FROM voters WHERE election_id = 'e1' AND voter_id LIKE 'OLD%'`); got != 2 {
				t.Errorf("previous roll has %d voters after a failed import; want 2", got)
			}
			if got := env.Count(t, `SELECT count(*) FROM voters WHERE voter_id LIKE 'A%'`); got != 0 {
				t.Errorf("failed import left %d voters", got)
			}
		})
	}

	// A spreadsheet's BOM and Korean region names are fine; a good import
	// replaces the roll.
	sum, err := env.Elections.ImportRoll(ctx, "e1", stringsReader("\ufeff"+strings.Replace(head, "north", "서울", 1)), "test")
	if err != nil || sum.Voters != 2 || sum.Groups["members"] != 1 || len(sum.Digest) != 64 {
		t.Fatalf("ImportRoll(good) = %+v, %v", sum, err)
	}
	if got := env.Count(t, `SELECT count(*) FROM voters WHERE election_id = 'e1'`); got != 2 {
		t.Errorf("voters = %d; want 2", got)
	}
	if got := env.Count(t, `SELECT count(*) FROM voters WHERE region = '서울'`); got != 1 {
		t.Errorf("voters in 서울 = %d; want 1", got)
	}
}

// An election whose window has ended cannot be opened; one whose window is
// ahead can, and waits for it.
func TestOpenRefusesAnEndedWindow(t *testing.T) {
	t.Parallel()
	env := fixture.New(t)
	ctx := context.Background()
	now := env.Clock.Now()
	ended := fixture.Definition("ended")
	opens, closes := now.Add(-2*time.Hour), now.Add(-time.Hour)
	ended.OpensAt, ended.ClosesAt = &opens, &closes
	env.SetupWith(t, ended, 2, false)
	err := env.Elections.Open(ctx, "ended", "test")
	if pv.ErrorCode(err) != pv.EConflict || !strings.Contains(err.Error(), "window ended") {
		t.Errorf("Open(ended window) = %v; want conflict", err)
	}
	if e, _ := env.Elections.Get(ctx, "ended"); e.Status != ballot.Draft {
		t.Errorf("status after a refused open = %s", e.Status)
	}
	later := fixture.Definition("later")
	opens, closes = now.Add(time.Hour), now.Add(2*time.Hour)
	later.OpensAt, later.ClosesAt = &opens, &closes
	env.SetupWith(t, later, 2, true)
	e, _ := env.Elections.Get(ctx, "later")
	for at, want := range map[time.Time]ballot.Phase{now: ballot.PhaseUpcoming, opens: ballot.PhaseVoting, closes: ballot.PhaseEnded} {
		if got := e.PhaseAt(at); got != want {
			t.Errorf("PhaseAt(%v) = %s; want %s", at, got, want)
		}
	}
}
