package signing

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"parley/relay/store"
	"parley/signpad/envelope"
)

// TrusteeKey is a tenant's trustee public key: biometric envelopes are
// sealed for it, and only the holder of its private key (offline, never on
// the relay) can open them.
type TrusteeKey struct {
	// KeyID is the hex key id written into every envelope.
	KeyID string `json:"key_id"`
	// PEM is the X25519 public key in PEM.
	PEM string `json:"pem"`
	// SetBy is the admin who set it.
	SetBy string `json:"set_by"`
	// SetAt is when it was set.
	SetAt time.Time `json:"set_at"`
}

// SetTrusteeKey sets the tenant's trustee public key (PEM, X25519, as
// written by signpad-trustee keygen). Admins only. Envelopes already
// sealed stay sealed for the key they were sealed for.
func (s *Service) SetTrusteeKey(ctx context.Context, a Actor, pemData []byte) (TrusteeKey, error) {
	if !a.Admin || a.TenantID == "" {
		return TrusteeKey{}, fmt.Errorf("signing: set trustee key: %w", ErrForbidden)
	}
	pub, err := envelope.ParsePublicKeyPEM(pemData)
	if err != nil {
		return TrusteeKey{}, fmt.Errorf("signing: set trustee key: %w", invalid("key", "not a PEM X25519 public key"))
	}
	canon, err := envelope.MarshalPublicKeyPEM(pub)
	if err != nil {
		return TrusteeKey{}, fmt.Errorf("signing: set trustee key: %w", err)
	}
	kid := envelope.KeyID(pub)
	k := TrusteeKey{KeyID: hex.EncodeToString(kid[:]), PEM: string(canon), SetBy: a.UserID, SetAt: s.clock.Now().UTC()}
	if err := s.kv.Update(ctx, func(tx store.Txn) error { return putJSON(tx, trusteeKey(a.TenantID), k) }); err != nil {
		return TrusteeKey{}, fmt.Errorf("signing: set trustee key: %w", err)
	}
	s.log.Info("signing: trustee key set", "tenant_id", a.TenantID, "key_id", k.KeyID, "user_id", a.UserID)
	return k, nil
}

// TrusteeKey returns the tenant's trustee key (admins only); ErrNotFound
// when none is set.
func (s *Service) TrusteeKey(ctx context.Context, a Actor) (TrusteeKey, error) {
	if !a.Admin || a.TenantID == "" {
		return TrusteeKey{}, fmt.Errorf("signing: trustee key: %w", ErrForbidden)
	}
	var k TrusteeKey
	err := s.kv.View(ctx, func(tx store.Txn) error { return getJSON(tx, trusteeKey(a.TenantID), &k) })
	if errors.Is(err, store.ErrNotFound) {
		return TrusteeKey{}, fmt.Errorf("signing: trustee key: %w", ErrNotFound)
	}
	if err != nil {
		return TrusteeKey{}, fmt.Errorf("signing: trustee key: %w", err)
	}
	return k, nil
}

// trustee returns the tenant's trustee public key or ErrNoTrusteeKey.
func (s *Service) trustee(ctx context.Context, tenantID string) (*ecdh.PublicKey, error) {
	var k TrusteeKey
	err := s.kv.View(ctx, func(tx store.Txn) error { return getJSON(tx, trusteeKey(tenantID), &k) })
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoTrusteeKey
	}
	if err != nil {
		return nil, err
	}
	return envelope.ParsePublicKeyPEM([]byte(k.PEM))
}

// sealRecord is a tenant's seal: a self-signed CA and the seal
// certificate it issued, with the seal's private key encrypted under
// Options.SealKEK.
type sealRecord struct {
	CA      []byte    `json:"ca"`
	Cert    []byte    `json:"cert"`
	Key     []byte    `json:"key"` // nonce ‖ AES-256-GCM(PKCS #8)
	Created time.Time `json:"created"`
}

