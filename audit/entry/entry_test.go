package entry

import (
	"os"
	"strings"
	"testing"
)

// LOG.md documents every entry kind with every member of its data, so that
// the schema and its document cannot drift apart.
func TestLogDocumentsEveryKind(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../LOG.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[Kind]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		for _, k := range strings.Split(cells[1], ",") {
			rows[Kind(strings.Trim(strings.TrimSpace(k), "`"))] = line
		}
	}
	for _, k := range Kinds() {
		row, ok := rows[k]
		if !ok {
			t.Errorf("LOG.md has no row for kind %s", k)
			continue
		}
		data := schema[k].data
		for i := range data.NumField() {
			name, _, _ := cutTag(data.Field(i).Tag.Get("json"))
			if !strings.Contains(row, "`"+name+"`") {
				t.Errorf("LOG.md's row for %s does not name the member %q", k, name)
			}
		}
		if about := strings.Contains(strings.Split(row, "|")[2], "yes"); about != schema[k].election {
			t.Errorf("LOG.md says %s is about an election: %v; the schema says %v", k, about, schema[k].election)
		}
	}
}
