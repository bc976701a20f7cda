package main

import (
	"context"
	"encoding/json"
	"image"
	"io"

	"parley/app"
	"parley/sync/link"
)

// linkSigning adapts the link client's signing calls to the UI's
// SigningRelay; errors carry the link client's sentences.
type linkSigning struct{ c *link.Client }

var _ app.SigningRelay = linkSigning{}

func toRect(r link.SigningRect) app.Rect {
	return app.Rect{LLX: r.LLX, LLY: r.LLY, URX: r.URX, URY: r.URY}
}

func fromRect(r app.Rect) link.SigningRect {
	return link.SigningRect{LLX: r.LLX, LLY: r.LLY, URX: r.URX, URY: r.URY}
}

func toProcess(p link.SigningProcess) app.SigningProcess {
	out := app.SigningProcess{ID: p.ID, Title: p.Title, Status: p.Status, Created: p.Created, Sent: p.Sent,
		Completed: p.Completed, LinksExpire: p.LinksExpire, Expires: p.Expires}
	for _, pg := range p.Pages {
		out.Pages = append(out.Pages, app.PageBox{Number: pg.Number, MediaBox: toRect(pg.MediaBox), CropBox: toRect(pg.CropBox), Rotate: pg.Rotate})
	}
	for _, s := range p.Signers {
		out.Signers = append(out.Signers, app.Signer{Role: s.Role, CustomerID: s.CustomerID, State: s.State, SignedAt: s.SignedAt})
	}
	if p.Plan != nil {
		for _, f := range p.Plan.Fields {
			out.Fields = append(out.Fields, app.SigningField{ID: f.ID, Page: f.Page, Rect: toRect(f.Rect), Kind: f.Kind, Signer: f.Signer, Label: f.Label})
		}
	}
	return out
}

func processResult(p link.SigningProcess, err error) (app.SigningProcess, error) {
	if err != nil {
		return app.SigningProcess{}, forUI(err)
	}
	return toProcess(p), nil
}

func (l linkSigning) SigningProcesses(ctx context.Context) ([]app.SigningProcess, error) {
	ps, err := l.c.SigningProcesses(ctx)
	if err != nil {
		return nil, forUI(err)
	}
	out := make([]app.SigningProcess, 0, len(ps))
	for _, p := range ps {
		out = append(out, toProcess(p))
	}
	return out, nil
}

func (l linkSigning) SigningProcess(ctx context.Context, id string) (app.SigningProcess, error) {
	return processResult(l.c.SigningProcess(ctx, id))
}

func (l linkSigning) CreateSigningProcess(ctx context.Context, title string, r io.Reader, size int64) (app.SigningProcess, error) {
	return processResult(l.c.CreateSigningProcess(ctx, title, "", r, size))
}

func (l linkSigning) SetSigningFields(ctx context.Context, id string, signers []app.SignerAssignment, fields []app.SigningField) (app.SigningProcess, error) {
	ss := make([]link.SignerInput, 0, len(signers))
	for _, s := range signers {
		ss = append(ss, link.SignerInput{Role: s.Role, CustomerID: s.CustomerID})
	}
	fs := make([]link.SigningField, 0, len(fields))
	for _, f := range fields {
		fs = append(fs, link.SigningField{ID: f.ID, Page: f.Page, Rect: fromRect(f.Rect), Kind: f.Kind, Signer: f.Signer, Label: f.Label})
	}
	return processResult(l.c.SetSigningFields(ctx, id, ss, fs))
}

func (l linkSigning) SendSigningProcess(ctx context.Context, id string) (app.SigningProcess, error) {
	return processResult(l.c.SendSigningProcess(ctx, id))
}

func (l linkSigning) CancelSigningProcess(ctx context.Context, id string) (app.SigningProcess, error) {
	return processResult(l.c.CancelSigningProcess(ctx, id))
}

func (l linkSigning) DownloadSigningDocument(ctx context.Context, id string, w io.Writer) error {
	_, err := l.c.DownloadSigningDocument(ctx, id, w)
	return forUI(err)
}

func (l linkSigning) AdvisorSign(ctx context.Context, id string, texts map[string]string, pointer []byte) (app.SigningProcess, error) {
	return processResult(l.c.AdvisorSign(ctx, id, texts, json.RawMessage(pointer)))
}

func (l linkSigning) SigningPage(ctx context.Context, id string, n, widthPx int) (image.Image, error) {
	img, err := l.c.SigningPage(ctx, id, n, widthPx)
	return img, forUI(err)
}

func (l linkSigning) PresentSigning(ctx context.Context, id, meetingID, participantID string) (string, error) {
	role, err := l.c.PresentSigning(ctx, id, meetingID, participantID)
	return role, forUI(err)
}

func (l linkSigning) Kiosks(ctx context.Context) ([]app.KioskInfo, error) {
	ks, err := l.c.Kiosks(ctx)
	if err != nil {
		return nil, forUI(err)
	}
	out := make([]app.KioskInfo, 0, len(ks))
	for _, k := range ks {
		out = append(out, app.KioskInfo{ID: k.ID, Name: k.Name})
	}
	return out, nil
}

func (l linkSigning) QueueAtKiosk(ctx context.Context, id, kioskID string) (app.KioskTicket, error) {
	t, err := l.c.QueueAtKiosk(ctx, id, kioskID)
	if err != nil {
		return app.KioskTicket{}, forUI(err)
	}
	return app.KioskTicket{PickupCode: t.PickupCode, Expires: t.Expires}, nil
}

func (l linkSigning) CreateKiosk(ctx context.Context, name, pin string) (app.KioskInfo, string, error) {
	k, err := l.c.CreateKiosk(ctx, name, pin)
	if err != nil {
		return app.KioskInfo{}, "", forUI(err)
	}
	return app.KioskInfo{ID: k.Kiosk.ID, Name: k.Kiosk.Name}, k.Token, nil
}

func (l linkSigning) DeleteKiosk(ctx context.Context, id string) error {
	return forUI(l.c.DeleteKiosk(ctx, id))
}
