package auth_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"primaryvote/ballot"
	"primaryvote/internal/fixture"
)

// BenchmarkImport imports a 224,556-voter credentials file per operation.
func BenchmarkImport(b *testing.B) {
	const electorate = 224556
	env := fixture.New(b)
	ctx := context.Background()
	if err := env.Elections.Create(ctx, fixture.Definition("big"), "bench"); err != nil {
		b.Fatal(err)
	}
	var roll bytes.Buffer
	roll.WriteString("voter_id,group,region\n")
	voters := make([]ballot.RollVoter, electorate)
	for i := range electorate {
		voters[i] = ballot.RollVoter{ID: fmt.Sprintf("M%07d", i), Group: "members"}
		fmt.Fprintf(&roll, "M%07d,members,r%d\n", i, i%17)
	}
	if _, err := env.Elections.ImportRoll(ctx, "big", &roll, "bench"); err != nil {
		b.Fatal(err)
	}
	_, public := fixture.Authority("big", voters)
	b.ResetTimer()
	for b.Loop() {
		sum, err := env.Credentials.Import(ctx, "big", bytes.NewReader(public), "bench")
		if err != nil || sum.Voters != electorate {
			b.Fatalf("Import = %+v, %v", sum, err)
		}
	}
	b.ReportMetric(float64(electorate)*float64(b.N)/b.Elapsed().Seconds(), "voters/s")
}

// BenchmarkSignInUnknownVoter and BenchmarkSignInWrongCode compare the work
// a failed sign-in does for a voter who does not exist and for a wrong key:
// they should cost the same, so the answer's timing does not tell which.
func BenchmarkSignInUnknownVoter(b *testing.B) { benchmarkFailedSignIn(b, "NOBODY") }

func BenchmarkSignInWrongCode(b *testing.B) { benchmarkFailedSignIn(b, "V00001") }

func benchmarkFailedSignIn(b *testing.B, voter string) {
	env := fixture.New(b)
	env.Setup(b, "e1", 10, true)
	for b.Loop() {
		if _, err := env.SignIn("e1", voter, "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"); err == nil {
			b.Fatal("a wrong code was accepted")
		}
	}
}
