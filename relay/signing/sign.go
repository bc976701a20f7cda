package signing

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"time"

	"parley/relay/signing/pdf"
	"parley/relay/store"
	"parley/signpad/envelope"
	"parley/signpad/ink"
)

// Channels recorded in the signed PDF.
const (
	// ChannelRemote: a customer signed through their link.
	ChannelRemote = "remote"
	// ChannelApp: the advisor signed in the desktop app.
	ChannelApp = "app"
)

// Submission is one signer's contribution.
type Submission struct {
	// Texts maps the signer's text field ids to their values (fields left
	// out stay empty).
	Texts map[string]string
	// Pointer is the Pointer Events JSON of the handwritten signature
	// (signpad/browser format, at most browser.MaxBody bytes).
	Pointer []byte
	// ISO19794 is, instead of Pointer, a kiosk's binary ISO/IEC 19794-7
	// record (kiosk sessions only; see sync.go), sealed as it is.
	ISO19794 []byte
	// Device names the kiosk's pen device ("evdev: <name>") with ISO19794.
	Device string
}

// Submit signs for a customer's link with a live session: the signature
// is decoded, drawn into the signer's signature fields, its ISO/IEC
// 19794-7 record sealed in an envelope for the tenant's trustee key and
// bound to the document the signer saw (its SHA-256), and a PAdES step
// signed with the tenant's seal. The last signer's step also seals the
// document; the next signer (or everyone, when completed) is told.
func (s *Service) Submit(ctx context.Context, token, session string, in Submission) (SignerView, error) {
	p, role, ac, err := s.linked(ctx, token)
	if err != nil {
		return SignerView{}, fmt.Errorf("signing: submit: %w", err)
	}
	now := s.clock.Now()
	if err := s.checkTurn(p, role, now); err != nil {
		return SignerView{}, fmt.Errorf("signing: submit: %w", err)
	}
	if !sessionOK(ac, session, now) {
		return SignerView{}, fmt.Errorf("signing: submit: %w", ErrCodeRequired)
	}
	if _, err := s.step(ctx, p.ID, role, s.sessionChannel(ctx, p.ID, role, session), in, ac.LinkHash); err != nil {
		return SignerView{}, fmt.Errorf("signing: submit: %w", err)
	}
	return s.ByLink(ctx, token, "")
}

// AdvisorSign signs the advisor's step of their own process (only the
// process's advisor, never an admin on their behalf), when it is the
// advisor's turn.
func (s *Service) AdvisorSign(ctx context.Context, a Actor, id string, in Submission) (Process, error) {
	p, err := s.load(ctx, a, id)
	if err != nil {
		return Process{}, fmt.Errorf("signing: advisor sign %s: %w", id, err)
	}
	if a.UserID != p.AdvisorID {
		return Process{}, fmt.Errorf("signing: advisor sign %s: %w", id, ErrForbidden)
	}
	if err := s.checkTurn(p, RoleAdvisor, s.clock.Now()); err != nil {
		return Process{}, fmt.Errorf("signing: advisor sign %s: %w", id, err)
	}
	out, err := s.step(ctx, id, RoleAdvisor, ChannelApp, in, "")
	if err != nil {
		return Process{}, fmt.Errorf("signing: advisor sign %s: %w", id, err)
	}
	s.decorate(out, s.clock.Now())
	return *out, nil
}

// inkSize is the appearance image size for a field: 600 px wide, the
// field's aspect.
func inkSize(r pdf.Rect) (int, int) {
	w := 600
	h := int(math.Round(600 * r.Height() / r.Width()))
	return w, min(max(h, 40), 1200)
}

