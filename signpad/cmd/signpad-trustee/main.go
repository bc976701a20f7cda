// Command signpad-trustee is the key holder's tool for biometric signature
// envelopes: it generates the trustee key pair, opens envelopes, checks an
// envelope's binding to a PDF, plots the dynamics and compares signatures.
// It runs on the trustee's machine; the private key never goes to the relay.
//
//	go run ./signpad/cmd/signpad-trustee keygen -out DIR
//	go run ./signpad/cmd/signpad-trustee open -key DIR/trustee.key -in sig.env [-iso out.iso] [-xml out.xml]
//	go run ./signpad/cmd/signpad-trustee verify -key DIR/trustee.key -in sig.env -pdf doc.pdf [-field F] [-signer S]
//	go run ./signpad/cmd/signpad-trustee plot -key DIR/trustee.key -in sig.env -out dynamics.png [-ink ink.png]
//	go run ./signpad/cmd/signpad-trustee compare -key DIR/trustee.key -in sig.env -ref ref1.env -ref ref2.iso
//
// Wherever an envelope is read, a plain ISO/IEC 19794-7 record file is
// accepted too (no key needed for it).
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"parley/signpad"
	"parley/signpad/compare"
	"parley/signpad/envelope"
	"parley/signpad/ink"
	"parley/signpad/iso19794"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes.
const (
	exitOK       = 0
	exitMismatch = 1 // binding check failed or comparison flagged
	exitUsage    = 2
	exitError    = 3
)

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: signpad-trustee keygen|open|verify|plot|compare [flags]")
		return exitUsage
	}
	cmds := map[string]func([]string, io.Writer) (int, error){
		"keygen": keygen, "open": open, "verify": verify, "plot": plot, "compare": cmpCmd,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "signpad-trustee: unknown command %q\n", args[0])
		return exitUsage
	}
	code, err := cmd(args[1:], stdout)
	if err != nil {
		fmt.Fprintf(stderr, "signpad-trustee %s: %v\n", args[0], err)
		if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
			return exitUsage
		}
		return exitError
	}
	return code
}

var errUsage = errors.New("missing flag")

type refs []string

func (r *refs) String() string     { return strings.Join(*r, ",") }
func (r *refs) Set(v string) error { *r = append(*r, v); return nil }

func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func keygen(args []string, out io.Writer) (int, error) {
	fs := flags("keygen")
	dir := fs.String("out", "", "folder for trustee.key and trustee.pub")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if *dir == "" {
		return 0, fmt.Errorf("%w: -out", errUsage)
	}
	priv, err := envelope.GenerateKey(rand.Reader)
	if err != nil {
		return 0, err
	}
	privPEM, err := envelope.MarshalPrivateKeyPEM(priv)
	if err != nil {
		return 0, err
	}
	pubPEM, err := envelope.MarshalPublicKeyPEM(priv.PublicKey())
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return 0, err
	}
	kp, pp := filepath.Join(*dir, "trustee.key"), filepath.Join(*dir, "trustee.pub")
	// O_EXCL: never overwrite an existing key (envelopes sealed for it
	// would become unreadable).
	f, err := os.OpenFile(kp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("writing private key: %w", err)
	}
	if _, err := f.Write(privPEM); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.WriteFile(pp, pubPEM, 0o644); err != nil {
		return 0, err
	}
	id := envelope.KeyID(priv.PublicKey())
	fmt.Fprintf(out, "private key: %s (keep it offline; never copy it to the relay)\npublic key:  %s (give it to the tenant admin)\nkey id:      %s\n", kp, pp, hex.EncodeToString(id[:]))
	return exitOK, nil
}

// loaded is a signature read from an envelope or a bare ISO record.
type loaded struct {
	contents *envelope.Contents // nil for a bare record
	record   []byte
	sig      signpad.Signature
}

