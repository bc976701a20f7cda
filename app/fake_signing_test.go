package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// fakeSigning is a SigningRelay for tests that works from its zero value
// (no processes, no kiosks). Every call is recorded; processes move
// through their states as on the relay (order, completion).
type fakeSigning struct {
	mu        sync.Mutex
	calls     []string
	procs     []SigningProcess
	kiosks    []KioskInfo
	uploads   map[string][]byte // process id → uploaded bytes
	signed    [][]byte          // pointer JSON of AdvisorSign
	texts     []map[string]string
	sendErr   error // returned by SendSigningProcess
	pageErr   error // returned by SigningPage
	final     []byte
	presented []string
}

func (f *fakeSigning) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls returns the recorded calls.
func (f *fakeSigning) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeSigning) called(prefix string) bool {
	return slices.ContainsFunc(f.Calls(), func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func (f *fakeSigning) find(id string) (int, error) {
	i := slices.IndexFunc(f.procs, func(p SigningProcess) bool { return p.ID == id })
	if i < 0 {
		return -1, errors.New("The relay could not find what was asked for.")
	}
	return i, nil
}

func (f *fakeSigning) SigningProcesses(ctx context.Context) ([]SigningProcess, error) {
	f.record("SigningProcesses")
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.procs), nil
}

func (f *fakeSigning) SigningProcess(ctx context.Context, id string) (SigningProcess, error) {
	f.record("SigningProcess %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.find(id)
	if err != nil {
		return SigningProcess{}, err
	}
	return f.procs[i], nil
}

func (f *fakeSigning) CreateSigningProcess(ctx context.Context, title string, r io.Reader, size int64) (SigningProcess, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return SigningProcess{}, err
	}
	f.record("CreateSigningProcess %s %d", title, size)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.HasPrefix(string(data), "%PDF") {
		return SigningProcess{}, errors.New("Only PDF documents can be signed; this file is not a PDF.")
	}
	p := SigningProcess{ID: fmt.Sprintf("p%d", len(f.procs)+1), Title: title, Status: SigningDraft, Created: time.Now(),
		Pages: []PageBox{
			{Number: 1, MediaBox: Rect{URX: 595, URY: 842}, CropBox: Rect{URX: 595, URY: 842}},
			{Number: 2, MediaBox: Rect{URX: 842, URY: 595}, CropBox: Rect{URX: 842, URY: 595}, Rotate: 90},
		}}
	if f.uploads == nil {
		f.uploads = map[string][]byte{}
	}
	f.uploads[p.ID] = data
	f.procs = append(f.procs, p)
	return p, nil
}

func (f *fakeSigning) SetSigningFields(ctx context.Context, id string, signers []SignerAssignment, fields []SigningField) (SigningProcess, error) {
	var b strings.Builder
	for _, s := range signers {
		fmt.Fprintf(&b, " %s=%s", s.Role, s.CustomerID)
	}
	b.WriteString(" |")
	for _, x := range fields {
		fmt.Fprintf(&b, " %s:%s:%s:p%d:%.0f,%.0f,%.0f,%.0f", x.ID, x.Kind, x.Signer, x.Page, x.Rect.LLX, x.Rect.LLY, x.Rect.URX, x.Rect.URY)
	}
	f.record("SetSigningFields %s%s", id, b.String())
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.find(id)
	if err != nil {
		return SigningProcess{}, err
	}
	p := &f.procs[i]
	p.Signers = nil
	for _, s := range signers {
		p.Signers = append(p.Signers, Signer{Role: s.Role, CustomerID: s.CustomerID, State: SignerWaiting})
	}
	p.Fields = slices.Clone(fields)
	return *p, nil
}

func (f *fakeSigning) SendSigningProcess(ctx context.Context, id string) (SigningProcess, error) {
	f.record("SendSigningProcess %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return SigningProcess{}, f.sendErr
	}
	i, err := f.find(id)
	if err != nil {
		return SigningProcess{}, err
	}
	p := &f.procs[i]
	p.Status, p.Sent, p.LinksExpire = SigningSent, time.Now(), time.Now().Add(14*24*time.Hour)
	if len(p.Signers) > 0 {
		p.Signers[0].State = SignerPending
	}
	return *p, nil
}

func (f *fakeSigning) CancelSigningProcess(ctx context.Context, id string) (SigningProcess, error) {
	f.record("CancelSigningProcess %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.find(id)
	if err != nil {
		return SigningProcess{}, err
	}
	f.procs[i].Status = SigningCancelled
	return f.procs[i], nil
}

func (f *fakeSigning) DownloadSigningDocument(ctx context.Context, id string, w io.Writer) error {
	f.record("DownloadSigningDocument %s", id)
	f.mu.Lock()
	data := slices.Clone(f.final)
	f.mu.Unlock()
	_, err := w.Write(data)
	return err
}

func (f *fakeSigning) AdvisorSign(ctx context.Context, id string, texts map[string]string, pointer []byte) (SigningProcess, error) {
	f.record("AdvisorSign %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.find(id)
	if err != nil {
		return SigningProcess{}, err
	}
	p := &f.procs[i]
	nx := p.next()
	if nx == nil || nx.Role != RoleAdvisor {
		return SigningProcess{}, errors.New("It is not this signer's turn.")
	}
	nx.State, nx.SignedAt = SignerSigned, time.Now()
	p.Status, p.Completed = SigningCompleted, time.Now()
	f.signed = append(f.signed, slices.Clone(pointer))
	f.texts = append(f.texts, texts)
	return *p, nil
}

func (f *fakeSigning) SigningPage(ctx context.Context, id string, n, widthPx int) (image.Image, error) {
	f.record("SigningPage %s %d %d", id, n, widthPx)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pageErr != nil {
		return nil, f.pageErr
	}
	img := image.NewNRGBA(image.Rect(0, 0, widthPx, widthPx*842/595))
	img.Set(10, 10, color.Black)
	return img, nil
}

func (f *fakeSigning) PresentSigning(ctx context.Context, id, meetingID, participantID string) (string, error) {
	f.record("PresentSigning %s %s %s", id, meetingID, participantID)
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.find(id)
	if err != nil {
		return "", err
	}
	f.presented = append(f.presented, participantID)
	return f.procs[i].next().Role, nil
}

func (f *fakeSigning) Kiosks(ctx context.Context) ([]KioskInfo, error) {
	f.record("Kiosks")
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.kiosks), nil
}

func (f *fakeSigning) QueueAtKiosk(ctx context.Context, id, kioskID string) (KioskTicket, error) {
	f.record("QueueAtKiosk %s %s", id, kioskID)
	return KioskTicket{PickupCode: "123456", Expires: time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)}, nil
}
