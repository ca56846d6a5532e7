package ballot

import (
	"context"
	"fmt"
	"sort"
)

// Turnout counts eligible voters and ballots cast, overall, per group and per
// region. It says who voted, never how.
type Turnout struct {
	Eligible int             `json:"eligible"`
	Voted    int             `json:"voted"`
	Groups   []GroupTurnout  `json:"groups"`
	Regions  []RegionTurnout `json:"regions"`
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
SELECT v.group_id, v.region, count(*), count(p.voter_id)
FROM voters v LEFT JOIN participation p USING (election_id, voter_id)
WHERE v.election_id = $1
GROUP BY v.group_id, v.region`

// Turnout returns the live turnout of an election.
func (s *Elections) Turnout(ctx context.Context, electionID string) (*Turnout, error) {
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
	return t, nil
}
