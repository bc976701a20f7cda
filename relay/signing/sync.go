package signing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"parley/relay/ids"
	"parley/relay/signing/pdf"
	"parley/relay/store"
	"parley/signpad"
	"parley/signpad/browser"
	"parley/signpad/iso19794"
)

// Synchronous signing: the customer signs while the advisor is there, in
// a live meeting (the advisor presents the process to a participant) or at
// a branch kiosk (the advisor queues the signer, the customer picks the
// document up with a code). The advisor vouches for the person, so no SMS
// code is asked: StartSyncSession issues the signer's link token and a
// session directly, and the channel it records ends up in the signed PDF.

// Channels of synchronous signing.
const (
	// ChannelMeeting: a customer signed in a live meeting with the advisor.
	ChannelMeeting = "meeting"
	// ChannelKiosk: a customer signed at a branch kiosk.
	ChannelKiosk = "kiosk"
)

// MaxISORecord bounds a kiosk's ISO/IEC 19794-7 record.
const MaxISORecord = 4 << 20

// MaxDevice bounds the device description of a kiosk submission.
const MaxDevice = 128

var (
	// ErrNotCustomersTurn: the signer whose turn it is is not a customer
	// (the advisor signs next, or nobody: the process is not running).
	ErrNotCustomersTurn = errors.New("signing: it is not a customer's turn")
	// ErrSignatureRecord: a kiosk's ISO/IEC 19794-7 record is not usable
	// (malformed, empty, time going backwards, too many samples, too
	// long); the error is a *RecordError.
	ErrSignatureRecord = errors.New("signing: unusable signature record")
)

// RecordError says why a signature record was refused. It matches
// ErrSignatureRecord.
type RecordError struct {
	// Code is a stable reason: "record_malformed", "record_empty",
	// "record_time", "record_too_large", "record_range", "device".
	Code string
	// Msg says what is wrong, in English (no record content).
	Msg string
}

// Error implements error.
func (e *RecordError) Error() string { return e.Code + ": " + e.Msg }

// Unwrap makes the error match ErrSignatureRecord.
func (e *RecordError) Unwrap() error { return ErrSignatureRecord }

// SyncSession is a signer session made for synchronous signing.
type SyncSession struct {
	// ProcessID is the process.
	ProcessID string `json:"process_id"`
	// Title is the process's title.
	Title string `json:"title"`
	// Role is the signer.
	Role string `json:"signer"`
	// Channel is ChannelMeeting or ChannelKiosk.
	Channel string `json:"channel"`
	// Token is the signer's link token (psg_…).
	Token string `json:"token"`
	// Session is a live signer session (pss_…), valid SessionTTL.
	Session string `json:"session"`
	// Expires ends the session.
	Expires time.Time `json:"expires"`
	// Pages describes the document's pages.
	Pages []pdf.PageInfo `json:"pages"`
	// Fields are the signer's fields.
	Fields []pdf.Field `json:"fields"`
}

// syncRecord remembers the channel of a synchronous session. It is
// stored under the signer's access prefix, so that cancelling or deleting
// the process removes it with the access records.
type syncRecord struct {
	Channel     string `json:"sync_channel"`
	SessionHash string `json:"sync_session"`
}

func syncKey(id, role string) []byte { return []byte(prefixAccess + id + "/" + role + "/sync") }

// CustomerTurn returns the process (the actor's own, or any of the
// tenant's for an admin) and the customer signer whose turn it is. It is
// ErrNotCustomersTurn when the next signer is the advisor or the process
// is not running (ErrExpired once its links have expired).
func (s *Service) CustomerTurn(ctx context.Context, a Actor, id string) (Process, Signer, error) {
	p, err := s.load(ctx, a, id)
	if err != nil {
		return Process{}, Signer{}, fmt.Errorf("signing: customer turn %s: %w", id, err)
	}
	now := s.clock.Now()
	s.decorate(p, now)
	if p.Status == StatusExpired {
		return Process{}, Signer{}, fmt.Errorf("signing: customer turn %s: %w", id, ErrExpired)
	}
	n := p.Next()
	if n == nil || n.CustomerID == "" {
		return Process{}, Signer{}, fmt.Errorf("signing: customer turn %s: %w", id, ErrNotCustomersTurn)
	}
	return *p, *n, nil
}

