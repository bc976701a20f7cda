package chat

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"parley/relay/signal/msg"
	"parley/relay/store"
)

// Key layout. Every key starts with "chat/"; no key contains personal data.
//
//	chat/m/<meetingID>                          meetingRec (sequence counter, bytes used)
//	chat/e/<meetingID>/<seq, 20 digits>         entryRecord
//	chat/x/<sent, 20 digits>/<meetingID>/<seq>  empty (expiry index, oldest first)
//	chat/n/<meetingID>/<sha256(author, nonce)>  seq (8 bytes, big-endian)
//	chat/f/<meetingID>/<fileID>                 seq of the file's entry
//	chat/c/<fileID>/<index, 8 digits>           file bytes (≤ ChunkSize)
//	chat/u/<started, 20 digits>/<fileID>        uploadRec (an upload in progress)
//	chat/g/<fileID>                             uploadRec (chunks to delete)
const (
	prefixMeeting = "chat/m/"
	prefixEntry   = "chat/e/"
	prefixExpiry  = "chat/x/"
	prefixNonce   = "chat/n/"
	prefixFile    = "chat/f/"
	prefixChunk   = "chat/c/"
	prefixUpload  = "chat/u/"
	prefixGarbage = "chat/g/"
)

func meetingKey(meetingID string) []byte { return []byte(prefixMeeting + meetingID) }

func entryPrefix(meetingID string) []byte { return []byte(prefixEntry + meetingID + "/") }

func entryKey(meetingID string, seq uint64) []byte {
	return fmt.Appendf(entryPrefix(meetingID), "%020d", seq)
}

func expiryKey(sent time.Time, meetingID string, seq uint64) []byte {
	return fmt.Appendf(nil, "%s%020d/%s/%020d", prefixExpiry, sent.UnixNano(), meetingID, seq)
}

// parseExpiryKey splits an expiry-index key.
func parseExpiryKey(key []byte) (sent int64, meetingID string, seq uint64, ok bool) {
	parts := strings.Split(strings.TrimPrefix(string(key), prefixExpiry), "/")
	if len(parts) != 3 {
		return 0, "", 0, false
	}
	t, err1 := strconv.ParseInt(parts[0], 10, 64)
	n, err2 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, "", 0, false
	}
	return t, parts[1], n, true
}

func nonceKey(meetingID, authorID, nonce string) []byte {
	h := sha256.Sum256([]byte(authorID + "\x00" + nonce))
	return []byte(prefixNonce + meetingID + "/" + hex.EncodeToString(h[:]))
}

func fileKey(meetingID, fileID string) []byte {
	return []byte(prefixFile + meetingID + "/" + fileID)
}

func chunkKey(fileID string, i int) []byte {
	return fmt.Appendf(nil, "%s%s/%08d", prefixChunk, fileID, i)
}

func uploadKey(started time.Time, fileID string) []byte {
	return fmt.Appendf(nil, "%s%020d/%s", prefixUpload, started.UnixNano(), fileID)
}

func garbageKey(fileID string) []byte { return []byte(prefixGarbage + fileID) }

func seqBytes(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// getSeq reads a sequence number stored by seqBytes; store.ErrNotFound
// passes through.
func getSeq(tx store.Txn, key []byte) (uint64, error) {
	b, err := tx.Get(key)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, errors.New("chat: corrupt sequence index")
	}
	return binary.BigEndian.Uint64(b), nil
}

// meetingRec is a meeting's timeline counter. First is the lowest sequence
// number that may still exist (entries below it have expired); Last the
// highest assigned; Bytes what the live entries hold.
type meetingRec struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	Bytes int64  `json:"bytes"`
}

// entryRecord is a stored timeline entry. Chunks and Bytes describe a
// file's storage (Chunks is 0 for chat messages); Bytes counts against the
// meeting's quota.
type entryRecord struct {
	Entry  msg.Entry `json:"entry"`
	Chunks int       `json:"chunks,omitempty"`
	Bytes  int64     `json:"bytes"`
}

// uploadRec tracks the chunks of a file not (or no longer) referenced by a
// timeline entry.
type uploadRec struct {
	MeetingID string `json:"meeting_id"`
	Chunks    int    `json:"chunks"`
	Bytes     int64  `json:"bytes"`
}

func getJSON(tx store.Txn, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("chat: decode %s record: %w", keyKind(key), err)
	}
	return nil
}

func putJSON(tx store.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Set(key, b)
}

// keyKind names the record type of a key for error messages.
func keyKind(key []byte) string {
	rest := strings.TrimPrefix(string(key), "chat/")
	kind, _, _ := strings.Cut(rest, "/")
	return kind
}

// getMeetingRec reads a meeting's counter; a meeting without one has an
// empty timeline.
func getMeetingRec(tx store.Txn, meetingID string) (*meetingRec, error) {
	var m meetingRec
	err := getJSON(tx, meetingKey(meetingID), &m)
	if errors.Is(err, store.ErrNotFound) {
		return &meetingRec{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func getEntry(tx store.Txn, meetingID string, seq uint64) (*entryRecord, error) {
	var r entryRecord
	err := getJSON(tx, entryKey(meetingID, seq), &r)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}
