package relayproc

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreOfAnOlderBackupKeepsAnErasedCustomerErased backs a relay up
// while it holds a customer, erases the customer, restores the older
// backup with the live erasure ledger, and starts the restored relay: the
// customer must stay erased, and the erasure's receipt is there.
func TestRestoreOfAnOlderBackupKeepsAnErasedCustomerErased(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	bak := filepath.Join(tmp, "relay.backup")
	p1, api1 := start(t, dir)
	admin, _ := setUpAdvisor(t, p1, api1)
	var cust struct {
		ID string `json:"id"`
	}
	admin.Must(t, http.MethodPost, "/api/v1/customers", map[string]string{"first_name": "Erika", "last_name": "Loeschmann",
		"email": "erika.loeschmann@example.org"}, http.StatusCreated, &cust)
	stopClean(t, p1)

	if out, err := relayCmd(t, nil, "backup", "--data", dir, "--out", bak); err != nil {
		t.Fatalf("relay backup: %v\n%s", err, out)
	}

	p2, api2 := start(t, dir)
	admin, _ = api2.Login(t, tenant, "admin", adminNewPassword)
	var rc struct {
		ID           string `json:"id"`
		State        string `json:"state"`
		KeyDestroyed bool   `json:"key_destroyed"`
	}
	admin.Must(t, http.MethodPost, "/api/v1/customers/"+cust.ID+"/erasure", nil, http.StatusOK, &rc)
	if rc.State != "completed" || !rc.KeyDestroyed {
		t.Fatalf("erasure receipt %+v", rc)
	}
	admin.Fail(t, http.MethodGet, "/api/v1/customers/"+cust.ID, nil, http.StatusNotFound, "not_found")
	stopClean(t, p2)

	restored := filepath.Join(tmp, "restored")
	out, err := relayCmd(t, nil, "restore", "--data", restored, "--in", bak, "--key-file", filepath.Join(dir, "store.key"),
		"--erasure-ledger", filepath.Join(dir, "erasure-ledger.jsonl"))
	if err != nil {
		t.Fatalf("relay restore: %v\n%s", err, out)
	}
	if !strings.Contains(out, "erasure ledger: 1 erasures, 1 customers' data keys destroyed again") {
		t.Errorf("relay restore did not replay the ledger:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(restored, "erasure-ledger.jsonl")); err != nil || !strings.Contains(string(b), cust.ID) {
		t.Errorf("the restored folder has no ledger with the erasure: %v", err)
	}

	p3, api3 := start(t, restored)
	admin, _ = api3.Login(t, tenant, "admin", adminNewPassword)
	admin.Fail(t, http.MethodGet, "/api/v1/customers/"+cust.ID, nil, http.StatusNotFound, "not_found")
	admin.Fail(t, http.MethodGet, "/api/v1/customers/"+cust.ID+"/export", nil, http.StatusNotFound, "not_found")
	var list struct {
		Customers []struct {
			ID string `json:"id"`
		} `json:"customers"`
	}
	admin.Must(t, http.MethodGet, "/api/v1/customers", nil, http.StatusOK, &list)
	if len(list.Customers) != 0 { // the tenant had only this customer
		t.Errorf("the erased customer is listed after the restore: %+v", list.Customers)
	}
	var got struct {
		State string `json:"state"`
	}
	admin.Must(t, http.MethodGet, "/api/v1/erasures/"+rc.ID, nil, http.StatusOK, &got)
	if got.State != "completed" {
		t.Errorf("receipt after restore: %+v", got)
	}
	stopClean(t, p3)
}
