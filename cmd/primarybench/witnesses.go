package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"primaryvote/audit/cosign"
	"strings"
	"time"

	"primaryvote/audit/witness"
)

// witnesses are the camps' witnesses a run pushes to: each a `primaryctl
// witness serve` of its own, so that its CPU is its own (a camp's machine's,
// in an election).
type witnesses struct {
	procs  []*exec.Cmd
	policy string // the policy file, for auditverify --policy
}

// startWitnesses makes and serves n witnesses of the log whose key is
// logKey, and sets the election's policy: every one of them must cosign.
func startWitnesses(ctx context.Context, c config, n int, logKey string) (_ *witnesses, err error) {
	w := &witnesses{policy: filepath.Join(c.work, "policy.json")}
	defer func() {
		if err != nil {
			w.stop()
		}
	}()
	policy := cosign.Policy{Quorum: n}
	for i := 1; i <= n; i++ {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(c.work, fmt.Sprintf("witness-%d", i))
		log, err := os.Create(dir + ".log")
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(filepath.Join(c.bin, "primaryctl"), "witness", "serve", "--dir", dir, "--addr", addr,
			"--name", fmt.Sprintf("camp-%d.bench/witness", i), "--log-key", logKey)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			log.Close()
			return nil, err
		}
		log.Close()
		w.procs = append(w.procs, cmd)
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, err := os.ReadFile(filepath.Join(dir, witness.KeyFile))
			if err == nil {
				k, err := cosign.ParseKey(string(b))
				if err != nil {
					return nil, err
				}
				policy.Witnesses = append(policy.Witnesses, cosign.Witness{Key: k.VerifierKey(), URL: "http://" + addr})
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("witness %d did not start (see %s.log)", i, dir)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	b, _ := json.Marshal(policy)
	if err := os.WriteFile(w.policy, b, 0o644); err != nil {
		return nil, err
	}
	if _, err := command(ctx, filepath.Join(c.bin, "primaryctl"), "", "witnesses", "set", "bench", w.policy); err != nil {
		return nil, err
	}
	return w, nil
}

// cpu is the witnesses' CPU time so far.
func (w *witnesses) cpu() time.Duration {
	var total time.Duration
	for _, p := range w.procs {
		if own, _, err := procCPU(p.Process.Pid); err == nil {
			total += own
		}
	}
	return total
}

func (w *witnesses) stop() {
	if w == nil {
		return
	}
	for _, p := range w.procs {
		p.Process.Kill()
		p.Wait()
	}
}

// witnessView is the part of GET …/witnesses a run reads.
type witnessView struct {
	LogSize   int64 `json:"log_size"`
	Counting  int64 `json:"counting_size"`
	Witnesses []struct {
		Lag int64 `json:"lag"`
	} `json:"witnesses"`
}

func readWitnesses(ctx context.Context, base string) (*witnessView, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/elections/bench/witnesses", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET witnesses: %s %s", res.Status, b)
	}
	var v witnessView
	return &v, json.Unmarshal(b, &v)
}

// logSize reads the size of the log's newest checkpoint.
func logSize(ctx context.Context, base string) (int64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/elections/bench/checkpoint", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	lines := strings.Split(string(b), "\n")
	if res.StatusCode != http.StatusOK || len(lines) < 2 {
		return 0, fmt.Errorf("GET checkpoint: %s", res.Status)
	}
	var n int64
	_, err = fmt.Sscan(lines[1], &n)
	return n, err
}
