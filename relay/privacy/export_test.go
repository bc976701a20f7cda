package privacy

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = data
	}
	return out
}

func TestExportHoldsEveryRecordOfTheCustomerWithVerifiableHashes(t *testing.T) {
	e := newEnv(t, nil, "")
	p := e.seed(tenant, "kai@example.org", 7)
	e.seed(tenant, "other@example.org", 3)
	var buf bytes.Buffer
	m, err := e.svc.Export(e.ctx, admin, p.ID, &buf)
	if err != nil {
		t.Fatal(err)
	}
	files := unzip(t, buf.Bytes())
	var got Manifest
	if err := json.Unmarshal(files["manifest.json"], &got); err != nil {
		t.Fatal(err)
	}
	if got.Format != ExportFormat || got.CustomerID != p.ID || len(got.Files) != len(m.Files) || len(files) != len(got.Files)+1 {
		t.Fatalf("manifest %+v with %d files in the zip", got, len(files))
	}
	for _, f := range got.Files {
		data, ok := files[f.Path]
		if !ok {
			t.Fatalf("manifest lists %s, not in the zip", f.Path)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(data)) != f.Bytes {
			t.Fatalf("%s: hash or size does not match the manifest", f.Path)
		}
	}
	var prof profileJSON
	if err := json.Unmarshal(files["profile.json"], &prof); err != nil {
		t.Fatal(err)
	}
	if prof.ID != p.ID || prof.Email != "kai@example.org" || prof.LastName != "Kunde" || prof.Mobile != "+491701234567" {
		t.Fatalf("profile.json %+v", prof)
	}
	// 100% of the customer's records, and nothing of the other customer.
	for _, part := range e.parts {
		recs, err := part.records(e.ctx, tenant, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range recs {
			if string(files[part.name+"/rec-"+k+".txt"]) != v {
				t.Fatalf("%s record %s missing from the export", part.name, k)
			}
		}
	}
	for name, data := range files {
		if strings.Contains(string(data), "other@example.org") {
			t.Fatalf("%s holds another customer's data", name)
		}
	}
	if !strings.Contains(string(files["README.md"]), "manifest.json") {
		t.Fatal("README.md does not describe the schema")
	}
	au, _ := e.audit.List(e.ctx, tenant, 0, 100)
	if len(au) == 0 || au[len(au)-1].Action != "privacy.export" || au[len(au)-1].Target != p.ID {
		t.Fatalf("no audit entry for the export: %+v", au)
	}

	// After an erasure there is nothing to export.
	if _, err := e.svc.Erase(e.ctx, admin, p.ID); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if _, err := e.svc.Export(e.ctx, admin, p.ID, &buf); !errors.Is(err, ErrNotFound) || buf.Len() != 0 {
		t.Fatalf("export after erasure: %v, %d bytes", err, buf.Len())
	}
}

type badPart struct{ file string }

func (badPart) Name() string { return "bad" }
func (b badPart) Export(_ context.Context, _, _ string, add AddFunc) error {
	return add(b.file, strings.NewReader("x"))
}
func (badPart) Erase(context.Context, string, string) (int, error) { return 0, nil }

func TestExportRefusesPathTricksFromAPart(t *testing.T) {
	for _, name := range []string{"../escape", "/abs", "a/../../b", "a\\b", "", "x\x00y", "ok/./x", strings.Repeat("a", 300)} {
		e := newEnv(t, nil, "")
		p := e.seed(tenant, "kai@example.org", 0)
		svc, err := New(Options{Store: e.kv, Ledger: e.ledger, Profiles: e.customers, Parts: []Part{badPart{name}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Export(e.ctx, admin, p.ID, io.Discard); err == nil {
			t.Errorf("file name %q accepted", name)
		}
	}
	if _, err := New(Options{Store: newEnv(t, nil, "").kv, Ledger: &Ledger{}, Profiles: newEnv(t, nil, "").customers,
		Parts: []Part{badPart{}, badPart{}}}); err == nil {
		t.Fatal("two parts with one name accepted")
	}
}
