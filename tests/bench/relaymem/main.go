// Command relaymem measures the relay's resident memory when idle:
//
//	go run ./tests/bench/relaymem [-n 5] [-idle 5s]
//
// It builds ./relay as it ships (CGO_ENABLED=0), then n times starts it on
// 127.0.0.1:0 with a fresh data folder, waits until /healthz answers,
// stays idle for -idle and reads VmRSS and VmHWM from /proc/PID/status,
// then stops it with SIGTERM and starts it again on the same folder
// ("restart": no first-start work such as hashing the one-time password)
// and measures again. It prints the median, minimum and maximum of each.
// Linux only (/proc). The relay inherits GOGC and GOMEMLIMIT if set.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"parley/tests/internal/testenv"
)

func main() {
	n := flag.Int("n", 5, "number of runs")
	idle := flag.Duration("idle", 5*time.Second, "idle time after /healthz answers, before reading memory")
	flag.Parse()
	if err := run(*n, *idle); err != nil {
		fmt.Fprintln(os.Stderr, "relaymem:", err)
		os.Exit(1)
	}
}

// sample is one reading of /proc/PID/status, in KiB.
type sample struct{ rss, hwm int }

func run(n int, idle time.Duration) error {
	if n < 1 {
		return errors.New("-n must be at least 1")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		return fmt.Errorf("needs Linux /proc: %w", err)
	}
	buildDir, err := os.MkdirTemp("", "relaymem-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(buildDir)
	bin, err := testenv.BuildRelayTo(buildDir)
	if err != nil {
		return err
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return err
	}
	fmt.Printf("relaymem: relay built with CGO_ENABLED=0 (%.1f MiB binary), %s, %s/%s, %d CPUs\n",
		float64(fi.Size())/(1<<20), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	for _, v := range []string{"GOGC", "GOMEMLIMIT", "GODEBUG"} {
		if val := os.Getenv(v); val != "" {
			fmt.Printf("relaymem: %s=%s is inherited by the relay\n", v, val)
		}
	}
	fmt.Printf("relaymem: %d runs, idle %v after /healthz answers\n", n, idle)

	var first, restart []sample
	for i := 0; i < n; i++ {
		dir, err := os.MkdirTemp("", "relaymem-data-")
		if err != nil {
			return err
		}
		s1, err := measure(bin, dir, idle)
		if err != nil {
			os.RemoveAll(dir)
			return fmt.Errorf("run %d, first start: %w", i+1, err)
		}
		s2, err := measure(bin, dir, idle)
		os.RemoveAll(dir)
		if err != nil {
			return fmt.Errorf("run %d, restart: %w", i+1, err)
		}
		fmt.Printf("run %d: first start VmRSS %s VmHWM %s | restart VmRSS %s VmHWM %s\n",
			i+1, mib(s1.rss), mib(s1.hwm), mib(s2.rss), mib(s2.hwm))
		first, restart = append(first, s1), append(restart, s2)
	}

	fmt.Println()
	fmt.Printf("%-12s %-32s %s\n", "", "VmRSS median (min–max)", "VmHWM median (min–max)")
	for _, row := range []struct {
		name string
		s    []sample
	}{{"first start", first}, {"restart", restart}} {
		fmt.Printf("%-12s %-32s %s\n", row.name, summary(row.s, func(s sample) int { return s.rss }),
			summary(row.s, func(s sample) int { return s.hwm }))
	}
	return nil
}

// measure starts the relay on dir, waits for /healthz, idles and reads its
// memory, then stops it.
func measure(bin, dir string, idle time.Duration) (sample, error) {
	p, err := testenv.LaunchRelay(testenv.RelayConfig{Binary: bin, DataDir: dir})
	if err != nil {
		return sample{}, err
	}
	defer p.Kill()
	client, err := testenv.PinnedClient(testenv.CertFile(dir))
	if err != nil {
		return sample{}, err
	}
	defer client.CloseIdleConnections()
	if err := waitHealthy(client, p.URL+"/healthz", 60*time.Second); err != nil {
		return sample{}, err
	}
	client.CloseIdleConnections()
	time.Sleep(idle)
	s, err := readStatus(p.Pid())
	if err != nil {
		return sample{}, err
	}
	code, err := p.Stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "relaymem: warning: %v\n", err)
	} else if code != 0 {
		fmt.Fprintf(os.Stderr, "relaymem: warning: relay exited with code %d after SIGTERM\n", code)
	}
	return s, nil
}

func waitHealthy(c *http.Client, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := c.Do(req)
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK && strings.Contains(string(body), `"ok"`) {
				return nil
			}
			err = fmt.Errorf("status %d: %s", res.StatusCode, body)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("/healthz did not answer within %v: %v", limit, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readStatus reads VmRSS and VmHWM (KiB) from /proc/PID/status.
func readStatus(pid int) (sample, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return sample{}, err
	}
	defer f.Close()
	var s sample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int
		switch key {
		case "VmRSS":
			dst = &s.rss
		case "VmHWM":
			dst = &s.hwm
		default:
			continue
		}
		fields := strings.Fields(val) // "12345 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return sample{}, fmt.Errorf("unexpected %s line %q", key, sc.Text())
		}
		if *dst, err = strconv.Atoi(fields[0]); err != nil {
			return sample{}, fmt.Errorf("%s: %w", key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return sample{}, err
	}
	if s.rss == 0 || s.hwm == 0 {
		return sample{}, fmt.Errorf("no VmRSS/VmHWM in /proc/%d/status", pid)
	}
	return s, nil
}

func summary(ss []sample, get func(sample) int) string {
	v := make([]int, len(ss))
	for i, s := range ss {
		v[i] = get(s)
	}
	slices.Sort(v)
	var med int
	if len(v)%2 == 1 {
		med = v[len(v)/2]
	} else {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return fmt.Sprintf("%s (%s–%s)", mib(med), mib(v[0]), mib(v[len(v)-1]))
}

func mib(kib int) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
