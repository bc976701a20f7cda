package link

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

// sfRelay is a relay double for the second-factor routes: erika has a
// second factor whose only right code is 123456 and whose recovery code
// is abcd-efgh-ijkl-mnop; every request is recorded.
type sfRelay struct {
	mu    sync.Mutex
	seen  []string
	reply map[string]func(w http.ResponseWriter) // overrides by "METHOD path"
}

const (
	sfChallenge = "pmf_Q2hhbGxlbmdl"
	sfToken     = "pst_secondfactor"
	sfSecret    = "JBSWY3DPEHPK3PXP"
)

func (s *sfRelay) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// set makes the double answer route with f.
func (s *sfRelay) set(route string, f func(w http.ResponseWriter)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reply == nil {
		s.reply = map[string]func(http.ResponseWriter){}
	}
	s.reply[route] = f
}

func (s *sfRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	route := req.Method + " " + req.URL.EscapedPath()
	s.mu.Lock()
	s.seen = append(s.seen, strings.TrimSpace(route+" "+string(b)))
	f, ok := s.reply[route]
	s.mu.Unlock()
	if ok {
		f(w)
		return
	}
	user := map[string]any{"id": "u1", "tenant_id": "t1", "tenant": "acme", "username": "erika", "role": "admin", "second_factor": true}
	login := map[string]any{"token": sfToken, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "user": user}
	switch route {
	case "POST /api/v1/login":
		writeError(w, http.StatusUnauthorized, CodeSecondFactorRequired, map[string]any{"challenge": sfChallenge})
		return
	case "POST /api/v1/login/second-factor":
		var body secondFactorLogin
		if json.Unmarshal(b, &body) != nil || body.Challenge != sfChallenge ||
			(body.Code != "123456" && body.Code != "abcd-efgh-ijkl-mnop") {
			writeError(w, http.StatusUnauthorized, CodeInvalidCode, nil)
			return
		}
		writeJSON(w, http.StatusOK, login)
		return
	}
	if req.Header.Get("Authorization") != "Bearer "+sfToken {
		writeError(w, http.StatusUnauthorized, CodeUnauthenticated, nil)
		return
	}
	switch route {
	case "GET /api/v1/me":
		writeJSON(w, http.StatusOK, user)
	case "GET /api/v1/users":
		writeJSON(w, http.StatusOK, map[string]any{"users": []any{user}})
	case "POST /api/v1/me/second-factor":
		writeJSON(w, http.StatusOK, map[string]any{"secret": sfSecret,
			"otpauth_url": "otpauth://totp/Parley%20acme:erika?algorithm=SHA1&digits=6&issuer=Parley+acme&period=30&secret=" + sfSecret,
			"expires_at":  "2026-11-23T10:15:00Z"})
	case "POST /api/v1/me/second-factor/confirm", "POST /api/v1/me/second-factor/recovery-codes":
		codes := make([]string, 10)
		for i := range codes {
			codes[i] = "aaaa-bbbb-cccc-dd" + string(rune('a'+i)) + "d"
		}
		writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
	case "DELETE /api/v1/me/second-factor", "DELETE /api/v1/users/u2/second-factor":
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusNotFound, CodeNotFound, nil)
	}
}

