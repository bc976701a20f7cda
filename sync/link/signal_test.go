package link

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"parley/relay/whiteboard"
)

// TestSignalLineFitsAFullBoard: a line as long as a full board's state
// (and more) is read whole; a line over the limit is refused without
// reading it all into memory first.
func TestSignalLineFitsAFullBoard(t *testing.T) {
	if MaxSignalMessageBytes < 2*whiteboard.DefaultMaxBoardBytes {
		t.Fatalf("MaxSignalMessageBytes %d cannot carry a full board's state (%d bytes of ops plus relay fields)",
			MaxSignalMessageBytes, whiteboard.DefaultMaxBoardBytes)
	}
	big := `{"type":"board_state","board":{"seq":1,"pages":[{"page":1,"objects":[{"text":"` +
		strings.Repeat("x", whiteboard.DefaultMaxBoardBytes+1<<20) + `"}]}]}}`
	second := `{"type":"pong"}`
	br := bufio.NewReaderSize(strings.NewReader(big+"\n"+second+"\n"), 4096)
	line, err := readSignalLine(br, MaxSignalMessageBytes)
	if err != nil || string(line) != big {
		t.Fatalf("full board's line: %d bytes, %v", len(line), err)
	}
	if line, err = readSignalLine(br, MaxSignalMessageBytes); err != nil || string(line) != second {
		t.Fatalf("the next line: %q %v", line, err)
	}
	if _, err = readSignalLine(br, MaxSignalMessageBytes); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v", err)
	}

	// Over the limit: refused after limit bytes, without a newline ever.
	r := &countingReader{r: io.MultiReader(strings.NewReader(strings.Repeat("y", 10_000)), neverEnding{})}
	if _, err := readSignalLine(bufio.NewReaderSize(r, 4096), 5000); !errors.Is(err, errSignalLine) {
		t.Fatalf("over the limit: %v", err)
	}
	if r.n > 5000+2*4096 {
		t.Errorf("read %d bytes before refusing a line over 5000", r.n)
	}
	// A last line without newline is returned; one over the limit is not.
	if line, err := readSignalLine(bufio.NewReader(strings.NewReader("abc")), 10); err != nil || string(line) != "abc" {
		t.Errorf("unterminated last line: %q %v", line, err)
	}
	if _, err := readSignalLine(bufio.NewReader(bytes.NewReader(make([]byte, 11))), 10); !errors.Is(err, errSignalLine) {
		t.Errorf("unterminated last line over the limit: %v", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

type neverEnding struct{}

func (neverEnding) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 'z'
	}
	return len(b), nil
}
