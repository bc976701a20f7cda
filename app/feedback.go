package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// FeedbackRelay is the relay's feedback questionnaire (issue 8) as the
// desktop uses it. A BookingRelay that also implements it gets the
// customer's feedback in the customer's history, and a button per ended
// meeting to record that the customer agreed to a feedback request.
type FeedbackRelay interface {
	// CustomerFeedback returns the customer's feedback the signed-in user
	// may see (an advisor: of their own meetings; an admin: all), newest
	// meeting first.
	CustomerFeedback(ctx context.Context, customerID string) ([]Feedback, error)
	// RecordFeedbackConsent records that the customer of an ended meeting
	// agreed to one feedback request; the relay then mails the
	// questionnaire's link. lang ("de", "en") is the mail's language for
	// a meeting without a booking.
	RecordFeedbackConsent(ctx context.Context, meetingID, lang string) (Feedback, error)
}

// Feedback statuses.
const (
	// FeedbackInvited: the link is mailed and works.
	FeedbackInvited = "invited"
	// FeedbackAnswered: the customer answered.
	FeedbackAnswered = "answered"
	// FeedbackExpired: the link expired unanswered.
	FeedbackExpired = "expired"
)

// Feedback is one meeting's feedback request and answer.
type Feedback struct {
	// MeetingID is the meeting asked about.
	MeetingID string
	// Status is FeedbackInvited, FeedbackAnswered or FeedbackExpired.
	Status string
	// ConsentGiven is when the consent was recorded; ConsentSource how.
	ConsentGiven time.Time
	// ConsentSource is "advisor" (recorded by the advisor).
	ConsentSource string
	// MeetingEnded is when the meeting ended.
	MeetingEnded time.Time
	// Expires is when the link stops working.
	Expires time.Time
	// Answered is when the customer answered; zero before.
	Answered time.Time
	// Rating is 1 to 5 once answered.
	Rating int
	// Text is the customer's optional comment.
	Text string
}

// stars shows a rating as five stars.
func stars(n int) string {
	if n < 0 || n > 5 {
		n = 0
	}
	return strings.Repeat("★", n) + strings.Repeat("☆", 5-n)
}

// feedbackLine is the title and detail of one feedback in the history.
func feedbackLine(f Feedback, loc *time.Location) (string, string) {
	day := func(t time.Time) string { return t.In(loc).Format("2 Jan 2006") }
	switch f.Status {
	case FeedbackAnswered:
		title := fmt.Sprintf("Feedback · %s %d/5", stars(f.Rating), f.Rating)
		detail := "Answered " + day(f.Answered) + " about the meeting of " + day(f.MeetingEnded)
		if f.Text != "" {
			detail += ": “" + f.Text + "”"
		}
		return title, detail
	case FeedbackExpired:
		return "Feedback · not answered", "The link expired on " + day(f.Expires)
	}
	return "Feedback · requested", "Consent recorded " + day(f.ConsentGiven) + "; the link works until " + day(f.Expires)
}

// feedbackSection is the feedback part of the customers page: the
// customer's answers, and a button per ended meeting without a request.
// It stays hidden when the relay connection has no FeedbackRelay.
type feedbackSection struct {
	u   *UI
	s   *session
	fr  FeedbackRelay // nil: hidden
	loc *time.Location
	seq int

	customerID string
	items      []Feedback
	rows       *fyne.Container
	state      statusLabel
	box        *fyne.Container
}

func newFeedbackSection(u *UI, s *session, br BookingRelay) *feedbackSection {
	f := &feedbackSection{u: u, s: s, loc: time.Local, rows: container.NewVBox(), state: newStatusLabel()}
	f.fr, _ = br.(FeedbackRelay)
	f.box = container.NewVBox(widget.NewSeparator(),
		widget.NewLabelWithStyle("Feedback", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), f.rows, f.state.Label)
	if f.fr == nil {
		f.box.Hide()
	}
	return f
}

// object is what the page lays out.
func (f *feedbackSection) object() fyne.CanvasObject { return f.box }

// load reads the customer's feedback off the UI thread; meetings are the
// customer's meetings from the history (for the consent buttons).
func (f *feedbackSection) load(customerID string, meetings []MeetingInfo) {
	if f.fr == nil {
		return
	}
	f.customerID = customerID
	f.seq++
	seq := f.seq
	f.state.info("Loading …")
	fr, s := f.fr, f.s
	run(f.u, s.ctx, func(ctx context.Context) ([]Feedback, error) {
		return fr.CustomerFeedback(ctx, customerID)
	}, func(fs []Feedback, err error) {
		if s.ctx.Err() != nil || seq != f.seq {
			return
		}
		if err != nil {
			f.state.fail("Feedback could not be read: " + message(err))
			return
		}
		f.items = fs
		f.show(meetings)
	})
}

// show lists the feedback and the ended meetings without a request.
func (f *feedbackSection) show(meetings []MeetingInfo) {
	f.rows.RemoveAll()
	asked := map[string]bool{}
	for _, it := range f.items {
		asked[it.MeetingID] = true
		title, detail := feedbackLine(it, f.loc)
		t := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		d := widget.NewLabel(detail)
		d.Wrapping = fyne.TextWrapWord
		if it.Status != FeedbackAnswered {
			d.Importance = widget.LowImportance
		}
		f.rows.Add(container.NewVBox(t, d))
	}
	for _, m := range meetings {
		if !m.ended() || asked[m.ID] {
			continue
		}
		f.rows.Add(f.consentButton(m, meetings))
	}
	if len(f.items) == 0 {
		f.state.info("No feedback yet. With the customer's consent, the relay mails one short questionnaire after a meeting.")
	} else {
		f.state.info("")
	}
	f.rows.Refresh()
}

// consentButton records, after a confirmation, that the customer of an
// ended meeting agreed to a feedback request.
func (f *feedbackSection) consentButton(m MeetingInfo, meetings []MeetingInfo) fyne.CanvasObject {
	label := "Customer agreed to feedback: " + meetingName(m)
	var b *widget.Button
	b = widget.NewButtonWithIcon(label, theme.MailSendIcon(), func() {
		confirm(f.u.win, "Send a feedback request?",
			"Only when the customer agreed: the relay mails them one link to a short questionnaire (rating and optional comment), valid for 14 days. The consent is recorded with the time and your name.",
			"Customer agreed", func() {
				b.Disable()
				fr, s, id := f.fr, f.s, f.customerID
				run(f.u, s.ctx, func(ctx context.Context) (Feedback, error) {
					return fr.RecordFeedbackConsent(ctx, m.ID, "")
				}, func(fb Feedback, err error) {
					if s.ctx.Err() != nil || id != f.customerID {
						return
					}
					if err != nil {
						b.Enable()
						f.state.fail("The feedback request was not recorded: " + message(err))
						return
					}
					f.items = append([]Feedback{fb}, f.items...)
					f.show(meetings)
					f.state.ok("Consent recorded; the questionnaire is on its way to the customer.")
				})
			})
	})
	return b
}