// step runs one signing step for role. linkHash, for a customer, must
// still be the signer's link when the step is committed.
func (s *Service) step(ctx context.Context, id, role, channel string, in Submission, linkHash string) (*Process, error) {
	unlock := s.lock(id)
	defer unlock()
	var p *Process
	if err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		p, err = getProcess(tx, id)
		return err
	}); err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	if err := s.checkTurn(p, role, now); err != nil {
		return nil, err
	}
	sig, recBytes, device, err := pen(in, channel, now)
	if err != nil {
		return nil, err
	}
	var sigFields []pdf.Field
	for _, f := range p.Plan.Fields {
		if f.Signer == role && f.Kind == pdf.KindSignature {
			sigFields = append(sigFields, f)
		}
	}
	if len(sigFields) == 0 {
		return nil, fmt.Errorf("role %s has no signature field: %w", role, ErrState)
	}
	w, h := inkSize(sigFields[0].Rect)
	var png bytes.Buffer
	if err := ink.WritePNG(&png, sig, ink.Options{Width: w, Height: h}); err != nil {
		return nil, fmt.Errorf("drawing the appearance: %w", err)
	}
	images := map[string][]byte{}
	for _, f := range sigFields {
		images[f.ID] = png.Bytes()
	}
	cur, err := s.latest(ctx, p)
	if err != nil {
		return nil, err
	}
	pub, err := s.trustee(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	env, err := envelope.Seal(rand.Reader, pub, envelope.Contents{Record: recBytes, DocumentSHA256: sha256.Sum256(cur.Data),
		Signer: role, Field: sigFields[0].ID, Time: now, Device: device})
	if err != nil {
		return nil, fmt.Errorf("sealing the biometric envelope: %w", err)
	}
	key, chain, err := s.sealFor(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	signed, err := pdf.SignStep(cur.Data, p.Plan, pdf.Step{Role: role, Channel: channel, Images: images, Texts: in.Texts, Envelope: env},
		key, chain, s.clock)
	if err != nil {
		if errors.Is(err, pdf.ErrInvalidStep) {
			return nil, fmt.Errorf("%w: %w", invalid("texts", "a text field is unknown, not the signer's or its value too long"), err)
		}
		return nil, err
	}
	last := true
	for _, sg := range p.Signers {
		if sg.Role != role && sg.SignedAt.IsZero() {
			last = false
		}
	}
	n := len(p.Versions)
	v, err := s.putVersion(ctx, p.ID, n, VersionStep, role, signed)
	if err != nil {
		return nil, err
	}
	versions := []Version{v}
	if last {
		final, err := pdf.Seal(signed, p.Plan, key, chain, s.clock)
		if err == nil {
			var fv Version
			fv, err = s.putVersion(ctx, p.ID, n+1, VersionFinal, "", final)
			versions = append(versions, fv)
		}
		if err != nil {
			_ = deleteKeys(context.WithoutCancel(ctx), s.kv, versionPrefix(p.ID, n))
			return nil, fmt.Errorf("sealing the document: %w", err)
		}
	}
	rev := p.Rev
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		cur, err := getProcess(tx, id)
		if err != nil {
			return err
		}
		if cur.Rev != rev {
			return ErrConflict
		}
		sg := cur.signer(role)
		if sg.CustomerID != "" {
			var ac access
			if err := getJSON(tx, accessKey(cur.ID, role), &ac); err != nil || ac.LinkHash != linkHash {
				return ErrConflict
			}
			ac.SessionHash, ac.CodeHash, ac.CodeSalt = "", nil, nil
			ac.SessionExpires = time.Time{}
			if err := putJSON(tx, accessKey(cur.ID, role), ac); err != nil {
				return err
			}
			_ = s.profiles.TouchTx(tx, cur.TenantID, sg.CustomerID, now)
		}
		sg.SignedAt = now
		cur.Versions = append(cur.Versions, versions...)
		if last {
			cur.Status, cur.Completed = StatusCompleted, now
			for _, o := range cur.Signers {
				if o.CustomerID != "" {
					if err := s.enqueue(tx, JobSignerMail, Notice{ProcessID: cur.ID, Role: o.Role, Event: EventCompleted}); err != nil {
						return err
					}
				}
			}
			if err := s.enqueue(tx, JobAdvisorMail, Notice{ProcessID: cur.ID, Event: EventCompleted}); err != nil {
				return err
			}
		} else if err := s.announceNext(tx, cur); err != nil {
			return err
		}
		p = cur
		return putProcess(tx, cur)
	})
	if err != nil {
		for _, v := range versions {
			_ = deleteKeys(context.WithoutCancel(ctx), s.kv, versionPrefix(id, v.N))
		}
		return nil, err
	}
	s.log.Info("signing: step signed", "process_id", id, "role", role, "step", n, "completed", last)
	return p, nil
}
