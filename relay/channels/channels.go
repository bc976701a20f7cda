// Package channels adapts Parley's messenger inbox to the providers'
// webhook and send APIs: WhatsApp Business (Cloud API), Telegram Bot API,
// Facebook Messenger (Send API and page webhooks) and SMS through Twilio.
//
// Inbound, one http.Handler per configured channel verifies the provider's
// own signature scheme over the raw request body (constant-time compare),
// decodes the payload into Events and hands them to a Sink; it answers 200
// only after the Sink stored them, so that a provider that does not get
// its 200 retries and nothing is lost. Deduplication on the provider's
// message id is the Sink's job: a replayed webhook carries the same ids.
//
// Outbound, one Sender per provider turns an Outgoing into the provider's
// wire format and reports the provider's message id, which later status
// events refer to. Failures are classified: errors wrapping ErrPermanent
// (which wraps outbox.ErrPermanent) must not be retried, errors wrapping
// ErrTransient should be. SendJob and Dispatcher.Handler run sends through
// the relay's durable outbox.
//
// This package knows nothing of the messaging domain: the domain
// implements Sink (and Dispatcher.OnSent) and wires handlers to its
// tenants' channel configurations. Error messages and logs carry ids and
// status codes only, never names, numbers or message text.
package channels

import (
	"context"
	"errors"
	"fmt"
	"time"

	"parley/relay/outbox"
)

// Channel names a provider.
type Channel string

// The providers this package speaks to.
const (
	// WhatsApp is WhatsApp Business through Meta's Cloud API.
	WhatsApp Channel = "whatsapp"
	// Telegram is a Telegram bot through the Bot API.
	Telegram Channel = "telegram"
	// Messenger is Facebook Messenger through a page's Send API.
	Messenger Channel = "messenger"
	// SMS is SMS through Twilio's Programmable Messaging API.
	SMS Channel = "sms"
)

// Valid reports whether c is one of the known channels.
func (c Channel) Valid() bool {
	switch c {
	case WhatsApp, Telegram, Messenger, SMS:
		return true
	}
	return false
}

// Kind tells an inbound message from a delivery status.
type Kind string

const (
	// KindMessage is a message a customer sent.
	KindMessage Kind = "message"
	// KindStatus is a delivery status of a message the relay sent.
	KindStatus Kind = "status"
)

// Status is the delivery state of an outgoing message, in order of
// progress (Failed ends it).
type Status string

const (
	// StatusSent means the provider accepted and sent the message.
	StatusSent Status = "sent"
	// StatusDelivered means it reached the customer's device.
	StatusDelivered Status = "delivered"
	// StatusRead means the customer opened it (not every provider tells).
	StatusRead Status = "read"
	// StatusFailed means it will not be delivered; ErrorCode says why.
	StatusFailed Status = "failed"
)

// Attachment references a file attached to an inbound message. The file
// itself stays at the provider until fetched (see the Senders' Download
// methods); only the reference is stored.
type Attachment struct {
	// MediaID is the provider's media id (WhatsApp media id, Telegram
	// file_id); empty when the provider gives a URL only.
	MediaID string `json:"mediaId,omitempty"`
	// URL is the provider's download URL (Messenger, Twilio MediaUrlN).
	URL string `json:"url,omitempty"`
	// Type is the provider's attachment type (image, document, audio,
	// video, sticker, file, …).
	Type string `json:"type,omitempty"`
	// MIMEType is the declared media type, when given.
	MIMEType string `json:"mimeType,omitempty"`
	// FileName is the sender's file name, when given (personal data).
	FileName string `json:"fileName,omitempty"`
	// Size is the size in bytes, 0 when not given.
	Size int64 `json:"size,omitempty"`
	// SHA256 is the provider's hex or base64 SHA-256 of the file, when given.
	SHA256 string `json:"sha256,omitempty"`
	// Caption is the text sent with the file, when given.
	Caption string `json:"caption,omitempty"`
}

// Event is one thing a provider told the relay: a customer's message or a
// delivery status of a message the relay sent.
type Event struct {
	// Kind is KindMessage or KindStatus.
	Kind Kind `json:"kind"`
	// Channel is the provider.
	Channel Channel `json:"channel"`
	// Account is the relay's own address at the provider that the event
	// came to: WhatsApp phone_number_id, Telegram bot id (when known),
	// Messenger page id, Twilio "To" number or messaging service.
	Account string `json:"account,omitempty"`
	// MessageID is the provider's message id (wamid, "chat:message_id"
	// for Telegram, Messenger mid, Twilio MessageSid): the dedupe key of a
	// message, the correlation key of a status. Empty for Messenger
	// watermark statuses.
	MessageID string `json:"messageId,omitempty"`
	// Address is the customer's address at the provider: WhatsApp wa_id,
	// Telegram chat id, Messenger PSID, E.164 number for SMS.
	Address string `json:"address"`
	// Name is the customer's display name at the provider, when the
	// payload carries one (WhatsApp profile name, Telegram first and last
	// name). Personal data: never log it.
	Name string `json:"name,omitempty"`
	// Text is the message's text (or the caption of a lone attachment).
	Text string `json:"text,omitempty"`
	// Attachments are the files attached to a message.
	Attachments []Attachment `json:"attachments,omitempty"`
	// Time is the provider's timestamp; zero when not given.
	Time time.Time `json:"time,omitzero"`
	// Status is the delivery state (KindStatus only).
	Status Status `json:"status,omitempty"`
	// Watermark, for Messenger delivery and read events without message
	// ids, means every message sent to Address up to this time has
	// reached Status.
	Watermark time.Time `json:"watermark,omitzero"`
	// ErrorCode is the provider's error code of a failed status.
	ErrorCode string `json:"errorCode,omitempty"`
}

