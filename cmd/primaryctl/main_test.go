package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"primaryvote/internal/dbtest"
)

type cli struct {
	t   *testing.T
	env Env
}

func newCLI(t *testing.T) *cli {
	db := dbtest.New(t)
	return &cli{t: t, env: Env{DatabaseURL: db.URL, SecretsDir: filepath.Join(t.TempDir(), "secrets")}}
}

// run runs a command line with stdin and returns stdout and the error.
func (c *cli) run(stdin, line string) (string, error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	env := c.env
	env.Stdin, env.Stdout, env.Stderr = strings.NewReader(stdin), &out, &errOut
	err := Run(context.Background(), &env, strings.Fields(line))
	return out.String(), err
}

func (c *cli) must(line string) string {
	c.t.Helper()
	out, err := c.run("", line)
	if err != nil {
		c.t.Fatalf("primaryctl %s: %v", line, err)
	}
	return out
}

func TestElectionFromTheCommandLine(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	def := filepath.Join(dir, "election.json")
	os.WriteFile(def, demoDefinition, 0o600)
	roll := filepath.Join(dir, "roll.csv")
	os.WriteFile(roll, []byte("voter_id,group,region\nA1,delegates,서울\nA2,members,부산\nA3,public,제주\n"), 0o600)
	codes := filepath.Join(dir, "codes.csv")

	c.must("migrate")
	if out := c.must("election create --file " + def); !strings.Contains(out, "election demo created") {
		t.Errorf("create: %s", out)
	}
	if _, err := c.run("", "election open demo"); err == nil || !strings.Contains(userMessage(err), "no voters") {
		t.Errorf("open without a roll: %v", err)
	}
	if out := c.must("roll import demo " + roll); !strings.Contains(out, "3 voters") {
		t.Errorf("roll import: %s", out)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("voter_id,group,region\nB1,members,x\nB2,nobody,x\n"), 0o600)
	if _, err := c.run("", "roll import demo "+bad); err == nil || !strings.Contains(userMessage(err), "line 3: unknown group") {
		t.Errorf("bad roll: %v", err)
	}
	c.must("credentials issue demo --out " + codes)
	f, _ := os.Open(codes)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != "voter_id,code" {
		t.Fatalf("codes file: %v %v", recs, err)
	}
	if st, _ := os.Stat(codes); st.Mode().Perm() != 0o600 {
		t.Errorf("codes file mode %v; want 0600", st.Mode().Perm())
	}
	out := c.must("credentials issue demo --voter A2")
	if !strings.HasPrefix(out, "voter_id,code\nA2,") {
		t.Errorf("re-issue: %q", out)
	}
	if out, err := c.run("my long admin password\n", "official add --username chair --role admin --password-stdin"); err != nil || strings.Contains(out, "shown once") {
		t.Errorf("official add from stdin: %q, %v", out, err)
	}
	if out := c.must("official add --username clerk --role official"); !strings.Contains(out, "password (shown once): ") {
		t.Errorf("official add with a generated password: %q", out)
	}
	if _, err := c.run("", "official add --username x --role king"); err == nil {
		t.Error("official add with an unknown role succeeded")
	}
	c.must("election open demo")
	if out := c.must("election list"); !strings.Contains(out, "demo") || !strings.Contains(out, "open") {
		t.Errorf("list: %s", out)
	}
	c.must("election close demo")
	if _, err := c.run("", "election open demo"); err == nil {
		t.Error("reopening a closed election succeeded")
	}
	if out := c.must("election show demo"); !strings.Contains(out, `"status": "closed"`) {
		t.Errorf("show: %s", out)
	}
	if _, err := c.run("", "election frobnicate demo"); !errors.Is(err, errUsage) {
		t.Errorf("unknown command: %v", err)
	}
}

func TestDemoIsIdempotent(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	first := c.must("demo --dir " + dir)
	if !strings.Contains(first, "seeded and opened with 1000 voters") {
		t.Fatalf("first demo: %s", first)
	}
	voters, _ := os.ReadFile(filepath.Join(dir, "voters.csv"))
	officials, _ := os.ReadFile(filepath.Join(dir, "officials.csv"))
	if n := bytes.Count(voters, []byte("\n")); n != 1001 || !bytes.HasPrefix(voters, []byte("voter_id,code\n")) {
		t.Errorf("voters.csv has %d lines", n)
	}
	if !bytes.HasPrefix(officials, []byte("username,password,role\nadmin,")) {
		t.Errorf("officials.csv = %q", officials)
	}

	second := c.must("demo --dir " + dir)
	if !strings.Contains(second, "already seeded (open)") {
		t.Errorf("second demo: %s", second)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "voters.csv"))
	if !bytes.Equal(again, voters) {
		t.Error("second demo changed voters.csv")
	}
	db, err := pgxpool.New(context.Background(), c.env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var elections, voterRows, officialRows int
	db.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM elections), (SELECT count(*) FROM voters), (SELECT count(*) FROM officials)`).
		Scan(&elections, &voterRows, &officialRows)
	if fmt.Sprint(elections, voterRows, officialRows) != "1 1000 1" {
		t.Errorf("after two demos: %d elections, %d voters, %d officials; want 1 1000 1", elections, voterRows, officialRows)
	}
}
