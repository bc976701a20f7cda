package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
)

// FeedbackInvitation is what the mail inviting a customer to the feedback
// questionnaire after a meeting knows (relay/feedback, seed 002 §2.3.8).
type FeedbackInvitation struct {
	// From is the relay's sender address.
	From string
	// TenantName is the advisor's organisation (the sender's name).
	TenantName string
	// AdvisorName is the advisor the meeting was with.
	AdvisorName string
	// CustomerName and CustomerEmail are the recipient.
	CustomerName, CustomerEmail string
	// MeetingEnded is when the meeting ended.
	MeetingEnded time.Time
	// Expires is when the questionnaire's link stops working.
	Expires time.Time
	// TimeZone is the IANA zone dates are shown in; empty means
	// Europe/Berlin.
	TimeZone string
	// URL is the questionnaire's link (the customer's secret).
	URL string
}

type feedbackTexts struct {
	Subject, Hello, Intro, Ask, Until, Consent, Footer string
	Layout                                             string
}

var feedbackLang = map[string]feedbackTexts{
	"de": {
		Subject: "Wie war Ihre Beratung?",
		Hello:   "Guten Tag {{.CustomerName}},",
		Intro:   "vielen Dank für Ihre Beratung mit {{.AdvisorName}} am {{.Date}}.",
		Ask:     "Wie zufrieden waren Sie? Der Fragebogen hat eine Bewertung von 1 bis 5 und ein freiwilliges Textfeld; er dauert nur eine Minute:",
		Until:   "Der Link gilt bis zum {{.Until}} und kann einmal verwendet werden.",
		Consent: "Sie erhalten diese E-Mail einmalig, weil Sie einer Feedback-Anfrage zugestimmt haben. Wenn Sie nicht antworten, wird nichts weiter gespeichert.",
		Footer:  "Diese E-Mail wurde automatisch versandt; Antworten auf sie erreichen niemanden.",
		Layout:  "02.01.2006",
	},
	"en": {
		Subject: "How was your consultation?",
		Hello:   "Hello {{.CustomerName}},",
		Intro:   "thank you for your consultation with {{.AdvisorName}} on {{.Date}}.",
		Ask:     "How satisfied were you? The questionnaire has a rating from 1 to 5 and an optional comment; it takes a minute:",
		Until:   "The link works until {{.Until}} and can be used once.",
		Consent: "You receive this e-mail once because you agreed to a feedback request. If you do not answer, nothing more is stored.",
		Footer:  "This e-mail was sent automatically; replies to it reach no one.",
		Layout:  "2 January 2006",
	},
}

const feedbackTextBody = `{{.Hello}}

{{.Intro}}

{{.Ask}}
{{.D.URL}}

{{.Until}}

{{.Consent}}

-- 
{{.D.TenantName}}
{{.Footer}}
`

const feedbackHTMLBody = `<!doctype html><html><body style="font-family:sans-serif">
<p>{{.Hello}}</p><p>{{.Intro}}</p>
<p>{{.Ask}}</p>
<p><a href="{{.D.URL}}" style="display:inline-block;padding:.6em 1.2em;background:#0b5cad;color:#fff;text-decoration:none;border-radius:4px">{{.Button}}</a><br>
<span style="color:#666;font-size:90%">{{.D.URL}}</span></p>
<p>{{.Until}}</p>
<p style="color:#666">{{.Consent}}</p>
<p style="color:#666">{{.D.TenantName}}<br>{{.Footer}}</p>
</body></html>`

var (
	feedbackText = texttemplate.Must(texttemplate.New("feedback.txt").Parse(feedbackTextBody))
	feedbackHTML = htmltemplate.Must(htmltemplate.New("feedback.html").Parse(feedbackHTMLBody))
)

// FeedbackInvitationMail renders the invitation to the feedback
// questionnaire in German ("de", the default) or English ("en"). Names are
// inserted as text (escaped in the HTML part); the link must be an http(s)
// URL.
func FeedbackInvitationMail(lang string, d FeedbackInvitation) (Mail, error) {
	lang = language(lang)
	t := feedbackLang[lang]
	if d.CustomerEmail == "" {
		return Mail{}, fmt.Errorf("notify: feedback invitation: no recipient: %w", ErrInvalid)
	}
	if !strings.HasPrefix(d.URL, "https://") && !strings.HasPrefix(d.URL, "http://") {
		return Mail{}, fmt.Errorf("notify: feedback invitation: link: %w", ErrInvalid)
	}
	if strings.TrimSpace(d.CustomerName) == "" {
		d.CustomerName = map[string]string{"de": "Kundin, Kunde", "en": "there"}[lang]
	}
	if strings.TrimSpace(d.AdvisorName) == "" {
		d.AdvisorName = map[string]string{"de": "Ihrer Beratung", "en": "your advisor"}[lang]
	}
	zone := d.TimeZone
	if zone == "" {
		zone = "Europe/Berlin"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return Mail{}, fmt.Errorf("notify: feedback invitation: time zone: %w", ErrInvalid)
	}
	vals := struct {
		CustomerName, AdvisorName, Date, Until string
	}{d.CustomerName, d.AdvisorName, d.MeetingEnded.In(loc).Format(t.Layout), d.Expires.In(loc).Format(t.Layout)}
	fill := func(s string) (string, error) {
		tt, err := texttemplate.New("").Parse(s)
		if err != nil {
			return "", err
		}
		var b bytes.Buffer
		if err := tt.Execute(&b, vals); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	var hello, intro, until string
	for _, p := range []struct {
		dst *string
		src string
	}{{&hello, t.Hello}, {&intro, t.Intro}, {&until, t.Until}} {
		if *p.dst, err = fill(p.src); err != nil {
			return Mail{}, fmt.Errorf("notify: feedback invitation: %w", err)
		}
	}
	data := struct {
		Hello, Intro, Ask, Until, Consent, Footer, Button string
		D                                                 FeedbackInvitation
	}{hello, intro, t.Ask, until, t.Consent, t.Footer, map[string]string{"de": "Zum Fragebogen", "en": "Open the questionnaire"}[lang], d}
	var txt, html bytes.Buffer
	if err := feedbackText.Execute(&txt, data); err != nil {
		return Mail{}, fmt.Errorf("notify: feedback invitation: %w", err)
	}
	if err := feedbackHTML.Execute(&html, data); err != nil {
		return Mail{}, fmt.Errorf("notify: feedback invitation: %w", err)
	}
	m := Mail{From: d.From, FromName: HeaderText(d.TenantName, 100), To: d.CustomerEmail, ToName: HeaderText(d.CustomerName, 100),
		Subject: t.Subject, Text: txt.String(), HTML: html.String()}
	if err := m.Validate(); err != nil {
		return Mail{}, err
	}
	return m, nil
}
