package browser

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// smallPDF returns a small but complete PDF whose content stream holds
// random bytes, so that a changed byte anywhere shows.
func smallPDF(t *testing.T) []byte {
	t.Helper()
	noise := make([]byte, 48<<10)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	b.WriteString("1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n")
	b.WriteString("2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n")
	b.WriteString("3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R>> endobj\n")
	fmt.Fprintf(&b, "4 0 obj <</Length %d>> stream\n", len(noise))
	b.Write(noise)
	b.WriteString("\nendstream endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n")
	return b.Bytes()
}

// TestCallChatAndFiles: chat typed at one customer's page appears at the
// other's exactly once, also after reconnects and when sent while the
// connection was down; a PDF uploaded by one is listed at the other and
// downloads with identical bytes; a refused file type is explained.
func TestCallChatAndFiles(t *testing.T) {
	e := startJoinEnv(t)
	m := e.newMeeting(t, "")
	anna, bernd := e.twoInCall(t, m, "de-DE", "Anna Albers", "Bernd Becker")

	// Chat with the keyboard: type, Enter.
	const hello = "Guten Tag, hier ist Anna."
	if err := chromedp.Do(anna, chromedp.Focus("#chat-input", chromedp.NodeVisible), chromedp.KeyEvent(hello), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	waitTimelineText(t, bernd, hello)
	waitTimelineText(t, anna, hello)
	if n := count(timelineTexts(t, bernd), hello); n != 1 {
		t.Errorf("Bernd lists the message %d times, want once", n)
	}
	if n := count(timelineTexts(t, anna), hello); n != 1 {
		t.Errorf("Anna lists her own message %d times, want once", n)
	}
	if who, _ := chromedp.Run(bernd, chromedp.Text(`#chat-list li[data-kind="chat"] .entry-name`)); who != "Anna Albers" {
		t.Errorf("Bernd sees the message from %q", who)
	}
	if who, _ := chromedp.Run(anna, chromedp.Text(`#chat-list li[data-kind="chat"] .entry-name`)); who != "Sie" {
		t.Errorf("Anna sees her own message from %q, want Sie", who)
	}
	if v, _ := chromedp.Run(anna, chromedp.Evaluate[string](`document.activeElement.id + '=' + document.getElementById('chat-input').value`)); v != "chat-input=" {
		t.Errorf("after sending, focus and input: %q, want the emptied chat input focused", v)
	}

	// A PDF from Anna, listed at Bernd, downloaded with the same bytes.
	pdf := smallPDF(t)
	const pdfName = "Angebot Müller.pdf"
	src := filepath.Join(t.TempDir(), pdfName)
	if err := os.WriteFile(src, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(anna, chromedp.SetUploadFiles("#file-input", []string{src})); err != nil {
		t.Fatal(err)
	}
	fileSel := `#chat-list li[data-kind="file"]`
	if _, err := chromedp.Run(bernd, chromedp.PollFunction[bool](`(name) => [...document.querySelectorAll('`+fileSel+` .file-name')].some(n => n.textContent === name)`,
		chromedp.WithPollingArgs(pdfName), chromedp.WithPollingTimeout(callTimeout))); err != nil {
		errText, _ := chromedp.Run(anna, chromedp.Text("#file-error"))
		t.Fatalf("Bernd never lists the PDF: %v (Anna's file error: %q)", err, errText)
	}
	// The upload's progress bar was driven by the upload's progress events
	// (it ends full; the bar hides once the relay has answered).
	if v, _ := chromedp.Run(anna, chromedp.Evaluate[float64](`document.getElementById('upload-progress').value`)); v != 1 {
		t.Errorf("upload progress ended at %v, want 1", v)
	}
	downloads := t.TempDir()
	allowDownloads(t, bernd, downloads)
	if err := chromedp.Do(bernd, chromedp.Click(fileSel+` button.file-download`, chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	got := waitFile(t, filepath.Join(downloads, pdfName), len(pdf))
	if !bytes.Equal(got, pdf) {
		t.Errorf("the downloaded PDF differs from the uploaded one (%d bytes each)", len(pdf))
	}
	if st, _ := chromedp.Run(bernd, chromedp.Text(fileSel+` .file-state`)); st != "Heruntergeladen" {
		t.Errorf("after the download the file says %q", st)
	}

	// A program is refused, and the page says why.
	exe := filepath.Join(t.TempDir(), "tool.exe")
	if err := os.WriteFile(exe, append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), make([]byte, 512)...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(anna, chromedp.SetUploadFiles("#file-input", []string{exe})); err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(anna, chromedp.PollFunction[string](`() => { const e = document.getElementById('file-error'); return !e.hidden && e.textContent ? e.textContent : null; }`,
		chromedp.WithPollingTimeout(callTimeout)))
	if err != nil || !strings.Contains(msg, "tool.exe") || !strings.Contains(msg, "nicht geteilt") {
		t.Errorf("refused file type: message %q (%v)", msg, err)
	}
	Screenshot(t, anna, "call-chat-de.png")
	if err := chromedp.Do(bernd, chromedp.EmulateViewport(360, 740)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bernd, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	Screenshot(t, bernd, "call-chat-de-360-dark.png")

	// Bernd's connection drops; a message he sends meanwhile goes out
	// after the reconnect, and nothing appears twice.
	const late = "Bin gleich wieder da."
	run(t, bernd, `window.parleyTest.dropSignal()`)
	if err := chromedp.Do(bernd, chromedp.SetValue("#chat-input", late)); err != nil {
		t.Fatal(err)
	}
	run(t, bernd, `document.getElementById('chat-form').requestSubmit()`)
	waitIndicator(t, bernd, "connected")
	waitTimelineText(t, anna, late)
	waitTimelineText(t, bernd, late)
	for _, tab := range []struct {
		name  string
		texts []string
	}{{"Anna", timelineTexts(t, anna)}, {"Bernd", timelineTexts(t, bernd)}} {
		if count(tab.texts, hello) != 1 || count(tab.texts, late) != 1 {
			t.Errorf("%s's timeline after the reconnect: %q; want each message once", tab.name, tab.texts)
		}
	}
	pending, _ := chromedp.Run(bernd, chromedp.Evaluate[int](`document.querySelectorAll('#chat-list .entry-pending').length`))
	if pending != 0 {
		t.Errorf("Bernd still shows %d messages as sending", pending)
	}
	files, _ := chromedp.Run(bernd, chromedp.Evaluate[int](`document.querySelectorAll('`+fileSel+`').length`))
	if files != 1 {
		t.Errorf("after the reconnect Bernd lists %d files, want 1", files)
	}
}
