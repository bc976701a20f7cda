package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"parley/relay/audit"
	"parley/relay/chat"
	"parley/relay/clock"
	"parley/relay/meeting"
	"parley/relay/retention"
	"parley/relay/signing/pdf"
	"parley/relay/store"
	"parley/relay/whiteboard"
)

// maxPresentedPDF bounds the PDF the relay reads to count a presented
// document's pages.
const maxPresentedPDF = 64 << 20

// newWhiteboard returns the meetings' whiteboards: stored beside chat,
// read under the same per-meeting content rule the sweep purges by, with
// the meeting's shared files (PDF, images) presentable as backgrounds.
func newWhiteboard(st store.KV, clk clock.Clock, log *slog.Logger, meetings *meeting.Service, policy *retention.Policy, files *chat.Service) (*whiteboard.Service, error) {
	return whiteboard.New(whiteboard.Options{Store: st, Clock: clk, Logger: log.With("component", "whiteboard"),
		Documents: documentPages(files), Rule: whiteboard.ContentRule(contentRuleOf(meetings, policy))})
}

// documentPages counts the pages of a file shared in the meeting: 1 for
// an image, the page count for a PDF; anything else cannot be presented.
func documentPages(files *chat.Service) whiteboard.DocumentPages {
	return func(ctx context.Context, meetingID, docID string) (int, error) {
		e, rc, err := files.OpenFile(ctx, meetingID, docID)
		if errors.Is(err, chat.ErrNotFound) {
			return 0, fmt.Errorf("server: document %s: %w", docID, whiteboard.ErrUnknownDocument)
		}
		if err != nil {
			return 0, fmt.Errorf("server: document %s: %w", docID, err)
		}
		defer rc.Close()
		switch {
		case strings.HasPrefix(e.FileType, "image/"):
			return 1, nil
		case e.FileType == "application/pdf":
		default:
			return 0, fmt.Errorf("server: document %s is no PDF or image: %w", docID, whiteboard.ErrUnknownDocument)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxPresentedPDF+1))
		if err != nil {
			return 0, fmt.Errorf("server: reading document %s: %w", docID, err)
		}
		info, err := pdf.Inspect(bytes.NewReader(b), int64(len(b)), pdf.Limits{MaxBytes: maxPresentedPDF, MaxPages: whiteboard.MaxDocPages})
		if err != nil {
			return 0, fmt.Errorf("server: document %s: %w: %w", docID, whiteboard.ErrUnknownDocument, err)
		}
		return len(info.Pages), nil
	}
}

// sweepWhiteboard deletes whiteboard ops 7 days (or the tenant's period)
// after they were accepted, under the same rule and holds as chat. Its
// counts are added to the meeting-content metrics sweepContent set just
// before (both are one data class).
func (sw *sweeper) sweepWhiteboard(ctx context.Context, now time.Time) error {
	if sw.whiteboard == nil {
		return nil
	}
	var rule whiteboard.ContentRule
	if sw.retention != nil {
		rule = whiteboard.ContentRule(sw.contentRule)
	}
	res, st, err := sw.whiteboard.DeleteExpiredSweep(ctx, now, rule)
	class := chat.ClassMeetingContent
	if res.Ops > 0 {
		sw.processed.WithLabelValues(class, meeting.ActionDelete).Add(float64(res.Ops))
	}
	if err != nil {
		sw.failures.Inc()
		sw.log.Error("retention sweep failed", "class", class, "part", "whiteboard", "error", err)
	}
	sw.due.WithLabelValues(class).Add(float64(st.Due))
	sw.failed.WithLabelValues(class).Add(float64(st.Failed))
	limit := now.Add(-overdueIntervals * time.Duration(sw.interval.Load()))
	overdue := 0
	for _, d := range st.Pending {
		if d.Before(limit) {
			overdue++
		}
	}
	sw.overdue.WithLabelValues(class).Add(float64(overdue))
	if res.Ops == 0 && st.Due == 0 && st.Failed == 0 {
		return err
	}
	_, aerr := sw.audit.Append(ctx, audit.Record{Actor: "system", Action: "retention.delete", Details: map[string]string{
		"class": class, "part": "whiteboard", "due": strconv.Itoa(st.Due), "failed": strconv.Itoa(st.Failed),
		"ops": strconv.Itoa(res.Ops), "boards": strconv.Itoa(res.Boards),
	}})
	if aerr != nil {
		sw.log.Error("audit append failed", "action", "retention.delete", "error", aerr)
	}
	sw.log.Info("retention sweep", "class", class, "part", "whiteboard", "due", st.Due, "deleted", res.Ops, "failed", st.Failed)
	return errors.Join(err, aerr)
}
