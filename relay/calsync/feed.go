package calsync

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"parley/relay/store"
)

// FeedTokenPrefix starts every feed token (the secret part of an
// advisor's ICS feed address).
const FeedTokenPrefix = "pcf_"

// ErrTokenIssued: FeedToken was asked for the token of an advisor who
// already has one. Only the token's SHA-256 is stored, so it cannot be
// shown again; RotateFeedToken issues a new one (and kills the old).
var ErrTokenIssued = errors.New("calsync: feed token already issued; rotate to get a new one")

var feedTokenLen = len(FeedTokenPrefix) + base64.RawURLEncoding.EncodedLen(32)

type tokenRecord struct {
	Tenant  string `json:"tenant"`
	Advisor string `json:"advisor"`
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

func feedKey(tenant, advisor string) []byte { return []byte(prefixFeed + tenant + "/" + advisor) }

// FeedToken issues the advisor's feed token on first use. The token is
// returned once; later calls fail with ErrTokenIssued (use
// RotateFeedToken to replace a token that was lost).
func (s *Service) FeedToken(ctx context.Context, tenantID, advisorID string) (string, error) {
	return s.issueToken(ctx, tenantID, advisorID, false)
}

// RotateFeedToken issues a new feed token for the advisor; the previous
// one stops resolving at once.
func (s *Service) RotateFeedToken(ctx context.Context, tenantID, advisorID string) (string, error) {
	return s.issueToken(ctx, tenantID, advisorID, true)
}

func (s *Service) issueToken(ctx context.Context, tenantID, advisorID string, rotate bool) (string, error) {
	if err := validIDs(tenantID, advisorID); err != nil {
		return "", fmt.Errorf("calsync: feed token: %w", err)
	}
	var raw [32]byte
	rand.Read(raw[:])
	tok := FeedTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	h := tokenHash(tok)
	val, _ := json.Marshal(tokenRecord{Tenant: tenantID, Advisor: advisorID})
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		if _, err := tx.Get(feedKey(tenantID, advisorID)); err == nil && !rotate {
			return ErrTokenIssued
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := dropFeedToken(tx, tenantID, advisorID); err != nil {
			return err
		}
		if err := tx.Set(feedKey(tenantID, advisorID), []byte(h)); err != nil {
			return err
		}
		return tx.Set([]byte(prefixToken+h), val)
	})
	if err != nil {
		return "", fmt.Errorf("calsync: feed token: %w", err)
	}
	s.log.Info("calsync: feed token issued", "tenant", tenantID, "advisor", advisorID, "rotated", rotate)
	return tok, nil
}

func dropFeedToken(tx store.Txn, tenantID, advisorID string) error {
	old, err := tx.Get(feedKey(tenantID, advisorID))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.Delete([]byte(prefixToken + string(old))); err != nil {
		return err
	}
	return tx.Delete(feedKey(tenantID, advisorID))
}

// ResolveFeedToken returns the tenant and advisor a feed token belongs to,
// or ErrNotFound for a malformed, unknown or rotated token.
func (s *Service) ResolveFeedToken(ctx context.Context, token string) (tenantID, advisorID string, err error) {
	if len(token) != feedTokenLen || !strings.HasPrefix(token, FeedTokenPrefix) {
		return "", "", fmt.Errorf("calsync: resolve feed token: %w", ErrNotFound)
	}
	if _, err := base64.RawURLEncoding.DecodeString(token[len(FeedTokenPrefix):]); err != nil {
		return "", "", fmt.Errorf("calsync: resolve feed token: %w", ErrNotFound)
	}
	var rec tokenRecord
	err = s.kv.View(ctx, func(tx store.Txn) error {
		b, err := tx.Get([]byte(prefixToken + tokenHash(token)))
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &rec)
	})
	if err != nil {
		return "", "", fmt.Errorf("calsync: resolve feed token: %w", err)
	}
	return rec.Tenant, rec.Advisor, nil
}
