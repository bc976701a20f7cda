package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"

	"parley/relay/sfu"
	"parley/relay/signal/msg"
)

// media is the relay's WebRTC side: the SFU on its own UDP port (ICE UDP
// mux) and TCP port (ICE-TCP), and the optional embedded TURN server.
type media struct {
	sfu  *sfu.SFU
	udp  net.PacketConn
	tcp  net.Listener
	turn *turn.Server
	ice  func(peerID string) []msg.ICEServer
	ips  []string
}

// turnCredentialTTL is how long the TURN credentials handed out in a
// welcome message are valid.
const turnCredentialTTL = 12 * time.Hour

// mediaAddr picks the media address: MediaListen, or the API's host with
// the next port (port 0 stays 0).
func mediaAddr(opts Options, apiAddr string) (string, error) {
	if opts.MediaListen != "" {
		return opts.MediaListen, nil
	}
	host, port, err := net.SplitHostPort(apiAddr)
	if err != nil {
		return "", err
	}
	p, _ := strconv.Atoi(port)
	if listenPort(opts.Listen) == "0" || p == 0 {
		return net.JoinHostPort(host, "0"), nil
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1)), nil
}

func listenPort(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// startMedia binds the media ports, starts the SFU and, when configured,
// TURN.
func startMedia(opts Options, apiAddr, dataDir string, log *slog.Logger) (*media, error) {
	addr, err := mediaAddr(opts, apiAddr)
	if err != nil {
		return nil, fmt.Errorf("server: media address: %w", err)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("server: media address %q: %w", addr, err)
	}
	m := &media{}
	fail := func(err error) (*media, error) {
		m.close()
		return nil, err
	}
	m.udp, m.tcp, err = listenBoth(addr)
	if err != nil {
		return fail(fmt.Errorf("server: media: %w", err))
	}
	ips := opts.MediaPublicIPs
	ip := net.ParseIP(host)
	if len(ips) == 0 && ip != nil && !ip.IsUnspecified() {
		ips = []string{host}
	}
	if len(ips) == 0 {
		log.Warn("media: no public IP configured; announcing interface addresses (set --media-public-ip)")
	}
	m.ips = ips
	loopback := ip != nil && ip.IsLoopback()
	m.sfu, err = sfu.New(sfu.Options{Logger: log.With("component", "sfu"), UDP: m.udp, TCP: m.tcp, PublicIPs: ips, LoopbackOnly: loopback})
	if err != nil {
		return fail(fmt.Errorf("server: sfu: %w", err))
	}
	if opts.TURNListen != "" {
		if err := m.startTURN(opts, dataDir, loopback, log); err != nil {
			return fail(err)
		}
	}
	log.Info("media listening", "udp", m.udp.LocalAddr().String(), "tcp", m.tcp.Addr().String(), "turn", opts.TURNListen != "")
	return m, nil
}

// listenBoth binds UDP and TCP on the same port.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	for attempt := 0; attempt < 20; attempt++ {
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		p := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if port != "0" {
			return nil, nil, fmt.Errorf("listen tcp %s: %w", addr, err)
		}
	}
	return nil, nil, errors.New("no port free for both UDP and TCP")
}

// startTURN runs the embedded TURN server on TURNListen (UDP and TCP).
// It relays only to the relay's own media addresses, so it cannot be
// used as a proxy into other networks.
func (m *media) startTURN(opts Options, dataDir string, loopback bool, log *slog.Logger) error {
	secret, err := turnSecret(dataDir)
	if err != nil {
		return err
	}
	udp, tcp, err := listenBoth(opts.TURNListen)
	if err != nil {
		return fmt.Errorf("server: turn: %w", err)
	}
	host, _, _ := net.SplitHostPort(opts.TURNListen)
	relayIP := net.ParseIP(host)
	if len(m.ips) > 0 {
		relayIP = net.ParseIP(m.ips[0])
	}
	if relayIP == nil || relayIP.IsUnspecified() {
		udp.Close()
		tcp.Close()
		return errors.New("server: turn: set --media-public-ip (the address TURN relays from)")
	}
	allowed := map[string]bool{}
	for _, ip := range m.ips {
		allowed[net.ParseIP(ip).String()] = true
	}
	permit := func(_ net.Addr, peer net.IP) bool { return allowed[peer.String()] || (loopback && peer.IsLoopback()) }
	gen := func() turn.RelayAddressGenerator {
		return &turn.RelayAddressGeneratorStatic{RelayAddress: relayIP, Address: host}
	}
	// pion's TURN logs name client addresses: personal data, so they
	// are not kept.
	pl := logging.NewDefaultLoggerFactory()
	pl.DefaultLogLevel = logging.LogLevelDisabled
	m.turn, err = turn.NewServer(turn.ServerConfig{
		Realm:             "parley",
		AuthHandler:       turn.LongTermTURNRESTAuthHandler(secret, pl.NewLogger("auth")),
		LoggerFactory:     pl,
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: gen(), PermissionHandler: permit}},
		ListenerConfigs:   []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: gen(), PermissionHandler: permit}},
	})
	if err != nil {
		udp.Close()
		tcp.Close()
		return fmt.Errorf("server: turn: %w", err)
	}
	public := opts.TURNPublicHost
	if public == "" {
		public = relayIP.String()
	}
	port := strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
	urls := []string{"turn:" + net.JoinHostPort(public, port) + "?transport=udp", "turn:" + net.JoinHostPort(public, port) + "?transport=tcp"}
	m.ice = func(peerID string) []msg.ICEServer {
		user, pass, err := turn.GenerateLongTermTURNRESTCredentials(secret, peerID, turnCredentialTTL)
		if err != nil {
			return nil
		}
		return []msg.ICEServer{{URLs: urls, Username: user, Credential: pass}}
	}
	return nil
}

// turnSecret reads or creates the TURN shared secret in the data folder.
func turnSecret(dir string) (string, error) {
	path := filepath.Join(dir, "turn.secret")
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("server: turn secret: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	s := hex.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("server: turn secret: %w", err)
	}
	return s, nil
}

func (m *media) close() {
	if m.turn != nil {
		_ = m.turn.Close()
	}
	if m.sfu != nil {
		_ = m.sfu.Close() // closes udp
	} else if m.udp != nil {
		m.udp.Close()
	}
	if m.tcp != nil {
		m.tcp.Close()
	}
}
