package signing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"time"

	"parley/relay/ids"
	"parley/relay/signing/pdf"
	"parley/relay/store"
)

// SignerView is what a customer's signing link shows.
type SignerView struct {
	// ProcessID is the process.
	ProcessID string `json:"process_id"`
	// Title is the process's title.
	Title string `json:"title"`
	// Lang is the process's language.
	Lang string `json:"lang"`
	// Role is the link's signer.
	Role string `json:"role"`
	// Status is the process's status.
	Status Status `json:"status"`
	// State is the signer's state (waiting, pending, signed).
	State SignerState `json:"state"`
	// Signers lists every signer's role and state, in order (no ids).
	Signers []SignerStep `json:"signers"`
	// Verified is set when the request carried a live session (the SMS
	// code was verified).
	Verified bool `json:"verified"`
	// CodeSent is when the last code was sent (zero: none).
	CodeSent time.Time `json:"code_sent,omitzero"`
	// Pages describes the pages (verified sessions only).
	Pages []pdf.PageInfo `json:"pages,omitempty"`
	// Fields are the signer's fields (verified sessions only).
	Fields []pdf.Field `json:"fields,omitempty"`
}

// SignerStep is one signer's role and state in a SignerView.
type SignerStep struct {
	// Role is the signer's role.
	Role string `json:"role"`
	// State is waiting, pending or signed.
	State SignerState `json:"state"`
}

// resolve finds the process and access record of a link token. Unknown,
// malformed, cancelled or deleted links are ErrNotFound.
func (s *Service) resolve(tx store.Txn, token string) (*Process, string, *access, error) {
	hash, ok := ids.ParseToken(LinkTokenPrefix, token)
	if !ok {
		return nil, "", nil, ErrNotFound
	}
	var lr linkRecord
	if err := getJSON(tx, linkKey(hash), &lr); errors.Is(err, store.ErrNotFound) {
		return nil, "", nil, ErrNotFound
	} else if err != nil {
		return nil, "", nil, err
	}
	p, err := getProcess(tx, lr.ProcessID)
	if err != nil {
		return nil, "", nil, err
	}
	var ac access
	if err := getJSON(tx, accessKey(p.ID, lr.Role), &ac); errors.Is(err, store.ErrNotFound) {
		return nil, "", nil, ErrNotFound
	} else if err != nil {
		return nil, "", nil, err
	}
	if subtle.ConstantTimeCompare([]byte(ac.LinkHash), []byte(hash)) != 1 || p.signer(lr.Role) == nil {
		return nil, "", nil, ErrNotFound
	}
	return p, lr.Role, &ac, nil
}

// linked reads a link's process and checks it is visible (retention).
func (s *Service) linked(ctx context.Context, token string) (*Process, string, *access, error) {
	var p *Process
	var role string
	var ac *access
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		p, role, ac, err = s.resolve(tx, token)
		return err
	})
	if err != nil {
		return nil, "", nil, err
	}
	if p.Status == StatusCancelled || !s.visible(ctx, p, s.clock.Now()) {
		return nil, "", nil, ErrNotFound
	}
	return p, role, ac, nil
}

func sessionOK(ac *access, session string, now time.Time) bool {
	hash, ok := ids.ParseToken(SessionTokenPrefix, session)
	return ok && ac.SessionHash != "" && now.Before(ac.SessionExpires) &&
		subtle.ConstantTimeCompare([]byte(ac.SessionHash), []byte(hash)) == 1
}

// checkTurn says whether the link's signer may act now.
func (s *Service) checkTurn(p *Process, role string, now time.Time) error {
	switch {
	case p.Status == StatusSent && !now.Before(p.Sent.Add(s.opts.LinkTTL)):
		return ErrExpired
	case p.Status != StatusSent:
		return ErrState
	}
	if n := p.Next(); n == nil || n.Role != role {
		return ErrNotYourTurn
	}
	return nil
}

// ByLink returns what a signer's link shows; with a live session (from
// VerifyCode) it includes the pages and the signer's fields.
func (s *Service) ByLink(ctx context.Context, token, session string) (SignerView, error) {
	p, role, ac, err := s.linked(ctx, token)
	if err != nil {
		return SignerView{}, fmt.Errorf("signing: link: %w", err)
	}
	now := s.clock.Now()
	s.decorate(p, now)
	v := SignerView{ProcessID: p.ID, Title: p.Title, Lang: p.Lang, Role: role, Status: p.Status, CodeSent: ac.CodeSent}
	for _, sg := range p.Signers {
		v.Signers = append(v.Signers, SignerStep{Role: sg.Role, State: sg.State})
		if sg.Role == role {
			v.State = sg.State
		}
	}
	if sessionOK(ac, session, now) {
		v.Verified = true
		v.Pages = p.Pages
		if p.Plan != nil {
			for _, f := range p.Plan.Fields {
				if f.Signer == role {
					v.Fields = append(v.Fields, f)
				}
			}
		}
	}
	return v, nil
}

