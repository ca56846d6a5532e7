package witness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"filippo.io/torchwood"

	"primaryvote/audit/cosign"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The files of a witness's directory.
const (
	// KeyFile holds the witness's signing key (0600).
	KeyFile = "witness.key"
	// LogKeyFile holds the verifier key of the log it witnesses.
	LogKeyFile = "log.key"
	// CheckpointFile holds the newest checkpoint it cosigned, with the log's
	// signature and its cosignature: the witness's whole state.
	CheckpointFile = "checkpoint"
	// RefusedDir keeps every checkpoint validly signed by the log that the
	// witness refused as inconsistent with what it had cosigned: the
	// evidence of a split view or a rewritten log.
	RefusedDir = "refused"
)

// Init makes a witness directory: a new key named name, and the log it
// witnesses, by its verifier key. It refuses a directory that has a key.
func Init(dir, name, logKey string) (*cosign.Key, error) {
	if _, err := note.NewVerifier(logKey); err != nil {
		return nil, fmt.Errorf("the log's key %q: %v", logKey, err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a witness key: a witness keeps its key", dir)
	}
	k, err := cosign.GenerateKey(name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := writeAtomic(dir, LogKeyFile, []byte(logKey+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := writeAtomic(dir, KeyFile, []byte(k.String()+"\n"), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

// Server is a witness: it cosigns the checkpoints of one log, each consistent with the
// last it cosigned. Its state is one file, replaced atomically and synced
// to disk before it answers, so a crash never loses or rolls back what it
// cosigned.
type Server struct {
	dir    string
	key    *cosign.Key
	signer *torchwood.CosignatureSigner
	logV   note.Verifier
	origin string
	logger *slog.Logger
	mux    *http.ServeMux

	mu   sync.Mutex
	size int64     // of the checkpoint last cosigned; 0 before any
	hash tlog.Hash // its root
}

// Open opens the witness in dir (made by Init).
func Open(dir string, logger *slog.Logger) (*Server, error) {
	kb, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("no witness key: %w (make one with primaryctl witness init)", err)
	}
	k, err := cosign.ParseKey(string(kb))
	if err != nil {
		return nil, err
	}
	lb, err := os.ReadFile(filepath.Join(dir, LogKeyFile))
	if err != nil {
		return nil, err
	}
	logV, err := note.NewVerifier(strings.TrimSpace(string(lb)))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", LogKeyFile, err)
	}
	signer, err := torchwood.NewCosignatureSigner(k.Name, k.Private())
	if err != nil {
		return nil, err
	}
	w := &Server{dir: dir, key: k, signer: signer, logV: logV, origin: logV.Name(), logger: logger, mux: http.NewServeMux()}
	switch cb, err := os.ReadFile(filepath.Join(dir, CheckpointFile)); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		n, err := note.Open(cb, note.VerifierList(logV, signer.Verifier()))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", CheckpointFile, err)
		}
		c, err := torchwood.ParseCheckpoint(n.Text)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", CheckpointFile, err)
		}
		w.size, w.hash = c.N, c.Hash
	}
	w.mux.HandleFunc("POST /add-checkpoint", w.serveAddCheckpoint)
	w.mux.HandleFunc("GET /{origin}/checkpoint", w.serveCheckpoint)
	return w, nil
}

// VerifierKey is the key that checks the witness's cosignatures.
func (w *Server) VerifierKey() string { return w.key.VerifierKey() }

// Size is the size of the checkpoint it last cosigned.
func (w *Server) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

func (w *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.mux.ServeHTTP(rw, r) }

// refusal is an answer other than a cosignature.
type refusal struct {
	status int
	msg    string
	size   int64 // for 409
}

func (r *refusal) Error() string { return r.msg }

func (w *Server) serveAddCheckpoint(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 64<<10))
	if err != nil {
		http.Error(rw, "the request body is too large or cut off", http.StatusBadRequest)
		return
	}
	cosig, err := w.AddCheckpoint(body)
	var ref *refusal
	switch {
	case errors.As(err, &ref) && ref.status == http.StatusConflict:
		rw.Header().Set("Content-Type", sizeType)
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", ref.size)
	case errors.As(err, &ref):
		http.Error(rw, ref.msg, ref.status)
	case err != nil:
		w.logger.Error("couldn't cosign", "err", err)
		http.Error(rw, "the witness couldn't keep its state", http.StatusInternalServerError)
	default:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(cosig)
	}
}

