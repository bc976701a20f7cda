package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"parley/relay/ical"
)

//go:embed templates
var templateFS embed.FS

// Event is what happened to an appointment; it selects the mail's text.
type Event string

// Events for mails to the customer (AppointmentMail, AppointmentSMS).
const (
	// EventConfirmed: the booking was made (ICS METHOD:REQUEST).
	EventConfirmed Event = "confirmed"
	// EventRescheduled: the appointment moved (REQUEST, raised SEQUENCE).
	EventRescheduled Event = "rescheduled"
	// EventCancelled: the appointment was cancelled (METHOD:CANCEL).
	EventCancelled Event = "cancelled"
	// EventReminder: a reminder before the start (no ICS).
	EventReminder Event = "reminder"
)

// Events for mails to the advisor (AdvisorMail).
const (
	// EventNewBooking: a customer booked (REQUEST).
	EventNewBooking Event = "new-booking"
	// EventCancelledByCustomer: the customer cancelled (CANCEL).
	EventCancelledByCustomer Event = "cancelled-by-customer"
	// EventRescheduledByCustomer: the customer moved it (REQUEST).
	EventRescheduledByCustomer Event = "rescheduled-by-customer"
)

// Appointment kinds.
const (
	// KindVideo is a video consultation in the browser (JoinURL).
	KindVideo = "video"
	// KindPhone is a phone call to the customer (Phone).
	KindPhone = "phone"
	// KindOnsite is a visit at the customer's address (Address).
	KindOnsite = "onsite"
)

// Appointment is what the templates know about a booking.
type Appointment struct {
	// Event optionally records the event the data was prepared for (handy
	// when an Appointment is itself a job payload); the ev argument of
	// AppointmentMail and AdvisorMail decides.
	Event string
	// CustomerName and CustomerEmail identify the customer.
	CustomerName, CustomerEmail string
	// AdvisorName and AdvisorEmail identify the advisor (the ICS organizer).
	AdvisorName, AdvisorEmail string
	// TypeName is the appointment type's display name.
	TypeName string
	// Kind is KindVideo, KindPhone or KindOnsite.
	Kind string
	// Text is the customer's message to the advisor (advisor mails only).
	Text string
	// Start and End are the appointment's times.
	Start, End time.Time
	// PreviousStart is the old start of a moved appointment (optional).
	PreviousStart time.Time
	// TimeZone is the IANA zone the times are shown in (with the zone's
	// abbreviation); UTC when empty.
	TimeZone string
	// JoinURL is the meeting link of a video appointment.
	JoinURL string
	// ManageURL lets the customer reschedule or cancel (customer mails
	// only: it is the customer's secret link).
	ManageURL string
	// Phone is the number the advisor calls (phone appointments).
	Phone string
	// Address is where the advisor goes (on-site appointments).
	Address string
	// UID is the appointment's stable iCalendar UID.
	UID string
	// Sequence is the iCalendar revision; the caller raises it on every
	// change and on cancellation.
	Sequence int
	// TenantName signs the mail and names the sender.
	TenantName string
	// From is the relay's sender address.
	From string
	// Stamp is the ICS DTSTAMP (when the change happened); now when zero.
	Stamp time.Time
	// Alarms are display reminders written into the ICS, before the start.
	Alarms []time.Duration
}

var (
	phrases = map[string]*texttemplate.Template{}
	textLay = texttemplate.Must(texttemplate.New("mail.txt").Funcs(texttemplate.FuncMap{"indent": indent}).
		ParseFS(templateFS, "templates/mail.txt"))
	htmlLay = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/mail.html"))
)

func init() {
	for _, lang := range []string{"de", "en"} {
		phrases[lang] = texttemplate.Must(texttemplate.New(lang).Option("missingkey=error").
			ParseFS(templateFS, "templates/"+lang+".tmpl"))
	}
}

// indent puts two spaces before every line of a multi-line value after
// the first, so that it stays visually inside its field in the text part.
func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

// language maps a language tag to "de" or "en" (the default).
func language(lang string) string {
	l := strings.ToLower(lang)
	if l == "de" || strings.HasPrefix(l, "de-") || strings.HasPrefix(l, "de_") {
		return "de"
	}
	return "en"
}