// Sink stores inbound events. Store must be idempotent on (Channel,
// Kind, MessageID): a provider resends a webhook it has not seen answered
// with 200, so the same message can arrive twice. A handler answers the
// provider with 200 only after Store returned nil.
type Sink interface {
	Store(ctx context.Context, events []Event) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, events []Event) error

// Store calls f.
func (f SinkFunc) Store(ctx context.Context, events []Event) error { return f(ctx, events) }

// Template is a pre-approved WhatsApp message template, the only thing a
// business may send outside the 24-hour customer-service window.
type Template struct {
	// Name is the template's name as approved in WhatsApp Manager.
	Name string `json:"name"`
	// Language is the template language code (e.g. "de", "en_US").
	Language string `json:"language"`
	// Params are the body's {{1}}, {{2}}, … values, in order.
	Params []string `json:"params,omitempty"`
}

// Outgoing is a message to send.
type Outgoing struct {
	// To is the customer's address at the provider (wa_id or E.164 number,
	// Telegram chat id, PSID, E.164 number).
	To string `json:"to"`
	// Text is the message text.
	Text string `json:"text,omitempty"`
	// Template, WhatsApp only, sends an approved template instead of Text.
	Template *Template `json:"template,omitempty"`
	// Files are files to send (see CheckFiles for what each provider
	// takes); Text is then the caption (WhatsApp, Telegram) or the MMS
	// body. Only their ids are part of the JSON form.
	Files []File `json:"files,omitempty"`
	// Reference is the caller's id for the message (e.g. the messaging
	// domain's message id); it is never sent to the provider, only handed
	// back with the result so that statuses can be matched.
	Reference string `json:"reference,omitempty"`
}

// SendResult is the provider's answer to a send.
type SendResult struct {
	// Channel is the provider.
	Channel Channel `json:"channel"`
	// MessageID is the provider's id of the sent message; status events
	// carry it.
	MessageID string `json:"messageId"`
	// Reference is Outgoing.Reference.
	Reference string `json:"reference,omitempty"`
}

// Sender sends messages through one provider account.
type Sender interface {
	// Channel names the provider.
	Channel() Channel
	// Send delivers m. Errors wrap ErrPermanent (never retry) or
	// ErrTransient (retry later).
	Send(ctx context.Context, m Outgoing) (SendResult, error)
}

var (
	// ErrPermanent marks a failure that retrying cannot fix: a rejected
	// recipient, bad credentials, a malformed message. It wraps
	// outbox.ErrPermanent, so an outbox job failing with it is dead at once.
	ErrPermanent = fmt.Errorf("channels: permanent failure: %w", outbox.ErrPermanent)
	// ErrTransient marks a failure worth retrying: a network error, a
	// timeout, HTTP 429 or 5xx, a provider's "try again later" code.
	ErrTransient = errors.New("channels: transient failure")
	// ErrInvalid reports an Outgoing that cannot be sent as it is; it
	// wraps ErrPermanent.
	ErrInvalid = fmt.Errorf("channels: invalid message: %w", ErrPermanent)
	// ErrTooLarge reports a media download over the size cap; it wraps
	// ErrPermanent.
	ErrTooLarge = fmt.Errorf("channels: media too large: %w", ErrPermanent)
)

// ProviderError is a provider's refusal, reduced to its codes: providers
// quote numbers and names in their messages, so the message is kept out of
// Error() (Description holds it for debugging, never logged).
type ProviderError struct {
	// Channel is the provider.
	Channel Channel
	// HTTPStatus is the HTTP status of the reply (0 for a transport error).
	HTTPStatus int
	// Code is the provider's error code (Graph API code, Telegram
	// error_code, Twilio code); 0 when none.
	Code int
	// Subcode is the Graph API error_subcode; 0 when none.
	Subcode int
	// Type is the Graph API error type (e.g. "OAuthException").
	Type string
	// RetryAfter is how long the provider asked to wait, when it said.
	RetryAfter time.Duration
	// Permanent tells whether retrying is pointless.
	Permanent bool
	// Description is the provider's message; may hold personal data, so
	// it is not part of Error().
	Description string
}

// Error reports the provider, status and codes only.
func (e *ProviderError) Error() string {
	s := fmt.Sprintf("channels: %s: HTTP %d", e.Channel, e.HTTPStatus)
	if e.Code != 0 {
		s += fmt.Sprintf(", code %d", e.Code)
	}
	if e.Subcode != 0 {
		s += fmt.Sprintf("/%d", e.Subcode)
	}
	if e.Permanent {
		return s + " (permanent)"
	}
	return s + " (transient)"
}

// Unwrap makes the error match ErrPermanent or ErrTransient.
func (e *ProviderError) Unwrap() error {
	if e.Permanent {
		return ErrPermanent
	}
	return ErrTransient
}

// IsTransient reports whether err is worth retrying: anything that is not
// marked permanent.
func IsTransient(err error) bool {
	return err != nil && !errors.Is(err, ErrPermanent)
}
