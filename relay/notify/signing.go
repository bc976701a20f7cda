package notify

import (
	"bytes"
	"fmt"
	"strings"
	texttemplate "text/template"
	"time"

	"parley/relay/ical"
)

// SigningEvent selects an e-signature message.
type SigningEvent string

// E-signature events.
const (
	// SigningInvite: it is the customer's turn to sign (customer mail
	// with the signing link).
	SigningInvite SigningEvent = "invite"
	// SigningAdvisorTurn: every customer signed; the advisor signs now
	// (advisor mail).
	SigningAdvisorTurn SigningEvent = "advisor_turn"
	// SigningCompleted: the document is signed and sealed (customer mail
	// with the download link, or advisor mail).
	SigningCompleted SigningEvent = "completed"
)

// Signing is what the e-signature templates know.
type Signing struct {
	// Title is the process's title.
	Title string
	// RecipientName and RecipientEmail are the customer's (customer mails).
	RecipientName, RecipientEmail string
	// AdvisorName and AdvisorEmail are the advisor's.
	AdvisorName, AdvisorEmail string
	// TenantName signs the mail and the SMS.
	TenantName string
	// From is the relay's sender address.
	From string
	// Link is the customer's signing link (invite) or download link
	// (completed); customer mails only.
	Link string
	// Until is when the signing link stops working (invite) or the signed
	// document is deleted (completed); zero leaves the line out.
	Until time.Time
	// TimeZone is the IANA zone Until is shown in (UTC when empty).
	TimeZone string
}

var signingPhrases = map[string]*texttemplate.Template{}

func init() {
	for _, lang := range []string{"de", "en"} {
		signingPhrases[lang] = texttemplate.Must(texttemplate.New(lang).Option("missingkey=error").
			ParseFS(templateFS, "templates/signing."+lang+".tmpl"))
	}
}

type signingData struct {
	Title, Name, Advisor, Tenant, Code string
}

// SigningMail renders an e-signature mail: to the customer (toAdvisor
// false: SigningInvite, SigningCompleted; Link is required) or to the
// advisor (SigningAdvisorTurn, SigningCompleted). Invalid addresses or
// links give an error wrapping ErrInvalid.
//
// The completed mail carries a download link rather than the PDF as an
// attachment: Mail has no attachment part yet.
func SigningMail(lang string, ev SigningEvent, toAdvisor bool, d Signing) (Mail, error) {
	lang = language(lang)
	switch {
	case ev == SigningCompleted, ev == SigningInvite && !toAdvisor, ev == SigningAdvisorTurn && toAdvisor:
	default:
		return Mail{}, fmt.Errorf("%w: %q is not a signing event for this recipient", ErrInvalid, ev)
	}
	if !ical.ValidEmail(d.From) {
		return Mail{}, fmt.Errorf("%w: sender address", ErrInvalid)
	}
	to, toName := d.RecipientEmail, oneLine(d.RecipientName, 100)
	if toAdvisor {
		to, toName = d.AdvisorEmail, oneLine(d.AdvisorName, 100)
	}
	if !ical.ValidEmail(to) {
		return Mail{}, fmt.Errorf("%w: recipient address", ErrInvalid)
	}
	if !toAdvisor && !validLink(d.Link) {
		return Mail{}, fmt.Errorf("%w: link is not an absolute http(s) URL", ErrInvalid)
	}
	loc := time.UTC
	if d.TimeZone != "" {
		l, err := time.LoadLocation(d.TimeZone)
		if err != nil {
			return Mail{}, fmt.Errorf("%w: unknown time zone", ErrInvalid)
		}
		loc = l
	}
	tenant := oneLine(d.TenantName, 100)
	if tenant == "" {
		tenant = "Parley"
	}
	data := signingData{Title: oneLine(d.Title, 200), Name: toName, Advisor: oneLine(d.AdvisorName, 100), Tenant: tenant}
	if data.Advisor == "" {
		data.Advisor = tenant
	}
	if data.Name == "" {
		data.Name = map[string]string{"de": "Kunde", "en": "customer"}[lang]
	}
	r := &renderer{t: signingPhrases[lang]}
	say := func(name string) string {
		if r.err != nil {
			return ""
		}
		var b strings.Builder
		if err := r.t.ExecuteTemplate(&b, name, data); err != nil {
			r.err = fmt.Errorf("notify: template %s: %w", name, err)
		}
		return b.String()
	}
	v := view{Lang: lang, Subject: HeaderText(say("subject."+string(ev)), 200)}
	who := "customer"
	if toAdvisor {
		who = "advisor"
	}
	v.Greeting = say("greeting." + who)
	if ev == SigningCompleted {
		v.Intro = say("intro.completed." + who)
	} else {
		v.Intro = say("intro." + string(ev))
	}
	if ev == SigningInvite {
		v.How = say("how.invite")
	}
	v.Details = append(v.Details, detail{say("label.document"), data.Title})
	if !toAdvisor {
		v.Details = append(v.Details, detail{say("label.from"), data.Advisor})
	}
	if !d.Until.IsZero() {
		label := say("label.valid")
		if ev == SigningCompleted {
			label = say("label.kept")
		}
		v.Details = append(v.Details, detail{label, span(lang, d.Until, time.Time{}, loc)})
	}
	if !toAdvisor {
		label := say("label.sign")
		if ev == SigningCompleted {
			label = say("label.download")
		}
		v.Actions = append(v.Actions, action{label, d.Link})
	}
	v.Closing, v.Signature, v.Footer = say("closing"), tenant, say("footer")
	if r.err != nil {
		return Mail{}, r.err
	}
	var text, html bytes.Buffer
	if err := textLay.Execute(&text, v); err != nil {
		return Mail{}, fmt.Errorf("notify: text layout: %w", err)
	}
	if err := htmlLay.Execute(&html, v); err != nil {
		return Mail{}, fmt.Errorf("notify: HTML layout: %w", err)
	}
	m := Mail{From: d.From, FromName: tenant, To: to, ToName: toName, Subject: v.Subject, Text: text.String(), HTML: html.String()}
	if !toAdvisor && ical.ValidEmail(d.AdvisorEmail) {
		m.ReplyTo, m.ReplyToName = d.AdvisorEmail, data.Advisor
	}
	return m, m.Validate()
}

// SigningCodeSMS renders the one-time code SMS: the tenant's name, the
// code and its validity, nothing else (no link: the code and the link
// travel on separate channels).
func SigningCodeSMS(lang, tenantName, code string) (string, error) {
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return "", fmt.Errorf("%w: the code must be six digits", ErrInvalid)
	}
	tenant := HeaderText(tenantName, 40)
	if tenant == "" {
		tenant = "Parley"
	}
	var b strings.Builder
	if err := signingPhrases[language(lang)].ExecuteTemplate(&b, "sms.code", signingData{Tenant: tenant, Code: code}); err != nil {
		return "", fmt.Errorf("notify: template sms.code: %w", err)
	}
	return HeaderText(b.String(), MaxSMSText), nil
}