// StartSyncSession gives the signer role of a process of tenantID a live
// session without the SMS code, for channel ChannelMeeting or
// ChannelKiosk: the caller (the API, for an advisor who presents or
// queued the process) has checked who may start it. It must be the
// customer's turn. The link token is the signer's own (the one mailed);
// an older session of the signer stops working.
func (s *Service) StartSyncSession(ctx context.Context, tenantID, id, role, channel string) (SyncSession, error) {
	if channel != ChannelMeeting && channel != ChannelKiosk {
		return SyncSession{}, fmt.Errorf("signing: sync session: %w", invalid("channel", "must be meeting or kiosk"))
	}
	var out SyncSession
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		out = SyncSession{}
		p, err := getProcess(tx, id)
		if err != nil {
			return err
		}
		if tenantID == "" || p.TenantID != tenantID || p.Status == StatusCancelled || !s.visible(ctx, p, s.clock.Now()) {
			return ErrNotFound
		}
		now := s.clock.Now().UTC()
		if err := s.checkTurn(p, role, now); err != nil {
			return err
		}
		sg := p.signer(role)
		if sg == nil || sg.CustomerID == "" {
			return ErrNotCustomersTurn
		}
		var ac access
		if err := getJSON(tx, accessKey(p.ID, role), &ac); errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		token, err := s.profiles.OpenTx(tx, sg.CustomerID, ac.SealedLink)
		if err != nil {
			return fmt.Errorf("opening the signer's link: %w", err)
		}
		if ids.TokenHash(string(token)) != ac.LinkHash {
			return ErrConflict
		}
		session, hash := ids.NewToken(SessionTokenPrefix)
		ac.SessionHash, ac.SessionExpires = hash, now.Add(SessionTTL)
		if err := putJSON(tx, accessKey(p.ID, role), ac); err != nil {
			return err
		}
		if err := putJSON(tx, syncKey(p.ID, role), syncRecord{Channel: channel, SessionHash: hash}); err != nil {
			return err
		}
		out = SyncSession{ProcessID: p.ID, Title: p.Title, Role: role, Channel: channel, Token: string(token), Session: session,
			Expires: ac.SessionExpires, Pages: p.Pages, Fields: []pdf.Field{}}
		if p.Plan != nil {
			for _, f := range p.Plan.Fields {
				if f.Signer == role {
					out.Fields = append(out.Fields, f)
				}
			}
		}
		return nil
	})
	if err != nil {
		return SyncSession{}, fmt.Errorf("signing: sync session for %s: %w", id, err)
	}
	s.log.Info("signing: synchronous session", "process_id", id, "role", role, "channel", channel)
	return out, nil
}

// sessionChannel is the channel a signer's session signs on: the
// synchronous channel it was made for, or ChannelRemote (SMS code).
func (s *Service) sessionChannel(ctx context.Context, id, role, session string) string {
	hash, ok := ids.ParseToken(SessionTokenPrefix, session)
	if !ok {
		return ChannelRemote
	}
	var r syncRecord
	err := s.kv.View(ctx, func(tx store.Txn) error { return getJSON(tx, syncKey(id, role), &r) })
	if err != nil || r.SessionHash != hash {
		return ChannelRemote
	}
	return r.Channel
}

// pen decodes a submission's handwriting: the browser's Pointer Events
// JSON, or a kiosk's ISO/IEC 19794-7 binary record (kept as it is for the
// envelope). It returns the signature (for the appearance), the binary
// record and the device named in the envelope.
func pen(in Submission, channel string, now time.Time) (signpad.Signature, []byte, string, error) {
	if len(in.ISO19794) > 0 {
		if channel != ChannelKiosk {
			return signpad.Signature{}, nil, "", invalid("iso19794", "signature records are taken from kiosks only")
		}
		return isoPen(in.ISO19794, in.Device)
	}
	if len(in.Pointer) > browser.MaxBody {
		return signpad.Signature{}, nil, "", invalid("pointer", fmt.Sprintf("the signature data exceeds %d bytes", browser.MaxBody))
	}
	sig, err := browser.Decode(bytes.NewReader(in.Pointer), now)
	if err != nil {
		return signpad.Signature{}, nil, "", fmt.Errorf("%w: %w", invalid("pointer", "the signature data is not valid Pointer Events JSON"), err)
	}
	rec, err := iso19794.FromSignature(sig)
	if err != nil {
		return signpad.Signature{}, nil, "", fmt.Errorf("%w: %w", invalid("pointer", "the signature cannot be recorded"), err)
	}
	recBytes, err := rec.MarshalBinary()
	if err != nil {
		return signpad.Signature{}, nil, "", fmt.Errorf("%w: %w", invalid("pointer", "the signature cannot be recorded"), err)
	}
	return sig, recBytes, sig.Device.Source + " " + sig.Device.Name, nil
}

