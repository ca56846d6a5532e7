package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"primaryvote/audit/cosign"
	"strings"
	"syscall"
	"time"

	pv "primaryvote"
	"primaryvote/audit"
	"primaryvote/audit/witness"
)

// witnessInit makes a camp's witness: a key of its own, and the log it
// witnesses, pinned by the verifier key the committee published.
func witnessInit(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("witness init", flag.ContinueOnError)
	dir := fs.String("dir", "", "the witness's directory (its key and state)")
	name := fs.String("name", "", "the witness's name, such as camp-a.example/witness")
	logKey := fs.String("log-key", "", "the log's verifier key, as the committee published it")
	if _, err := parse(fs, args, 0); err != nil || *dir == "" || *name == "" || *logKey == "" {
		return errUsage
	}
	k, err := witness.Init(*dir, *name, strings.TrimSpace(*logKey))
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "witness %s made in %s; its signing key is %s (keep it, and back it up: a new key is a new witness)\n", k.Name, *dir, filepath.Join(*dir, witness.KeyFile))
	fmt.Fprintf(env.Stdout, "its verifier key, for the election's witness policy:\n%s\n", k.VerifierKey())
	return nil
}

// witnessKey prints a witness's verifier key.
func witnessKey(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("witness key", flag.ContinueOnError)
	dir := fs.String("dir", "", "the witness's directory")
	if _, err := parse(fs, args, 0); err != nil || *dir == "" {
		return errUsage
	}
	b, err := os.ReadFile(filepath.Join(*dir, witness.KeyFile))
	if err != nil {
		return err
	}
	k, err := cosign.ParseKey(string(b))
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, k.VerifierKey())
	return nil
}

// witnessServe serves a witness until interrupted (SIGINT or SIGTERM).
// With --name and --log-key it first makes the witness if DIR has none (for
// a container's first start), and refuses a DIR that witnesses another log.
func witnessServe(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("witness serve", flag.ContinueOnError)
	dir := fs.String("dir", "", "the witness's directory")
	addr := fs.String("addr", "127.0.0.1:7380", "the address to listen on")
	name := fs.String("name", "", "with --log-key: the witness's name, to make it if DIR has no witness")
	logKey := fs.String("log-key", "", "with --name: the log's published verifier key")
	if _, err := parse(fs, args, 0); err != nil || *dir == "" {
		return errUsage
	}
	if (*name == "") != (*logKey == "") {
		return errors.New("to make the witness on its first start, give both its --name and the log's published --log-key (in docker-compose.yml, PRIMARYVOTE_LOG_KEY)")
	}
	if *logKey != "" {
		switch b, err := os.ReadFile(filepath.Join(*dir, witness.LogKeyFile)); {
		case errors.Is(err, os.ErrNotExist):
			if err := witnessInit(ctx, env, []string{"--dir", *dir, "--name", *name, "--log-key", *logKey}); err != nil {
				return err
			}
		case err != nil:
			return err
		case strings.TrimSpace(string(b)) != strings.TrimSpace(*logKey):
			return fmt.Errorf("%s witnesses the log %s, not %s", *dir, strings.TrimSpace(string(b)), *logKey)
		}
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, nil))
	w, err := witness.Open(*dir, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: w, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	fmt.Fprintf(env.Stdout, "witness %s serving http://%s (cosigned up to size %d)\n", strings.SplitN(w.VerifierKey(), "+", 2)[0], ln.Addr(), w.Size())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// witnessesSet sets a draft election's witness policy from a JSON file.
func (t *tool) witnessesSet(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("witnesses set", flag.ContinueOnError)
	pos, err := parse(fs, args, 2)
	if err != nil {
		return err
	}
	p, err := readPolicy(pos[1])
	if err != nil {
		return err
	}
	if err := t.elections.SetWitnesses(ctx, pos[0], p, t.actor); err != nil {
		return err
	}
	fmt.Fprintf(t.env.Stdout, "election %s: a checkpoint counts with the cosignatures of %d of %s\n", pos[0], p.Quorum, strings.Join(p.Names(), ", "))
	return nil
}

// witnessesStatus prints how far each of an election's witnesses has
// cosigned the log.
func (t *tool) witnessesStatus(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("witnesses status", flag.ContinueOnError), args, 1)
	if err != nil {
		return err
	}
	if _, err := t.elections.Get(ctx, pos[0]); err != nil {
		return err
	}
	v, err := audit.Witnesses(ctx, t.pool, pos[0])
	if errors.Is(err, audit.ErrNoPolicy) {
		return pv.Errorf(pv.ENotFound, "election %s has no witness policy", pos[0])
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(t.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readPolicy reads a witness policy file strictly and checks it.
func readPolicy(path string) (*cosign.Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := cosign.ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return p, nil
}
