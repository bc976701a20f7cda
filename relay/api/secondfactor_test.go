package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSecondFactorThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	admin := f.login("sparkasse", "admin", adminPass)

	if r := f.json("POST", "/api/v1/me/second-factor", admin, map[string]string{"password": "falsch-falsch-falsch"}); r.status != http.StatusUnauthorized {
		t.Fatalf("enrol with a wrong password: %d %s", r.status, r.body)
	}
	r := f.json("POST", "/api/v1/me/second-factor", admin, map[string]string{"password": adminPass})
	var en struct {
		Secret     string `json:"secret"`
		OTPAuthURL string `json:"otpauth_url"`
	}
	if err := json.Unmarshal(r.body, &en); r.status != http.StatusOK || err != nil || en.Secret == "" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enrol: %d %s", r.status, r.body)
	}
	r = f.json("POST", "/api/v1/me/second-factor/confirm", admin, map[string]string{"code": totpCode(t, en.Secret, f.clock.Now())})
	var rc struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if err := json.Unmarshal(r.body, &rc); r.status != http.StatusOK || err != nil || len(rc.RecoveryCodes) != 10 {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	var me userJSON
	if r := f.json("GET", "/api/v1/me", admin, nil); json.Unmarshal(r.body, &me) != nil || !me.SecondFactor {
		t.Fatalf("me after enrolment: %s", r.body)
	}

	// The password alone now gets a challenge.
	f.clock.Advance(time.Minute)
	r = f.json("POST", "/api/v1/login", "", map[string]string{"tenant": "sparkasse", "username": "admin", "password": adminPass})
	var ch struct {
		Error struct {
			Code      string `json:"code"`
			Challenge string `json:"challenge"`
		} `json:"error"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(r.body, &ch); r.status != http.StatusUnauthorized || err != nil || ch.Error.Code != "second_factor_required" || ch.Error.Challenge == "" || ch.Token != "" {
		t.Fatalf("login with a second factor: %d %s", r.status, r.body)
	}
	if r := f.json("POST", "/api/v1/login/second-factor", "", map[string]string{"challenge": ch.Error.Challenge, "code": "000000"}); r.status != http.StatusUnauthorized || r.errCode() != "invalid_code" {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	r = f.json("POST", "/api/v1/login/second-factor", "", map[string]string{"challenge": ch.Error.Challenge, "code": totpCode(t, en.Secret, f.clock.Now())})
	var login struct {
		Token string   `json:"token"`
		User  userJSON `json:"user"`
	}
	if err := json.Unmarshal(r.body, &login); r.status != http.StatusOK || err != nil || login.Token == "" || login.User.Username != "admin" || login.User.Tenant != "sparkasse" {
		t.Fatalf("second factor: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/me", login.Token, nil); r.status != http.StatusOK {
		t.Fatalf("the new session: %d", r.status)
	}

	// An admin resets another admin's lost second factor.
	if r := f.json("POST", "/api/v1/users", login.Token, map[string]string{"username": "zweit", "display_name": "Zweiter Admin", "password": "Kaffee-und-Kuchen-42", "role": "admin"}); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := f.json("DELETE", "/api/v1/users/"+me.ID+"/second-factor", login.Token, nil); r.status != http.StatusNoContent {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/me", login.Token, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("the session survived the reset: %d", r.status)
	}
	if tok := f.login("sparkasse", "admin", adminPass); tok == "" {
		t.Fatal("no login after the reset")
	}
}

func TestAdvisorDeletesTheirOwnAccount(t *testing.T) {
	f, cs, ics := newIsolationFixture(t)
	a := f.populate(cs, ics, "sparkasse", adminPass, "Alpha")

	if r := f.json("DELETE", "/api/v1/me", a.advisor, map[string]string{"password": "nicht-das-passwort"}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d %s", r.status, r.body)
	}
	if r := f.json("DELETE", "/api/v1/me", a.advisor, map[string]string{"password": a.advisorPass}); r.status != http.StatusConflict || r.errCode() != "future_bookings" {
		t.Fatalf("with a booking to come: %d %s", r.status, r.body)
	}
	if r := f.json("DELETE", "/api/v1/me", a.admin, map[string]string{"password": adminPass}); r.status != http.StatusConflict || r.errCode() != "last_admin" {
		t.Fatalf("the last admin: %d %s", r.status, r.body)
	}
	if r := f.json("POST", "/api/v1/bookings/"+a.bookingID+"/cancel", a.advisor, nil); r.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if r := f.json("DELETE", "/api/v1/me", a.advisor, map[string]string{"password": a.advisorPass}); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := f.json("GET", "/api/v1/me", a.advisor, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("the deleted account's session: %d", r.status)
	}
	if r := f.json("POST", "/api/v1/login", "", map[string]string{"tenant": "sparkasse", "username": a.advisorUser, "password": a.advisorPass}); r.status != http.StatusUnauthorized {
		t.Fatalf("login of the deleted account: %d", r.status)
	}
	if r := f.json("GET", "/api/v1/pages/"+a.pageID, "", nil); r.status != http.StatusNotFound {
		t.Fatalf("the deleted advisor's booking page: %d", r.status)
	}
	var audit struct {
		Entries []struct {
			Action string `json:"action"`
			Target string `json:"target"`
		} `json:"entries"`
	}
	f.decode(f.json("GET", "/api/v1/audit", a.admin, nil), http.StatusOK, "audit", &audit)
	found := false
	for _, e := range audit.Entries {
		found = found || e.Action == "user.delete_self" && e.Target == a.advisorID
	}
	if !found {
		t.Fatal("no audit entry for the deletion")
	}
}
