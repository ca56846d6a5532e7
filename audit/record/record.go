package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// A record is an entry as it sits in the log: a header that places and
// chains it, then the entry's body exactly as it was encoded when appended.
//
//	record_i = "PVL1" ‖ uint64(i) ‖ chain_{i−1} ‖ body_i
//	chain_i  = SHA-256(record_i)        chain_{−1} = 32 zero bytes
//
// So the log is a hash chain, and the same records are the leaves of an
// RFC 6962 Merkle tree: leaf_i = tlog.RecordHash(record_i) =
// SHA-256(0x00 ‖ record_i). Verifiers hash the stored bytes; nothing is ever
// re-encoded.
const recordMagic = "PVL1"

// HeaderSize is the length of a record's header: the body starts there.
const HeaderSize = len(recordMagic) + 8 + tlog.HashSize

// Frame returns the record for the entry body at index, after the entry
// whose chain hash is prev.
func Frame(index int64, prev tlog.Hash, body []byte) []byte {
	r := make([]byte, 0, HeaderSize+len(body))
	r = append(r, recordMagic...)
	r = binary.BigEndian.AppendUint64(r, uint64(index))
	r = append(r, prev[:]...)
	return append(r, body...)
}

// ErrMalformed is returned for bytes that are not a record.
var ErrMalformed = errors.New("record: malformed record")

// ParseRecord splits a record into its index, the previous chain hash and
// the entry body. The body aliases rec.
func Parse(rec []byte) (index int64, prev tlog.Hash, body []byte, err error) {
	if len(rec) < HeaderSize || !bytes.HasPrefix(rec, []byte(recordMagic)) {
		return 0, prev, nil, ErrMalformed
	}
	i := binary.BigEndian.Uint64(rec[len(recordMagic):])
	if i > 1<<62 {
		return 0, prev, nil, ErrMalformed
	}
	copy(prev[:], rec[len(recordMagic)+8:HeaderSize])
	return int64(i), prev, rec[HeaderSize:], nil
}

// ChainHash returns chain_i for record_i.
func ChainHash(rec []byte) tlog.Hash { return sha256.Sum256(rec) }

// MemoryHashes is a tlog.HashReader over stored hashes held in memory, for
// building a tree from records as they are read (by verifiers and tests).
type MemoryHashes []tlog.Hash

// ReadHashes returns the stored hashes at the given indexes.
func (m MemoryHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("record: no stored hash %d", x)
		}
		out[i] = m[x]
	}
	return out, nil
}