// SendCode sends the signer a fresh one-time code by SMS (6 digits, valid
// CodeTTL, CodeAttempts tries), while it is their turn: at most one per
// CodeCooldown and MaxCodes in all (*WaitError otherwise). It returns when
// the code expires.
func (s *Service) SendCode(ctx context.Context, token string) (time.Time, error) {
	var expires time.Time
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		p, role, ac, err := s.resolve(tx, token)
		if err != nil {
			return err
		}
		if p.Status == StatusCancelled {
			return ErrNotFound
		}
		now := s.clock.Now().UTC()
		if err := s.checkTurn(p, role, now); err != nil {
			return err
		}
		if ac.Codes >= MaxCodes {
			return &WaitError{}
		}
		if next := ac.CodeSent.Add(CodeCooldown); !ac.CodeSent.IsZero() && now.Before(next) {
			return &WaitError{Wait: next.Sub(now)}
		}
		n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
		if err != nil {
			return err
		}
		code := fmt.Sprintf("%06d", n.Int64())
		ac.CodeSalt = make([]byte, 16)
		if _, err := rand.Read(ac.CodeSalt); err != nil {
			return err
		}
		ac.CodeHash = codeHash(ac.CodeSalt, code)
		ac.CodeExpires, ac.CodeFailures, ac.CodeSent = now.Add(CodeTTL), 0, now
		ac.Codes++
		expires = ac.CodeExpires
		sealed, err := s.profiles.SealTx(tx, p.signer(role).CustomerID, []byte(code))
		if err != nil {
			return err
		}
		if err := putJSON(tx, accessKey(p.ID, role), ac); err != nil {
			return err
		}
		return s.enqueue(tx, JobCodeSMS, Notice{ProcessID: p.ID, Role: role, Event: EventCode, SealedCode: sealed})
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("signing: send code: %w", err)
	}
	return expires, nil
}

func codeHash(salt []byte, code string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(code))
	return h.Sum(nil)
}

func validCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// VerifyCode checks the signer's one-time code. A right code is used up
// and gives a session token (valid SessionTTL) for the document and the
// submission; a wrong one counts against CodeAttempts (ErrWrongCode, and
// ErrCodeExpired once they are used up or the code expired).
func (s *Service) VerifyCode(ctx context.Context, token, code string) (string, time.Time, error) {
	if !validCode(code) {
		return "", time.Time{}, fmt.Errorf("signing: verify code: %w", invalid("code", "six digits are required"))
	}
	var session string
	var expires time.Time
	wrong := false
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		wrong = false
		p, role, ac, err := s.resolve(tx, token)
		if err != nil {
			return err
		}
		if p.Status == StatusCancelled {
			return ErrNotFound
		}
		now := s.clock.Now().UTC()
		if err := s.checkTurn(p, role, now); err != nil {
			return err
		}
		if len(ac.CodeHash) == 0 || !now.Before(ac.CodeExpires) || ac.CodeFailures >= CodeAttempts {
			return ErrCodeExpired
		}
		if subtle.ConstantTimeCompare(codeHash(ac.CodeSalt, code), ac.CodeHash) != 1 {
			ac.CodeFailures++
			if ac.CodeFailures >= CodeAttempts {
				ac.CodeHash, ac.CodeSalt = nil, nil
			}
			wrong = true
			return putJSON(tx, accessKey(p.ID, role), ac)
		}
		var hash string
		session, hash = ids.NewToken(SessionTokenPrefix)
		expires = now.Add(SessionTTL)
		ac.CodeHash, ac.CodeSalt, ac.CodeFailures = nil, nil, 0
		ac.SessionHash, ac.SessionExpires = hash, expires
		return putJSON(tx, accessKey(p.ID, role), ac)
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing: verify code: %w", err)
	}
	if wrong {
		return "", time.Time{}, fmt.Errorf("signing: verify code: %w", ErrWrongCode)
	}
	return session, expires, nil
}

// SignerDocument returns the document for a signer's link: the current
// version while the process runs (a live session is required,
// ErrCodeRequired otherwise), the sealed final document once it is
// completed (the link alone suffices: it replaces the e-mail attachment).
func (s *Service) SignerDocument(ctx context.Context, token, session string) (Document, error) {
	p, _, ac, err := s.linked(ctx, token)
	if err != nil {
		return Document{}, fmt.Errorf("signing: signer document: %w", err)
	}
	now := s.clock.Now()
	if p.Status != StatusCompleted {
		if p.Status == StatusSent && !now.Before(p.Sent.Add(s.opts.LinkTTL)) {
			return Document{}, fmt.Errorf("signing: signer document: %w", ErrExpired)
		}
		if !sessionOK(ac, session, now) {
			return Document{}, fmt.Errorf("signing: signer document: %w", ErrCodeRequired)
		}
	}
	return s.latest(ctx, p)
}
