package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"primaryvote/api"
	"primaryvote/internal/fixture"
)

// A voter checks copies over HTTP: each is kept and answered with its code
// and choices, bad requests change nothing, a checked copy's bytes are
// refused as a cast, the voter's checks are bounded, and after the close
// the copy's code is found in the log as a checked copy.
func TestCheckCopiesOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, api.Config{ChecksPerVoter: 3})
	tok := h.voterToken("V00001")
	path := "/api/v1/elections/e1/spoiled"
	bearer := []string{"Authorization", "Bearer " + tok}
	raw, revealed := h.env.Copy(t, h.el, "V00001", goodSelections)
	body := fmt.Sprintf(`{"revealed":%q}`, revealed)

	for name, tc := range map[string]struct {
		body    string
		headers []string
		status  int
	}{
		"no session":       {body, nil, 401},
		"no text":          {`{"revealed":""}`, bearer, 400},
		"not a string":     {`{"revealed":5}`, bearer, 400},
		"an unknown field": {`{"revealed":"x","choices":{}}`, bearer, 400},
		"not a copy":       {`{"revealed":"hello"}`, bearer, 400},
		"not JSON":         {`revealed=x`, bearer, 400},
	} {
		if r := h.do("POST", path, tc.body, tc.headers...); r.status != tc.status {
			t.Errorf("%s: %d %s; want %d", name, r.status, r.body, tc.status)
		}
	}
	if n := h.env.Count(t, `SELECT count(*) FROM spoiled_ballots`); n != 0 {
		t.Fatalf("bad requests kept %d copies", n)
	}

	r := h.do("POST", path, body, bearer...)
	var got struct {
		TrackingCode string              `json:"tracking_code"`
		Choices      map[string][]string `json:"choices"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); r.status != 201 || err != nil || got.Choices["leader"][0] != "a" {
		t.Fatalf("check = %d %s", r.status, r.body)
	}
	cast := h.do("POST", "/api/v1/elections/e1/ballots", fixture.CastBody(raw), "Authorization", "Bearer "+tok, "Idempotency-Key", idemKey("checked"))
	if cast.status != 409 || !strings.Contains(cast.body, "checked") || h.written() != 0 {
		t.Errorf("casting the checked copy = %d %s; want 409 and nothing written", cast.status, cast.body)
	}
	// Two more copies, then the voter's bound.
	for i := range 3 {
		_, more := h.env.Copy(t, h.el, "V00001", goodSelections)
		want := 201
		if i == 2 {
			want = 429
		}
		if r := h.do("POST", path, fmt.Sprintf(`{"revealed":%q}`, more), bearer...); r.status != want {
			t.Errorf("check %d = %d %s; want %d", i+2, r.status, r.body, want)
		}
	}
	// Another voter is not bound by it.
	_, theirs := h.env.Copy(t, h.el, "V00002", goodSelections)
	if r := h.do("POST", path, fmt.Sprintf(`{"revealed":%q}`, theirs), "Authorization", "Bearer "+h.voterToken("V00002")); r.status != 201 {
		t.Errorf("another voter's check = %d %s", r.status, r.body)
	}

	if err := h.env.Elections.Close(context.Background(), "e1", "test"); err != nil {
		t.Fatal(err)
	}
	rc := h.do("GET", "/api/v1/elections/e1/receipts/"+got.TrackingCode, "")
	if rc.status != 200 || !strings.Contains(rc.body, `"status":"spoiled"`) || !strings.Contains(rc.body, `"in_log":false`) {
		t.Errorf("the checked copy's code before sequencing = %d %s", rc.status, rc.body)
	}
	if err := h.env.Log.Sequence(context.Background()); err != nil {
		t.Fatal(err)
	}
	rc = h.do("GET", "/api/v1/elections/e1/receipts/"+got.TrackingCode, "")
	if rc.status != 200 || !strings.Contains(rc.body, `"status":"spoiled"`) || !strings.Contains(rc.body, `"inclusion_proof"`) {
		t.Errorf("the checked copy's code after the close = %d %s", rc.status, rc.body)
	}
}
