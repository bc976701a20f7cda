package signing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"parley/relay/ids"
	"parley/relay/signing/pdf"
	"parley/relay/store"
)

// SignerInput assigns a role to a customer (or the advisor).
type SignerInput struct {
	// Role is "customer1" … "customer19" or "advisor".
	Role string `json:"role"`
	// CustomerID is the customer's profile id; empty for the advisor.
	CustomerID string `json:"customer_id,omitempty"`
}

func checkTitle(title string) (string, error) {
	title = strings.TrimSpace(title)
	n := utf8.RuneCountInString(title)
	if n == 0 || n > MaxTitle || !utf8.ValidString(title) {
		return "", invalid("title", fmt.Sprintf("1 to %d characters of text are required", MaxTitle))
	}
	for _, r := range title {
		if unicode.IsControl(r) {
			return "", invalid("title", "control characters are not allowed")
		}
	}
	return title, nil
}

func checkLang(lang string) (string, error) {
	switch lang {
	case "":
		return "de", nil
	case "de", "en":
		return lang, nil
	}
	return "", invalid("lang", `must be "de" or "en"`)
}

// Create stores an uploaded PDF as a new draft process of the actor. The
// document must be a plain PDF (pdf.Inspect): anything else is refused
// with pdf.ErrNotPDF, pdf.ErrEncrypted, pdf.ErrMalformed, pdf.ErrTooLarge
// or pdf.ErrTooManyPages, and nothing is stored.
func (s *Service) Create(ctx context.Context, a Actor, title, lang string, r io.Reader) (Process, error) {
	if a.TenantID == "" || a.UserID == "" {
		return Process{}, fmt.Errorf("signing: create: %w", ErrForbidden)
	}
	title, err := checkTitle(title)
	if err != nil {
		return Process{}, fmt.Errorf("signing: create: %w", err)
	}
	if lang, err = checkLang(lang); err != nil {
		return Process{}, fmt.Errorf("signing: create: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(r, s.opts.Limits.MaxBytes+1))
	if err != nil {
		return Process{}, fmt.Errorf("signing: create: reading the document: %w", err)
	}
	if int64(len(data)) > s.opts.Limits.MaxBytes {
		return Process{}, fmt.Errorf("signing: create: more than %d bytes: %w", s.opts.Limits.MaxBytes, pdf.ErrTooLarge)
	}
	info, err := pdf.Inspect(bytes.NewReader(data), int64(len(data)), s.opts.Limits)
	if err != nil {
		return Process{}, fmt.Errorf("signing: create: %w", err)
	}
	if info.Signatures > 0 {
		return Process{}, fmt.Errorf("signing: create: the document is already signed: %w", invalid("document", "already carries signatures"))
	}
	now := s.clock.Now().UTC()
	p := &Process{ID: ids.New(), TenantID: a.TenantID, AdvisorID: a.UserID, Title: title, Lang: lang, Status: StatusDraft,
		Created: now, Pages: info.Pages, Signers: []Signer{}}
	v, err := s.putVersion(ctx, p.ID, 0, VersionOriginal, "", data)
	if err != nil {
		return Process{}, err
	}
	p.Versions = []Version{v}
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		if err := putProcess(tx, p); err != nil {
			return err
		}
		return tx.Set(tenantKey(p.TenantID, p.ID), []byte(p.AdvisorID))
	})
	if err != nil {
		_ = deleteKeys(context.WithoutCancel(ctx), s.kv, docPrefix(p.ID))
		return Process{}, fmt.Errorf("signing: create: %w", err)
	}
	s.log.Info("signing: process created", "process_id", p.ID, "tenant_id", p.TenantID, "pages", len(info.Pages))
	s.decorate(p, now)
	return *p, nil
}