func load(keyPath, path string) (*loaded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l := &loaded{}
	if bytes.HasPrefix(data, []byte("SDI\x00")) {
		l.record = data
	} else {
		if keyPath == "" {
			return nil, fmt.Errorf("%w: -key (needed to open %s)", errUsage, path)
		}
		kp, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, err
		}
		priv, err := envelope.ParsePrivateKeyPEM(kp)
		if err != nil {
			return nil, err
		}
		if l.contents, err = envelope.Open(priv, data); err != nil {
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		l.record = l.contents.Record
	}
	var rec iso19794.Record
	if err := rec.UnmarshalBinary(l.record); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if l.sig, err = rec.Signature(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

func open(args []string, out io.Writer) (int, error) {
	fs := flags("open")
	key := fs.String("key", "", "trustee private key (PEM)")
	in := fs.String("in", "", "envelope")
	isoOut := fs.String("iso", "", "write the ISO/IEC 19794-7 record here")
	xmlOut := fs.String("xml", "", "write the record's XML encoding here")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if *in == "" {
		return 0, fmt.Errorf("%w: -in", errUsage)
	}
	l, err := load(*key, *in)
	if err != nil {
		return 0, err
	}
	if c := l.contents; c != nil {
		fmt.Fprintf(out, "document sha256: %s\nsigner: %s\nfield: %s\ntime: %s\ndevice: %s\nnonce: %x\n",
			hex.EncodeToString(c.DocumentSHA256[:]), c.Signer, c.Field, c.Time.Format("2006-01-02T15:04:05.000Z07:00"), c.Device, c.Nonce)
	}
	f := l.sig.Features()
	fmt.Fprintf(out, "samples: %d\nstrokes: %d\nduration: %v\npen down: %v\npauses: %d\ngaps: %d\npath: %.1f %s\nmean speed: %.1f %s/s\n",
		len(l.sig.Samples), f.Strokes, f.Duration, f.PenDown, len(f.Pauses), f.Gaps, f.PathLength, f.Unit, f.MeanSpeed, f.Unit)
	if *isoOut != "" {
		if err := os.WriteFile(*isoOut, l.record, 0o600); err != nil {
			return 0, err
		}
	}
	if *xmlOut != "" {
		var rec iso19794.Record
		if err := rec.UnmarshalBinary(l.record); err != nil {
			return 0, err
		}
		x, err := rec.MarshalXMLRecord()
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(*xmlOut, x, 0o600); err != nil {
			return 0, err
		}
	}
	return exitOK, nil
}

func verify(args []string, out io.Writer) (int, error) {
	fs := flags("verify")
	key := fs.String("key", "", "trustee private key (PEM)")
	in := fs.String("in", "", "envelope")
	pdf := fs.String("pdf", "", "the document as signed")
	field := fs.String("field", "", "expected signature field (default: the envelope's)")
	signer := fs.String("signer", "", "expected signer id (default: the envelope's)")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if *in == "" || *pdf == "" || *key == "" {
		return 0, fmt.Errorf("%w: -key, -in and -pdf", errUsage)
	}
	l, err := load(*key, *in)
	if err != nil {
		return 0, err
	}
	if l.contents == nil {
		return 0, fmt.Errorf("%s is a bare record, not an envelope: nothing binds it to a document", *in)
	}
	doc, err := os.Open(*pdf)
	if err != nil {
		return 0, err
	}
	defer doc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, doc); err != nil {
		return 0, err
	}
	b := envelope.Binding{Field: l.contents.Field, Signer: l.contents.Signer}
	copy(b.DocumentSHA256[:], h.Sum(nil))
	if *field != "" {
		b.Field = *field
	}
	if *signer != "" {
		b.Signer = *signer
	}
	if err := l.contents.Check(b); err != nil {
		fmt.Fprintf(out, "MISMATCH: %v\npdf sha256:      %s\nenvelope sha256: %s\n", err, hex.EncodeToString(b.DocumentSHA256[:]), hex.EncodeToString(l.contents.DocumentSHA256[:]))
		return exitMismatch, nil
	}
	fmt.Fprintf(out, "OK: the envelope is bound to this document (sha256 %s), field and signer\n", hex.EncodeToString(b.DocumentSHA256[:]))
	return exitOK, nil
}

func plot(args []string, out io.Writer) (int, error) {
	fs := flags("plot")
	key := fs.String("key", "", "trustee private key (PEM)")
	in := fs.String("in", "", "envelope or ISO record")
	dst := fs.String("out", "", "PNG of x, y and pressure over time")
	inkOut := fs.String("ink", "", "optional PNG of the ink")
	w := fs.Int("width", 1200, "plot width in pixels")
	h := fs.Int("height", 600, "plot height in pixels")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if *in == "" || *dst == "" {
		return 0, fmt.Errorf("%w: -in and -out", errUsage)
	}
	l, err := load(*key, *in)
	if err != nil {
		return 0, err
	}
	img, err := ink.Plot(l.sig, *w, *h)
	if err != nil {
		return 0, err
	}
	if err := writePNG(*dst, func(f io.Writer) error { return encodePNG(f, img) }); err != nil {
		return 0, err
	}
	if *inkOut != "" {
		if err := writePNG(*inkOut, func(f io.Writer) error { return ink.WritePNG(f, l.sig, ink.Options{Width: 900, Height: 300}) }); err != nil {
			return 0, err
		}
	}
	fmt.Fprintf(out, "wrote %s\n", *dst)
	return exitOK, nil
}

func cmpCmd(args []string, out io.Writer) (int, error) {
	fs := flags("compare")
	key := fs.String("key", "", "trustee private key (PEM)")
	in := fs.String("in", "", "the signature to examine (envelope or ISO record)")
	var rs refs
	fs.Var(&rs, "ref", "a reference signature (repeat)")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if *in == "" || len(rs) == 0 {
		return 0, fmt.Errorf("%w: -in and at least one -ref", errUsage)
	}
	l, err := load(*key, *in)
	if err != nil {
		return 0, err
	}
	var sigs []signpad.Signature
	for _, r := range rs {
		lr, err := load(*key, r)
		if err != nil {
			return 0, err
		}
		sigs = append(sigs, lr.sig)
	}
	res, err := compare.Compare(l.sig, sigs, compare.Options{})
	if err != nil {
		return 0, err
	}
	for i, d := range res.Distances {
		fmt.Fprintf(out, "distance to %s: %.4f\n", rs[i], d)
	}
	fmt.Fprintf(out, "mean: %.4f threshold: %.4f\n", res.Mean, res.Threshold)
	if res.Flag {
		fmt.Fprintln(out, "FLAG: the dynamics differ from the references more than they differ among themselves; a human examiner should look (this is not a verdict)")
		return exitMismatch, nil
	}
	fmt.Fprintln(out, "no flag: within the references' own variation (this is not a verdict)")
	return exitOK, nil
}
