// Package witness speaks the C2SP tlog-witness protocol: the log's client,
// which pushes a checkpoint with a consistency proof and gets a
// cosignature, and the witness a camp runs on its own machine, which keeps
// its state in files (package cosign holds the keys, cosignatures and
// policies, without the network).
package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// maxProofLines is the most consistency proof lines a request may carry
// (C2SP tlog-witness).
const maxProofLines = 63

// AddCheckpointRequest is the body of a C2SP tlog-witness add-checkpoint
// request: the size of the last checkpoint the witness cosigned, a
// consistency proof from it, and the new signed checkpoint.
type AddCheckpointRequest struct {
	OldSize    int64
	Proof      tlog.TreeProof
	Checkpoint []byte
}

// Marshal encodes the request body.
func (r *AddCheckpointRequest) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", r.OldSize)
	for _, h := range r.Proof {
		b.WriteString(h.String())
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(r.Checkpoint)
	return b.Bytes()
}

// ParseAddCheckpoint parses an add-checkpoint request body strictly.
func ParseAddCheckpoint(body []byte) (*AddCheckpointRequest, error) {
	head, checkpoint, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return nil, errors.New("no empty line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	size, ok := strings.CutPrefix(lines[0], "old ")
	if !ok {
		return nil, errors.New(`the first line is not "old <size>"`)
	}
	old, err := strconv.ParseInt(size, 10, 64)
	if err != nil || old < 0 || strconv.FormatInt(old, 10) != size {
		return nil, errors.New("the old size is not a decimal without leading zeroes")
	}
	if len(lines)-1 > maxProofLines {
		return nil, fmt.Errorf("more than %d consistency proof lines", maxProofLines)
	}
	r := &AddCheckpointRequest{OldSize: old, Checkpoint: checkpoint}
	for _, l := range lines[1:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			return nil, fmt.Errorf("proof line %q is not a base64 hash", l)
		}
		r.Proof = append(r.Proof, h)
	}
	return r, nil
}

// ConflictError is a witness's 409: the last checkpoint it cosigned is of
// Size, not the old size the request gave.
type ConflictError struct{ Size int64 }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("the witness last cosigned a checkpoint of size %d", e.Size)
}

// RefusedError is any other answer than 200 or 409.
type RefusedError struct {
	Status  int
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the witness refused the checkpoint: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// AddCheckpoint posts r to the witness whose submission prefix is url and
// returns the signature lines it answered with (unverified).
func AddCheckpoint(ctx context.Context, hc *http.Client, url string, r *AddCheckpointRequest) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(url, "/")+"/add-checkpoint", bytes.NewReader(r.Marshal()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if len(body) == 0 || !bytes.HasSuffix(body, []byte("\n")) || !bytes.HasPrefix(body, []byte("— ")) {
			return nil, fmt.Errorf("the witness answered 200 with no signature lines")
		}
		return body, nil
	case http.StatusConflict:
		s := strings.TrimSuffix(string(body), "\n")
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || resp.Header.Get("Content-Type") != sizeType {
			return nil, fmt.Errorf("the witness answered 409 without a %s body", sizeType)
		}
		return nil, &ConflictError{Size: n}
	default:
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, &RefusedError{Status: resp.StatusCode, Message: msg}
	}
}

// sizeType is the Content-Type of a 409's body.
const sizeType = "text/x.tlog.size"
