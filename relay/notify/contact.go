package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// ContactReply is what the mail answering a contact-form message knows.
type ContactReply struct {
	// From is the relay's sender address.
	From string
	// TenantName is the advisor's organisation (the sender's name).
	TenantName string
	// AdvisorName is the advisor who answered.
	AdvisorName string
	// CustomerName and CustomerEmail are the recipient.
	CustomerName, CustomerEmail string
	// Text is the advisor's answer.
	Text string
	// Attachments are the names of files the advisor attached; they are
	// not sent by e-mail.
	Attachments []string
	// ContactURL is the contact page, to write again.
	ContactURL string
}

type contactTexts struct {
	Subject, Hello, Intro, Files, Again, Footer string
}

var contactLang = map[string]contactTexts{
	"de": {
		Subject: "Antwort auf Ihre Nachricht",
		Hello:   "Guten Tag {{.CustomerName}},",
		Intro:   "{{.AdvisorName}} hat auf Ihre Nachricht geantwortet:",
		Files:   "Die Antwort enthält Dateien, die nicht per E-Mail verschickt werden:",
		Again:   "Sie möchten antworten? Schreiben Sie uns über das Kontaktformular:",
		Footer:  "Diese E-Mail wurde automatisch versandt; Antworten auf sie erreichen niemanden.",
	},
	"en": {
		Subject: "Reply to your message",
		Hello:   "Hello {{.CustomerName}},",
		Intro:   "{{.AdvisorName}} has replied to your message:",
		Files:   "The reply has files that are not sent by e-mail:",
		Again:   "Would you like to answer? Write to us through the contact form:",
		Footer:  "This e-mail was sent automatically; replies to it reach no one.",
	},
}

const contactTextBody = `{{.Hello}}

{{.Intro}}

{{.D.Text}}
{{if .D.Attachments}}
{{.Files}}
{{range .D.Attachments}}- {{.}}
{{end}}{{end}}
{{if .D.ContactURL}}{{.Again}}
{{.D.ContactURL}}
{{end}}
-- 
{{.D.TenantName}}
{{.Footer}}
`

const contactHTMLBody = `<!doctype html><html><body style="font-family:sans-serif">
<p>{{.Hello}}</p><p>{{.Intro}}</p>
<blockquote style="white-space:pre-wrap;border-left:3px solid #ccc;margin:0;padding-left:1em">{{.D.Text}}</blockquote>
{{if .D.Attachments}}<p>{{.Files}}</p><ul>{{range .D.Attachments}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .D.ContactURL}}<p>{{.Again}}<br><a href="{{.D.ContactURL}}">{{.D.ContactURL}}</a></p>{{end}}
<p style="color:#666">{{.D.TenantName}}<br>{{.Footer}}</p>
</body></html>`

var (
	contactText = texttemplate.Must(texttemplate.New("contact.txt").Parse(contactTextBody))
	contactHTML = htmltemplate.Must(htmltemplate.New("contact.html").Parse(contactHTMLBody))
)

// ContactReplyMail renders the mail that carries an advisor's answer to a
// contact-form message to the customer, in German ("de", the default) or
// English ("en"). Names are inserted as text (escaped in the HTML part).
func ContactReplyMail(lang string, d ContactReply) (Mail, error) {
	t, ok := contactLang[lang]
	if !ok {
		t = contactLang["de"]
	}
	if d.CustomerEmail == "" {
		return Mail{}, fmt.Errorf("notify: contact reply: no recipient: %w", ErrInvalid)
	}
	if strings.TrimSpace(d.CustomerName) == "" {
		d.CustomerName = map[bool]string{true: "Kundin, Kunde", false: "there"}[lang != "en"]
	}
	fill := func(s string) (string, error) {
		tt, err := texttemplate.New("").Parse(s)
		if err != nil {
			return "", err
		}
		var b bytes.Buffer
		if err := tt.Execute(&b, d); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	hello, err := fill(t.Hello)
	if err != nil {
		return Mail{}, fmt.Errorf("notify: contact reply: %w", err)
	}
	intro, err := fill(t.Intro)
	if err != nil {
		return Mail{}, fmt.Errorf("notify: contact reply: %w", err)
	}
	data := struct {
		Hello, Intro, Files, Again, Footer string
		D                                  ContactReply
	}{hello, intro, t.Files, t.Again, t.Footer, d}
	var txt, html bytes.Buffer
	if err := contactText.Execute(&txt, data); err != nil {
		return Mail{}, fmt.Errorf("notify: contact reply: %w", err)
	}
	if err := contactHTML.Execute(&html, data); err != nil {
		return Mail{}, fmt.Errorf("notify: contact reply: %w", err)
	}
	m := Mail{From: d.From, FromName: HeaderText(d.TenantName, 100), To: d.CustomerEmail, ToName: HeaderText(d.CustomerName, 100),
		Subject: t.Subject, Text: txt.String(), HTML: html.String()}
	if err := m.Validate(); err != nil {
		return Mail{}, err
	}
	return m, nil
}
