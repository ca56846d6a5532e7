package ballot

import "regexp"

var voterIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidVoterID reports whether id is a well-formed voter id: 1–64 of
// A-Z a-z 0-9 . _ -, starting with a letter or digit. No roll holds any
// other.
func ValidVoterID(id string) bool { return voterIDPattern.MatchString(id) }

// ValidElectionID reports whether id is a well-formed election id: 1–64 of
// a-z 0-9 - _, starting with a letter or digit.
func ValidElectionID(id string) bool { return idPattern.MatchString(id) }
