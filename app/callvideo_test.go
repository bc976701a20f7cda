package app

import (
	"context"
	"image"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

// BenchmarkVideoRenderer30Hz runs the renderer on its real 30 Hz ticker
// with four sources that each have a new 1280×720 frame at every tick, and
// reports the frames drawn per second per tile ("fps") and the time one
// tick's batch spends on the UI thread ("ui-ns/tick").
func BenchmarkVideoRenderer30Hz(b *testing.B) {
	test.NewTempApp(b)
	var uiTime atomic.Int64
	var batches atomic.Int64
	do := func(f func()) {
		start := time.Now()
		f()
		uiTime.Add(int64(time.Since(start)))
		batches.Add(1)
	}
	r := newVideoRenderer(do)
	var tiles []*videoTile
	var srcs []*fakeVideo
	for range 4 {
		t := newVideoTile("k", "Max Kunde", false)
		t.obj.Resize(t.obj.MinSize().AddWidthHeight(640, 360))
		s := &fakeVideo{}
		r.set(t, s)
		tiles, srcs = append(tiles, t), append(srcs, s)
	}
	frame := image.NewNRGBA(image.Rect(0, 0, 1280, 720))
	ctx, cancel := context.WithCancel(context.Background())
	ticks, stop := realTicks()
	// A producer delivers a new frame to every source at 30 Hz.
	go func() {
		t := time.NewTicker(frameEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, s := range srcs {
					s.setImage(frame)
				}
			}
		}
	}()
	go r.run(ctx, ticks, stop)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		time.Sleep(frameEvery)
	}
	elapsed := time.Since(start)
	cancel()
	<-r.done
	b.StopTimer()
	drawn := 0
	for _, t := range tiles {
		drawn += t.frames
	}
	b.ReportMetric(float64(drawn)/float64(len(tiles))/elapsed.Seconds(), "fps")
	if n := batches.Load(); n > 0 {
		b.ReportMetric(float64(uiTime.Load())/float64(n), "ui-ns/tick")
	}
}
