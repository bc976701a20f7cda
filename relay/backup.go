package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"parley/relay/audit"
	"parley/relay/certs"
	"parley/relay/customer"
	"parley/relay/privacy"
	"parley/relay/store"
)

// storeKey returns the store key from store.KeyEnv or, failing that, from
// keyFile. Unlike the relay itself it never creates a key.
func storeKey(keyFile string) ([]byte, string, error) {
	if v := strings.TrimSpace(os.Getenv(store.KeyEnv)); v != "" {
		k, err := hex.DecodeString(v)
		if err != nil || len(k) != 32 {
			return nil, "", fmt.Errorf("%s must be 64 hex digits", store.KeyEnv)
		}
		return k, store.KeyEnv, nil
	}
	if keyFile == "" {
		return nil, "", errors.New("no store key")
	}
	k, err := store.ReadKeyFile(keyFile)
	if err != nil {
		return nil, "", err
	}
	return k, keyFile, nil
}

// backup writes an encrypted backup of a stopped relay's store.
func backup(args []string) error {
	fs := flag.NewFlagSet("relay backup", flag.ContinueOnError)
	data := fs.String("data", envOr("PARLEY_DATA", "parley-data"), "data folder of a stopped relay")
	out := fs.String("out", "", "backup file to write (mode 0600; replaced atomically)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("backup: --out FILE is required")
	}
	dir := filepath.Join(*data, "store")
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("backup: no store in %s: %w", *data, err)
	}
	key, _, err := storeKey(filepath.Join(*data, store.KeyFileName))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	st, err := store.Open(store.BadgerOptions{Dir: dir, Key: key})
	if err != nil {
		if strings.Contains(err.Error(), "directory lock") {
			return fmt.Errorf("backup: the store in %s is in use: stop the relay first, then run relay backup again (%w)", *data, err)
		}
		return fmt.Errorf("backup: %w", err)
	}
	defer st.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	files, err := dataFiles(*data)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	start := time.Now()
	m, err := store.BackupFiles(ctx, st, tmp, key, files)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("backup: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	done = true
	syncDir(filepath.Dir(*out))
	fmt.Printf("backup written to %s\n", *out)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	fmt.Printf("  created  %s\n  entries  %d\n  data     %d bytes\n  file     %d bytes in %d chunks\n  sha256   %s\n  key id   %s\n  files    %s\n  took     %s\n",
		m.Created.Format(time.RFC3339), m.Entries, m.DataBytes, m.Bytes, m.Chunks, m.SHA256, m.KeyID,
		strings.Join(names, " "), time.Since(start).Round(time.Millisecond))
	fmt.Println("The backup holds the store (accounts, meetings, chat, audit log), tls/ and turn.secret, not the store key: keep a copy of",
		filepath.Join(*data, store.KeyFileName), "(or PARLEY_STORE_KEY) somewhere else; without it the backup cannot be read.")
	return nil
}