// phraseData is what the phrase templates see; all plain text.
type phraseData struct {
	Customer, Advisor, Type, Tenant string
	Date, Short                     string
	JoinURL, ManageURL              string
}

type detail struct{ Label, Value string }

type action struct {
	Label string
	URL   string
}

// view is what the layouts see.
type view struct {
	Lang, Subject, Greeting, Intro, How string
	Details                             []detail
	Actions                             []action
	MessageLabel, Message               string
	Closing, Signature, Footer          string
}

type renderer struct {
	t   *texttemplate.Template
	d   phraseData
	err error
}

func (r *renderer) say(name string) string {
	if r.err != nil {
		return ""
	}
	var b strings.Builder
	if err := r.t.ExecuteTemplate(&b, name, r.d); err != nil {
		r.err = fmt.Errorf("notify: template %s: %w", name, err)
	}
	return b.String()
}

// clean makes a person-supplied value safe as plain text: valid UTF-8,
// no control characters but newlines and tabs, at most max runes.
func clean(s string, max int) string {
	s = ical.CleanText(s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}

// oneLine is clean for values that must stay on one line (names).
func oneLine(s string, max int) string { return HeaderText(s, max) }

// prepared is an Appointment checked and cleaned for rendering.
type prepared struct {
	Appointment
	loc *time.Location
}

// recipient says whose address a rendering needs.
type recipient int

const (
	toCustomer recipient = iota
	toAdvisor
	toPhone
)

func prepare(d Appointment, to recipient) (prepared, error) {
	p := prepared{Appointment: d}
	loc := time.UTC
	if d.TimeZone != "" {
		l, err := time.LoadLocation(d.TimeZone)
		if err != nil || strings.ContainsAny(d.TimeZone, "\r\n") {
			return p, fmt.Errorf("%w: unknown time zone", ErrInvalid)
		}
		loc = l
	}
	p.loc = loc
	if d.Start.IsZero() || d.End.Before(d.Start) {
		return p, fmt.Errorf("%w: start or end missing or reversed", ErrInvalid)
	}
	if strings.TrimSpace(d.UID) == "" {
		return p, fmt.Errorf("%w: no UID", ErrInvalid)
	}
	if to != toPhone && !ical.ValidEmail(d.From) {
		return p, fmt.Errorf("%w: sender address", ErrInvalid)
	}
	if to == toCustomer && !ical.ValidEmail(d.CustomerEmail) {
		return p, fmt.Errorf("%w: customer address", ErrInvalid)
	}
	if to == toAdvisor && !ical.ValidEmail(d.AdvisorEmail) {
		return p, fmt.Errorf("%w: advisor address", ErrInvalid)
	}
	if d.CustomerEmail != "" && !ical.ValidEmail(d.CustomerEmail) {
		return p, fmt.Errorf("%w: customer address", ErrInvalid)
	}
	if d.AdvisorEmail != "" && !ical.ValidEmail(d.AdvisorEmail) {
		return p, fmt.Errorf("%w: advisor address", ErrInvalid)
	}
	for _, u := range []string{d.JoinURL, d.ManageURL} {
		if u != "" && !validLink(u) {
			return p, fmt.Errorf("%w: link is not an absolute http(s) URL", ErrInvalid)
		}
	}
	switch d.Kind {
	case KindVideo, KindPhone, KindOnsite:
	default:
		return p, fmt.Errorf("%w: unknown appointment kind", ErrInvalid)
	}
	p.CustomerName = oneLine(d.CustomerName, 100)
	p.AdvisorName = oneLine(d.AdvisorName, 100)
	p.TypeName = oneLine(d.TypeName, 100)
	p.TenantName = oneLine(d.TenantName, 100)
	if p.TenantName == "" {
		p.TenantName = "Parley"
	}
	p.Phone = oneLine(d.Phone, 40)
	p.Address = strings.TrimSpace(clean(d.Address, 300))
	p.Text = strings.TrimSpace(clean(d.Text, 4000))
	if p.AdvisorName == "" {
		p.AdvisorName = p.TenantName
	}
	if p.Stamp.IsZero() {
		p.Stamp = time.Now()
	}
	return p, nil
}

func validLink(s string) bool {
	c := ical.Calendar{Events: []ical.Event{{UID: "x", Start: time.Unix(1e9, 0), Stamp: time.Unix(1e9, 0), URL: s}}}
	return c.Validate() == nil
}

// AppointmentMail renders the customer's mail for ev (EventConfirmed,
// EventRescheduled, EventCancelled, EventReminder) in lang ("de" or "en";
// others fall back to English), with the ICS (METHOD:REQUEST, or CANCEL for
// EventCancelled; none for reminders). Invalid data (addresses, links,
// zone, kind, times) gives an error wrapping ErrInvalid.
func AppointmentMail(lang string, ev Event, d Appointment) (Mail, error) {
	switch ev {
	case EventConfirmed, EventRescheduled, EventCancelled, EventReminder:
	default:
		return Mail{}, fmt.Errorf("%w: %q is not a customer event", ErrInvalid, ev)
	}
	return render(lang, ev, d, false)
}

// AdvisorMail renders the advisor's mail for ev (EventNewBooking,
// EventCancelledByCustomer, EventRescheduledByCustomer), with the same ICS
// (UID, SEQUENCE) as the customer's, minus the customer's manage link.
func AdvisorMail(lang string, ev Event, d Appointment) (Mail, error) {
	switch ev {
	case EventNewBooking, EventCancelledByCustomer, EventRescheduledByCustomer:
	default:
		return Mail{}, fmt.Errorf("%w: %q is not an advisor event", ErrInvalid, ev)
	}
	return render(lang, ev, d, true)
}

func isCancel(ev Event) bool { return ev == EventCancelled || ev == EventCancelledByCustomer }

func render(lang string, ev Event, d Appointment, advisor bool) (Mail, error) {
	lang = language(lang)
	to := toCustomer
	if advisor {
		to = toAdvisor
	}
	p, err := prepare(d, to)
	if err != nil {
		return Mail{}, err
	}
	r := &renderer{t: phrases[lang], d: phraseData{
		Customer: p.CustomerName, Advisor: p.AdvisorName, Type: p.TypeName, Tenant: p.TenantName,
		Date: shortDate(lang, p.Start.In(p.loc)),
	}}
	if r.d.Customer == "" {
		r.d.Customer = map[string]string{"de": "Kunde", "en": "customer"}[lang]
	}
	if r.d.Type == "" {
		r.d.Type = r.say("label.type")
		p.TypeName = r.d.Type
	}
	v := view{Lang: lang, Subject: HeaderText(r.say("subject."+string(ev)), 200)}
	if advisor {
		v.Greeting = r.say("greeting.advisor")
	} else {
		v.Greeting = r.say("greeting.customer")
	}
	v.Intro = r.say("intro." + string(ev))
	if !isCancel(ev) && !advisor {
		v.How = r.say("how." + p.Kind)
	}
	when := span(lang, p.Start, p.End, p.loc)
	v.Details = append(v.Details,
		detail{r.say("label.type"), p.TypeName},
		detail{r.say("label.when"), when})
	if !p.PreviousStart.IsZero() && (ev == EventRescheduled || ev == EventRescheduledByCustomer) {
		v.Details = append(v.Details, detail{r.say("label.previous"), span(lang, p.PreviousStart, time.Time{}, p.loc)})
	}
	if advisor {
		v.Details = append(v.Details, detail{r.say("label.customer"), p.CustomerName})
		if p.CustomerEmail != "" {
			v.Details = append(v.Details, detail{r.say("label.email"), p.CustomerEmail})
		}
	} else {
		v.Details = append(v.Details, detail{r.say("label.with"), p.AdvisorName})
	}
	v.Details = append(v.Details, detail{r.say("label.kind"), r.say("kind." + p.Kind)})
	location := ""
	switch p.Kind {
	case KindPhone:
		if p.Phone != "" {
			v.Details = append(v.Details, detail{r.say("label.phone"), p.Phone})
			location = r.say("label.phone") + ": " + p.Phone
		}
	case KindOnsite:
		if p.Address != "" {
			v.Details = append(v.Details, detail{r.say("label.address"), p.Address})
			location = p.Address
		}
	case KindVideo:
		location = p.JoinURL
	}
	if !isCancel(ev) && p.Kind == KindVideo && p.JoinURL != "" {
		v.Actions = append(v.Actions, action{r.say("label.join"), p.JoinURL})
	}
	if !isCancel(ev) && !advisor && p.ManageURL != "" {
		v.Actions = append(v.Actions, action{r.say("label.manage"), p.ManageURL})
	}
	if advisor && p.Text != "" {
		v.MessageLabel, v.Message = r.say("label.message"), p.Text
	}
	v.Closing, v.Signature, v.Footer = r.say("closing"), p.TenantName, r.say("footer")
	summary := r.say("summary.customer")
	if advisor {
		summary = r.say("summary.advisor")
	}
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
	m := Mail{
		From: p.From, FromName: p.TenantName, Subject: v.Subject,
		Text: text.String(), HTML: html.String(),
	}
	if advisor {
		m.To, m.ToName = p.AdvisorEmail, p.AdvisorName
		if p.CustomerEmail != "" {
			m.ReplyTo, m.ReplyToName = p.CustomerEmail, p.CustomerName
		}
	} else {
		m.To, m.ToName = p.CustomerEmail, p.CustomerName
		if p.AdvisorEmail != "" {
			m.ReplyTo, m.ReplyToName = p.AdvisorEmail, p.AdvisorName
		}
	}
	if ev == EventReminder {
		return m, nil
	}

	// The iTIP object: same UID and SEQUENCE for the customer's and the
	// advisor's copy; the customer's manage link only in the customer's.
	method := ical.MethodRequest
	if isCancel(ev) {
		method = ical.MethodCancel
	}
	org := ical.Person{Name: p.AdvisorName, Email: p.AdvisorEmail}
	if org.Email == "" {
		org = ical.Person{Name: p.TenantName, Email: p.From}
	}
	var desc strings.Builder
	for _, dt := range v.Details {
		desc.WriteString(dt.Label + ": " + dt.Value + "\n")
	}
	for _, a := range v.Actions {
		desc.WriteString(a.Label + ": " + a.URL + "\n")
	}
	if v.Message != "" {
		desc.WriteString("\n" + v.MessageLabel + ":\n" + v.Message + "\n")
	}
	event := ical.Event{
		UID: p.UID, Sequence: p.Sequence, Status: ical.StatusConfirmed,
		Summary: summary, Description: strings.TrimSpace(desc.String()), Location: location,
		Start: p.Start, End: p.End, Stamp: p.Stamp, Organizer: org,
		Attendees: []ical.Person{{Name: p.CustomerName, Email: p.CustomerEmail}},
		Alarms:    p.Alarms,
	}
	if p.CustomerEmail == "" {
		event.Attendees = []ical.Person{{Name: p.AdvisorName, Email: p.AdvisorEmail}}
	}
	if !advisor {
		event.URL = p.ManageURL
	}
	cal := ical.Calendar{Method: method, Events: []ical.Event{event}}
	var ics bytes.Buffer
	if _, err := cal.WriteTo(&ics); err != nil {
		return Mail{}, fmt.Errorf("%w: calendar: %v", ErrInvalid, err)
	}
	m.ICS, m.ICSMethod = ics.Bytes(), method
	return m, nil
}

// MaxSMSText is the longest text AppointmentSMS returns (two concatenated
// segments).
const MaxSMSText = 320

// AppointmentSMS renders the customer's SMS for ev (EventConfirmed,
// EventRescheduled, EventCancelled, EventReminder) in lang: at most
// MaxSMSText characters, full links (no shorteners). When it would be
// longer, the manage link is left out first, then names are shortened.
func AppointmentSMS(lang string, ev Event, d Appointment) (string, error) {
	switch ev {
	case EventConfirmed, EventRescheduled, EventCancelled, EventReminder:
	default:
		return "", fmt.Errorf("%w: %q is not a customer event", ErrInvalid, ev)
	}
	lang = language(lang)
	p, err := prepare(d, toPhone)
	if err != nil {
		return "", err
	}
	data := phraseData{
		Advisor: p.AdvisorName, Type: p.TypeName, Tenant: p.TenantName,
		Short: shortDateTime(lang, p.Start.In(p.loc)),
	}
	if data.Type == "" {
		data.Type = (&renderer{t: phrases[lang]}).say("label.type")
	}
	if !isCancel(ev) {
		if p.Kind == KindVideo {
			data.JoinURL = p.JoinURL
		}
		data.ManageURL = p.ManageURL
	}
	try := func(dd phraseData) (string, error) {
		r := &renderer{t: phrases[lang], d: dd}
		s := HeaderText(r.say("sms."+string(ev)), 0)
		return s, r.err
	}
	s, err := try(data)
	if err != nil {
		return "", err
	}
	if utf8.RuneCountInString(s) > MaxSMSText {
		data.ManageURL = ""
		s, _ = try(data)
	}
	if utf8.RuneCountInString(s) > MaxSMSText {
		data.Advisor, data.Type, data.Tenant = HeaderText(data.Advisor, 24), HeaderText(data.Type, 24), HeaderText(data.Tenant, 24)
		s, _ = try(data)
	}
	if utf8.RuneCountInString(s) > MaxSMSText {
		s = HeaderText(s, MaxSMSText)
	}
	return s, nil
}

var (
	deWeekdays = []string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"}
	deMonths   = []string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
		"September", "Oktober", "November", "Dezember"}
	deShortDays = []string{"So", "Mo", "Di", "Mi", "Do", "Fr", "Sa"}
)

