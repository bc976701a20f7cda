// Command fanout measures the SFU end to end on loopback: one publisher
// sends VP8 at about 1.2 Mbit/s (30 frames/s of five 1000-byte packets,
// pre-made payloads) and Opus (50 packets/s of 100 bytes) through the real
// SFU (relay/sfu with real ICE, DTLS and SRTP) to N pion subscribers:
//
//	go run ./tests/bench/fanout [-n 1,2,5,10,25,50] [-d 10s] [-warmup 2s]
//
// For each N the program starts itself again as the SFU's process (flag
// -sfu), so that the SFU's CPU time (getrusage in that process) and memory
// are measured alone; publisher and subscribers run in this process. It
// prints one markdown table row per N:
//
//   - in pkt/s, out pkt/s: packets the SFU received and forwarded per
//     second (its own counters); in falls below 200 when this process is
//     starved of CPU and the publisher's tickers fall behind;
//   - SFU CPU: CPU-seconds the SFU process used per second (1.0 = a core);
//   - pkt per CPU-s: forwarded packets per SFU CPU-second;
//   - latency p50/p99: from the publisher's write to the subscriber's read,
//     through both pion stacks (SRTP, interceptors) and the SFU, read from
//     a send timestamp in each payload (same host, same clock);
//   - received: what the subscribers read, as a share of what the SFU
//     received times N;
//   - heap/sub and RSS/sub: the SFU process's heap in use (after a GC) and
//     resident set, with N subscribers minus with the publisher alone,
//     divided by N.
//
// Everything stays on 127.0.0.1 (sfu.LoopbackOnly on every peer). Linux only
// (/proc/self/status for the resident set).
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"parley/relay/sfu"
)

func main() {
	sfuMode := flag.Bool("sfu", false, "run as the SFU process (used by the program itself)")
	ns := flag.String("n", "1,2,5,10,25,50", "comma-separated subscriber counts")
	d := flag.Duration("d", 10*time.Second, "measurement time per subscriber count")
	warmup := flag.Duration("warmup", 2*time.Second, "time between the last subscriber receiving and the measurement")
	flag.Parse()
	if *sfuMode {
		if err := runSFU(); err != nil {
			fmt.Fprintln(os.Stderr, "fanout sfu:", err)
			os.Exit(1)
		}
		return
	}
	var counts []int
	for _, f := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "fanout: bad -n entry %q\n", f)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	fmt.Printf("SFU fan-out on loopback: VP8 ~1.2 Mbit/s (150 pkt/s) + Opus 50 pkt/s, %v per N, GOMAXPROCS %d, %d CPUs\n\n", *d, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Println("| N | in pkt/s | out pkt/s | SFU CPU (cores) | pkt per SFU CPU-s | latency p50 | latency p99 | received | SFU heap/sub | SFU RSS/sub |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range counts {
		r, err := measure(n, *d, *warmup)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fanout: N=%d: %v\n", n, err)
			os.Exit(1)
		}
		fmt.Printf("| %d | %.0f | %.0f | %.3f | %.0f | %s | %s | %.1f%% | %s | %s |\n",
			n, r.inRate, r.outRate, r.cores, r.perCPU, ms(r.p50), ms(r.p99), 100*r.received, kib(r.heapPerSub), kib(r.rssPerSub))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
func kib(b float64) string      { return fmt.Sprintf("%.0f KiB", b/1024) }

// wire is one line of the signalling between this process and the SFU's.
type wire struct {
	Peer  string                     `json:"peer,omitempty"`  // first line: join as this peer
	Stats bool                       `json:"stats,omitempty"` // first line: report stats and close
	GC    bool                       `json:"gc,omitempty"`    // with Stats: collect garbage first
	Desc  *webrtc.SessionDescription `json:"desc,omitempty"`
	Cand  *webrtc.ICECandidateInit   `json:"cand,omitempty"`
}

// stats is the SFU process's report.
type stats struct {
	CPU        time.Duration `json:"cpu"` // user + system since start
	HeapInuse  uint64        `json:"heap_inuse"`
	RSS        uint64        `json:"rss"` // bytes
	PacketsIn  uint64        `json:"packets_in"`
	PacketsOut uint64        `json:"packets_out"`
}

// runSFU is the SFU's process: it prints its signalling address and serves
// until its standard input closes.
func runSFU() error {
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s, err := sfu.New(sfu.Options{
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		UDP:          udp,
		PublicIPs:    []string{"127.0.0.1"},
		LoopbackOnly: true,
	})
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().String())
	room := s.Room("bench")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(s, room, c)
		}
	}()
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// lineSignaller sends the SFU's descriptions and candidates as JSON lines.
type lineSignaller struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (l *lineSignaller) SendDescription(d webrtc.SessionDescription) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.enc.Encode(wire{Desc: &d})
}

