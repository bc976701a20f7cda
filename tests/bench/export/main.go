// Command export measures the privacy engine's export of one customer
// (issue 7):
//
//	go run ./tests/bench/export [-messages 10000] [-attachments 5] [-runs 5]
//
// It creates a customer profile (relay/customer) and one relay-chat
// conversation (relay/messaging, sealed with the customer's key) holding
// -messages messages, advisor and customer taking turns, -attachments of
// them with a file (PDFs of 256 KiB and PNGs of 128 KiB, incompressible
// like real ones), seeded into the encrypted badger store in a temporary
// folder with NoSyncWrites. It then reopens the store as the relay does
// (every commit synced) and times privacy.Service.Export with the profile
// and one local part, "messages", that exports the customer's
// conversations through messaging.ExportCustomer: -runs times to
// io.Discard and -runs times to a file, interleaved. It prints the
// medians, the ZIP's size and number of files, and checks once that the
// file's manifest lists every other file with its size and SHA-256.
//
// Nothing leaves the process. CI never runs this program.
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"parley/relay/audit"
	"parley/relay/customer"
	"parley/relay/messaging"
	"parley/relay/privacy"
	"parley/relay/store"
	"parley/tests/internal/stats"
)

const (
	tenantID  = "bench-tenant"
	advisorID = "advisor-1"
	adminID   = "admin-1"
)

