package relayproc

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"parley/tests/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Credentials used across the tests. They are distinctive so that a search
// of the logs cannot match anything else by accident.
const (
	tenant           = "bank"
	adminNewPassword = "Tide-Lantern-4821!"
	advisorUsername  = "qzadvisor"
	advisorDisplay   = "Erika Quellmann-Zander"
	advisorEmail     = "erika.quellmann-zander@example.org"
	advisorPassword  = "Harbor-Quill-7390#"
)

// oneTimePassword extracts the password from the first-start block on
// stdout ("... one-time password:\n\n    PASSWORD\n").
func oneTimePassword(t *testing.T, stdout string) string {
	t.Helper()
	_, after, ok := strings.Cut(stdout, "one-time password:")
	if !ok {
		t.Fatalf("stdout has no one-time password block:\n%s", stdout)
	}
	for _, line := range strings.Split(after, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	t.Fatalf("one-time password block is empty:\n%s", stdout)
	return ""
}

func start(t *testing.T, dataDir string) (*testenv.RelayProc, *testenv.API) {
	t.Helper()
	p := testenv.StartRelayProcess(t, testenv.BuildRelay(t), dataDir, "--tenant", tenant)
	return p, &testenv.API{Base: p.URL, HTTP: testenv.RelayClient(t, dataDir)}
}

func TestFirstStartPrintsOneTimePassword(t *testing.T) {
	if _, ok := os.LookupEnv("PARLEY_ADMIN_PASSWORD"); ok {
		t.Log("PARLEY_ADMIN_PASSWORD is set in the test's environment; testenv does not pass it to the relay")
	}
	dir := t.TempDir()
	p, api := start(t, dir)

	pw := oneTimePassword(t, p.Stdout())
	if !strings.Contains(p.Stdout(), `user "admin"`) || !strings.Contains(p.Stdout(), `tenant "`+tenant+`"`) {
		t.Errorf("first-start block does not name the tenant and user:\n%s", p.Stdout())
	}
	if !strings.HasPrefix(p.Fingerprint, "SHA256:") || len(p.Fingerprint) != len("SHA256:")+32*3-1 {
		t.Errorf("fingerprint line %q is not SHA256: and 32 hex pairs", p.Fingerprint)
	}

	admin, login := api.Login(t, tenant, "admin", pw)
	if !login.User.MustChangePassword {
		t.Errorf("login with the one-time password: must_change_password = false, want true")
	}
	if login.User.Role != "admin" || login.User.Tenant != tenant {
		t.Errorf("login user = %+v, want role admin in tenant %q", login.User, tenant)
	}
	admin.Fail(t, http.MethodGet, "/api/v1/users", nil, http.StatusForbidden, "password_change_required")

	code, err := p.Stop()
	if err != nil || code != 0 {
		t.Fatalf("stop: exit code %d, err %v; want 0", code, err)
	}
	if strings.Contains(p.Stderr(), pw) {
		t.Errorf("the one-time password appears in the relay's logs")
	}
}

// setUpAdvisor changes the admin's one-time password as the contract
// requires, creates the advisor and returns the admin's API handle and the
// created user.
func setUpAdvisor(t *testing.T, p *testenv.RelayProc, api *testenv.API) (*testenv.API, testenv.User) {
	t.Helper()
	pw := oneTimePassword(t, p.Stdout())
	admin, _ := api.Login(t, tenant, "admin", pw)
	admin.Must(t, http.MethodPost, "/api/v1/me/password", map[string]string{
		"current_password": pw, "new_password": adminNewPassword,
	}, http.StatusNoContent, nil)
	admin, login := api.Login(t, tenant, "admin", adminNewPassword)
	if login.User.MustChangePassword {
		t.Fatalf("after changing the password, must_change_password is still true")
	}
	var u testenv.User
	admin.Must(t, http.MethodPost, "/api/v1/users", map[string]string{
		"username": advisorUsername, "display_name": advisorDisplay, "email": advisorEmail,
		"password": advisorPassword, "role": "advisor",
	}, http.StatusCreated, &u)
	if u.Username != advisorUsername || u.Email != advisorEmail || u.Role != "advisor" {
		t.Fatalf("created user = %+v", u)
	}
	return admin, u
}

func stopClean(t *testing.T, p *testenv.RelayProc) {
	t.Helper()
	code, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Errorf("relay exited with code %d after SIGTERM, want 0", code)
	}
	if _, ok := p.FindLog("relay stopped"); !ok {
		t.Errorf("no JSON log line with msg \"relay stopped\" after SIGTERM; stderr:\n%s", p.Stderr())
	}
}