func TestLoginWithSecondFactor(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{})
	mustConnect(t, c, r.URL, TransportQUIC)
	ctx := testCtx(t)
	sf := &sfRelay{}
	r.serveAll(sf.ServeHTTP)

	_, err := c.Login(ctx, "acme", "erika", "correct horse battery")
	challenge, ok := SecondFactorChallenge(err)
	if !ok || challenge != sfChallenge {
		t.Fatalf("Login: %v; challenge %q %v", err, challenge, ok)
	}
	if msg := UserMessage(err); !strings.Contains(msg, "authenticator app") {
		t.Errorf("message %q", msg)
	}
	if _, err := c.Me(ctx); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("a challenge alone gives a session: %v", err)
	}

	// Wrong code: an invalid_code error, still no session.
	_, err = c.LoginSecondFactor(ctx, challenge, "654321")
	if !IsInvalidCode(err) || !strings.Contains(UserMessage(err), "not right") {
		t.Fatalf("wrong code: %v", err)
	}
	if _, ok := SecondFactorChallenge(err); ok {
		t.Error("invalid_code taken for a new challenge")
	}
	if _, err := c.Me(ctx); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("a wrong code gives a session: %v", err)
	}

	// Malformed codes are not sent.
	before := len(sf.requests())
	for _, bad := range []string{"", "12345", "1234567", "12a456", "äöü-1234-5678", "12 34 5", strings.Repeat("a", 65)} {
		if _, err := c.LoginSecondFactor(ctx, challenge, bad); !errors.Is(err, ErrCodeFormat) {
			t.Errorf("code %q: %v", bad, err)
		}
	}
	if _, err := c.LoginSecondFactor(ctx, "pmf_\"x y", "123456"); !IsInvalidCode(err) {
		t.Errorf("malformed challenge: %v", err)
	}
	if n := len(sf.requests()); n != before {
		t.Errorf("malformed input reached the relay: %q", sf.requests()[before:])
	}

	// The right code, typed with a space, opens the session.
	res, err := c.LoginSecondFactor(ctx, challenge, " 123 456 ")
	if err != nil {
		t.Fatal(err)
	}
	if res.Token != sfToken || !res.User.SecondFactor || res.User.ID != "u1" {
		t.Errorf("result %+v", res)
	}
	me, err := c.Me(ctx)
	if err != nil || !me.SecondFactor {
		t.Fatalf("Me after the second factor: %+v %v", me, err)
	}
	users, err := c.ListUsers(ctx)
	if err != nil || len(users) != 1 || !users[0].SecondFactor {
		t.Errorf("ListUsers: %+v %v", users, err)
	}

	// A recovery code works the same way.
	if _, err := c.LoginSecondFactor(ctx, challenge, "abcd-efgh-ijkl-mnop"); err != nil {
		t.Errorf("recovery code: %v", err)
	}
	want := `POST /api/v1/login/second-factor {"challenge":"` + sfChallenge + `","code":"123456"}`
	if got := sf.requests(); !contains(got, want) {
		t.Errorf("requests %q lack %q", got, want)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSecondFactorSettings(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{})
	mustConnect(t, c, r.URL, TransportQUIC)
	ctx := testCtx(t)
	sf := &sfRelay{}
	r.serveAll(sf.ServeHTTP)

	// Without a session nothing is sent.
	if _, err := c.StartSecondFactor(ctx, "pw"); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("StartSecondFactor without a session: %v", err)
	}
	_, err := c.Login(ctx, "acme", "erika", "pw")
	ch, _ := SecondFactorChallenge(err)
	if _, err := c.LoginSecondFactor(ctx, ch, "123456"); err != nil {
		t.Fatal(err)
	}

	setup, err := c.StartSecondFactor(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if setup.Secret != sfSecret || !strings.HasPrefix(setup.OTPAuthURL, "otpauth://totp/") ||
		!setup.ExpiresAt.Equal(time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC)) {
		t.Errorf("setup %+v", setup)
	}
	codes, err := c.ConfirmSecondFactor(ctx, "123456")
	if err != nil || len(codes) != 10 || codes[0] != "aaaa-bbbb-cccc-ddad" {
		t.Fatalf("Confirm: %q %v", codes, err)
	}
	if codes, err := c.NewRecoveryCodes(ctx, "123456"); err != nil || len(codes) != 10 {
		t.Fatalf("NewRecoveryCodes: %q %v", codes, err)
	}
	if err := c.DisableSecondFactor(ctx, "correct horse battery", "abcd-efgh-ijkl-mnop"); err != nil {
		t.Fatal(err)
	}
	if err := c.ResetSecondFactor(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if err := c.ResetSecondFactor(ctx, "../x"); !hasCode(err, CodeNotFound) {
		t.Errorf("hostile id: %v", err)
	}
	got := sf.requests()[2:] // after login and second factor
	want := []string{
		`POST /api/v1/me/second-factor {"password":"correct horse battery"}`,
		`POST /api/v1/me/second-factor/confirm {"code":"123456"}`,
		`POST /api/v1/me/second-factor/recovery-codes {"code":"123456"}`,
		`DELETE /api/v1/me/second-factor {"password":"correct horse battery","code":"abcd-efgh-ijkl-mnop"}`,
		`DELETE /api/v1/users/u2/second-factor`,
		`DELETE /api/v1/users/..%2Fx/second-factor`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if setupLog := (SecondFactorSetup{Secret: sfSecret}).LogValue().String(); strings.Contains(setupLog, sfSecret) {
		t.Errorf("the secret is logged: %s", setupLog)
	}
}

func TestSecondFactorErrorsAndBadResponses(t *testing.T) {
	r := startRelay(t, relayConfig{})
	c := trustedClient(t, r, Options{})
	mustConnect(t, c, r.URL, TransportQUIC)
	ctx := testCtx(t)
	sf := &sfRelay{}
	r.serveAll(sf.ServeHTTP)
	_, err := c.Login(ctx, "acme", "erika", "pw")
	ch, _ := SecondFactorChallenge(err)
	if _, err := c.LoginSecondFactor(ctx, ch, "123456"); err != nil {
		t.Fatal(err)
	}

	const start = "POST /api/v1/me/second-factor"
	for name, body := range map[string]string{
		"no secret":         `{"otpauth_url":"otpauth://totp/x?secret=A","expires_at":"2026-11-23T10:15:00Z"}`,
		"not otpauth":       `{"secret":"A","otpauth_url":"https://evil.example/?secret=A","expires_at":"2026-11-23T10:15:00Z"}`,
		"other secret":      `{"secret":"A","otpauth_url":"otpauth://totp/x?secret=B","expires_at":"2026-11-23T10:15:00Z"}`,
		"no expiry":         `{"secret":"A","otpauth_url":"otpauth://totp/x?secret=A"}`,
		"control character": `{"secret":"A\u0007","otpauth_url":"otpauth://totp/x?secret=A%07","expires_at":"2026-11-23T10:15:00Z"}`,
	} {
		sf.set(start, raw(200, body))
		if _, err := c.StartSecondFactor(ctx, "pw"); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v", name, err)
		}
	}
	sf.set(start, raw(409, `{"error":{"code":"second_factor_enabled","message":"Two-factor sign-in is already on."}}`))
	if _, err := c.StartSecondFactor(ctx, "pw"); !hasCode(err, CodeSecondFactorEnabled) || UserMessage(err) != "Two-factor sign-in is already on." {
		t.Errorf("enabled: %v", err)
	}
	sf.set(start, raw(401, `{"error":{"code":"invalid_credentials","message":"x"}}`))
	if _, err := c.StartSecondFactor(ctx, "wrong"); !hasCode(err, CodeInvalidCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := c.Me(ctx); err != nil {
		t.Errorf("a wrong password ended the session: %v", err)
	}

	const confirm = "POST /api/v1/me/second-factor/confirm"
	for name, body := range map[string]string{
		"no codes":     `{"recovery_codes":[]}`,
		"empty code":   `{"recovery_codes":["aaaa",""]}`,
		"long code":    `{"recovery_codes":["` + strings.Repeat("a", 65) + `"]}`,
		"control char": `{"recovery_codes":["aa\u0000a"]}`,
	} {
		sf.set(confirm, raw(200, body))
		if _, err := c.ConfirmSecondFactor(ctx, "123456"); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v", name, err)
		}
	}
	sf.set(confirm, raw(401, `{"error":{"code":"invalid_code","message":"sign in again"}}`))
	if _, err := c.ConfirmSecondFactor(ctx, "123456"); !IsInvalidCode(err) {
		t.Errorf("wrong code: %v", err)
	}
	// A wrong code is not a lost session.
	if _, err := c.Me(ctx); err != nil {
		t.Errorf("a wrong code ended the session: %v", err)
	}
	sf.set(confirm, raw(409, `{"error":{"code":"second_factor_not_enabled"}}`))
	if _, err := c.ConfirmSecondFactor(ctx, "123456"); !hasCode(err, CodeSecondFactorNotEnabled) ||
		!strings.Contains(UserMessage(err), "start again") {
		t.Errorf("expired enrolment: %v", err)
	}
}