func main() {
	n := flag.Int("messages", 10000, "messages in the customer's conversation")
	atts := flag.Int("attachments", 5, "messages that carry a file")
	runs := flag.Int("runs", 5, "exports to io.Discard and to a file, each")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the timed exports to this file")
	flag.Parse()
	if *n < 1 || *atts < 0 || *atts > *n || *runs < 1 {
		log.Fatal("export: need -messages ≥ 1, 0 ≤ -attachments ≤ -messages, -runs ≥ 1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *n, *atts, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		os.Exit(1)
	}
}

// cpuProfile is the -cpuprofile flag.
var cpuProfile string

func run(ctx context.Context, n, atts, runs int) error {
	dir, err := os.MkdirTemp("", "exportbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*5 + 3)
	}
	dbDir := filepath.Join(dir, "store")
	fmt.Printf("export %s, %s, GOMAXPROCS=%d, %d CPUs\n", time.Now().UTC().Format(time.DateOnly), runtime.Version(),
		runtime.GOMAXPROCS(0), runtime.NumCPU())

	kv, err := store.Open(store.BadgerOptions{Dir: dbDir, Key: key, NoSyncWrites: true})
	if err != nil {
		return err
	}
	t0 := time.Now()
	customerID, attBytes, err := seed(ctx, kv, n, atts)
	if err != nil {
		kv.Close()
		return err
	}
	seedTime := time.Since(t0)
	if err := kv.Close(); err != nil {
		return err
	}
	fmt.Printf("seeded 1 customer, 1 conversation, %d messages (%d with a file, %.1f MiB of files) in %v (unsynced commits)\n",
		n, atts, float64(attBytes)/(1<<20), seedTime.Round(time.Millisecond))

	// Reopen as the relay does: every commit synced.
	kv, err = store.Open(store.BadgerOptions{Dir: dbDir, Key: key})
	if err != nil {
		return err
	}
	defer kv.Close()
	cs, err := customer.New(customer.Options{Store: kv})
	if err != nil {
		return err
	}
	ms, err := messaging.New(messaging.Options{Store: kv, Sealer: cs})
	if err != nil {
		return err
	}
	al, err := audit.New(ctx, audit.Options{Store: kv})
	if err != nil {
		return err
	}
	ledger, err := privacy.OpenLedger(filepath.Join(dir, privacy.LedgerFileName))
	if err != nil {
		return err
	}
	ps, err := privacy.New(privacy.Options{Store: kv, Ledger: ledger, Profiles: cs, Parts: []privacy.Part{messagesPart{ms}}, Audit: al})
	if err != nil {
		return err
	}
	admin := privacy.Actor{TenantID: tenantID, UserID: adminID, Admin: true}

	// The first export after opening the store, reported on its own.
	t0 = time.Now()
	if _, err := ps.Export(ctx, admin, customerID, io.Discard); err != nil {
		return err
	}
	fmt.Printf("first export after opening the store (io.Discard, not counted below): %v\n", time.Since(t0).Round(time.Millisecond))
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	var toDiscard, toFile []time.Duration
	var size int64
	var m privacy.Manifest
	zipPath := filepath.Join(dir, "export.zip")
	for i := range runs {
		t0 := time.Now()
		cw := &countWriter{}
		if _, err := ps.Export(ctx, admin, customerID, io.MultiWriter(io.Discard, cw)); err != nil {
			return err
		}
		toDiscard = append(toDiscard, time.Since(t0))

		t0 = time.Now()
		f, err := os.Create(zipPath)
		if err != nil {
			return err
		}
		m, err = ps.Export(ctx, admin, customerID, f)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		toFile = append(toFile, time.Since(t0))
		fi, err := os.Stat(zipPath)
		if err != nil {
			return err
		}
		size = fi.Size()
		fmt.Printf("  run %d: io.Discard %v (%d bytes), file %v (%d bytes)\n", i+1, toDiscard[i].Round(time.Millisecond), cw.n,
			toFile[i].Round(time.Millisecond), size)
	}
	d, f := stats.Summarise(toDiscard), stats.Summarise(toFile)
	fmt.Printf("privacy.Service.Export of a customer with %d messages (%d files attached), %d runs each:\n", n, atts, runs)
	fmt.Printf("  to io.Discard: median %v (%v–%v)\n", d.Median.Round(time.Millisecond), d.Min.Round(time.Millisecond), d.Max.Round(time.Millisecond))
	fmt.Printf("  to a file (synced before close): median %v (%v–%v)\n", f.Median.Round(time.Millisecond), f.Min.Round(time.Millisecond), f.Max.Round(time.Millisecond))
	fmt.Printf("  per message (file, median): %v\n", (f.Median / time.Duration(n)).Round(time.Microsecond))
	fmt.Printf("  ZIP %d bytes (%.2f MiB), %d files (manifest.json included), parts %v\n", size, float64(size)/(1<<20), len(m.Files)+1, m.Parts)
	fmt.Printf("  ratio file/discard median: %.2f\n", float64(f.Median)/float64(d.Median))
	checked, err := verify(zipPath)
	if err != nil {
		return fmt.Errorf("verify %s: %w", zipPath, err)
	}
	fmt.Printf("manifest of the file verified: %d files, every size and SHA-256 matches, no file unlisted\n", checked)
	return nil
}

// seed creates the customer and the conversation with its messages.
func seed(ctx context.Context, kv store.KV, n, atts int) (string, int64, error) {
	cs, err := customer.New(customer.Options{Store: kv})
	if err != nil {
		return "", 0, err
	}
	ms, err := messaging.New(messaging.Options{Store: kv, Sealer: cs})
	if err != nil {
		return "", 0, err
	}
	p, err := cs.Create(ctx, customer.Actor{TenantID: tenantID, UserID: advisorID},
		customer.Contact{FirstName: "Klara", LastName: "Fischer", Email: "klara.fischer@example.org", Mobile: "+491701234567"})
	if err != nil {
		return "", 0, err
	}
	adv := messaging.Actor{TenantID: tenantID, UserID: advisorID, Role: messaging.RoleAdvisor}
	cust := messaging.Actor{TenantID: tenantID, UserID: p.ID, Role: messaging.RoleCustomer}
	conv, _, err := ms.Open(ctx, adv, messaging.OpenRequest{Channel: messaging.ChannelChat, CustomerID: p.ID})
	if err != nil {
		return "", 0, err
	}
	every := 0
	if atts > 0 {
		every = n / atts
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var attBytes int64
	for i := range n {
		a := adv
		text := fmt.Sprintf("Guten Tag Frau Fischer, zu Ihrer Frage %d: die Unterlagen zum Angebot sind vollständig, bitte prüfen Sie die Konditionen bis Freitag.", i)
		if i%2 == 1 {
			a = cust
			text = fmt.Sprintf("Danke, Nachricht %d: ich schaue es mir heute Abend an und melde mich morgen.", i)
		}
		d := messaging.Draft{ClientID: fmt.Sprintf("c%d", i), Text: text}
		if every > 0 && i%every == 0 && i/every < atts {
			name, data, err := attachment(rng, i/every)
			if err != nil {
				return "", 0, err
			}
			attBytes += int64(len(data))
			d.Attachments = []messaging.AttachmentInput{{Name: name, Data: data}}
		}
		if _, err := ms.Send(ctx, a, conv.ID, d); err != nil {
			return "", 0, fmt.Errorf("send %d: %w", i, err)
		}
		if (i+1)%2000 == 0 {
			fmt.Printf("  seeded %d\n", i+1)
		}
	}
	return p.ID, attBytes, nil
}

// attachment returns the k-th file: PDFs of 256 KiB and PNGs of noise
// (about 128 KiB), both incompressible.
func attachment(rng *rand.Rand, k int) (string, []byte, error) {
	if k%2 == 0 {
		b := make([]byte, 256<<10)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		copy(b, "%PDF-1.7\n")
		return fmt.Sprintf("Angebot-%d.pdf", k), b, nil
	}
	img := image.NewNRGBA(image.Rect(0, 0, 185, 185))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), 255
	}
	img.Set(0, 0, color.Black)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("Ausweis-%d.png", k), buf.Bytes(), nil
}

