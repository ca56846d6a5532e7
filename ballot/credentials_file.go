package ballot

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"

	pv "primaryvote"
)

// CredentialsHeader is the first line of a public credentials file.
const CredentialsHeader = "voter_id,group,credential"

// PublicCredential is one voter's line in the public credentials file: the
// voter, their group and their public credential P (FORMAT.md, "Voter
// credentials").
type PublicCredential struct {
	VoterID string
	Group   string
	P       []byte
}

// AppendCredentialLine appends the file line of c, ending in a newline.
func AppendCredentialLine(b []byte, c PublicCredential) []byte {
	b = append(b, c.VoterID...)
	b = append(b, ',')
	b = append(b, c.Group...)
	b = append(b, ',')
	b = hex.AppendEncode(b, c.P)
	return append(b, '\n')
}

// ReadCredentials reads a public credentials file strictly and calls f for
// each line in order: the exact header, then "voter_id,group,credential"
// lines ending in a newline, each voter and each credential once. The first
// bad line stops it with an error naming the line.
func ReadCredentials(r io.Reader, f func(PublicCredential) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	seenVoter := map[string]struct{}{}
	seenP := map[string]struct{}{}
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if err == io.EOF && len(line) == 0 {
			if n == 1 {
				return pv.Errorf(pv.EInvalid, "the credentials file is empty: want the header %s", CredentialsHeader)
			}
			return nil
		}
		bad := func(format string, args ...any) error {
			return pv.Errorf(pv.EInvalid, "credentials line %d: %s", n, fmt.Sprintf(format, args...))
		}
		if err == io.EOF {
			return bad("the file must end with a newline")
		}
		if err != nil {
			return bad("%v", err)
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		if n == 1 {
			if string(line) != CredentialsHeader {
				return bad("the header must be %s", CredentialsHeader)
			}
			continue
		}
		fields := strings.Split(string(line), ",")
		if len(fields) != 3 {
			return bad("want 3 columns (%s)", CredentialsHeader)
		}
		c := PublicCredential{VoterID: fields[0], Group: fields[1]}
		switch {
		case !ValidVoterID(c.VoterID):
			return bad("voter_id %q must be 1-64 of A-Z, a-z, 0-9, '.', '_' and '-'", c.VoterID)
		case !idPattern.MatchString(c.Group):
			return bad("group %q must be 1-64 of a-z, 0-9, '-' and '_'", c.Group)
		}
		if c.P, err = ParsePublicCredential(fields[2]); err != nil {
			return bad("%v", err)
		}
		if _, dup := seenVoter[c.VoterID]; dup {
			return bad("duplicate voter_id %q", c.VoterID)
		}
		if _, dup := seenP[fields[2]]; dup {
			return bad("the credential of %q is another voter's too", c.VoterID)
		}
		seenVoter[c.VoterID], seenP[fields[2]] = struct{}{}, struct{}{}
		if err := f(c); err != nil {
			return err
		}
	}
}

// VotingLink is a voter's link to the ballot page of election on site,
// with the voter id and code in its fragment (FORMAT.md, "Voting links"):
// a browser never sends a fragment, and the page removes it from the
// address bar at once.
func VotingLink(site, election, voterID, code string) string {
	return strings.TrimRight(site, "/") + "/e/" + election + "#v=" + url.QueryEscape(voterID) + "&c=" + code
}

// CheckSiteURL checks a voting site's address for links: https (or http to
// this machine, for a demo), a host, and no path, query or fragment.
func CheckSiteURL(site string) error {
	u, err := url.Parse(site)
	local := err == nil && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost" || u.Hostname() == "::1")
	switch {
	case err != nil || u.Host == "" || u.User != nil:
		return fmt.Errorf("link %q: want the voting site's address, such as https://vote.example.org", site)
	case u.Scheme != "https" && !(u.Scheme == "http" && local):
		return fmt.Errorf("link %q: voting links must be https (http only to this machine)", site)
	case strings.TrimRight(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("link %q: give the site alone, without a path, query or fragment", site)
	}
	return nil
}
