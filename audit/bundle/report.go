package bundle

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// unpinned is what a report without a pinned key says in its first and last
// lines.
const unpinned = "NO LOG KEY GIVEN: this shows only that the bundle agrees with itself, not that it is the service's log (pass --log-key with the key the service published)"

// WriteText writes the report for a person: what was checked, with counts
// and times, any refused partial decryption, and the verdict. Without a
// pinned key, its first and last lines say that only self-consistency was
// shown.
func (r *Report) WriteText(w io.Writer) {
	election := "bundle"
	if r.Election != "" {
		election = fmt.Sprintf("election %s (%s)", r.Election, r.Status)
	}
	if r.LogKeyPinned {
		fmt.Fprintf(w, "%s, log key pinned: %s\n", election, keyName(r.LogKey))
	} else {
		fmt.Fprintf(w, "%s: %s\n", election, unpinned)
	}
	for _, s := range r.Steps {
		fmt.Fprintf(w, "  ✓ %-24s %9d  %8.2fs\n", s.Name, s.Count, s.Duration.Seconds())
	}
	if c := r.Ceremony; c != nil {
		fmt.Fprintf(w, "  ✓ key ceremony: %d-of-%d, %d deals, %d verdicts, %d answers, each signed by its trustee; the election key is qualified dealers %v's\n",
			c.Threshold, c.Trustees, c.Deals, c.Verdicts, c.Answers, c.Qualified)
		for i := 1; i <= c.Trustees; i++ {
			if why, ok := c.Excluded[i]; ok {
				fmt.Fprintf(w, "    excluded: trustee %d %s\n", i, why)
			}
		}
	}
	if wr := r.Witnesses; wr != nil && r.Failure == "" {
		pinned := "logged policy, not pinned (pass --policy to require it)"
		if wr.PolicyPinned {
			pinned = "pinned policy"
		}
		fmt.Fprintf(w, "  ✓ witnesses (%s, quorum %d): the final checkpoint (size %d) is cosigned by %d: %s\n",
			pinned, wr.Quorum, wr.FinalSize, len(wr.Final), strings.Join(wr.Final, ", "))
		names := make([]string, 0, len(wr.Cosigned))
		for name := range wr.Cosigned {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			fmt.Fprintf(w, "    %s cosigned up to size %d\n", name, wr.Cosigned[name])
		}
	}
	if r.CheckedCopies > 0 {
		fmt.Fprintf(w, "  ✓ %d copies voters checked instead of casting: each encrypts what its seed and stated choices give, and none was counted\n", r.CheckedCopies)
	}
	if r.CredentialsPinned {
		fmt.Fprintf(w, "  ✓ credentials are the authority's (its file, SHA-256 %s, with the logged replacements)\n", r.CredentialsSHA256)
	} else if r.Failure == "" && r.LogKeyPinned {
		fmt.Fprintf(w, "  credentials not checked against the authority's file (pass --credentials and --credentials-sha256)\n")
	}
	for _, refused := range r.Refused {
		fmt.Fprintf(w, "  refused partial decryption (not counted): %s\n", refused)
	}
	switch {
	case r.Failure != "":
		fmt.Fprintf(w, "FAILED: %s\n", r.Failure)
	case r.LogKeyPinned:
		saved := ""
		if r.SavedCheckpoints > 0 {
			saved = fmt.Sprintf(", extending the %d saved checkpoints given", r.SavedCheckpoints)
		}
		fmt.Fprintf(w, "all checks passed in %.2fs: the election follows from the log signed by %s%s\n", r.Elapsed.Seconds(), keyName(r.LogKey), saved)
	default:
		fmt.Fprintf(w, "consistent in %.2fs, but %s\n", r.Elapsed.Seconds(), unpinned)
	}
}

// keyName is a note verifier key's name and key hash, without the key.
func keyName(key string) string {
	name, rest, _ := strings.Cut(key, "+")
	hash, _, _ := strings.Cut(rest, "+")
	return name + "+" + hash
}
