package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"parley/relay/outbox"
)

// JobKind is the outbox kind of a channel send.
const JobKind = "channel-send"

// Job is the payload of a JobKind outbox job.
type Job struct {
	// ChannelID is the id of the tenant's channel configuration the
	// Dispatcher looks the Sender up by.
	ChannelID string `json:"channelId"`
	// Channel is the provider, checked against the Sender found.
	Channel Channel `json:"channel"`
	// Message is what to send.
	Message Outgoing `json:"message"`
}

// SendJob returns the outbox payload for sending m through the channel
// configuration channelID; enqueue it with outbox.EnqueueTx in the same
// transaction that stores the outgoing message.
func SendJob(channelID string, ch Channel, m Outgoing) ([]byte, error) {
	if !validID(channelID) || !ch.Valid() {
		return nil, fmt.Errorf("%w: channel id or channel", ErrInvalid)
	}
	if m.To == "" || (m.Text == "" && m.Template == nil && len(m.Files) == 0) {
		return nil, fmt.Errorf("%w: recipient and text, template or files required", ErrInvalid)
	}
	if len(m.Files) > MaxFiles {
		return nil, fmt.Errorf("%w: more than %d files", ErrInvalid, MaxFiles)
	}
	for _, f := range m.Files {
		if !validID(f.ID) {
			return nil, fmt.Errorf("%w: file id", ErrInvalid)
		}
	}
	b, err := json.Marshal(Job{ChannelID: channelID, Channel: ch, Message: m})
	if err != nil {
		return nil, fmt.Errorf("channels: encode send job: %w", err)
	}
	if len(b) > outbox.MaxPayload {
		return nil, fmt.Errorf("%w: send job of %d bytes", ErrInvalid, len(b))
	}
	return b, nil
}

// Dispatcher runs JobKind jobs: it finds the Sender of the job's channel
// configuration, sends, and reports the provider's message id through
// OnSent. Transient failures are returned as they are (the outbox retries
// with back-off), permanent ones wrap outbox.ErrPermanent (the job dies).
//
// Delivery is at least once: a crash between the provider's acceptance
// and the job's deletion sends the message again on restart (none of the
// four providers offers an idempotency key on these endpoints).
type Dispatcher struct {
	// Lookup returns the Sender configured as channelID (required). An
	// error wrapping ErrPermanent kills the job (configuration removed);
	// other errors are retried.
	Lookup func(ctx context.Context, channelID string) (Sender, error)
	// OnSent records the provider's message id for the job, so that status
	// events can be matched (optional). Its error is logged, not returned:
	// returning it would send the message a second time.
	OnSent func(ctx context.Context, channelID string, r SendResult) error
	// Files loads a file of a job when it runs (required for jobs with
	// files): name, type and content of the file f.ID of the message
	// ref (Outgoing.Reference). An error wrapping ErrPermanent (the
	// message or file is gone) kills the job; others are retried.
	Files func(ctx context.Context, ref string, f File) (File, error)
	// Logger receives job ids, channel ids and failures; nil discards.
	Logger *slog.Logger
}

// Handler returns the outbox handler for JobKind.
func (d *Dispatcher) Handler() outbox.Handler {
	return func(ctx context.Context, j outbox.Job) error {
		log := logger(d.Logger)
		var job Job
		if err := json.Unmarshal(j.Payload, &job); err != nil {
			return fmt.Errorf("channels: send job %s: undecodable payload: %w", j.ID, ErrPermanent)
		}
		if d.Lookup == nil {
			return fmt.Errorf("channels: send job %s: dispatcher has no Lookup", j.ID)
		}
		s, err := d.Lookup(ctx, job.ChannelID)
		if err != nil {
			return fmt.Errorf("channels: send job %s: channel %s: %w", j.ID, job.ChannelID, err)
		}
		if s.Channel() != job.Channel {
			return fmt.Errorf("channels: send job %s: channel %s is %s, not %s: %w", j.ID, job.ChannelID, s.Channel(), job.Channel, ErrPermanent)
		}
		for i, f := range job.Message.Files {
			if d.Files == nil {
				return fmt.Errorf("channels: send job %s: dispatcher cannot load files: %w", j.ID, ErrPermanent)
			}
			lf, err := d.Files(ctx, job.Message.Reference, f)
			if err != nil {
				return fmt.Errorf("channels: send job %s: file %s: %w", j.ID, f.ID, err)
			}
			lf.ID = f.ID
			job.Message.Files[i] = lf
		}
		res, err := s.Send(ctx, job.Message)
		if err != nil {
			return fmt.Errorf("channels: send job %s: %w", j.ID, err)
		}
		log.Info("channels: message sent", "job", j.ID, "channel_id", job.ChannelID, "channel", string(job.Channel),
			"provider_id", res.MessageID, "ref", res.Reference)
		if d.OnSent != nil {
			if err := d.OnSent(ctx, job.ChannelID, res); err != nil {
				log.Error("channels: recording a sent message failed", "job", j.ID, "provider_id", res.MessageID, "err", err)
			}
		}
		return nil
	}
}
