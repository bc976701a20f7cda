package api

import (
	"archive/zip"
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"parley/relay/audit"
	"parley/relay/clock"
	"parley/relay/customer"
	"parley/relay/privacy"
	"parley/relay/retention"
	"parley/relay/store"
)

// isoPrivacy is the privacy engine over the fixture's store, with the
// customer profiles and no further parts (relay/server adds those).
func isoPrivacy(t *testing.T, kv store.KV, clk clock.Clock, cust *customer.Service, holds *retention.Policy, al *audit.Log) *privacy.Service {
	t.Helper()
	ledger, err := privacy.OpenLedger(filepath.Join(t.TempDir(), privacy.LedgerFileName))
	if err != nil {
		t.Fatal(err)
	}
	pv, err := privacy.New(privacy.Options{Store: kv, Ledger: ledger, Profiles: cust, Holds: holds, Audit: al, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

// populatePrivacy gives tenant w an erasure: its admin erases a customer
// made for the purpose, whose ids only tenant w may ever see.
func (f *fixture) populatePrivacy(w *isoTenant, tag string) {
	f.t.Helper()
	var c customerJSON
	f.decode(f.callJSON("POST", "/api/v1/customers", w.advisor, map[string]string{"first_name": "Erwin", "last_name": "Geloescht-" + tag,
		"email": "erwin." + strings.ToLower(tag) + "@geloescht.example"}, nil), 201, "erasable customer", &c)
	var rc privacy.Receipt
	f.decode(f.callJSON("POST", "/api/v1/customers/"+c.ID+"/erasure", w.admin, nil, nil), 200, "erasure", &rc)
	if rc.State != privacy.StateCompleted || rc.CustomerID != c.ID {
		f.t.Fatalf("erasure receipt %+v", rc)
	}
	w.erasureID = rc.ID
	w.private = append(w.private, rc.ID, c.ID)
}

// privacySnapshotPaths are tenant A's privacy reads for the snapshot.
func privacySnapshotPaths(a *isoTenant) []struct{ path, token string } {
	return []struct{ path, token string }{
		{"/api/v1/erasures", a.admin},
		{"/api/v1/erasures/" + a.erasureID, a.admin},
	}
}

// privacyCases are the isolation cases of the export and erasure routes.
func privacyCases(fr func(key string) func(a, b *isoTenant) []isoTarget) map[string]isoCase {
	adminOf := func(a *isoTenant) string { return a.admin }
	return map[string]isoCase{
		// A's customers, the booker and the one the advisor made.
		"GET /api/v1/customers/{id}/export": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/customers/" + a.customerID + "/export", foreign: true},
				{path: "/api/v1/customers/" + a.customer2ID + "/export", foreign: true}}
		}, sanity: adminOf},
		"POST /api/v1/customers/{id}/erasure": {targets: fr("POST /api/v1/customers/{id}/erasure"), sanity: adminOf},
		// B's admin lists B's erasures: none of A's.
		"GET /api/v1/erasures":      {targets: func(a, b *isoTenant) []isoTarget { return []isoTarget{{path: "/api/v1/erasures"}} }, sanity: adminOf},
		"GET /api/v1/erasures/{id}": {targets: fr("GET /api/v1/erasures/{id}"), sanity: adminOf},

		// A forged challenge signs no one in.
		"POST /api/v1/login/second-factor": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/login/second-factor", foreign: true,
				body: map[string]string{"challenge": "pmf_" + strings.Repeat("A", 43), "code": "123456"}}}
		}},
		// The caller's own second factor: nothing of A is reachable.
		"POST /api/v1/me/second-factor": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/me/second-factor", body: map[string]string{"password": a.advisorPass}}}
		}},
		"POST /api/v1/me/second-factor/confirm": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/me/second-factor/confirm", body: map[string]string{"code": "123456"}}}
		}},
		"POST /api/v1/me/second-factor/recovery-codes": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/me/second-factor/recovery-codes", body: map[string]string{"code": "123456"}}}
		}},
		"DELETE /api/v1/me/second-factor": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/me/second-factor", body: map[string]string{"password": a.advisorPass, "code": "123456"}}}
		}},
		// B's callers deleting their own account with A's password: refused.
		"DELETE /api/v1/me": {targets: func(a, b *isoTenant) []isoTarget {
			return []isoTarget{{path: "/api/v1/me", body: map[string]string{"password": a.advisorPass}}}
		}},
		// A's advisor's second factor, reset by B's admin: refused.
		"DELETE /api/v1/users/{id}/second-factor": {targets: fr("DELETE /api/v1/users/{id}/second-factor")},
	}
}

