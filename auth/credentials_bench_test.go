package auth_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"primaryvote/internal/fixture"
)

// BenchmarkIssueAll issues codes to a 224,556-voter roll per operation.
func BenchmarkIssueAll(b *testing.B) {
	const electorate = 224556
	env := fixture.New(b)
	ctx := context.Background()
	if err := env.Elections.Create(ctx, fixture.Definition("big"), "bench"); err != nil {
		b.Fatal(err)
	}
	var roll bytes.Buffer
	roll.WriteString("voter_id,group,region\n")
	for i := range electorate {
		fmt.Fprintf(&roll, "M%07d,members,r%d\n", i, i%17)
	}
	if _, err := env.Elections.ImportRoll(ctx, "big", &roll, "bench"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		n, err := env.Credentials.IssueAll(ctx, "big", io.Discard, "bench")
		if err != nil || n != electorate {
			b.Fatalf("IssueAll = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(electorate)*float64(b.N)/b.Elapsed().Seconds(), "voters/s")
}

// BenchmarkSignInUnknownVoter and BenchmarkSignInWrongCode compare the work
// a failed sign-in does for a voter who does not exist and for a wrong code:
// they should cost the same, so the answer's timing does not tell which.
func BenchmarkSignInUnknownVoter(b *testing.B) { benchmarkFailedSignIn(b, "NOBODY") }

func BenchmarkSignInWrongCode(b *testing.B) { benchmarkFailedSignIn(b, "V00001") }

func benchmarkFailedSignIn(b *testing.B, voter string) {
	env := fixture.New(b)
	env.Setup(b, "e1", 10, true)
	ctx := context.Background()
	for b.Loop() {
		if err := env.Credentials.Check(ctx, "e1", voter, "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"); err == nil {
			b.Fatal("a wrong code was accepted")
		}
	}
}
