package privacy

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"parley/relay/customer"
	"parley/relay/store"
)

func TestEraseDestroysKeyProfileAndEveryPartAndGivesAReceipt(t *testing.T) {
	e := newEnv(t, nil, "")
	p := e.seed(tenant, "kai@example.org", 3)
	other := e.seed(tenant, "other@example.org", 2)
	var sealed []byte
	if err := e.kv.Update(e.ctx, func(tx store.Txn) (err error) {
		sealed, err = e.customers.SealTx(tx, p.ID, []byte("Kontonummer DE02 1203 0000 0000 2020 51"))
		return err
	}); err != nil {
		t.Fatal(err)
	}

	rc, err := e.svc.Erase(e.ctx, admin, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rc.State != StateCompleted || !rc.KeyDestroyed || rc.Completed.IsZero() || rc.CustomerID != p.ID || rc.RequestedBy != admin.UserID {
		t.Fatalf("receipt %+v", rc)
	}
	if rc.Deleted["customer_profile"] != 1 || rc.Deleted["bookings"] != 3 || rc.Deleted["meetings"] != 3 {
		t.Fatalf("receipt counts %v", rc.Deleted)
	}
	if !slices.Equal(rc.Steps, []string{"customer_profile", "bookings", "meetings"}) {
		t.Fatalf("steps %v", rc.Steps)
	}
	if e.readable(tenant, p.ID) || e.left(tenant, p.ID) != 0 {
		t.Fatal("the erased customer's data is still there")
	}
	err = e.kv.View(e.ctx, func(tx store.Txn) error {
		_, err := e.customers.OpenTx(tx, p.ID, sealed)
		return err
	})
	if !errors.Is(err, customer.ErrShredded) {
		t.Fatalf("data sealed for the erased customer opens: %v", err)
	}
	// Never over-delete: the other customer is untouched.
	if !e.readable(tenant, other.ID) || e.left(tenant, other.ID) != 4 {
		t.Fatal("another customer's data was touched")
	}
	// The ledger has the request, the audit log the erasure, the logs no
	// personal data.
	entries, err := e.ledger.Entries()
	if err != nil || len(entries) != 1 || entries[0].ID != rc.ID || entries[0].CustomerID != p.ID {
		t.Fatalf("ledger %+v, %v", entries, err)
	}
	au, err := e.audit.List(e.ctx, tenant, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range au {
		if a.Action == "privacy.erasure" && a.Target == p.ID && a.Details["erasure_id"] == rc.ID && a.Details["deleted_bookings"] == "3" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit entry for the erasure in %+v", au)
	}
	if logs := e.logs.String(); strings.Contains(logs, "kai@example.org") || strings.Contains(logs, "Kunde") {
		t.Fatal("logs contain personal data")
	}

	// Asking again returns the same receipt and erases nothing more.
	again, err := e.svc.Erase(e.ctx, admin, p.ID)
	if err != nil || again.ID != rc.ID || again.State != StateCompleted {
		t.Fatalf("second erase %+v, %v", again, err)
	}
	got, err := e.svc.Receipt(e.ctx, admin, rc.ID)
	if err != nil || got.ID != rc.ID {
		t.Fatalf("Receipt %+v, %v", got, err)
	}
	list, err := e.svc.Receipts(e.ctx, admin)
	if err != nil || len(list) != 1 {
		t.Fatalf("Receipts %+v, %v", list, err)
	}
	// A new profile with the same e-mail is a new customer with a new key.
	fresh := e.seed(tenant, "kai@example.org", 0)
	if fresh.ID == p.ID {
		t.Fatal("an erased customer was re-keyed under the old id")
	}
}

func TestEraseRefusesWithoutTouchingAnything(t *testing.T) {
	e := newEnv(t, nil, "")
	p := e.seed(tenant, "kai@example.org", 2)
	foreign := e.seed("tenant-b", "fremd@example.org", 1)
	cases := []struct {
		name string
		a    Actor
		id   string
		want error
	}{
		{"advisor", Actor{TenantID: tenant, UserID: "advisor-1"}, p.ID, ErrForbidden},
		{"unknown", admin, "0123456789abcdef0123456789abcdef", ErrNotFound},
		{"malformed", admin, "../../etc", ErrNotFound},
		{"other tenant", admin, foreign.ID, ErrNotFound},
	}
	for _, c := range cases {
		if _, err := e.svc.Erase(e.ctx, c.a, c.id); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if _, err := e.svc.Export(e.ctx, c.a, c.id, &bytes.Buffer{}); !errors.Is(err, c.want) {
			t.Errorf("export %s: %v, want %v", c.name, err, c.want)
		}
	}
	e.holds[tenant+"/"+p.ID] = true
	if _, err := e.svc.Erase(e.ctx, admin, p.ID); !errors.Is(err, ErrHeld) {
		t.Fatalf("held customer: %v", err)
	}
	if !e.readable(tenant, p.ID) || e.left(tenant, p.ID) != 4 || !e.readable("tenant-b", foreign.ID) {
		t.Fatal("a refused erasure touched data")
	}
	if entries, _ := e.ledger.Entries(); len(entries) != 0 {
		t.Fatalf("a refused erasure reached the ledger: %+v", entries)
	}
	if _, err := e.svc.Receipt(e.ctx, admin, "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown receipt: %v", err)
	}
}

// crashSteps are the points an erasure can die at, in order.
var crashSteps = []string{"ledger", "customer_profile", "bookings", "meetings", "audit", "complete"}

// TestCrashHelper is the child process of the kill -9 test: it opens the
// store on disk and erases a customer, and kills itself with SIGKILL at
// the step named in PRIVACY_CRASH_AT.
func TestCrashHelper(t *testing.T) {
	dir, at, id := os.Getenv("PRIVACY_CRASH_DIR"), os.Getenv("PRIVACY_CRASH_AT"), os.Getenv("PRIVACY_CRASH_CUSTOMER")
	if dir == "" {
		t.Skip("child process of TestKillDashNineAtEveryStepOfAnErasure")
	}
	db := openBadger(t, dir)
	e := newEnv(t, db, filepath.Join(dir, LedgerFileName))
	e.svc.stepHook = func(step string) error {
		if step == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
	_, err := e.svc.Erase(e.ctx, admin, id)
	t.Fatalf("the erasure ran to its end (%v) without reaching step %s", err, at)
}

func openBadger(t *testing.T, dir string) *store.Badger {
	t.Helper()
	key, err := store.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(store.BadgerOptions{Dir: filepath.Join(dir, "store"), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestKillDashNineAtEveryStepOfAnErasure(t *testing.T) {
	if os.Getenv("PRIVACY_CRASH_DIR") != "" {
		t.Skip("in the child")
	}
	for _, at := range crashSteps {
		t.Run(at, func(t *testing.T) {
			dir := t.TempDir()
			db := openBadger(t, dir)
			e := newEnv(t, db, filepath.Join(dir, LedgerFileName))
			p := e.seed(tenant, "kai@example.org", 5)
			keep := e.seed(tenant, "keep@example.org", 5)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PRIVACY_CRASH_DIR="+dir, "PRIVACY_CRASH_AT="+at, "PRIVACY_CRASH_CUSTOMER="+p.ID)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die by SIGKILL at %s: %v\n%s", at, err, out)
			}

			db = openBadger(t, dir)
			defer db.Close()
			e = newEnv(t, db, filepath.Join(dir, LedgerFileName))
			entries, err := e.ledger.Entries()
			if err != nil || len(entries) != 1 {
				t.Fatalf("ledger after the crash: %+v, %v", entries, err)
			}
			// No false "done": the receipt, if any, says running.
			if rc, err := e.svc.Receipt(e.ctx, admin, entries[0].ID); err == nil && rc.State == StateCompleted {
				t.Fatalf("receipt says completed after a crash at %s", at)
			}
			st, err := e.svc.Resume(e.ctx)
			if err != nil || st.Finished != 1 || st.Entries != 1 {
				t.Fatalf("Resume = %+v, %v", st, err)
			}
			rc, err := e.svc.Receipt(e.ctx, admin, entries[0].ID)
			if err != nil || rc.State != StateCompleted || !rc.KeyDestroyed || len(rc.Steps) != 3 {
				t.Fatalf("receipt after resume %+v, %v", rc, err)
			}
			// No orphans left of the customer, nothing taken from the other.
			if e.readable(tenant, p.ID) || e.left(tenant, p.ID) != 0 {
				t.Fatal("the customer's data survived the resumed erasure")
			}
			if !e.readable(tenant, keep.ID) || e.left(tenant, keep.ID) != 10 {
				t.Fatal("the resumed erasure touched another customer")
			}
			// A second start finds nothing to do.
			if st, err := e.svc.Resume(e.ctx); err != nil || st.Finished != 0 {
				t.Fatalf("second Resume = %+v, %v", st, err)
			}
		})
	}
}

func TestRestoringAnOlderBackupDoesNotBringAnErasedCustomerBack(t *testing.T) {
	dir := t.TempDir()
	db := openBadger(t, dir)
	ledgerPath := filepath.Join(dir, LedgerFileName)
	e := newEnv(t, db, ledgerPath)
	p := e.seed(tenant, "kai@example.org", 4)
	key, err := store.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	var backup bytes.Buffer
	if _, err := store.Backup(e.ctx, db, &backup, key); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Erase(e.ctx, admin, p.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()

	restored := filepath.Join(t.TempDir(), "store")
	if err := store.Restore(e.ctx, &backup, restored, key); err != nil {
		t.Fatal(err)
	}
	db2, err := store.Open(store.BadgerOptions{Dir: restored, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	e2 := newEnv(t, db2, ledgerPath)
	if !e2.readable(tenant, p.ID) {
		t.Fatal("precondition: the old backup holds the customer")
	}
	st, err := e2.svc.Resume(e2.ctx)
	if err != nil || st.Finished != 1 {
		t.Fatalf("Resume = %+v, %v", st, err)
	}
	if e2.readable(tenant, p.ID) || e2.left(tenant, p.ID) != 0 {
		t.Fatal("the erased customer is readable after restore and replay")
	}
}