// longDate is "Montag, 30. März 2026" / "Monday, 30 March 2026".
func longDate(lang string, t time.Time) string {
	if lang == "de" {
		return fmt.Sprintf("%s, %d. %s %d", deWeekdays[t.Weekday()], t.Day(), deMonths[t.Month()-1], t.Year())
	}
	return t.Format("Monday, 2 January 2006")
}

// shortDate is "30.03.2026" / "30 Mar 2026" (subjects).
func shortDate(lang string, t time.Time) string {
	if lang == "de" {
		return t.Format("02.01.2006")
	}
	return t.Format("2 Jan 2006")
}

// shortDateTime is "Mo 30.03.2026, 10:30 Uhr CEST" / "Mon 30 Mar 2026, 10:30 CEST".
func shortDateTime(lang string, t time.Time) string {
	zone, _ := t.Zone()
	if lang == "de" {
		return fmt.Sprintf("%s %s, %s Uhr %s", deShortDays[t.Weekday()], t.Format("02.01.2006"), t.Format("15:04"), zone)
	}
	return t.Format("Mon 2 Jan 2006, 15:04 ") + zone
}

// span renders start (and end, when not zero) in loc with the zone's
// abbreviation: "Montag, 30. März 2026, 10:30–11:15 Uhr (CEST)". When the
// abbreviation changes in between (a DST switch) both are shown; an end on
// another day carries its date.
func span(lang string, start, end time.Time, loc *time.Location) string {
	s := start.In(loc)
	sz, _ := s.Zone()
	uhr := ""
	if lang == "de" {
		uhr = " Uhr"
	}
	out := longDate(lang, s) + ", " + s.Format("15:04")
	if end.IsZero() {
		return out + uhr + " (" + sz + ")"
	}
	e := end.In(loc)
	ez, _ := e.Zone()
	sy, sm, sd := s.Date()
	ey, em, ed := e.Date()
	switch {
	case sy != ey || sm != em || sd != ed:
		return out + uhr + " (" + sz + ") – " + longDate(lang, e) + ", " + e.Format("15:04") + uhr + " (" + ez + ")"
	case sz != ez:
		return out + " " + sz + " – " + e.Format("15:04") + " " + ez + uhr
	default:
		return out + "–" + e.Format("15:04") + uhr + " (" + sz + ")"
	}
}