// messagesPart exports a customer's conversations through
// messaging.ExportCustomer: per conversation, conversation.json,
// messages.json (without file contents) and the files under files/.
type messagesPart struct{ svc *messaging.Service }

func (messagesPart) Name() string { return "messages" }

func (p messagesPart) Export(ctx context.Context, tenantID, customerID string, add privacy.AddFunc) error {
	convs, err := p.svc.ExportCustomer(ctx, tenantID, customerID)
	if err != nil {
		return err
	}
	for _, ce := range convs {
		id := ce.Conversation.ID
		if err := addJSON(add, id+"/conversation.json", ce.Conversation); err != nil {
			return err
		}
		var files []messaging.Attachment
		for i := range ce.Messages {
			for j, a := range ce.Messages[i].Attachments {
				files = append(files, a)
				ce.Messages[i].Attachments[j].Data = nil
			}
		}
		if err := addJSON(add, id+"/messages.json", ce.Messages); err != nil {
			return err
		}
		for _, a := range files {
			if a.Data == nil {
				continue // unreadable
			}
			if err := add(id+"/files/"+a.ID+"-"+a.Name, bytes.NewReader(a.Data)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p messagesPart) Erase(ctx context.Context, tenantID, customerID string) (int, error) {
	return p.svc.EraseCustomer(ctx, tenantID, customerID)
}

func addJSON(add privacy.AddFunc, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return add(name, bytes.NewReader(append(b, '\n')))
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// verify checks an export's manifest against its files: every file but
// the manifest is listed once, with its size and SHA-256.
func verify(path string) (int, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	var m privacy.Manifest
	listed := map[string]privacy.ManifestFile{}
	found := false
	for _, f := range zr.File {
		if f.Name != "manifest.json" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return 0, err
		}
		err = json.NewDecoder(rc).Decode(&m)
		rc.Close()
		if err != nil {
			return 0, fmt.Errorf("manifest: %w", err)
		}
		found = true
	}
	if !found || m.Format != privacy.ExportFormat {
		return 0, fmt.Errorf("no manifest.json of format %s", privacy.ExportFormat)
	}
	for _, mf := range m.Files {
		if _, dup := listed[mf.Path]; dup {
			return 0, fmt.Errorf("%s listed twice", mf.Path)
		}
		listed[mf.Path] = mf
	}
	n := 0
	for _, f := range zr.File {
		if f.Name == "manifest.json" {
			continue
		}
		mf, ok := listed[f.Name]
		if !ok {
			return 0, fmt.Errorf("%s not in the manifest", f.Name)
		}
		delete(listed, f.Name)
		rc, err := f.Open()
		if err != nil {
			return 0, err
		}
		h := sha256.New()
		size, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", f.Name, err)
		}
		if size != mf.Bytes || hex.EncodeToString(h.Sum(nil)) != mf.SHA256 {
			return 0, fmt.Errorf("%s: size or SHA-256 differs from the manifest", f.Name)
		}
		n++
	}
	if len(listed) > 0 {
		return 0, fmt.Errorf("%d files in the manifest are missing from the ZIP", len(listed))
	}
	return n, nil
}
