package ballot

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// signed is a signature of a message, with the key it should verify under.
type signed struct {
	public, message, sig []byte
	by                   *Credential
}

func signatures(t testing.TB, n int) []signed {
	t.Helper()
	out := make([]signed, n)
	for i := range out {
		c, err := DeriveCredential("e1", NewCode())
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte(fmt.Sprintf("sign-in %d", i))
		out[i] = signed{public: c.Public(), message: msg, sig: c.Sign(SignInContext, msg), by: c}
	}
	return out
}

// A batch of signatures holds when each does, and names each one that does
// not, whatever is wrong with it.
func TestSignatureBatchNamesTheBadSignature(t *testing.T) {
	t.Parallel()
	good := signatures(t, 5)
	bt := NewSignatureBatch()
	for _, s := range good {
		if err := bt.AddSignature(s.public, SignInContext, s.message, s.sig); err != nil {
			t.Fatal(err)
		}
	}
	if i, err := bt.Verify(); i != -1 || err != nil {
		t.Fatalf("Verify(good signatures) = %d, %v", i, err)
	}
	other := signatures(t, 1)[0]
	for name, bad := range map[string]signed{
		"another message":     {good[2].public, []byte("sign-in 9"), good[2].sig, nil},
		"another key":         {other.public, good[2].message, good[2].sig, nil},
		"s altered":           {good[2].public, good[2].message, append(append(append([]byte{}, good[2].sig[:40]...), good[2].sig[40]^1), good[2].sig[41:]...), nil},
		"R of another":        {good[2].public, good[2].message, append(append([]byte{}, other.sig[:32]...), good[2].sig[32:]...), nil},
		"another context":     {good[2].public, good[2].message, good[2].by.Sign(BallotContext, good[2].message), nil},
		"the key is the sig.": {good[2].sig[:32], good[2].message, good[2].sig, nil},
	} {
		bt := NewSignatureBatch()
		for i, s := range good {
			if i == 2 {
				s = bad
			}
			if err := bt.AddSignature(s.public, SignInContext, s.message, s.sig); err != nil {
				t.Fatalf("%s: AddSignature = %v", name, err)
			}
		}
		errs := bt.VerifyEach()
		for i, err := range errs {
			if (i == 2) != (err != nil) {
				t.Errorf("%s: signature %d: %v", name, i, err)
			}
		}
		if !errors.Is(errs[2], ErrSignature) {
			t.Errorf("%s: error %v; want ErrSignature", name, errs[2])
		}
	}
	// What does not decode is refused as it is added, and takes no ballot.
	if err := NewSignatureBatch().AddSignature(good[0].public, SignInContext, good[0].message, good[0].sig[:63]); err == nil {
		t.Error("AddSignature(63 bytes) = nil")
	}
	if _, err := NewSignatureBatch().Add([]byte("PVB2")); err == nil || !strings.Contains(err.Error(), "takes no ballot") {
		t.Errorf("Add(ballot) to a signature batch = %v", err)
	}
}

// Concurrent callers share batches, and each gets its own answer.
func TestVerifierAnswersEachSigner(t *testing.T) {
	t.Parallel()
	v := NewVerifier()
	sigs := signatures(t, 40)
	bad := map[int]bool{7: true, 31: true}
	var wg sync.WaitGroup
	errs := make([]error, len(sigs))
	for i, s := range sigs {
		if bad[i] {
			s.message = []byte("another statement")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = v.VerifySignature(s.public, SignInContext, s.message, s.sig)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if bad[i] != (err != nil) {
			t.Errorf("signature %d (bad %v): %v", i, bad[i], err)
		}
	}
}

// BenchmarkSignatureBatch is the cost of one sign-in's signature in a batch
// of 32, beside BenchmarkVerifySignature's one alone.
func BenchmarkSignatureBatch(b *testing.B) {
	sigs := signatures(b, 32)
	for b.Loop() {
		bt := NewSignatureBatch()
		for _, s := range sigs {
			if err := bt.AddSignature(s.public, SignInContext, s.message, s.sig); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := bt.Verify(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(sigs)), "µs/signature")
}