func (l *lineSignaller) SendCandidate(c webrtc.ICECandidateInit) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.enc.Encode(wire{Cand: &c})
}

func serve(s *sfu.SFU, room *sfu.Room, c net.Conn) {
	defer c.Close()
	dec := json.NewDecoder(bufio.NewReader(c))
	var first wire
	if err := dec.Decode(&first); err != nil {
		return
	}
	if first.Stats {
		if first.GC {
			runtime.GC()
			runtime.GC()
		}
		_ = json.NewEncoder(c).Encode(readStats(s))
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	peer, err := room.Join(ctx, first.Peer, &lineSignaller{enc: json.NewEncoder(c)})
	if err != nil {
		return
	}
	defer peer.Close()
	for {
		var m wire
		if err := dec.Decode(&m); err != nil {
			return
		}
		switch {
		case m.Desc != nil:
			err = peer.HandleDescription(*m.Desc)
		case m.Cand != nil:
			err = peer.HandleCandidate(*m.Cand)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fanout sfu: signalling:", err)
		}
	}
}

func readStats(s *sfu.SFU) stats {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := s.Stats()
	return stats{
		CPU:        time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		HeapInuse:  ms.HeapInuse,
		RSS:        rss(),
		PacketsIn:  st.PacketsIn,
		PacketsOut: st.PacketsOut,
	}
}

// rss reads VmRSS from /proc/self/status, in bytes.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// result is one table row.
type result struct {
	inRate, outRate, cores, perCPU, received float64
	p50, p99                                 time.Duration
	heapPerSub, rssPerSub                    float64
}

// sfuProc is the SFU's child process.
type sfuProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startSFU() (*sfuProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-sfu")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("reading the SFU's address: %w", err)
	}
	return &sfuProc{cmd: cmd, stdin: stdin, addr: strings.TrimSpace(line)}, nil
}

func (p *sfuProc) stop() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func (p *sfuProc) stats(gc bool) (stats, error) {
	var st stats
	c, err := net.Dial("tcp4", p.addr)
	if err != nil {
		return st, err
	}
	defer c.Close()
	if err := json.NewEncoder(c).Encode(wire{Stats: true, GC: gc}); err != nil {
		return st, err
	}
	err = json.NewDecoder(c).Decode(&st)
	return st, err
}

