package relayproc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"parley/relay/store/storetest"
	"parley/tests/internal/testenv"
)

// relayCmd runs a relay subcommand without the test's PARLEY_* variables
// (env adds some back) and returns its combined output.
func relayCmd(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testenv.BuildRelay(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestBackupAndRestore(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	bak := filepath.Join(tmp, "backups", "relay.backup")
	if err := os.MkdirAll(filepath.Dir(bak), 0o700); err != nil {
		t.Fatal(err)
	}
	p1, api1 := start(t, dir)
	_, created := setUpAdvisor(t, p1, api1)

	// A running relay holds the store's lock: backup says to stop it.
	out, err := relayCmd(t, nil, "backup", "--data", dir, "--out", bak)
	if err == nil || !strings.Contains(out, "stop the relay") {
		t.Errorf("relay backup of a running relay: %v\n%s", err, out)
	}
	if _, err := os.Stat(bak); err == nil {
		t.Errorf("the failed backup left %s", bak)
	}
	stopClean(t, p1)

	out, err = relayCmd(t, nil, "backup", "--data", dir, "--out", bak)
	if err != nil {
		t.Fatalf("relay backup: %v\n%s", err, out)
	}
	for _, want := range []string{"entries", "sha256", "key id"} {
		if !strings.Contains(out, want) {
			t.Errorf("relay backup printed no %q:\n%s", want, out)
		}
	}
	fi, err := os.Stat(bak)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode %v, want 0600", fi.Mode().Perm())
	}
	if n := storetest.AssertNoPlaintext(t, filepath.Dir(bak), "backup", advisorEmail, advisorDisplay, advisorUsername, "PRIVATE KEY"); n != 1 {
		t.Errorf("backup folder holds %d files, want only the backup", n)
	}

	// Without the key, restore refuses and creates nothing.
	restored := filepath.Join(tmp, "restored")
	out, err = relayCmd(t, nil, "restore", "--data", restored, "--in", bak)
	if err == nil || !strings.Contains(out, "--key-file") {
		t.Errorf("relay restore without a key: %v\n%s", err, out)
	}
	// With another key, it says so and creates nothing.
	other := filepath.Join(tmp, "other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = relayCmd(t, nil, "restore", "--data", restored, "--in", bak, "--key-file", other)
	if err == nil || !strings.Contains(out, "different store key") {
		t.Errorf("relay restore with another key: %v\n%s", err, out)
	}
	if _, err := os.Stat(restored); err == nil {
		t.Fatalf("a failed restore created %s", restored)
	}
	// Into the old, non-empty data folder it refuses.
	if out, err := relayCmd(t, nil, "restore", "--data", dir, "--in", bak, "--key-file", filepath.Join(dir, "store.key")); err == nil {
		t.Errorf("relay restore into the live data folder succeeded:\n%s", out)
	}

	// The key is kept elsewhere: here, a copy of the old key file.
	keyCopy := filepath.Join(tmp, "key-safe", "store.key")
	if err := os.MkdirAll(filepath.Dir(keyCopy), 0o700); err != nil {
		t.Fatal(err)
	}
	k, err := os.ReadFile(filepath.Join(dir, "store.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyCopy, k, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = relayCmd(t, nil, "restore", "--data", restored, "--in", bak, "--key-file", keyCopy)
	if err != nil {
		t.Fatalf("relay restore: %v\n%s", err, out)
	}
	if !strings.Contains(out, "audit log intact: 3 entries") {
		t.Errorf("relay restore did not report the audit log:\n%s", out)
	}
	fi, err = os.Stat(filepath.Join(restored, "store.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	storetest.AssertNoPlaintext(t, filepath.Join(restored, "store"), "restored store", advisorEmail, advisorDisplay)

	// The auditor's copy of the checkpoint public key, kept outside the
	// relay: the restored log's checkpoints verify against it.
	pub, err := os.ReadFile(filepath.Join(dir, "audit-checkpoint.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pubCopy := filepath.Join(tmp, "key-safe", "audit-checkpoint.pub")
	if err := os.WriteFile(pubCopy, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = relayCmd(t, nil, "audit-verify", "--data", restored, "--key", pubCopy)
	if err != nil || !strings.Contains(out, "audit log intact: 3 entries, 1 signed checkpoints") ||
		!strings.Contains(out, "checkpoint key: SHA256:") || !strings.Contains(out, strings.TrimSpace(string(pub))) {
		t.Errorf("relay audit-verify on the restored folder: %v\n%s", err, out)
	}

	// With the key in PARLEY_STORE_KEY instead, no key file is written:
	// the relay takes the key from the same variable.
	envKey := []string{"PARLEY_STORE_KEY=" + strings.TrimSpace(string(k))}
	restored2 := filepath.Join(tmp, "restored-env")
	if out, err := relayCmd(t, envKey, "restore", "--data", restored2, "--in", bak); err != nil {
		t.Errorf("relay restore with PARLEY_STORE_KEY: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(restored2, "store.key")); err == nil {
		t.Errorf("restore with PARLEY_STORE_KEY wrote the key to disk")
	}
	if out, err := relayCmd(t, envKey, "audit-verify", "--data", restored2); err != nil || !strings.Contains(out, "audit log intact: 3 entries") {
		t.Errorf("relay audit-verify with PARLEY_STORE_KEY: %v\n%s", err, out)
	}

	p2, api2 := start(t, restored)
	// The certificate came back with the store: pinned apps still connect.
	if p2.Fingerprint != p1.Fingerprint {
		t.Errorf("certificate fingerprint after restore %s, before %s", p2.Fingerprint, p1.Fingerprint)
	}
	if strings.Contains(p2.Stdout(), "one-time password") {
		t.Errorf("the relay on the restored folder bootstrapped afresh:\n%s", p2.Stdout())
	}
	_, login := api2.Login(t, tenant, advisorUsername, advisorPassword)
	if login.User != created {
		t.Errorf("advisor after restore = %+v, created as %+v", login.User, created)
	}
	api2.Login(t, tenant, "admin", adminNewPassword)
	stopClean(t, p2)

	out, err = relayCmd(t, nil, "audit-verify", "--data", restored)
	if err != nil || !strings.Contains(out, "audit log intact") {
		t.Errorf("relay audit-verify after serving from the restored folder: %v\n%s", err, out)
	}
}
