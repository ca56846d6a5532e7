package elections_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"primaryvote/internal/fixture"
)

// electorate is the size of the 2017 People's Party primary.
const electorate = 224556

func bigRoll(n int) []byte {
	var b bytes.Buffer
	b.WriteString("voter_id,group,region\n")
	regions := []string{"서울", "부산", "대구", "인천", "광주", "대전", "울산", "경기"}
	for i := range n {
		group := "members"
		if i%2 == 1 {
			group = "public"
		}
		fmt.Fprintf(&b, "M%07d,%s,%s\n", i, group, regions[i%len(regions)])
	}
	return b.Bytes()
}

// BenchmarkImportRoll imports the whole 224,556-voter roll per operation.
func BenchmarkImportRoll(b *testing.B) {
	env := fixture.New(b)
	if err := env.Elections.Create(context.Background(), fixture.Definition("big"), "bench"); err != nil {
		b.Fatal(err)
	}
	roll := bigRoll(electorate)
	b.SetBytes(int64(len(roll)))
	b.ResetTimer()
	for b.Loop() {
		sum, err := env.Elections.ImportRoll(context.Background(), "big", bytes.NewReader(roll), "bench")
		if err != nil || sum.Voters != electorate {
			b.Fatalf("ImportRoll = %v, %v", sum, err)
		}
	}
	b.ReportMetric(float64(electorate)*float64(b.N)/b.Elapsed().Seconds(), "voters/s")
}
