package link

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The second factor (TOTP, RFC 6238) as docs/api-contract.md describes
// it: a sign-in of a user with a second factor takes the password, then a
// code; the user turns it on and off, and renews recovery codes, from
// their own settings; an admin resets it for a user who lost the phone.

// ErrCodeFormat is returned, before anything is sent, for a code that is
// neither 6 digits nor shaped like a recovery code.
var ErrCodeFormat = errors.New("link: not a TOTP code or recovery code")

// Limits on what the relay sends back for the second factor.
const (
	maxChallengeLen   = 128
	maxSecretLen      = 256
	maxOTPAuthURLLen  = 2048
	maxRecoveryCodes  = 64
	maxRecoveryLen    = 64
	maxCodeInputLen   = 64
	otpauthPrefixTOTP = "otpauth://totp/"
)

// SecondFactorChallenge returns the challenge carried by an error of
// [Client.Login] for a user with a second factor, and whether err is one.
func SecondFactorChallenge(err error) (string, bool) {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != CodeSecondFactorRequired || ae.Challenge == "" {
		return "", false
	}
	return ae.Challenge, true
}

// IsInvalidCode reports whether err is the relay's answer to a wrong,
// reused or malformed code (at sign-in also: a void challenge).
func IsInvalidCode(err error) bool { return hasCode(err, CodeInvalidCode) }

// IsChallengeExpired reports whether err is the relay's answer to a void
// sign-in challenge: the password must be given again.
func IsChallengeExpired(err error) bool { return hasCode(err, CodeChallengeExpired) }

// cleanChallenge keeps a challenge only when it is a short run of
// printable ASCII without spaces; anything else is dropped.
func cleanChallenge(s string) string {
	if s == "" || len(s) > maxChallengeLen {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\\' {
			return ""
		}
	}
	return s
}

// NormalizeCode removes white space from a code as typed ("123 456"
// becomes "123456") and checks its form: 6 digits, or a recovery code of
// letters, digits and dashes. It returns [ErrCodeFormat] otherwise.
func NormalizeCode(code string) (string, error) {
	c := strings.Join(strings.Fields(code), "")
	if c == "" || len(c) > maxCodeInputLen {
		return "", ErrCodeFormat
	}
	digits, other := 0, 0
	for _, r := range c {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '-':
			other++
		default:
			return "", ErrCodeFormat
		}
	}
	if other == 0 && digits != 6 {
		return "", ErrCodeFormat
	}
	if other > 0 && len(strings.ReplaceAll(c, "-", "")) < 8 {
		return "", ErrCodeFormat
	}
	return c, nil
}

type secondFactorLogin struct {
	Challenge string `json:"challenge"`
	Code      string `json:"code"`
}

// LoginSecondFactor answers the challenge from [Client.Login] with a TOTP
// code or a recovery code and, like Login, keeps the session's token. A
// wrong code yields an *[APIError] with [CodeInvalidCode]; the relay
// treats a challenge as void after 5 wrong codes or 5 minutes, and then
// answers the same way: the password must be given again.
func (c *Client) LoginSecondFactor(ctx context.Context, challenge, code string) (LoginResult, error) {
	const path = "/api/v1/login/second-factor"
	code, err := NormalizeCode(code)
	if err != nil {
		return LoginResult{}, fmt.Errorf("link: second factor: %w", err)
	}
	if cleanChallenge(challenge) == "" {
		return LoginResult{}, fmt.Errorf("link: second factor: %w", &APIError{Status: http.StatusUnauthorized, Code: CodeInvalidCode})
	}
	var res LoginResult
	s, _, err := c.do(ctx, http.MethodPost, path, false, secondFactorLogin{Challenge: challenge, Code: code}, &res)
	if err != nil {
		return LoginResult{}, err
	}
	return c.keepLogin(path, s, res)
}

// SecondFactorSetup is a started enrolment: the secret for an
// authenticator app as text and as an otpauth:// URL (for a QR code).
type SecondFactorSetup struct {
	// Secret is the base32 shared secret, for typing into the app.
	Secret string `json:"secret"`
	// OTPAuthURL is the otpauth://totp/… key URI the QR code shows.
	OTPAuthURL string `json:"otpauth_url"`
	// ExpiresAt is when the enrolment must be confirmed by.
	ExpiresAt time.Time `json:"expires_at"`
}

// LogValue keeps the secret out of logs.
func (s SecondFactorSetup) LogValue() slog.Value {
	return slog.GroupValue(slog.Time("expires_at", s.ExpiresAt))
}

