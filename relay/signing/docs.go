package signing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"parley/relay/store"
)

// putVersion stores data as version n of process id, one chunk per
// transaction (a document can be larger than one transaction may hold).
// The version becomes visible only when the process record lists it; a
// failure removes what was written (and the sweep removes leftovers with
// the process).
func (s *Service) putVersion(ctx context.Context, id string, n int, kind, role string, data []byte) (Version, error) {
	for i := 0; i*ChunkSize < len(data) || (i == 0 && len(data) == 0); i++ {
		end := min((i+1)*ChunkSize, len(data))
		chunk := data[i*ChunkSize : end]
		if err := s.kv.Update(ctx, func(tx store.Txn) error { return tx.Set(chunkKey(id, n, i), chunk) }); err != nil {
			_ = deleteKeys(context.WithoutCancel(ctx), s.kv, versionPrefix(id, n))
			return Version{}, fmt.Errorf("signing: storing document version %d: %w", n, err)
		}
	}
	sum := sha256.Sum256(data)
	return Version{N: n, Kind: kind, Role: role, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Created: s.clock.Now().UTC()}, nil
}

// readVersion reads a stored version and checks its size and hash.
func (s *Service) readVersion(ctx context.Context, id string, v Version) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, v.Size))
	for i := 0; int64(i)*ChunkSize < v.Size || i == 0; i++ {
		err := s.kv.View(ctx, func(tx store.Txn) error {
			b, err := tx.Get(chunkKey(id, v.N, i))
			if err != nil {
				return err
			}
			buf.Write(b)
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("signing: document version %d chunk %d: %w", v.N, i, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("signing: reading document version %d: %w", v.N, err)
		}
	}
	sum := sha256.Sum256(buf.Bytes())
	if int64(buf.Len()) != v.Size || hex.EncodeToString(sum[:]) != v.SHA256 {
		return nil, fmt.Errorf("signing: document version %d does not match its record", v.N)
	}
	return buf.Bytes(), nil
}

// Document is a document version handed out for download.
type Document struct {
	// Version describes the bytes.
	Version Version
	// Data is the PDF.
	Data []byte
	// Modified is when the version was stored.
	Modified time.Time
}
