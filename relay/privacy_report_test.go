package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"parley/relay/audit"
	"parley/relay/auth"
	"parley/relay/retention"
	"parley/relay/store"
)

// TestPrivacyReportReadsStoppedRelaysOverrides writes an override into a
// data folder's store, closes it as a stopped relay would, and checks that
// the report lists it under the tenant's name.
func TestPrivacyReportReadsStoppedRelaysOverrides(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(store.BadgerOptions{Dir: filepath.Join(dir, "store"), KeyDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := auth.New(auth.Options{Store: st, Hash: auth.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := accounts.CreateTenant(ctx, "sparkasse", "Sparkasse Musterstadt")
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.New(ctx, audit.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := retention.New(retention.Options{Store: st, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pol.SetOverride(ctx, tn.ID, retention.Actor{UserID: "u_1", Admin: true}, retention.ClassMeetingContent, 3*retention.Day, ""); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := privacyReport([]string{"--data", dir}, &out); err != nil {
		t.Fatal(err)
	}
	want := "| Sparkasse Musterstadt (`" + tn.ID + "`) | `meeting_content` | 7 days | 3 days |"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("report lacks %q:\n%s", want, out.String())
	}
	out.Reset()
	if err := privacyReport(nil, &out); err != nil || !strings.Contains(out.String(), "| **Meeting content** (`meeting_content`)") || strings.Contains(out.String(), tn.ID) {
		t.Fatalf("report without --data: %v\n%s", err, out.String())
	}
	if err := privacyReport([]string{"--data", t.TempDir()}, &out); err == nil {
		t.Fatal("a folder without store gave no error")
	}
}