func measure(n int, d, warmup time.Duration) (result, error) {
	var r result
	proc, err := startSFU()
	if err != nil {
		return r, err
	}
	defer proc.stop()
	api, err := newAPI()
	if err != nil {
		return r, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	pub, err := connect(ctx, api, proc.addr, "pub", true)
	if err != nil {
		return r, fmt.Errorf("publisher: %w", err)
	}
	defer pub.close()
	if err := pub.waitConnected(ctx, 20*time.Second); err != nil {
		return r, fmt.Errorf("publisher: %w", err)
	}
	time.Sleep(time.Second)
	base, err := proc.stats(true)
	if err != nil {
		return r, err
	}

	subs := make([]*peer, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 8) // handshakes at a time
	for i := range subs {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			s, err := connect(ctx, api, proc.addr, "sub"+strconv.Itoa(i), false)
			subs[i] = s
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			return r, fmt.Errorf("subscriber: %w", err)
		}
	}
	defer func() {
		for _, s := range subs {
			s.close()
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for _, s := range subs {
		for s.video.Load() == 0 {
			if time.Now().After(deadline) {
				return r, errors.New("subscribers receive no video after 60 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(warmup)

	s1, err := proc.stats(false)
	if err != nil {
		return r, err
	}
	var got1 int64
	for _, s := range subs {
		s.measuring.Store(true)
		got1 += s.packets.Load()
	}
	t1 := time.Now()
	time.Sleep(d)
	s2, err := proc.stats(false)
	if err != nil {
		return r, err
	}
	elapsed := time.Since(t1)
	var got2 int64
	var lat []time.Duration
	for _, s := range subs {
		s.measuring.Store(false)
		got2 += s.packets.Load()
	}
	for _, s := range subs {
		s.mu.Lock()
		lat = append(lat, s.lat...)
		s.mu.Unlock()
	}
	mem, err := proc.stats(true)
	if err != nil {
		return r, err
	}

	out := float64(s2.PacketsOut - s1.PacketsOut)
	in := float64(s2.PacketsIn - s1.PacketsIn)
	cpu := (s2.CPU - s1.CPU).Seconds()
	r.inRate = in / elapsed.Seconds()
	r.outRate = out / elapsed.Seconds()
	r.cores = cpu / elapsed.Seconds()
	if cpu > 0 {
		r.perCPU = out / cpu
	}
	if in > 0 {
		r.received = float64(got2-got1) / (in * float64(n))
	}
	slices.SortFunc(lat, cmp.Compare)
	if len(lat) > 0 {
		r.p50 = lat[len(lat)*50/100]
		r.p99 = lat[len(lat)*99/100]
	}
	r.heapPerSub = (float64(mem.HeapInuse) - float64(base.HeapInuse)) / float64(n)
	r.rssPerSub = (float64(mem.RSS) - float64(base.RSS)) / float64(n)
	return r, nil
}

// newAPI is the pion stack of the publisher and the subscribers: default
// codecs and interceptors (NACK, reports, TWCC), loopback only.
func newAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	sfu.LoopbackOnly(&se)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// peer is the publisher or one subscriber.
type peer struct {
	pc   *webrtc.PeerConnection
	conn net.Conn
	wmu  sync.Mutex
	enc  *json.Encoder

	connected chan struct{}
	video     atomic.Int64 // video packets read
	packets   atomic.Int64 // all packets read
	measuring atomic.Bool
	mu        sync.Mutex
	lat       []time.Duration // while measuring
}

func (p *peer) send(m wire) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.enc.Encode(m)
}

func (p *peer) close() {
	if p == nil {
		return
	}
	_ = p.pc.Close()
	_ = p.conn.Close()
}

func (p *peer) waitConnected(ctx context.Context, d time.Duration) error {
	select {
	case <-p.connected:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return errors.New("not connected")
	}
}

// connect joins the SFU's room as id: the publisher sends media, a
// subscriber offers receive-only m-lines and reads what the SFU adds.
func connect(ctx context.Context, api *webrtc.API, addr, id string, publish bool) (*peer, error) {
	conn, err := net.Dial("tcp4", addr)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		conn.Close()
		return nil, err
	}
	p := &peer{pc: pc, conn: conn, enc: json.NewEncoder(conn), connected: make(chan struct{})}
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(p.connected) })
		}
	})
	if err := p.send(wire{Peer: id}); err != nil {
		p.close()
		return nil, err
	}
	if publish {
		if err := p.publish(ctx); err != nil {
			p.close()
			return nil, err
		}
	} else {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			p.close()
			return nil, err
		}
		pc.OnTrack(p.read)
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			ci := c.ToJSON()
			_ = p.send(wire{Cand: &ci})
		}
	})
	go p.signal()
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err == nil {
		err = p.send(wire{Desc: &offer})
	}
	if err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// signal applies what the SFU sends until the connection closes.