// AddCheckpoint handles an add-checkpoint request body as C2SP
// tlog-witness says: it returns the cosignature line, or an error that
// says which status to answer.
func (w *Server) AddCheckpoint(body []byte) ([]byte, error) {
	req, err := ParseAddCheckpoint(body)
	if err != nil {
		return nil, &refusal{status: http.StatusBadRequest, msg: err.Error()}
	}
	origin, _, _ := strings.Cut(string(req.Checkpoint), "\n")
	if origin != w.origin {
		return nil, &refusal{status: http.StatusNotFound, msg: fmt.Sprintf("this witness does not witness the log %q", origin)}
	}
	n, err := note.Open(req.Checkpoint, note.VerifierList(w.logV))
	if err != nil {
		return nil, &refusal{status: http.StatusForbidden, msg: "the checkpoint is not signed by the log's key"}
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil || c.Origin != w.origin {
		return nil, &refusal{status: http.StatusBadRequest, msg: "malformed checkpoint"}
	}
	if req.OldSize > c.N {
		return nil, &refusal{status: http.StatusBadRequest, msg: fmt.Sprintf("the old size %d is beyond the checkpoint's %d", req.OldSize, c.N)}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if req.OldSize != w.size {
		return nil, &refusal{status: http.StatusConflict, size: w.size, msg: "conflict"}
	}
	if c.N == 0 && c.Hash != emptyTree {
		return nil, w.refuse(n, c, "a checkpoint of size 0 must have the empty tree's root")
	}
	switch {
	case req.OldSize == 0:
		if len(req.Proof) != 0 {
			return nil, &refusal{status: http.StatusUnprocessableEntity, msg: "a proof from size 0 must be empty"}
		}
	case req.OldSize == c.N:
		if c.Hash != w.hash {
			return nil, w.refuse(n, c, fmt.Sprintf("a different tree of size %d than the one this witness cosigned: a split view", c.N))
		}
	default:
		if err := tlog.CheckTree(req.Proof, c.N, c.Hash, w.size, w.hash); err != nil {
			return nil, w.refuse(n, c, fmt.Sprintf("the tree of size %d does not extend the one of size %d this witness cosigned", c.N, w.size))
		}
	}
	signed, err := note.Sign(&note.Note{Text: n.Text}, w.signer)
	if err != nil {
		return nil, err
	}
	_, cosig, _ := bytes.Cut(signed, []byte("\n\n"))
	if err := w.persist(n, cosig); err != nil {
		return nil, err
	}
	w.size, w.hash = c.N, c.Hash
	w.logger.Info("cosigned", "origin", c.Origin, "size", c.N)
	return cosig, nil
}

var emptyTree = tlog.Hash(sha256.Sum256(nil))

// refuse keeps the refused checkpoint as evidence and says why it was
// refused.
func (w *Server) refuse(n *note.Note, c torchwood.Checkpoint, why string) error {
	name := fmt.Sprintf("%d-%d.checkpoint", c.N, time.Now().UnixNano())
	if err := os.MkdirAll(filepath.Join(w.dir, RefusedDir), 0o700); err == nil {
		writeAtomic(filepath.Join(w.dir, RefusedDir), name, signedByLog(n), 0o644)
	}
	w.logger.Warn("refused a checkpoint signed by the log", "size", c.N, "why", why, "kept", filepath.Join(w.dir, RefusedDir, name))
	return &refusal{status: http.StatusUnprocessableEntity, msg: why}
}

// signedByLog is the note with the log's verified signatures only.
func signedByLog(n *note.Note) []byte {
	var b bytes.Buffer
	b.WriteString(n.Text)
	b.WriteString("\n")
	for _, s := range n.Sigs {
		fmt.Fprintf(&b, "— %s %s\n", s.Name, s.Base64)
	}
	return b.Bytes()
}

// persist replaces the state file with the checkpoint, the log's
// signature and the cosignature.
func (w *Server) persist(n *note.Note, cosig []byte) error {
	return writeAtomic(w.dir, CheckpointFile, append(signedByLog(n), cosig...), 0o644)
}

func (w *Server) serveCheckpoint(rw http.ResponseWriter, r *http.Request) {
	want := sha256.Sum256([]byte(w.origin))
	if r.PathValue("origin") != hex.EncodeToString(want[:]) {
		http.Error(rw, "unknown log", http.StatusNotFound)
		return
	}
	w.mu.Lock()
	b, err := os.ReadFile(filepath.Join(w.dir, CheckpointFile))
	w.mu.Unlock()
	if err != nil {
		http.Error(rw, "this witness has cosigned no checkpoint yet", http.StatusNotFound)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Write(b)
}

// writeAtomic writes name in dir through a temporary file, synced, renamed
// over the old one, with the directory synced: after a crash the file is
// either the old or the new, never a mix.
func writeAtomic(dir, name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