// CheckDevice checks a kiosk's device description: "evdev: <name>",
// printable, at most MaxDevice bytes.
func CheckDevice(device string) error {
	if len(device) > MaxDevice || !utf8.ValidString(device) || !strings.HasPrefix(device, "evdev: ") ||
		strings.TrimSpace(strings.TrimPrefix(device, "evdev: ")) == "" {
		return &RecordError{Code: "device", Msg: fmt.Sprintf(`the device must read "evdev: <device name>" (at most %d bytes)`, MaxDevice)}
	}
	for _, r := range device {
		if !unicode.IsPrint(r) {
			return &RecordError{Code: "device", Msg: "the device name holds unprintable characters"}
		}
	}
	return nil
}

// isoPen decodes and checks a kiosk's record: exactly one representation,
// at least two samples with a pen-down one, times that never go back,
// within signpad's sample and duration limits.
func isoPen(data []byte, device string) (signpad.Signature, []byte, string, error) {
	if err := CheckDevice(device); err != nil {
		return signpad.Signature{}, nil, "", err
	}
	if len(data) > MaxISORecord {
		return signpad.Signature{}, nil, "", &RecordError{Code: "record_too_large", Msg: fmt.Sprintf("the record exceeds %d bytes", MaxISORecord)}
	}
	var rec iso19794.Record
	if err := rec.UnmarshalBinary(data); err != nil {
		return signpad.Signature{}, nil, "", &RecordError{Code: "record_malformed", Msg: "not a binary ISO/IEC 19794-7 full-format record"}
	}
	if len(rec.Representations) != 1 {
		return signpad.Signature{}, nil, "", &RecordError{Code: "record_malformed", Msg: "exactly one representation is required"}
	}
	if n := len(rec.Representations[0].Points); n < 2 || n > signpad.MaxSamples {
		return signpad.Signature{}, nil, "", &RecordError{Code: "record_empty", Msg: fmt.Sprintf("2 to %d sample points are required", signpad.MaxSamples)}
	}
	sig, err := rec.Signature()
	switch {
	case errors.Is(err, signpad.ErrTimeBackwards):
		return signpad.Signature{}, nil, "", &RecordError{Code: "record_time", Msg: "sample times go backwards"}
	case errors.Is(err, signpad.ErrTooLong), errors.Is(err, signpad.ErrTooManySamples):
		return signpad.Signature{}, nil, "", &RecordError{Code: "record_too_large", Msg: "the signature has too many samples or lasts too long"}
	case errors.Is(err, signpad.ErrEmpty):
		return signpad.Signature{}, nil, "", &RecordError{Code: "record_empty", Msg: "the record has no pen-down sample"}
	case errors.Is(err, signpad.ErrOutOfRange):
		return signpad.Signature{}, nil, "", &RecordError{Code: "record_range", Msg: "a sample lies outside the ranges the record declares"}
	case err != nil:
		return signpad.Signature{}, nil, "", &RecordError{Code: "record_malformed", Msg: "the record cannot be read as a signature"}
	}
	if sig.Samples[len(sig.Samples)-1].T <= 0 {
		return signpad.Signature{}, nil, "", &RecordError{Code: "record_time", Msg: "the samples carry no time"}
	}
	minX, maxX, minY, maxY := sig.Samples[0].X, sig.Samples[0].X, sig.Samples[0].Y, sig.Samples[0].Y
	for _, p := range sig.Samples {
		minX, maxX, minY, maxY = min(minX, p.X), max(maxX, p.X), min(minY, p.Y), max(maxY, p.Y)
	}
	if maxX == minX && maxY == minY {
		return signpad.Signature{}, nil, "", &RecordError{Code: "record_empty", Msg: "the pen did not move"}
	}
	sig.Device.Source, sig.Device.Name = "evdev", strings.TrimPrefix(device, "evdev: ")
	return sig, data, device, nil
}