func (p *peer) signal() {
	dec := json.NewDecoder(bufio.NewReader(p.conn))
	for {
		var m wire
		if err := dec.Decode(&m); err != nil {
			return
		}
		switch {
		case m.Cand != nil:
			_ = p.pc.AddICECandidate(*m.Cand)
		case m.Desc != nil && m.Desc.Type == webrtc.SDPTypeAnswer:
			_ = p.pc.SetRemoteDescription(*m.Desc)
		case m.Desc != nil:
			if err := p.pc.SetRemoteDescription(*m.Desc); err != nil {
				continue
			}
			ans, err := p.pc.CreateAnswer(nil)
			if err == nil {
				err = p.pc.SetLocalDescription(ans)
			}
			if err == nil {
				_ = p.send(wire{Desc: &ans})
			}
		}
	}
}

// read counts a forwarded track's packets and, while measuring, the
// latency from the send timestamp in the payload (bytes 2–9 of VP8, 0–7 of
// Opus).
func (p *peer) read(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	video := tr.Kind() == webrtc.RTPCodecTypeVideo
	off := 0
	if video {
		off = 2
	}
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		if pkt.Unmarshal(buf[:n]) != nil || len(pkt.Payload) < off+8 {
			continue
		}
		p.packets.Add(1)
		if video {
			p.video.Add(1)
		}
		if p.measuring.Load() {
			sent := int64(binary.BigEndian.Uint64(pkt.Payload[off:]))
			p.mu.Lock()
			p.lat = append(p.lat, time.Duration(now-sent))
			p.mu.Unlock()
		}
	}
}

// publish adds a VP8 and an Opus track and sends pre-made payloads with
// the send time written in: VP8 at 30 frames/s of five 1000-byte packets
// (a keyframe every 60 frames), Opus at 50 packets/s of 100 bytes.
func (p *peer) publish(ctx context.Context) error {
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "pub")
	if err != nil {
		return err
	}
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "pub")
	if err != nil {
		return err
	}
	for _, t := range []webrtc.TrackLocal{video, audio} {
		s, err := p.pc.AddTrack(t)
		if err != nil {
			return err
		}
		go func() { // drain RTCP so that interceptors run
			buf := make([]byte, 1500)
			for {
				if _, _, err := s.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	const perFrame, size = 5, 1000
	go func() {
		payloads := make([][]byte, perFrame)
		for i := range payloads {
			payloads[i] = make([]byte, size)
			for j := 10; j < size; j++ {
				payloads[i][j] = byte(j * 7)
			}
		}
		pkt := rtp.Packet{Header: rtp.Header{Version: 2}}
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for frame := 0; ; frame++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for i, pl := range payloads {
				pl[0], pl[1] = 0, 1
				if i == 0 {
					pl[0] = 0x10 // S, partition 0
					if frame%60 == 0 {
						pl[1] = 0 // keyframe
					}
				}
				pkt.SequenceNumber++
				pkt.Timestamp = uint32(frame * 3000)
				pkt.Marker = i == perFrame-1
				pkt.Payload = pl
				binary.BigEndian.PutUint64(pl[2:], uint64(time.Now().UnixNano()))
				if err := video.WriteRTP(&pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
					return
				}
			}
		}
	}()
	go func() {
		pl := make([]byte, 100)
		pkt := rtp.Packet{Header: rtp.Header{Version: 2}}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			pkt.SequenceNumber++
			pkt.Timestamp += 960
			pkt.Payload = pl
			binary.BigEndian.PutUint64(pl, uint64(time.Now().UnixNano()))
			if err := audio.WriteRTP(&pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return
			}
		}
	}()
	return nil
}