// restore recreates a data folder from a backup.
func restore(args []string) (err error) {
	fs := flag.NewFlagSet("relay restore", flag.ContinueOnError)
	data := fs.String("data", "", "new data folder to create (must be missing or empty)")
	in := fs.String("in", "", "backup file written by relay backup")
	keyFile := fs.String("key-file", "", "the store key (a copy of the old store.key); default: "+store.KeyEnv)
	ledgerFile := fs.String("erasure-ledger", "", "the live relay's "+privacy.LedgerFileName+": erasures made after the backup are replayed from it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *in == "" {
		return errors.New("restore: --data NEWDIR and --in FILE are required")
	}
	var liveLedger []privacy.LedgerEntry
	if *ledgerFile != "" {
		lf, err := os.Open(*ledgerFile)
		if err != nil {
			return fmt.Errorf("restore: erasure ledger: %w", err)
		}
		liveLedger, _, err = privacy.ParseLedger(lf)
		lf.Close()
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	key, from, err := storeKey(*keyFile)
	if err != nil {
		return fmt.Errorf("restore: %w: the backup does not hold the store key; give --key-file with a copy of the old %s or set %s", err, store.KeyFileName, store.KeyEnv)
	}
	if *keyFile != "" && from == store.KeyEnv {
		return fmt.Errorf("restore: both --key-file and %s are set; give one", store.KeyEnv)
	}
	if entries, err := os.ReadDir(*data); err == nil && len(entries) > 0 {
		return fmt.Errorf("restore: %s is not empty; restore into a new folder", *data)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore: %w", err)
	}
	f, err := os.Open(*in)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	_, statErr := os.Stat(*data)
	created := errors.Is(statErr, os.ErrNotExist)
	defer func() {
		if err != nil && created {
			os.RemoveAll(*data)
		}
	}()
	start := time.Now()
	dir := filepath.Join(*data, "store")
	files, err := store.RestoreFiles(ctx, f, dir, key)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	took := time.Since(start)
	// The erasure ledger: the backup's copy and the live one, merged.
	ledgerEntries := liveLedger
	if b, ok := files[privacy.LedgerFileName]; ok {
		old, _, err := privacy.ParseLedger(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("restore: the backup's %w", err)
		}
		ledgerEntries = append(old, liveLedger...)
		delete(files, privacy.LedgerFileName)
	}
	if err := writeDataFiles(*data, files); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	ledger, err := privacy.OpenLedger(filepath.Join(*data, privacy.LedgerFileName))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := ledger.Append(ledgerEntries...); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if from != store.KeyEnv {
		// Keep the key where the relay looks for it, as before.
		if err := writeKeyFile(filepath.Join(*data, store.KeyFileName), key); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}

	st, err := store.Open(store.BadgerOptions{Dir: dir, Key: key})
	if err != nil {
		return fmt.Errorf("restore: reopen the restored store: %w", err)
	}
	defer st.Close()
	// Erasures the backup predates: the customers' data keys and profiles
	// go again now; the relay finishes each erasure (bookings, meetings,
	// …) from the ledger before it serves.
	replayed, err := replayErasures(ctx, st, ledger)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	l, err := audit.New(ctx, audit.Options{Store: st})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	rep, err := l.Verify(ctx)
	if err != nil {
		return fmt.Errorf("restore: verify the audit log: %w", err)
	}
	if !rep.OK() {
		return fmt.Errorf("restore: the restored audit log is damaged: %d problems in %d entries", len(rep.Problems), rep.Entries)
	}
	fmt.Printf("restored %s into %s in %s; audit log intact: %d entries\n", *in, *data, took.Round(time.Millisecond), rep.Entries)
	entries, _ := ledger.Entries()
	fmt.Printf("erasure ledger: %d erasures, %d customers' data keys destroyed again\n", len(entries), replayed)
	if *ledgerFile == "" {
		fmt.Printf("no --erasure-ledger given: erasures made after the backup are not replayed; pass the live relay's %s if it still exists\n", privacy.LedgerFileName)
	}
	if from == store.KeyEnv {
		fmt.Printf("the store key comes from %s: start the relay with the same %s\n", store.KeyEnv, store.KeyEnv)
	}
	if _, ok := files[filepath.ToSlash(filepath.Join("tls", certs.CertFile))]; !ok {
		fmt.Println("the backup holds no self-signed certificate: the relay uses --tls-cert, or makes a new one (apps must pin its new fingerprint)")
	}
	return nil
}

// dataFiles returns the files beside the store that a restored relay
// needs to look the same to its clients: the self-signed certificate and
// its key (tls/) and the TURN secret.
func dataFiles(data string) (map[string][]byte, error) {
	files := map[string][]byte{}
	entries, err := os.ReadDir(filepath.Join(data, "tls"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(data, "tls", e.Name()))
		if err != nil {
			return nil, err
		}
		files["tls/"+e.Name()] = b
	}
	if b, err := os.ReadFile(filepath.Join(data, privacy.LedgerFileName)); err == nil {
		files[privacy.LedgerFileName] = b
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(data, turnSecretFile))
	if err == nil {
		files[turnSecretFile] = b
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return files, nil
}

// turnSecretFile is where the relay keeps its TURN secret.
const turnSecretFile = "turn.secret"

// writeDataFiles writes the files dataFiles collected back, mode 0600.
func writeDataFiles(data string, files map[string][]byte) error {
	for name, b := range files {
		if !strings.HasPrefix(name, "tls/") && name != turnSecretFile {
			return fmt.Errorf("unexpected file %q in the backup", name)
		}
		path := filepath.Join(data, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// writeKeyFile writes key as 64 hex digits to a new file with mode 0600.
func writeKeyFile(path string, key []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync key file: %w", err)
	}
	return f.Close()
}

// syncDir makes a rename in dir durable; errors are ignored (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// replayErasures destroys again the data keys and profiles of every
// customer in the ledger (customer.ReplayErasures) in the restored store.
func replayErasures(ctx context.Context, st *store.Badger, ledger *privacy.Ledger) (int, error) {
	entries, err := ledger.Entries()
	if err != nil {
		return 0, err
	}
	cs, err := customer.New(customer.Options{Store: st})
	if err != nil {
		return 0, err
	}
	rcs := make([]customer.Receipt, 0, len(entries))
	for _, e := range entries {
		rcs = append(rcs, customer.Receipt{CustomerID: e.CustomerID, TenantID: e.TenantID, Erased: e.Requested})
	}
	return cs.ReplayErasures(ctx, rcs)
}