// zipText is the text of every file of a ZIP answer (an export), so that
// the leak check sees through the compression.
func zipText(r resp) string {
	if r.header.Get("Content-Type") != "application/zip" {
		return ""
	}
	zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			continue
		}
		data, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
		rc.Close()
		b.WriteString("\n" + f.Name + "\n")
		b.Write(data)
	}
	return b.String()
}

func TestPrivacyRoutesExportAndEraseACustomer(t *testing.T) {
	f, cs, ics := newIsolationFixture(t)
	a := f.populate(cs, ics, "sparkasse", adminPass, "Alpha")

	// Advisors may not export or erase: data subject requests go through
	// an admin.
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/v1/customers/" + a.customerID + "/export"},
		{"POST", "/api/v1/customers/" + a.customerID + "/erasure"},
		{"GET", "/api/v1/erasures"},
	} {
		if r := f.call(tc.method, tc.path, "", a.advisor, nil, nil); r.status != 403 {
			t.Errorf("%s %s as advisor: %d", tc.method, tc.path, r.status)
		}
	}

	r := f.call("GET", "/api/v1/customers/"+a.customerID+"/export", "", a.admin, nil, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/zip" || !strings.Contains(r.header.Get("Content-Disposition"), a.customerID) {
		t.Fatalf("export: %d %v", r.status, r.header)
	}
	text := zipText(r)
	for _, want := range []string{"manifest.json", "profile.json", a.custEmail, a.custLast} {
		if !strings.Contains(text, want) {
			t.Errorf("export lacks %q", want)
		}
	}

	// A legal hold keeps the customer; releasing it lets the erasure run.
	var hold struct {
		ID string `json:"id"`
	}
	f.decode(f.callJSON("POST", "/api/v1/retention/holds", a.admin, map[string]string{"subject_kind": "customer", "subject_id": a.customerID,
		"reason": "Aufbewahrungspflicht WpHG"}, nil), 201, "hold", &hold)
	if r := f.call("POST", "/api/v1/customers/"+a.customerID+"/erasure", "", a.admin, nil, nil); r.status != 409 || r.errCode() != "legal_hold" {
		t.Fatalf("erasure under hold: %d %s", r.status, r.body)
	}
	if r := f.call("GET", "/api/v1/customers/"+a.customerID, "", a.advisor, nil, nil); r.status != 200 {
		t.Fatalf("customer after refused erasure: %d", r.status)
	}
	f.decode(f.call("DELETE", "/api/v1/retention/holds/"+hold.ID, "", a.admin, nil, nil), 204, "release", nil)

	var rc privacy.Receipt
	f.decode(f.callJSON("POST", "/api/v1/customers/"+a.customerID+"/erasure", a.admin, nil, nil), 200, "erasure", &rc)
	if rc.State != privacy.StateCompleted || !rc.KeyDestroyed {
		t.Fatalf("receipt %+v", rc)
	}
	if r := f.call("GET", "/api/v1/customers/"+a.customerID, "", a.advisor, nil, nil); r.status != 404 {
		t.Fatalf("erased customer still served: %d %s", r.status, r.body)
	}
	if r := f.call("GET", "/api/v1/customers/"+a.customerID+"/export", "", a.admin, nil, nil); r.status != 404 || r.header.Get("Content-Type") == "application/zip" {
		t.Fatalf("export of an erased customer: %d", r.status)
	}
	var got privacy.Receipt
	f.decode(f.call("GET", "/api/v1/erasures/"+rc.ID, "", a.admin, nil, nil), 200, "receipt", &got)
	if got.ID != rc.ID || got.CustomerID != a.customerID {
		t.Fatalf("receipt read back %+v", got)
	}
	var list struct {
		Erasures []privacy.Receipt `json:"erasures"`
	}
	f.decode(f.call("GET", "/api/v1/erasures", "", a.admin, nil, nil), 200, "receipts", &list)
	if len(list.Erasures) != 2 { // populate's and this one
		t.Fatalf("receipts %+v", list.Erasures)
	}
}
