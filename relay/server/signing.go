package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"parley/relay/auth"
	"parley/relay/notify"
	"parley/relay/outbox"
	"parley/relay/privacy"
	"parley/relay/retention"
	"parley/relay/signing"
)

// SealKeyFileName is the file in the data folder holding the key that
// encrypts the tenants' seal private keys in the store (created 0600 on
// first start). Losing it makes the relay issue new seal certificates;
// documents already signed stay verifiable with the old CA certificates.
const SealKeyFileName = "signing-seal.key"

// loadSealKEK reads or creates the seal key file.
func loadSealKEK(dir string) ([]byte, error) {
	p := filepath.Join(dir, SealKeyFileName)
	b, err := os.ReadFile(p)
	if err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("server: %s must hold 32 bytes", p)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("server: reading %s: %w", p, err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("server: creating %s: %w", p, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("server: writing %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return b, nil
}

// startSigning builds the e-signature service and routes its outbox jobs
// to mail and SMS. It runs after startBooking (customers, outbox, mailer
// settings).
func (s *Server) startSigning(opts Options) error {
	kek, err := loadSealKEK(opts.DataDir)
	if err != nil {
		return err
	}
	periods := map[string]func(string) time.Duration{
		retention.ClassSignatureProcess: periodOf(s.retention, retention.ClassSignatureProcess, signing.DefaultProcessRetention),
		retention.ClassSignedDocument:   periodOf(s.retention, retention.ClassSignedDocument, signing.DefaultDocumentRetention),
	}
	s.signing, err = signing.New(signing.Options{Store: s.store, Clock: s.clock, Logger: s.log.With("component", "signing"),
		Profiles: s.customers, Outbox: s.outbox, Holds: s.retention, SealKEK: kek,
		Retention: func(tenantID, class string) time.Duration { return periods[class](tenantID) },
		TenantName: func(ctx context.Context, tenantID string) string {
			if t, err := s.auth.TenantByID(ctx, tenantID); err == nil {
				return t.Name
			}
			return ""
		}})
	if err != nil {
		return fmt.Errorf("server: signing: %w", err)
	}
	mailer, err := newMailer(opts.Mail, s.clock, s.log)
	if err != nil {
		return err
	}
	base := strings.TrimRight(opts.PublicURL, "/")
	if base == "" {
		base = "https://" + s.Addr()
	}
	from := opts.Mail.From
	if from == "" {
		from = "parley@" + signingHost(base)
	}
	n := &signingMail{signing: s.signing, auth: s.auth, mailer: mailer, sms: opts.Mail.SMS, publicURL: base, from: from,
		log: s.log.With("component", "signing-mail")}
	s.outbox.Handle(signing.JobSignerMail, n.signerMail)
	s.outbox.Handle(signing.JobAdvisorMail, n.advisorMail)
	s.outbox.Handle(signing.JobCodeSMS, n.codeSMS)
	if opts.Mail.SMS == nil {
		s.log.Warn("no SMS sender configured: signing codes wait in the outbox")
	}
	return nil
}

func signingHost(base string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://")
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// signingMail turns the signing jobs into mails and SMS. Payloads hold
// ids (and a code sealed with the customer's key); names, addresses and
// the link are read when the job runs.
type signingMail struct {
	signing   *signing.Service
	auth      *auth.Service
	mailer    notify.Mailer
	sms       notify.SMSSender
	publicURL string
	from      string
	log       *slog.Logger
}

// errNoSMS keeps code jobs pending while no SMS sender is configured.
var errNoSMS = errors.New("no SMS sender configured")

// message decodes a job and reads what it needs; ok false: nothing to send.
func (n *signingMail) message(ctx context.Context, j outbox.Job) (signing.Message, notify.Signing, bool, error) {
	var no signing.Notice
	if err := json.Unmarshal(j.Payload, &no); err != nil {
		return signing.Message{}, notify.Signing{}, false, fmt.Errorf("signing job %s: %w", j.ID, outbox.ErrPermanent)
	}
	m, ok, err := n.signing.Message(ctx, no)
	if err != nil || !ok {
		return m, notify.Signing{}, false, err
	}
	d := notify.Signing{Title: m.Process.Title, From: n.from, RecipientEmail: m.Contact.Email,
		RecipientName: strings.TrimSpace(m.Contact.FirstName + " " + m.Contact.LastName)}
	if u, err := n.auth.GetUser(ctx, m.Process.TenantID, m.Process.AdvisorID); err == nil {
		d.AdvisorName, d.AdvisorEmail = u.DisplayName, u.Email
	}
	if t, err := n.auth.TenantByID(ctx, m.Process.TenantID); err == nil {
		d.TenantName = t.Name
	}
	return m, d, true, nil
}

// signerMail handles signing.JobSignerMail: the invite with the signing
// page's link, or the completion with the download link.
func (n *signingMail) signerMail(ctx context.Context, j outbox.Job) error {
	m, d, ok, err := n.message(ctx, j)
	if err != nil || !ok {
		return err
	}
	ev := notify.SigningInvite
	d.Link, d.Until = n.publicURL+"/s/"+m.LinkToken, m.Process.LinksExpire
	if m.Process.Status == signing.StatusCompleted {
		ev = notify.SigningCompleted
		d.Link, d.Until = n.publicURL+"/api/v1/sign/"+m.LinkToken+"/document?download=1", m.Process.Expires
	}
	mail, err := notify.SigningMail(m.Process.Lang, ev, false, d)
	if err != nil {
		return fmt.Errorf("signing job %s: %w", j.ID, err)
	}
	if err := n.attachFinal(ctx, &mail, m.Process); err != nil {
		return fmt.Errorf("signing job %s: %w", j.ID, err)
	}
	mail.MessageID = notify.MessageID(j.ID, n.from)
	if err := n.mailer.Send(ctx, mail); err != nil {
		return fmt.Errorf("signing job %s: %w", j.ID, err)
	}
	return nil
}

// attachFinal attaches the sealed PDF to the mail of a completed process
// (everyone receives the final document), read when the mail is sent; a
// document too large for a mail goes by the download link alone.
func (n *signingMail) attachFinal(ctx context.Context, mail *notify.Mail, p signing.Process) error {
	if p.Status != signing.StatusCompleted {
		return nil
	}
	doc, err := n.signing.CurrentDocument(ctx, signing.Actor{TenantID: p.TenantID, UserID: p.AdvisorID, Admin: true}, p.ID)
	if err != nil {
		return err
	}
	if len(doc.Data) > notify.MaxAttachmentBytes {
		n.log.Warn("signed document too large to attach; the mail carries the link only", "process_id", p.ID, "bytes", len(doc.Data))
		return nil
	}
	name := notify.AttachmentName(p.Title)
	if name == "" {
		name = "Dokument"
	}
	mail.Attachments = []notify.Attachment{{Name: name + " (signiert).pdf", ContentType: "application/pdf", Data: doc.Data}}
	return nil
}

// advisorMail handles signing.JobAdvisorMail.
func (n *signingMail) advisorMail(ctx context.Context, j outbox.Job) error {
	m, d, ok, err := n.message(ctx, j)
	if err != nil || !ok {
		return err
	}
	if d.AdvisorEmail == "" {
		return nil // the app shows it
	}
	ev := notify.SigningAdvisorTurn
	if m.Process.Status == signing.StatusCompleted {
		ev, d.Until = notify.SigningCompleted, m.Process.Expires
	}
	mail, err := notify.SigningMail("de", ev, true, d)
	if err != nil {
		return fmt.Errorf("signing job %s: %w", j.ID, err)
	}
	if err := n.attachFinal(ctx, &mail, m.Process); err != nil {
		return fmt.Errorf("signing job %s: %w", j.ID, err)
	}
	mail.MessageID = notify.MessageID(j.ID, n.from)
	if err := n.mailer.Send(ctx, mail); err != nil {
		return fmt.Errorf("signing job %s: %w", j.ID, err)
	}
	return nil
}

// codeSMS handles signing.JobCodeSMS: the SMS goes out directly (the code
// and the number are never queued in clear).
func (n *signingMail) codeSMS(ctx context.Context, j outbox.Job) error {
	if n.sms == nil {
		return errNoSMS
	}
	m, d, ok, err := n.message(ctx, j)
	if err != nil || !ok {
		return err
	}
	text, err := notify.SigningCodeSMS(m.Process.Lang, d.TenantName, m.Code)
	if err != nil {
		return fmt.Errorf("signing job %s: %w", j.ID, err)
	}
	if err := n.sms.SendSMS(ctx, m.Contact.Mobile, text); err != nil {
		return fmt.Errorf("signing job %s: %w", j.ID, err)
	}
	return nil
}

// sweepSigning deletes unfinished signature processes 30 days after their
// start and signed documents 180 days after completion (or the tenant's
// periods); legal holds on the process or its customers keep them.
func (sw *sweeper) sweepSigning(ctx context.Context, now time.Time) error {
	if sw.signing == nil {
		return nil
	}
	var errs []error
	for _, class := range []string{retention.ClassSignatureProcess, retention.ClassSignedDocument} {
		st, err := sw.signing.SweepExpired(ctx, class, now)
		errs = append(errs, sw.recordDelete(ctx, class, now, st.Due, st.Deleted, st.Failed, err, "processes"))
	}
	return errors.Join(errs...)
}

// signingPart is the signature processes a customer signs in (classes
// signature_process and signed_document) for the privacy engine.
type signingPart struct{ svc *signing.Service }

var _ privacy.Part = signingPart{}

func (signingPart) Name() string { return "signatures" }

func (p signingPart) Export(ctx context.Context, tenantID, customerID string, add privacy.AddFunc) error {
	ex, err := p.svc.ExportCustomer(ctx, tenantID, customerID)
	if err != nil {
		return err
	}
	procs := make([]signing.Process, 0, len(ex))
	for _, e := range ex {
		procs = append(procs, e.Process)
		if e.Final != nil {
			if err := add(e.Process.ID+"/signed.pdf", bytes.NewReader(e.Final)); err != nil {
				return err
			}
		}
	}
	return addJSON(add, "processes.json", procs)
}

func (p signingPart) Erase(ctx context.Context, tenantID, customerID string) (int, error) {
	return p.svc.EraseCustomer(ctx, tenantID, customerID)
}