func TestRestartKeepsDataAndCertificate(t *testing.T) {
	dir := t.TempDir()
	p1, api1 := start(t, dir)
	_, created := setUpAdvisor(t, p1, api1)
	fp := p1.Fingerprint
	stopClean(t, p1)

	p2, api2 := start(t, dir)
	if p2.Fingerprint != fp {
		t.Errorf("certificate fingerprint changed across restart: %s, then %s", fp, p2.Fingerprint)
	}
	if strings.Contains(p2.Stdout(), "one-time password") {
		t.Errorf("restart printed a new one-time password:\n%s", p2.Stdout())
	}
	_, login := api2.Login(t, tenant, advisorUsername, advisorPassword)
	if login.User != created {
		t.Errorf("advisor after restart = %+v, created as %+v", login.User, created)
	}
	admin, _ := api2.Login(t, tenant, "admin", adminNewPassword)
	var list struct {
		Users []testenv.User `json:"users"`
	}
	admin.Must(t, http.MethodGet, "/api/v1/users", nil, http.StatusOK, &list)
	if len(list.Users) != 2 {
		t.Errorf("after restart the tenant has %d users, want 2 (admin and advisor): %+v", len(list.Users), list.Users)
	}
	stopClean(t, p2)

	// `relay fingerprint` reads the same certificate without starting.
	out, err := exec.Command(testenv.BuildRelay(t), "fingerprint", "--data", dir).Output()
	if err != nil {
		t.Fatalf("relay fingerprint: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != fp {
		t.Errorf("relay fingerprint = %q, the running relay printed %q", got, fp)
	}

	// The audit log of the stopped relay holds the first start, the
	// advisor's creation and one signed checkpoint (the first stop; the
	// second appended nothing new), and its chain is intact.
	out, err = exec.Command(testenv.BuildRelay(t), "audit-verify", "--data", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "audit log intact: 3 entries, 1 signed checkpoints") {
		t.Errorf("relay audit-verify: %v\n%s", err, out)
	}
}

func TestLogsHoldNoPersonalData(t *testing.T) {
	dir := t.TempDir()
	p1, api1 := start(t, dir)
	admin, _ := setUpAdvisor(t, p1, api1)
	advisor, _ := api1.Login(t, tenant, advisorUsername, advisorPassword)
	advisor.Must(t, http.MethodGet, "/api/v1/me", nil, http.StatusOK, nil)
	// Failure paths log too: a wrong password, a duplicate user.
	api1.Fail(t, http.MethodPost, "/api/v1/login", map[string]string{
		"tenant": tenant, "username": advisorUsername, "password": advisorPassword + "x",
	}, http.StatusUnauthorized, "invalid_credentials")
	admin.Fail(t, http.MethodPost, "/api/v1/users", map[string]string{
		"username": advisorUsername, "display_name": advisorDisplay, "email": advisorEmail,
		"password": advisorPassword, "role": "advisor",
	}, http.StatusConflict, "conflict")
	advisor.Must(t, http.MethodPost, "/api/v1/logout", nil, http.StatusNoContent, nil)
	stopClean(t, p1)

	p2, api2 := start(t, dir)
	api2.Login(t, tenant, advisorUsername, advisorPassword)
	stopClean(t, p2)

	if len(p1.Logs()) == 0 || len(p2.Logs()) == 0 {
		t.Fatalf("the relay wrote no JSON logs; nothing to check")
	}
	secrets := map[string]string{
		"advisor e-mail":        advisorEmail,
		"advisor display name":  advisorDisplay,
		"advisor password":      advisorPassword,
		"admin's new password":  adminNewPassword,
		"one-time password":     oneTimePassword(t, p1.Stdout()),
		"e-mail's local part":   strings.Split(advisorEmail, "@")[0],
		"display name's family": "Quellmann",
	}
	for i, stderr := range []string{p1.Stderr(), p2.Stderr()} {
		for what, s := range secrets {
			if strings.Contains(stderr, s) {
				t.Errorf("run %d: the relay's stderr contains the %s (%q)", i+1, what, s)
			}
		}
	}
}

func TestRelayBinaryIsHeadless(t *testing.T) {
	bin := testenv.BuildRelay(t) // fails the test if CGO_ENABLED=0 go build fails
	goCmd := testenv.RequireTool(t, "go")
	out, err := exec.Command(goCmd, "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "CGO_ENABLED=0") {
		t.Errorf("relay binary was not built with CGO_ENABLED=0:\n%s", out)
	}

	root := testenv.ModuleRoot(t)
	for _, cgo := range []string{"0", "1"} {
		cmd := exec.Command(goCmd, "list", "-deps", "./relay")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("CGO_ENABLED=%s go list -deps ./relay: %v", cgo, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 || !contains(deps, "parley/relay/server") {
			t.Fatalf("CGO_ENABLED=%s go list -deps ./relay listed %d packages, without parley/relay/server", cgo, len(deps))
		}
		for _, d := range deps {
			if strings.HasPrefix(d, "fyne.io/") || strings.HasPrefix(d, "github.com/go-gl/") {
				t.Errorf("CGO_ENABLED=%s: the relay depends on %s; the headless server must not link Fyne or GL", cgo, d)
			}
		}
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
