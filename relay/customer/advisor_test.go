package customer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestActorMustBeAUserOfATenant(t *testing.T) {
	f := newFixture(t, nil)
	for _, a := range []Actor{{}, {TenantID: "bank1"}, {UserID: "adv1"}, {TenantID: "bank/1", UserID: "adv1"}} {
		_, err := f.svc.List(ctx, a, "", 0)
		wantErr(t, err, ErrForbidden)
		_, err = f.svc.Create(ctx, a, erika())
		wantErr(t, err, ErrForbidden)
		_, err = f.svc.Get(ctx, a, "0123456789abcdef0123456789abcdef")
		wantErr(t, err, ErrForbidden)
		_, _, err = f.svc.Update(ctx, a, "0123456789abcdef0123456789abcdef", erika())
		wantErr(t, err, ErrForbidden)
	}
}

func TestListNewestFirstQueryAndTenantIsolation(t *testing.T) {
	f := newFixture(t, nil)
	names := []string{"Anna Schmidt", "Bernd Schmitt", "Clara Meier", "Dieter Müller"}
	idsByName := map[string]string{}
	for _, n := range names {
		first, last, _ := strings.Cut(n, " ")
		idsByName[n] = f.upsert(t, "bank1", Contact{FirstName: first, LastName: last, Email: strings.ToLower(first) + "@example.de"})
		f.clock.Advance(time.Hour)
	}
	f.upsert(t, "bank2", Contact{FirstName: "Anna", LastName: "Fremd", Email: "anna@example.de"})
	// Bernd interacts again: he comes first.
	if err := f.svc.Touch(ctx, "bank1", idsByName["Bernd Schmitt"], f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	list := func(q string, limit int) []string {
		t.Helper()
		ps, err := f.svc.List(ctx, advisor, q, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			if p.TenantID != "bank1" {
				t.Fatalf("List returned a profile of %s", p.TenantID)
			}
			out = append(out, p.Contact.FirstName+" "+p.Contact.LastName)
		}
		return out
	}
	for _, tc := range []struct {
		q     string
		limit int
		want  []string
	}{
		{"", 0, []string{"Bernd Schmitt", "Dieter Müller", "Clara Meier", "Anna Schmidt"}},
		{"", 2, []string{"Bernd Schmitt", "Dieter Müller"}},
		{"SCHMI", 0, []string{"Bernd Schmitt", "Anna Schmidt"}},
		{"müller", 0, []string{"Dieter Müller"}},
		{"clara@EXAMPLE", 0, []string{"Clara Meier"}},
		{"anna schmidt", 0, []string{"Anna Schmidt"}},
		{"fremd", 0, nil},
		{"nobody", 0, nil},
	} {
		if got := list(tc.q, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q, %d) = %q, want %q", tc.q, tc.limit, got, tc.want)
		}
	}
	_, err := f.svc.List(ctx, advisor, strings.Repeat("x", 10<<20), 0)
	wantErr(t, err, ErrInvalidInput)
	// Another tenant's advisor can neither list nor get bank1's customers.
	other := Actor{TenantID: "bank2", UserID: "adv9"}
	ps, err := f.svc.List(ctx, other, "schmi", 0)
	if err != nil || len(ps) != 0 {
		t.Fatalf("foreign List = %v, %v", ps, err)
	}
	_, err = f.svc.Get(ctx, other, idsByName["Anna Schmidt"])
	wantErr(t, err, ErrNotFound)
	_, _, err = f.svc.Update(ctx, other, idsByName["Anna Schmidt"], Contact{Email: "x@example.de"})
	wantErr(t, err, ErrNotFound)
	if err := f.svc.Touch(ctx, "bank2", idsByName["Anna Schmidt"], f.clock.Now()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("foreign Touch: %v", err)
	}
}

