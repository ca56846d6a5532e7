package primaryvote_test

import (
	"os/exec"
	"strings"
	"testing"
)

// pure lists the packages that hold the product's formats and arithmetic:
// what a camp's verifier needs. They, and everything they import, must not
// reach a database, the network or the service.
var pure = []string{
	"primaryvote",
	"primaryvote/ballot",
	"primaryvote/audit/record",
	"primaryvote/audit/entry",
	"primaryvote/audit/cosign",
	"primaryvote/audit/bundle",
	"primaryvote/internal/strictjson",
	"primaryvote/cmd/auditverify",
}

// service lists the packages that own SQL or serve requests.
var service = []string{
	"primaryvote/api",
	"primaryvote/audit",
	"primaryvote/auth",
	"primaryvote/elections",
	"primaryvote/migrations",
	"primaryvote/web",
}

// TestPackageGraph keeps the layout README.md describes: no arrow from a
// pure package to a service package, a database driver or net/http, and no
// package importing its parent.
func TestPackageGraph(t *testing.T) {
	forbidden := map[string]bool{"net/http": true, "database/sql": true}
	for _, s := range service {
		forbidden[s] = true
	}
	for _, p := range pure {
		for _, dep := range goList(t, "-deps", p) {
			if forbidden[dep] || strings.HasPrefix(dep, "github.com/jackc/") {
				t.Errorf("pure package %s depends on %s", p, dep)
			}
		}
	}

	for _, line := range goList(t, "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "primaryvote/...") {
		fields := strings.Fields(line)
		pkg := fields[0]
		for _, imp := range fields[1:] {
			if strings.HasPrefix(pkg, imp+"/") && imp != "primaryvote" {
				t.Errorf("%s imports its parent %s", pkg, imp)
			}
		}
	}
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