func TestParseSecondFactorChallenge(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":{"code":"second_factor_required","challenge":"pmf_abc"}}`:                          "pmf_abc",
		`{"error":{"code":"second_factor_required","challenge":"pmf_a b"}}`:                          "",
		`{"error":{"code":"second_factor_required","challenge":"pmf_\u00e4"}}`:                       "",
		`{"error":{"code":"second_factor_required","challenge":"pmf_\"x"}}`:                          "",
		`{"error":{"code":"second_factor_required","challenge":"` + strings.Repeat("a", 129) + `"}}`: "",
		`{"error":{"code":"second_factor_required","challenge":"` + strings.Repeat("a", 128) + `"}}`: strings.Repeat("a", 128),
		`{"error":{"code":"second_factor_required","challenge":17}}`:                                 "",
		`{"error":{"code":"second_factor_required"}}`:                                                "",
	} {
		e := parseAPIError(401, http.Header{}, []byte(body), time.Now())
		if e.Challenge != want {
			t.Errorf("%s: challenge %q, want %q", body, e.Challenge, want)
		}
		if _, ok := SecondFactorChallenge(e); ok != (want != "") {
			t.Errorf("%s: SecondFactorChallenge %v", body, ok)
		}
	}
}

func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"123456", " 123 456 ", "abcd-efgh-ijkl-mnop", "12345", "", "١٢٣٤٥٦", "123456\x00", "a-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeCode(in)
		if err != nil {
			if !errors.Is(err, ErrCodeFormat) || out != "" {
				t.Fatalf("error %v with output %q", err, out)
			}
			return
		}
		if out == "" || len(out) > maxCodeInputLen {
			t.Fatalf("output %q", out)
		}
		for _, r := range out {
			if unicode.IsSpace(r) || r > unicode.MaxASCII {
				t.Fatalf("output %q has %q", out, r)
			}
		}
		if again, err := NormalizeCode(out); err != nil || again != out {
			t.Fatalf("not idempotent: %q → %q, %v", out, again, err)
		}
	})
}

func FuzzParseChallenge(f *testing.F) {
	f.Add(`{"error":{"code":"second_factor_required","challenge":"pmf_abc"}}`)
	f.Add(`{"error":{"code":"second_factor_required","challenge":"pmf_\u0000"}}`)
	f.Add(`{"error":{"challenge":[1,2]}}`)
	f.Fuzz(func(t *testing.T, body string) {
		e := parseAPIError(401, http.Header{}, []byte(body), time.Now())
		if len(e.Challenge) > maxChallengeLen {
			t.Fatalf("challenge of %d bytes", len(e.Challenge))
		}
		for i := 0; i < len(e.Challenge); i++ {
			if c := e.Challenge[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
				t.Fatalf("challenge %q has byte %#x", e.Challenge, c)
			}
		}
	})
}

func BenchmarkNormalizeCode(b *testing.B) {
	for b.Loop() {
		if _, err := NormalizeCode(" 123 456 "); err != nil {
			b.Fatal(err)
		}
	}
}