// roleOrder checks a role's form: "advisor" or "customer<k>", k 1..19.
func validRole(role string) bool {
	if role == RoleAdvisor {
		return true
	}
	k, ok := strings.CutPrefix(role, "customer")
	if !ok || k == "" || k[0] == '0' {
		return false
	}
	n, err := strconv.Atoi(k)
	return err == nil && n >= 1 && n <= MaxCustomers
}

// load reads a process for an actor: ErrNotFound when unknown, past its
// deadline or of another tenant, ErrForbidden when it is another
// advisor's.
func (s *Service) load(ctx context.Context, a Actor, id string) (*Process, error) {
	var p *Process
	err := s.kv.View(ctx, func(tx store.Txn) error {
		var err error
		p, err = getProcess(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if a.TenantID == "" || p.TenantID != a.TenantID || !s.visible(ctx, p, s.clock.Now()) {
		return nil, ErrNotFound
	}
	if !a.may(p) {
		return nil, ErrForbidden
	}
	return p, nil
}

// Get returns a process of the actor (an admin: of the tenant).
func (s *Service) Get(ctx context.Context, a Actor, id string) (Process, error) {
	p, err := s.load(ctx, a, id)
	if err != nil {
		return Process{}, fmt.Errorf("signing: get %s: %w", id, err)
	}
	s.decorate(p, s.clock.Now())
	return *p, nil
}

// List returns the actor's processes (an admin's: the tenant's), newest
// first, without those past their retention deadline.
func (s *Service) List(ctx context.Context, a Actor) ([]Process, error) {
	if a.TenantID == "" {
		return nil, fmt.Errorf("signing: list: %w", ErrForbidden)
	}
	var out []Process
	now := s.clock.Now()
	err := s.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan(tenantPrefix(a.TenantID), func(k, v []byte) error {
			if !a.Admin && string(v) != a.UserID {
				return nil
			}
			p, err := getProcess(tx, lastSegment(k))
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			out = append(out, *p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("signing: list: %w", err)
	}
	vis := out[:0]
	for i := range out {
		if s.visible(ctx, &out[i], now) {
			s.decorate(&out[i], now)
			vis = append(vis, out[i])
		}
	}
	sort.SliceStable(vis, func(i, j int) bool { return vis[i].Created.After(vis[j].Created) })
	return vis, nil
}

// SetFields sets a draft's signers (in signing order) and fields. Every
// signer needs at least one signature field; customers are profiles of
// the tenant (one role each); the advisor, when assigned, signs last.
func (s *Service) SetFields(ctx context.Context, a Actor, id string, signers []SignerInput, fields []pdf.Field) (Process, error) {
	p, err := s.load(ctx, a, id)
	if err != nil {
		return Process{}, fmt.Errorf("signing: set fields of %s: %w", id, err)
	}
	if p.Status != StatusDraft {
		return Process{}, fmt.Errorf("signing: set fields of %s: %w", id, ErrState)
	}
	if len(signers) == 0 || len(signers) > pdf.MaxSigners {
		return Process{}, fmt.Errorf("signing: set fields: %w", invalid("signers", fmt.Sprintf("1 to %d signers are required", pdf.MaxSigners)))
	}
	order := make([]string, len(signers))
	roles, custs := map[string]bool{}, map[string]bool{}
	for i, sg := range signers {
		if !validRole(sg.Role) || roles[sg.Role] {
			return Process{}, fmt.Errorf("signing: set fields: %w", invalid("signers", "roles are customer1…customer19 or advisor, each once"))
		}
		roles[sg.Role] = true
		if sg.Role == RoleAdvisor {
			if sg.CustomerID != "" {
				return Process{}, fmt.Errorf("signing: set fields: %w", invalid("signers", "the advisor has no customer id"))
			}
			if i != len(signers)-1 {
				return Process{}, fmt.Errorf("signing: set fields: %w", invalid("signers", "the advisor signs last"))
			}
		} else {
			if !ids.Valid(sg.CustomerID) || custs[sg.CustomerID] {
				return Process{}, fmt.Errorf("signing: set fields: %w", invalid("signers", "every customer role needs a customer id, each customer once"))
			}
			custs[sg.CustomerID] = true
		}
		order[i] = sg.Role
	}
	sigFields := map[string]int{}
	for _, f := range fields {
		if f.Kind == pdf.KindSignature {
			sigFields[f.Signer]++
		}
	}
	for _, r := range order {
		if sigFields[r] == 0 {
			return Process{}, fmt.Errorf("signing: set fields: %w", invalid("fields", "every signer needs a signature field"))
		}
	}
	orig, err := s.readVersion(ctx, p.ID, p.Versions[0])
	if err != nil {
		return Process{}, err
	}
	plan, err := pdf.Prepare(orig, fields, order, s.opts.Limits)
	if err != nil {
		return Process{}, fmt.Errorf("signing: set fields: %w", err)
	}
	now := s.clock.Now().UTC()
	rev := p.Rev
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		cur, err := getProcess(tx, id)
		if err != nil {
			return err
		}
		if cur.Rev != rev || cur.Status != StatusDraft {
			return ErrConflict
		}
		for _, sg := range signers {
			if sg.CustomerID == "" {
				continue
			}
			if err := s.profiles.TouchTx(tx, cur.TenantID, sg.CustomerID, now); err != nil {
				return invalid("signers", "a customer id names no customer of this organisation")
			}
		}
		for _, old := range cur.Signers {
			if old.CustomerID != "" {
				if err := tx.Delete(custKey(cur.TenantID, old.CustomerID, cur.ID)); err != nil {
					return err
				}
			}
		}
		cur.Signers = make([]Signer, len(signers))
		for i, sg := range signers {
			cur.Signers[i] = Signer{Role: sg.Role, CustomerID: sg.CustomerID, Order: i + 1}
			if sg.CustomerID != "" {
				if err := tx.Set(custKey(cur.TenantID, sg.CustomerID, cur.ID), nil); err != nil {
					return err
				}
			}
		}
		cur.Plan = plan
		p = cur
		return putProcess(tx, cur)
	})
	if err != nil {
		return Process{}, fmt.Errorf("signing: set fields of %s: %w", id, err)
	}
	s.decorate(p, now)
	return *p, nil
}

// Send starts a draft: every customer signer gets a link token; the first
// signer is told (mail with the link; the advisor through the app and a
// mail when they are first), each next one when the one before signed.
// It needs the tenant's trustee key (ErrNoTrusteeKey) and, for every
// customer, a profile with an e-mail address and a mobile number
// (ErrContactMissing). The tenant's seal certificate is made now if it
// does not exist yet.
func (s *Service) Send(ctx context.Context, a Actor, id string) (Process, error) {
	p, err := s.load(ctx, a, id)
	if err != nil {
		return Process{}, fmt.Errorf("signing: send %s: %w", id, err)
	}
	if p.Status != StatusDraft || p.Plan == nil {
		return Process{}, fmt.Errorf("signing: send %s: %w", id, ErrState)
	}
	if _, err := s.trustee(ctx, p.TenantID); err != nil {
		return Process{}, fmt.Errorf("signing: send %s: %w", id, err)
	}
	if _, _, err := s.sealFor(ctx, p.TenantID); err != nil {
		return Process{}, fmt.Errorf("signing: send %s: %w", id, err)
	}
	now := s.clock.Now().UTC()
	rev := p.Rev
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		cur, err := getProcess(tx, id)
		if err != nil {
			return err
		}
		if cur.Rev != rev || cur.Status != StatusDraft {
			return ErrConflict
		}
		for _, sg := range cur.Signers {
			if sg.CustomerID == "" {
				continue
			}
			c, err := s.profiles.ContactTx(tx, sg.CustomerID)
			if err != nil || c.Email == "" || c.Mobile == "" {
				return fmt.Errorf("signer %s: %w", sg.Role, ErrContactMissing)
			}
			token, hash := ids.NewToken(LinkTokenPrefix)
			sealed, err := s.profiles.SealTx(tx, sg.CustomerID, []byte(token))
			if err != nil {
				return err
			}
			if err := putJSON(tx, accessKey(cur.ID, sg.Role), access{LinkHash: hash, SealedLink: sealed}); err != nil {
				return err
			}
			if err := putJSON(tx, linkKey(hash), linkRecord{ProcessID: cur.ID, Role: sg.Role}); err != nil {
				return err
			}
		}
		cur.Status, cur.Sent = StatusSent, now
		if err := s.announceNext(tx, cur); err != nil {
			return err
		}
		p = cur
		return putProcess(tx, cur)
	})
	if err != nil {
		return Process{}, fmt.Errorf("signing: send %s: %w", id, err)
	}
	s.log.Info("signing: process sent", "process_id", p.ID, "signers", len(p.Signers))
	s.decorate(p, now)
	return *p, nil
}

// announceNext enqueues the message for whoever signs next.
func (s *Service) announceNext(tx store.Txn, p *Process) error {
	next := p.Next()
	if next == nil {
		return nil
	}
	if next.Role == RoleAdvisor {
		return s.enqueue(tx, JobAdvisorMail, Notice{ProcessID: p.ID, Event: EventAdvisorTurn})
	}
	return s.enqueue(tx, JobSignerMail, Notice{ProcessID: p.ID, Role: next.Role, Event: EventInvite})
}

func (s *Service) enqueue(tx store.Txn, kind string, n Notice) error {
	b, err := jsonMarshal(n)
	if err != nil {
		return err
	}
	return s.outbox.EnqueueTx(tx, kind, b, time.Time{})
}

// Cancel stops a draft or sent process: the signers' links die. The
// document stays until the process's retention deadline (30 days after
// its start).
func (s *Service) Cancel(ctx context.Context, a Actor, id string) (Process, error) {
	p, err := s.load(ctx, a, id)
	if err != nil {
		return Process{}, fmt.Errorf("signing: cancel %s: %w", id, err)
	}
	now := s.clock.Now().UTC()
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		cur, err := getProcess(tx, id)
		if err != nil {
			return err
		}
		if cur.Status != StatusDraft && cur.Status != StatusSent {
			return ErrState
		}
		if err := dropAccess(tx, cur.ID); err != nil {
			return err
		}
		cur.Status = StatusCancelled
		p = cur
		return putProcess(tx, cur)
	})
	if err != nil {
		return Process{}, fmt.Errorf("signing: cancel %s: %w", id, err)
	}
	s.log.Info("signing: process cancelled", "process_id", id)
	s.decorate(p, now)
	return *p, nil
}

// dropAccess deletes the signers' link, code and session records.
func dropAccess(tx store.Txn, id string) error {
	var keys [][]byte
	err := tx.Scan(accessPrefix(id), func(k, v []byte) error {
		keys = append(keys, k)
		var ac access
		if err := jsonUnmarshal(v, &ac); err == nil && ac.LinkHash != "" {
			keys = append(keys, linkKey(ac.LinkHash))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// CurrentDocument returns the latest version of the process's document:
// the original, the last signed step, or the sealed final document.
func (s *Service) CurrentDocument(ctx context.Context, a Actor, id string) (Document, error) {
	p, err := s.load(ctx, a, id)
	if err != nil {
		return Document{}, fmt.Errorf("signing: document of %s: %w", id, err)
	}
	return s.latest(ctx, p)
}

func (s *Service) latest(ctx context.Context, p *Process) (Document, error) {
	v := p.Versions[len(p.Versions)-1]
	data, err := s.readVersion(ctx, p.ID, v)
	if err != nil {
		return Document{}, err
	}
	return Document{Version: v, Data: data, Modified: v.Created}, nil
}
