package privacy

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"parley/relay/audit"
	"parley/relay/customer"
	"parley/relay/ids"
)

// ExportFormat names the export's layout; docs/privacy-export.md and the
// README.md inside every export describe it.
const ExportFormat = "parley-export/1"

//go:embed export_readme.md
var exportReadme string

// Manifest is the export's manifest.json: every other file with its size
// and SHA-256.
type Manifest struct {
	// Format is ExportFormat.
	Format string `json:"format"`
	// TenantID is the customer's tenant.
	TenantID string `json:"tenant_id"`
	// CustomerID is the customer.
	CustomerID string `json:"customer_id"`
	// Created is when the export was made.
	Created time.Time `json:"created"`
	// Parts lists the parts exported, in order ("customer_profile" first).
	Parts []string `json:"parts"`
	// Files lists every file but the manifest, in the order written.
	Files []ManifestFile `json:"files"`
}

// ManifestFile is one file of an export.
type ManifestFile struct {
	// Path is the file's path in the ZIP.
	Path string `json:"path"`
	// Bytes is its size.
	Bytes int64 `json:"bytes"`
	// SHA256 is its SHA-256, hex.
	SHA256 string `json:"sha256"`
}

// profileJSON is profile.json.
type profileJSON struct {
	ID              string            `json:"id"`
	FirstName       string            `json:"first_name"`
	LastName        string            `json:"last_name"`
	Email           string            `json:"email"`
	Mobile          string            `json:"mobile,omitempty"`
	Address         *customer.Address `json:"address,omitempty"`
	Created         time.Time         `json:"created"`
	LastInteraction time.Time         `json:"last_interaction"`
	Expires         time.Time         `json:"expires"`
}

// MaxExportPath bounds a file path inside an export.
const MaxExportPath = 200

// validExportName reports whether a part's file name is a clean relative
// path.
func validExportName(name string) bool {
	if name == "" || len(name) > MaxExportPath || !utf8.ValidString(name) || strings.ContainsAny(name, "\\\x00") {
		return false
	}
	if path.IsAbs(name) || path.Clean(name) != name || name == "." || strings.HasPrefix(name, "../") || name == ".." {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Export writes everything held about a customer of the admin's tenant to
// w as a ZIP: README.md (the schema), profile.json, each part's files in
// its folder, and manifest.json last with the SHA-256 of every other file.
// It streams: no file is held in memory whole. An unknown customer (or an
// erased one, or another tenant's) is ErrNotFound, before anything is
// written.
func (s *Service) Export(ctx context.Context, a Actor, customerID string, w io.Writer) (Manifest, error) {
	if err := authorize(a); err != nil {
		return Manifest{}, fmt.Errorf("privacy: export: %w", err)
	}
	if !ids.Valid(customerID) {
		return Manifest{}, fmt.Errorf("privacy: export: %w", ErrNotFound)
	}
	p, err := s.profiles.Export(ctx, customer.Actor{TenantID: a.TenantID, UserID: a.UserID, Admin: true}, customerID)
	if errors.Is(err, customer.ErrNotFound) || errors.Is(err, customer.ErrShredded) {
		return Manifest{}, fmt.Errorf("privacy: export: %w", ErrNotFound)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("privacy: export: %w", err)
	}
	m := Manifest{Format: ExportFormat, TenantID: a.TenantID, CustomerID: customerID, Created: s.clock.Now().UTC(),
		Parts: []string{profilePart}, Files: []ManifestFile{}}
	zw := zip.NewWriter(w)
	seen := map[string]bool{}
	add := func(name string, r io.Reader) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if seen[name] {
			return fmt.Errorf("duplicate export file %q", name)
		}
		seen[name] = true
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: m.Created})
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(f, h), r)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, ManifestFile{Path: name, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	}
	addJSON := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return add(name, strings.NewReader(string(b)+"\n"))
	}
	if err := add("README.md", strings.NewReader(exportReadme)); err != nil {
		return m, fmt.Errorf("privacy: export: %w", err)
	}
	c := p.Contact
	if err := addJSON("profile.json", profileJSON{ID: p.ID, FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Mobile: c.Mobile,
		Address: c.Address, Created: p.Created.UTC(), LastInteraction: p.LastInteraction.UTC(), Expires: p.Expires.UTC()}); err != nil {
		return m, fmt.Errorf("privacy: export: %w", err)
	}
	for _, part := range s.parts {
		name := part.Name()
		m.Parts = append(m.Parts, name)
		err := part.Export(ctx, a.TenantID, customerID, func(file string, r io.Reader) error {
			if !validExportName(file) {
				return fmt.Errorf("part %s: bad file name", name)
			}
			return add(name+"/"+file, r)
		})
		if err != nil {
			return m, fmt.Errorf("privacy: export %s: %w", name, err)
		}
	}
	listed := len(m.Files)
	if err := addJSON("manifest.json", m); err != nil {
		return m, fmt.Errorf("privacy: export: %w", err)
	}
	m.Files = m.Files[:listed] // the manifest does not list itself
	if err := zw.Close(); err != nil {
		return m, fmt.Errorf("privacy: export: %w", err)
	}
	if s.audit != nil {
		if _, err := s.audit.Append(ctx, audit.Record{TenantID: a.TenantID, Actor: a.UserID, Action: "privacy.export", Target: customerID,
			Details: map[string]string{"files": fmt.Sprint(len(m.Files))}}); err != nil {
			return m, fmt.Errorf("privacy: export: audit: %w", err)
		}
	}
	s.log.Info("privacy: export", "customer_id", customerID, "tenant_id", a.TenantID, "files", len(m.Files))
	return m, nil
}