func TestCreateNeedsEmailOrMobileAndRefusesDuplicates(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.svc.Create(ctx, advisor, Contact{FirstName: "Erika"})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Field != "email" {
		t.Fatalf("Create without e-mail or mobile: %v", err)
	}
	p, err := f.svc.Create(ctx, advisor, Contact{LastName: "Mustermann", Mobile: "0171 1234567"})
	if err != nil || p.Contact.Mobile != "+491711234567" || p.TenantID != "bank1" {
		t.Fatalf("Create mobile-only = %+v, %v", p, err)
	}
	p2, err := f.svc.Create(ctx, advisor, erika())
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Create(ctx, advisor, Contact{Email: "ERIKA.mustermann@example.org"})
	var de *DuplicateError
	if !errors.As(err, &de) || de.CustomerID != p2.ID || !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate Create: %v", err)
	}
	assertNoPII(t, "duplicate error", err.Error())
	// A booking with the advisor-created address finds that profile.
	if id := f.upsert(t, "bank1", Contact{Email: "erika.mustermann@example.org"}); id != p2.ID {
		t.Fatalf("upsert found %s, want %s", id, p2.ID)
	}
}

func TestUpdateRectifiesAndReportsFieldNamesOnly(t *testing.T) {
	f := newFixture(t, nil)
	id := f.upsert(t, "bank1", erika())
	before, _ := f.svc.Get(ctx, advisor, id)
	f.clock.Advance(time.Hour)
	c := erika()
	c.LastName = "Musterfrau"
	c.Email = "erika@example.net"
	c.Mobile = ""
	c.Address.City = "Bonn"
	p, changed, err := f.svc.Update(ctx, advisor, id, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"last_name", "email", "mobile", "address.city"}
	if !slices.Equal(changed, want) {
		t.Fatalf("changed %q, want %q", changed, want)
	}
	if p.Contact.LastName != "Musterfrau" || p.Contact.Mobile != "" || p.Contact.Address.City != "Bonn" {
		t.Fatalf("updated %+v", p.Contact)
	}
	if !p.LastInteraction.Equal(before.LastInteraction) {
		t.Fatal("a rectification extended the retention period")
	}
	// The e-mail index moved: the new address finds the profile, the old
	// one makes a new profile.
	if got := f.upsert(t, "bank1", Contact{Email: "ERIKA@example.net"}); got != id {
		t.Fatalf("new address found %s", got)
	}
	if got := f.upsert(t, "bank1", Contact{Email: "erika.mustermann@example.org"}); got == id {
		t.Fatal("old address still finds the rectified profile")
	}
	// Moving onto another live profile's address is refused.
	other := f.upsert(t, "bank1", Contact{Email: "max@example.de"})
	_, _, err = f.svc.Update(ctx, advisor, id, Contact{Email: "max@example.de"})
	var de *DuplicateError
	if !errors.As(err, &de) || de.CustomerID != other {
		t.Fatalf("Update onto a used address: %v", err)
	}
	// Nothing changed: no fields.
	_, changed, err = f.svc.Update(ctx, advisor, id, p.Contact)
	if err != nil || len(changed) != 0 {
		t.Fatalf("no-op Update changed %q, %v", changed, err)
	}
	// Invalid input changes nothing.
	_, _, err = f.svc.Update(ctx, advisor, id, Contact{Email: "erika@example.net", FirstName: "a\x00b"})
	wantErr(t, err, ErrInvalidInput)
	if got, _ := f.svc.Get(ctx, advisor, id); got.Contact.FirstName != "Erika" {
		t.Fatal("refused update changed the profile")
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "customer rectified") || !strings.Contains(logs, "address.city") {
		t.Fatalf("rectification not logged with field names: %s", logs)
	}
}

func TestLogsAndErrorsCarryNoPersonalData(t *testing.T) {
	f := newFixture(t, nil)
	id := f.upsert(t, "bank1", erika())
	_, err := f.svc.Create(ctx, advisor, erika())
	assertNoPII(t, "error", fmt.Sprint(err))
	c := erika()
	c.FirstName = "Erika\x07"
	_, err = f.svc.Create(ctx, advisor, c)
	assertNoPII(t, "error", fmt.Sprint(err))
	if _, _, err := f.svc.Update(ctx, advisor, id, Contact{FirstName: "Erika2", Email: "e2@example.org"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Export(ctx, advisor, id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Shred(ctx, "bank1", id); err != nil {
		t.Fatal(err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, id) {
		t.Fatal("logs do not name the customer id")
	}
	assertNoPII(t, "logs", logs)
	if strings.Contains(logs, "e2@example.org") || strings.Contains(logs, "Erika2") {
		t.Error("logs contain the rectified values")
	}
}
