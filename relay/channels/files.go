package channels

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"
	"sync"
	"unicode/utf8"
)

// File is a file sent with an Outgoing message. An outbox job carries
// its ID only (the JSON form has nothing else): the Dispatcher's Files
// function fills in Name, MIMEType, Size and Data when the job runs, so
// the file's bytes and name are read (and decrypted) only then.
type File struct {
	// ID is the caller's id of the file (the messaging attachment id);
	// 1–256 printable ASCII.
	ID string `json:"id"`
	// Name is the file name shown to the customer.
	Name string `json:"-"`
	// MIMEType is the file's media type as sniffed by the caller
	// ("image/jpeg", "application/pdf", "text/plain; charset=utf-8").
	MIMEType string `json:"-"`
	// Size is the file's size in bytes (len(Data) once loaded).
	Size int64 `json:"-"`
	// Data is the content; filled in by the Dispatcher.
	Data []byte `json:"-"`
}

// baseType is the media type without parameters, lower case.
func (f File) baseType() string {
	t, _, _ := strings.Cut(f.MIMEType, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// MaxFiles bounds the files of one Outgoing (Twilio's ten MediaUrls).
const MaxFiles = 10

// Providers' documented caps on files sent by a business or bot.
const (
	// MaxWhatsAppImage is the Cloud API's cap on an image (5 MB).
	MaxWhatsAppImage = 5_000_000
	// MaxWhatsAppDocument is the Cloud API's cap on a document (100 MB).
	MaxWhatsAppDocument = 100_000_000
	// MaxTelegramPhoto is the Bot API's cap on a photo upload (10 MB).
	MaxTelegramPhoto = 10_000_000
	// MaxTelegramUpload is the Bot API's cap on a multipart upload
	// (50 MB).
	MaxTelegramUpload = 50_000_000
	// MaxMessengerFile is the Send API's cap on an attachment (25 MB).
	MaxMessengerFile = 25_000_000
	// MaxMMS is Twilio's cap on an MMS's media together (5 MB).
	MaxMMS = 5_000_000
	// MaxCaption is the caption limit of WhatsApp media and Telegram
	// photos and documents (characters).
	MaxCaption = 1024
)

// RefusedError is a file send refused locally, before anything is
// queued or sent: too big, a type the provider does not take, too many
// files, or a recipient the provider cannot send files to. Reason is a
// short English sentence without personal data, fit for the advisor.
// It unwraps to ErrInvalid.
type RefusedError struct {
	// Channel is the provider.
	Channel Channel
	// Reason says what the provider does not take.
	Reason string
}

// Error returns the channel and the reason.
func (e *RefusedError) Error() string { return "channels: " + string(e.Channel) + ": " + e.Reason }

// Unwrap makes the error match ErrInvalid (and so ErrPermanent).
func (e *RefusedError) Unwrap() error { return ErrInvalid }

func refused(ch Channel, format string, args ...any) error {
	return &RefusedError{Channel: ch, Reason: fmt.Sprintf(format, args...)}
}

// fileKind is how a provider sends one file.
type fileKind struct {
	// kind is the provider's word: image or document (WhatsApp), photo
	// or document (Telegram), image or file (Messenger), mms (Twilio).
	kind string
	max  int64
}

// classify tells how ch sends f, or why it cannot.
func classify(ch Channel, f File) (fileKind, error) {
	t := f.baseType()
	var k fileKind
	switch ch {
	case WhatsApp:
		switch t {
		case "image/jpeg", "image/png":
			k = fileKind{"image", MaxWhatsAppImage}
		case "application/pdf", "text/plain":
			k = fileKind{"document", MaxWhatsAppDocument}
		default:
			return k, refused(ch, "WhatsApp takes JPEG and PNG images and PDF or text documents, not %s", safeType(t))
		}
	case Telegram:
		switch t {
		case "image/jpeg", "image/png":
			k = fileKind{"photo", MaxTelegramPhoto}
		default:
			k = fileKind{"document", MaxTelegramUpload}
		}
	case Messenger:
		switch t {
		case "image/jpeg", "image/png", "image/gif":
			k = fileKind{"image", MaxMessengerFile}
		default:
			k = fileKind{"file", MaxMessengerFile}
		}
	case SMS:
		switch t {
		case "image/jpeg", "image/png", "image/gif":
			k = fileKind{"mms", MaxMMS}
		default:
			return k, refused(ch, "MMS takes JPEG, PNG and GIF images only, not %s", safeType(t))
		}
	default:
		return k, refused(ch, "files cannot be sent on this channel")
	}
	if f.Size <= 0 {
		return k, refused(ch, "empty file")
	}
	if f.Size > k.max {
		return k, refused(ch, "a file of %d bytes is over the provider's cap of %d bytes for this type", f.Size, k.max)
	}
	return k, nil
}

// safeType keeps a media type printable and short for an error text.
func safeType(t string) string {
	if t == "" || len(t) > 64 || !validID(t) {
		return "this type"
	}
	return t
}

// mmsCountry reports whether an E.164 number is in the North American
// Numbering Plan (+1: the US, Canada and a few Caribbean countries),
// where Twilio sends MMS; elsewhere MMS is converted or refused.
func mmsCountry(e164 string) bool { return strings.HasPrefix(e164, "+1") }

// CheckFiles reports whether m's files can be sent on ch as one message,
// judged by their MIMEType and Size (no Data needed), and returns a
// *RefusedError saying why not. Callers check before queueing, so that
// the advisor learns at once; the Senders check again.
//
// WhatsApp, Telegram and Messenger send one file per message, with
// m.Text as its caption on WhatsApp and Telegram (≤ MaxCaption
// characters); Messenger sends a file without text. SMS sends up to
// MaxFiles images as one MMS with m.Text as its body, to +1 numbers only
// (Twilio's MMS reaches the US and Canada; elsewhere it is not
// delivered as MMS).
func CheckFiles(ch Channel, m Outgoing) error {
	if len(m.Files) == 0 {
		return nil
	}
	if m.Template != nil {
		return refused(ch, "a template cannot carry files")
	}
	if ch != SMS && len(m.Files) > 1 {
		return refused(ch, "one file per message on this channel")
	}
	if len(m.Files) > MaxFiles {
		return refused(ch, "at most %d files per message", MaxFiles)
	}
	var total int64
	for _, f := range m.Files {
		if !validID(f.ID) {
			return refused(ch, "file id")
		}
		if _, err := classify(ch, f); err != nil {
			return err
		}
		total += f.Size
	}
	switch ch {
	case WhatsApp, Telegram:
		if utf8.RuneCountInString(m.Text) > MaxCaption || !utf8.ValidString(m.Text) {
			return refused(ch, "the text of a file message is its caption: at most %d characters", MaxCaption)
		}
	case Messenger:
		if strings.TrimSpace(m.Text) != "" {
			return refused(ch, "Messenger sends a file without text: send the text as its own message")
		}
	case SMS:
		if total > MaxMMS {
			return refused(ch, "an MMS carries at most %d bytes of media, not %d", MaxMMS, total)
		}
		if !mmsCountry(m.To) {
			return refused(ch, "MMS reaches US and Canadian (+1) numbers only: send a text or use another channel")
		}
		if m.Text != "" && !validText(m.Text, MaxSMSText) {
			return refused(ch, "text longer than %d characters", MaxSMSText)
		}
	}
	return nil
}

// checkLoaded is CheckFiles plus: every file's Data is there and Size
// matches it.
func checkLoaded(ch Channel, m Outgoing) error {
	for i := range m.Files {
		if len(m.Files[i].Data) == 0 {
			return fmt.Errorf("channels: %s: file %d not loaded: %w", ch, i, ErrInvalid)
		}
		m.Files[i].Size = int64(len(m.Files[i].Data))
	}
	return CheckFiles(ch, m)
}

// UploadCache remembers media a provider already accepted, so that a
// retried job sends the provider's media id instead of uploading the
// file again (WhatsApp's media ids stay valid for 30 days). Keys are
// "<phone-number-id>/<file id>". The relay keeps it in its store;
// MemoryUploads is an in-memory one.
type UploadCache interface {
	// Get returns the media id stored under key; ok is false when none.
	Get(ctx context.Context, key string) (mediaID string, ok bool, err error)
	// Put stores mediaID under key.
	Put(ctx context.Context, key, mediaID string) error
	// Delete forgets key (after the message with the media was accepted).
	Delete(ctx context.Context, key string) error
}

// multipartBody builds a multipart/form-data body of fields (in order,
// name then value) and one file part.
func multipartBody(fields []string, fileField string, f File) (*bytes.Buffer, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := w.WriteField(fields[i], fields[i+1]); err != nil {
			return nil, "", err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, fileField, quoteName(f.Name)))
	h.Set("Content-Type", f.MIMEType)
	part, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := part.Write(f.Data); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return &buf, w.FormDataContentType(), nil
}

// quoteName makes a file name safe inside a quoted header parameter.
func quoteName(s string) string {
	if s == "" {
		return "file"
	}
	return strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "").Replace(s)
}

// MemoryUploads is an UploadCache in memory; its zero value is ready.
type MemoryUploads struct {
	mu sync.Mutex
	m  map[string]string
}

var _ UploadCache = (*MemoryUploads)(nil)

// Get implements UploadCache.
func (u *MemoryUploads) Get(_ context.Context, key string) (string, bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	v, ok := u.m[key]
	return v, ok, nil
}

// Put implements UploadCache.
func (u *MemoryUploads) Put(_ context.Context, key, mediaID string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]string{}
	}
	u.m[key] = mediaID
	return nil
}

// Delete implements UploadCache.
func (u *MemoryUploads) Delete(_ context.Context, key string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m, key)
	return nil
}