// StartSecondFactor begins turning on the logged-in user's second factor
// after checking their password again. It takes effect only once
// [Client.ConfirmSecondFactor] gets a code from the app (within 15
// minutes). A wrong password yields [CodeInvalidCredentials], a user who
// has one already [CodeSecondFactorEnabled].
func (c *Client) StartSecondFactor(ctx context.Context, password string) (SecondFactorSetup, error) {
	const path = "/api/v1/me/second-factor"
	var res SecondFactorSetup
	body := struct {
		Password string `json:"password"`
	}{password}
	if _, _, err := c.do(ctx, http.MethodPost, path, true, body, &res); err != nil {
		return SecondFactorSetup{}, err
	}
	u, err := url.Parse(res.OTPAuthURL)
	switch {
	case res.Secret == "" || len(res.Secret) > maxSecretLen || cleanText(res.Secret, maxSecretLen) != res.Secret:
		return SecondFactorSetup{}, badResponse(path, "no usable secret")
	case len(res.OTPAuthURL) > maxOTPAuthURLLen || !strings.HasPrefix(res.OTPAuthURL, otpauthPrefixTOTP) ||
		err != nil || u.Query().Get("secret") != res.Secret:
		return SecondFactorSetup{}, badResponse(path, "no usable otpauth URL")
	case res.ExpiresAt.IsZero():
		return SecondFactorSetup{}, badResponse(path, "no expiry")
	}
	return res, nil
}

type codeRequest struct {
	Code string `json:"code"`
}

// recoveryCodes posts a code to path and returns the recovery codes of
// the answer.
func (c *Client) recoveryCodes(ctx context.Context, path, code string) ([]string, error) {
	code, err := NormalizeCode(code)
	if err != nil {
		return nil, fmt.Errorf("link: second factor: %w", err)
	}
	var res struct {
		Codes []string `json:"recovery_codes"`
	}
	if _, _, err := c.do(ctx, http.MethodPost, path, true, codeRequest{code}, &res); err != nil {
		return nil, err
	}
	if len(res.Codes) == 0 || len(res.Codes) > maxRecoveryCodes {
		return nil, badResponse(path, "no recovery codes")
	}
	for _, rc := range res.Codes {
		if rc == "" || len(rc) > maxRecoveryLen || cleanText(rc, maxRecoveryLen) != rc {
			return nil, badResponse(path, "unusable recovery code")
		}
	}
	return res.Codes, nil
}

// ConfirmSecondFactor turns the second factor on with the first code from
// the authenticator app and returns the recovery codes (shown once: the
// relay keeps only their hashes). A wrong code yields [CodeInvalidCode],
// an enrolment that expired or was never started
// [CodeSecondFactorNotEnabled].
func (c *Client) ConfirmSecondFactor(ctx context.Context, code string) ([]string, error) {
	return c.recoveryCodes(ctx, "/api/v1/me/second-factor/confirm", code)
}

// NewRecoveryCodes replaces the logged-in user's recovery codes after a
// current TOTP code; the old ones stop working.
func (c *Client) NewRecoveryCodes(ctx context.Context, code string) ([]string, error) {
	return c.recoveryCodes(ctx, "/api/v1/me/second-factor/recovery-codes", code)
}

// DisableSecondFactor turns the logged-in user's second factor off after
// their password and a current code (or a recovery code).
func (c *Client) DisableSecondFactor(ctx context.Context, password, code string) error {
	code, err := NormalizeCode(code)
	if err != nil {
		return fmt.Errorf("link: second factor: %w", err)
	}
	body := struct {
		Password string `json:"password"`
		Code     string `json:"code"`
	}{password, code}
	_, _, err = c.do(ctx, http.MethodDelete, "/api/v1/me/second-factor", true, body, nil)
	return err
}

// ResetSecondFactor removes the second factor of a user of the logged-in
// admin's tenant (a lost phone) and ends that user's sessions; the user
// signs in with the password alone and may turn it on again.
func (c *Client) ResetSecondFactor(ctx context.Context, userID string) error {
	_, _, err := c.do(ctx, http.MethodDelete, "/api/v1/users/"+url.PathEscape(userID)+"/second-factor", true, nil, nil)
	return err
}

// DeleteAccount deletes the logged-in user's own account after their
// password and, when they have a second factor, a code (empty otherwise).
// The relay refuses with [CodeFutureBookings] while appointments are to
// come and with [CodeLastAdmin] for the tenant's last admin. The token is
// forgotten once the account is gone.
func (c *Client) DeleteAccount(ctx context.Context, password, code string) error {
	if code != "" {
		var err error
		if code, err = NormalizeCode(code); err != nil {
			return fmt.Errorf("link: delete account: %w", err)
		}
	}
	body := struct {
		Password string `json:"password"`
		Code     string `json:"code,omitempty"`
	}{password, code}
	_, tok, err := c.do(ctx, http.MethodDelete, "/api/v1/me", true, body, nil)
	if err == nil && tok != "" {
		c.dropToken(tok)
	}
	return err
}
