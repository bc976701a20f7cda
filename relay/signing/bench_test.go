package signing_test

import (
	"context"
	"testing"

	"parley/relay/signing"
)

// BenchmarkSignAndSeal20Pages: one customer's submission on a 20-page
// xref-stream PDF through the domain (decode the pen data, ink PNG, ISO
// record, envelope, PAdES step, seal with audit page, store the versions),
// with the link, code and session prepared outside the timer.
func BenchmarkSignAndSeal20Pages(b *testing.B) {
	e := newEnv(b)
	doc := xrefStreamPDF(b, 20)
	anna := e.customer("Anna", 1)
	ptr := pointerJSON(b, 0)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e.jobs.take()
		e.sent(doc, []string{anna}, false)
		link := e.link(kinds(e.jobs.take())[signing.JobSignerMail][0])
		sess := e.session(link)
		b.StartTimer()
		v, err := e.svc.Submit(ctx, link, sess, signing.Submission{Pointer: ptr, Texts: map[string]string{"place-customer1": "Kiel"}})
		if err != nil || v.Status != signing.StatusCompleted {
			b.Fatalf("%+v %v", v, err)
		}
	}
}
