package signal

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestReadLine(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("a\n"+strings.Repeat("b", 9000)+"\nlast"), 16)
	for _, want := range []string{"a", strings.Repeat("b", 9000), "last"} {
		got, err := readLine(br, 10000)
		if err != nil || string(got) != want {
			t.Fatalf("got %.20q %v, want %.20q", got, err, want)
		}
	}
	if _, err := readLine(br, 10000); err == nil {
		t.Fatal("no error at the end")
	}
	br = bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", 200)+"\n"), 16)
	if _, err := readLine(br, 100); !errors.Is(err, errLineTooLong) {
		t.Fatalf("long line: %v", err)
	}
}

// FuzzReadLine: lines come back as written, never longer than the limit.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte("{\"type\":\"ping\"}\n{\"type\":\"leave\"}\n"))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(b), 16)
		var got [][]byte
		for {
			line, err := readLine(br, 64)
			if err != nil {
				if errors.Is(err, errLineTooLong) {
					return
				}
				break
			}
			if len(line) > 64 || bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("line %q breaks the limit or holds a newline", line)
			}
			got = append(got, line)
		}
		want := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
		if len(b) == 0 {
			want = nil
		}
		if len(got) != len(want) {
			t.Fatalf("%d lines, want %d", len(got), len(want))
		}
	})
}
