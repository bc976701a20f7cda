package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"parley/relay/booking"
	"parley/relay/chat"
	"parley/relay/customer"
	"parley/relay/meeting"
	"parley/relay/privacy"
	"parley/relay/signal/msg"
	"parley/relay/whiteboard"
)

// privacyActor is the user id the privacy engine's parts act as.
const privacyActor = "privacy-engine"

// startPrivacy opens the erasure ledger, builds the privacy engine over
// every data class that holds a customer's data and carries out, before
// the relay serves, every erasure in the ledger that the store does not
// show as completed (cut short by a crash, or undone by a restore).
func (s *Server) startPrivacy(ctx context.Context, dataDir string, meetings *meeting.Service) error {
	ledger, err := privacy.OpenLedger(filepath.Join(dataDir, privacy.LedgerFileName))
	if err != nil {
		return err
	}
	parts := []privacy.Part{bookingPart{s.booking}, recordingPart{s.recordings}, meetingPart{meetings, s.chat, s.whiteboard}, messagesPart{s.messaging}, signingPart{s.signing}}
	parts = append(parts, feedbackPart{s.feedback})
	s.privacy, err = privacy.New(privacy.Options{Store: s.store, Ledger: ledger, Profiles: s.customers, Parts: parts,
		Holds: s.retention, Audit: s.audit, Clock: s.clock, Logger: s.log.With("component", "privacy")})
	if err != nil {
		return err
	}
	st, err := s.privacy.Resume(ctx)
	if err != nil {
		return err
	}
	if st.Finished > 0 {
		s.log.Warn("erasures from the ledger carried out before serving", "finished", st.Finished)
	}
	return nil
}

// bookingPart is the bookings of a customer (class booking).
type bookingPart struct{ svc *booking.Service }

func (bookingPart) Name() string { return "bookings" }

// exportedBooking is one entry of bookings/bookings.json.
type exportedBooking struct {
	booking.Booking
	// Contact and Message are the details given when booking.
	Contact customer.Contact `json:"contact"`
	Message string           `json:"message,omitempty"`
}

func (p bookingPart) Export(ctx context.Context, tenantID, customerID string, add privacy.AddFunc) error {
	a := booking.Actor{TenantID: tenantID, UserID: privacyActor, Admin: true}
	bs, err := p.svc.ByCustomer(ctx, a, customerID)
	if err != nil {
		return err
	}
	out := make([]exportedBooking, 0, len(bs))
	for _, b := range bs {
		_, d, err := p.svc.Get(ctx, a, b.ID)
		if errors.Is(err, booking.ErrNotFound) {
			continue
		}
		if err != nil && !errors.Is(err, customer.ErrShredded) {
			return err
		}
		out = append(out, exportedBooking{Booking: b, Contact: d.Contact, Message: d.Text})
	}
	return addJSON(add, "bookings.json", out)
}

func (p bookingPart) Erase(ctx context.Context, tenantID, customerID string) (int, error) {
	return p.svc.EraseCustomer(ctx, tenantID, customerID)
}

// meetingPart is the meetings held with a customer: their metadata
// (anonymised on erasure) and content (chat, files and whiteboard,
// deleted).
type meetingPart struct {
	meetings *meeting.Service
	chat     *chat.Service
	boards   *whiteboard.Service // nil: no whiteboards
}

func (meetingPart) Name() string { return "meetings" }

// exportedMeeting is one entry of meetings/meetings.json.
type exportedMeeting struct {
	meeting.Meeting
	// Metadata is the meeting's metadata record while it exists.
	Metadata *meeting.Metadata `json:"metadata,omitempty"`
}

func (p meetingPart) Export(ctx context.Context, tenantID, customerID string, add privacy.AddFunc) error {
	mids, err := p.meetings.MeetingsOf(ctx, tenantID, customerID)
	if err != nil {
		return err
	}
	out := make([]exportedMeeting, 0, len(mids))
	for _, id := range mids {
		m, err := p.meetings.Get(ctx, meeting.Actor{TenantID: tenantID, UserID: privacyActor, Admin: true}, id)
		if errors.Is(err, meeting.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		em := exportedMeeting{Meeting: m}
		if md, err := p.meetings.MetadataOf(ctx, id); err == nil {
			em.Metadata = &md
		} else if !errors.Is(err, meeting.ErrNotFound) {
			return err
		}
		out = append(out, em)
		if p.chat == nil {
			continue
		}
		entries, err := p.chat.Since(ctx, id, 0, 0)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			continue
		}
		for i := range entries {
			entries[i].Nonce = ""
		}
		if err := addJSON(add, id+"/chat.json", entries); err != nil {
			return err
		}
		for _, e := range entries {
			if e.FileName == "" {
				continue
			}
			if err := p.exportFile(ctx, id, e, add); err != nil {
				return err
			}
		}
	}
	return addJSON(add, "meetings.json", out)
}

func (p meetingPart) exportFile(ctx context.Context, meetingID string, e msg.Entry, add privacy.AddFunc) error {
	_, rc, err := p.chat.OpenFile(ctx, meetingID, e.ID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	return add(fmt.Sprintf("%s/files/%s-%s", meetingID, e.ID, e.FileName), rc)
}

func (p meetingPart) Erase(ctx context.Context, tenantID, customerID string) (int, error) {
	// Content first, while the customer index still names the meetings:
	// a crash in between leaves the index for the next run.
	mids, err := p.meetings.MeetingsOf(ctx, tenantID, customerID)
	if err != nil {
		return 0, err
	}
	for _, id := range mids {
		if p.chat != nil {
			if err := p.chat.DeleteMeeting(ctx, id); err != nil {
				return 0, err
			}
		}
		if p.boards != nil {
			if _, err := p.boards.DeleteMeeting(ctx, id); err != nil {
				return 0, err
			}
		}
	}
	forgot, err := p.meetings.ForgetCustomer(ctx, tenantID, customerID)
	return len(forgot), err
}

func addJSON(add privacy.AddFunc, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return add(name, io.MultiReader(bytes.NewReader(b), bytes.NewReader([]byte("\n"))))
}