func (s *Service) sealAEAD() (cipher.AEAD, error) {
	b, err := aes.NewCipher(s.opts.SealKEK)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func sealAAD(tenantID string) []byte { return []byte("parley signing seal key v1 " + tenantID) }

// sealFor returns the tenant's seal key and chain (seal certificate, CA),
// making them on first use: an ECDSA P-256 CA "Parley seal CA" and seal
// certificate "Parley seal", organisation = the tenant's name.
func (s *Service) sealFor(ctx context.Context, tenantID string) (crypto.Signer, []*x509.Certificate, error) {
	rec, err := s.readSeal(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		s.seal.Lock()
		defer s.seal.Unlock()
		rec, err = s.readSeal(ctx, tenantID)
		if errors.Is(err, store.ErrNotFound) {
			rec, err = s.makeSeal(ctx, tenantID)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("signing: seal of tenant %s: %w", tenantID, err)
	}
	ca, err := x509.ParseCertificate(rec.CA)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: seal CA of tenant %s: %w", tenantID, err)
	}
	cert, err := x509.ParseCertificate(rec.Cert)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: seal certificate of tenant %s: %w", tenantID, err)
	}
	aead, err := s.sealAEAD()
	if err != nil {
		return nil, nil, err
	}
	if len(rec.Key) < aead.NonceSize() {
		return nil, nil, fmt.Errorf("signing: seal key of tenant %s is damaged", tenantID)
	}
	der, err := aead.Open(nil, rec.Key[:aead.NonceSize()], rec.Key[aead.NonceSize():], sealAAD(tenantID))
	if err != nil {
		return nil, nil, fmt.Errorf("signing: seal key of tenant %s cannot be decrypted (wrong key file?)", tenantID)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: seal key of tenant %s: %w", tenantID, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("signing: seal key of tenant %s is not a signing key", tenantID)
	}
	return signer, []*x509.Certificate{cert, ca}, nil
}

func (s *Service) readSeal(ctx context.Context, tenantID string) (*sealRecord, error) {
	var rec sealRecord
	if err := s.kv.View(ctx, func(tx store.Txn) error { return getJSON(tx, sealKey(tenantID), &rec) }); err != nil {
		return nil, err
	}
	return &rec, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}

func (s *Service) makeSeal(ctx context.Context, tenantID string) (*sealRecord, error) {
	org := tenantID
	if s.opts.TenantName != nil {
		if n := s.opts.TenantName(ctx, tenantID); n != "" {
			org = n
		}
	}
	now := s.clock.Now().UTC()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sealKeyPair, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Parley seal CA " + tenantID, Organization: []string{org}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	sealTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Parley seal " + tenantID, Organization: []string{org}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	certDER, err := x509.CreateCertificate(rand.Reader, sealTmpl, ca, sealKeyPair.Public(), caKey)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(sealKeyPair)
	if err != nil {
		return nil, err
	}
	aead, err := s.sealAEAD()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	rec := &sealRecord{CA: caDER, Cert: certDER, Key: aead.Seal(nonce, nonce, der, sealAAD(tenantID)), Created: now}
	err = s.kv.Update(ctx, func(tx store.Txn) error {
		var existing sealRecord
		if err := getJSON(tx, sealKey(tenantID), &existing); err == nil {
			rec = &existing // another relay made one meanwhile: keep it
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return putJSON(tx, sealKey(tenantID), rec)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("signing: seal certificate created", "tenant_id", tenantID)
	return rec, nil
}

// SealCA returns the tenant's seal CA certificate in PEM (admins only),
// for verifiers to trust; it is made on first use.
func (s *Service) SealCA(ctx context.Context, a Actor) ([]byte, error) {
	if !a.Admin || a.TenantID == "" {
		return nil, fmt.Errorf("signing: seal CA: %w", ErrForbidden)
	}
	_, chain, err := s.sealFor(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[1].Raw}), nil
}
