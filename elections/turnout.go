package elections

import (
	"context"
	"fmt"
	"sort"
	"time"

	"primaryvote/audit"
	"primaryvote/audit/entry"
)

// Turnout counts eligible voters and ballots cast, overall, per group and per
// region, and ballots per minute. It says who voted, never how.
type Turnout struct {
	Eligible int             `json:"eligible"`
	Voted    int             `json:"voted"`
	Groups   []GroupTurnout  `json:"groups"`
	Regions  []RegionTurnout `json:"regions"`
	// Timeline counts the ballots in the log per minute, oldest first, for
	// the dashboard's chart: it survives a reload, and every server draws
	// the same one.
	Timeline []MinuteTurnout `json:"timeline"`
}

// MinuteTurnout is how many ballots the log records as cast in a minute.
type MinuteTurnout struct {
	Minute  time.Time `json:"minute"`
	Ballots int       `json:"ballots"`
}

// timeline is an election's ballots per minute, as read from the log so far.
type timeline struct {
	through int64 // the position of the last cast read
	minutes map[int64]int
}

// timeline returns the ballots per minute of the cast entries in the log,
// reading only the records sequenced since the last call.
func (s *Store) timeline(ctx context.Context, electionID string) ([]MinuteTurnout, error) {
	s.timelinesMu.Lock()
	defer s.timelinesMu.Unlock()
	tl := s.timelines[electionID]
	if tl == nil {
		tl = &timeline{through: -1, minutes: map[int64]int{}}
		s.timelines[electionID] = tl
	}
	err := audit.EntriesAfter(ctx, s.pool, electionID, entry.KindBallotCast, tl.through, func(position int64, e *entry.Parsed) error {
		tl.through = position
		tl.minutes[e.At.Unix()/60]++
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]MinuteTurnout, 0, len(tl.minutes))
	for m, n := range tl.minutes {
		out = append(out, MinuteTurnout{Minute: time.Unix(m*60, 0).UTC(), Ballots: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Minute.Before(out[j].Minute) })
	return out, nil
}

// GroupTurnout is the turnout of one voter group.
type GroupTurnout struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Eligible int    `json:"eligible"`
	Voted    int    `json:"voted"`
}

// RegionTurnout is the turnout of one region.
type RegionTurnout struct {
	Region   string `json:"region"`
	Eligible int    `json:"eligible"`
	Voted    int    `json:"voted"`
}

const selectTurnout = `
SELECT v.group_id, v.region, count(*), count(b.credential)
FROM voters v
LEFT JOIN voter_credentials c USING (election_id, voter_id)
LEFT JOIN ballots b USING (election_id, credential)
WHERE v.election_id = $1
GROUP BY v.group_id, v.region`

// Turnout returns the live turnout of an election.
func (s *Store) Turnout(ctx context.Context, electionID string) (*Turnout, error) {
	e, err := s.Get(ctx, electionID)
	if err != nil {
		return nil, err
	}
	t := &Turnout{Groups: make([]GroupTurnout, len(e.Groups)), Regions: []RegionTurnout{}}
	groupIndex := map[string]int{}
	for i, g := range e.Groups {
		t.Groups[i] = GroupTurnout{ID: g.ID, Name: g.Name}
		groupIndex[g.ID] = i
	}
	regionIndex := map[string]int{}
	rows, err := s.pool.Query(ctx, selectTurnout, electionID)
	if err != nil {
		return nil, fmt.Errorf("couldn't count turnout: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			group, region   string
			eligible, voted int
		)
		if err := rows.Scan(&group, &region, &eligible, &voted); err != nil {
			return nil, fmt.Errorf("couldn't count turnout: %w", err)
		}
		t.Eligible += eligible
		t.Voted += voted
		g := &t.Groups[groupIndex[group]]
		g.Eligible += eligible
		g.Voted += voted
		i, ok := regionIndex[region]
		if !ok {
			i = len(t.Regions)
			regionIndex[region] = i
			t.Regions = append(t.Regions, RegionTurnout{Region: region})
		}
		t.Regions[i].Eligible += eligible
		t.Regions[i].Voted += voted
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("couldn't count turnout: %w", err)
	}
	sort.Slice(t.Regions, func(i, j int) bool { return t.Regions[i].Region < t.Regions[j].Region })
	if t.Timeline, err = s.timeline(ctx, electionID); err != nil {
		return nil, err
	}
	return t, nil
}
