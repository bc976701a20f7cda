package whiteboard

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"parley/relay/store"
)

// Key layout. Every key starts with "wb/"; no key contains personal data.
//
//	wb/b/<meetingID>                          boardRec (first, last, bytes: 3×8 bytes big-endian)
//	wb/o/<meetingID>/<seq, 20 digits>         the accepted op as JSON, without Show/Hide
//	wb/x/<at, 20 digits>/<meetingID>/<seq>    empty (expiry index, oldest first)
const (
	prefixBoard  = "wb/b/"
	prefixOp     = "wb/o/"
	prefixExpiry = "wb/x/"
)

func boardKey(meetingID string) []byte { return []byte(prefixBoard + meetingID) }

func opPrefix(meetingID string) []byte { return []byte(prefixOp + meetingID + "/") }

func opKey(meetingID string, seq uint64) []byte {
	return fmt.Appendf(opPrefix(meetingID), "%020d", seq)
}

func expiryKey(at time.Time, meetingID string, seq uint64) []byte {
	return fmt.Appendf(nil, "%s%020d/%s/%020d", prefixExpiry, at.UnixNano(), meetingID, seq)
}

// parseExpiryKey splits an expiry-index key.
func parseExpiryKey(key []byte) (at int64, meetingID string, seq uint64, ok bool) {
	parts := strings.Split(strings.TrimPrefix(string(key), prefixExpiry), "/")
	if len(parts) != 3 || !validRef(parts[1]) {
		return 0, "", 0, false
	}
	t, err1 := strconv.ParseInt(parts[0], 10, 64)
	n, err2 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, "", 0, false
	}
	return t, parts[1], n, true
}

// boardRec is a board's log counter. First is the lowest seq that may
// still be stored (ops below it have expired); Last the highest assigned;
// Bytes what the stored ops hold.
type boardRec struct {
	First, Last uint64
	Bytes       int64
}

func getBoardRec(tx store.Txn, meetingID string) (boardRec, error) {
	b, err := tx.Get(boardKey(meetingID))
	if errors.Is(err, store.ErrNotFound) {
		return boardRec{}, nil
	}
	if err != nil {
		return boardRec{}, err
	}
	if len(b) != 24 {
		return boardRec{}, errors.New("whiteboard: corrupt board record")
	}
	return boardRec{First: binary.BigEndian.Uint64(b), Last: binary.BigEndian.Uint64(b[8:]),
		Bytes: int64(binary.BigEndian.Uint64(b[16:]))}, nil
}

func putBoardRec(tx store.Txn, meetingID string, r boardRec) error {
	b := binary.BigEndian.AppendUint64(nil, r.First)
	b = binary.BigEndian.AppendUint64(b, r.Last)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Bytes))
	return tx.Set(boardKey(meetingID), b)
}

// encodeStored is the op as it is logged: without Show and Hide, which
// replay recomputes.
func encodeStored(op Op) ([]byte, error) {
	op.Show, op.Hide = nil, nil
	return json.Marshal(op)
}

func decodeStored(b []byte) (*Op, error) {
	var op Op
	if err := json.Unmarshal(b, &op); err != nil {
		return nil, fmt.Errorf("whiteboard: decode stored op: %w", err)
	}
	return &op, nil
}
