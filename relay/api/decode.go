package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// readBody enforces the content type and size limit and returns the body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, errMediaType
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errTooLarge
		}
		return nil, badRequest("Could not read the request body.")
	}
	return body, nil
}

// decodeRequest reads the body and decodes it with decode; on failure it
// has written the JSON error and returns false.
func decodeRequest[T any](w http.ResponseWriter, r *http.Request, decode func([]byte) (T, error)) (T, bool) {
	var zero T
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return zero, false
	}
	req, err := decode(body)
	if err != nil {
		writeError(w, err)
		return zero, false
	}
	return req, true
}

// decodeStrict parses exactly one JSON object into dst, rejecting unknown
// fields and trailing data.
func decodeStrict(body []byte, dst any) error {
	if !utf8.Valid(body) {
		return badRequest("The body is not valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return badRequest("The body is not valid JSON (at byte %d).", syn.Offset)
		case errors.As(err, &typ):
			return badRequest("Field %q has the wrong type.", typ.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return badRequest("Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
		case errors.Is(err, io.EOF):
			return badRequest("The body is empty.")
		}
		return badRequest("The body is not valid JSON.")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("The body must hold exactly one JSON object.")
	}
	return nil
}

func requireFields(fields ...[2]string) error {
	for _, f := range fields {
		if strings.TrimSpace(f[1]) == "" {
			return badRequest("Field %q is required.", f[0])
		}
	}
	return nil
}

type loginRequest struct {
	Tenant   string `json:"tenant"`
	Username string `json:"username"`
	Password string `json:"password"`
}

func decodeLogin(body []byte) (loginRequest, error) {
	var req loginRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	req.Tenant = strings.ToLower(strings.TrimSpace(req.Tenant))
	req.Username = strings.TrimSpace(req.Username)
	if err := requireFields([2]string{"tenant", req.Tenant}, [2]string{"username", req.Username}, [2]string{"password", req.Password}); err != nil {
		return req, err
	}
	if len(req.Tenant) > 64 || len(req.Username) > 128 || len(req.Password) > 1024 {
		return req, badRequest("A field is longer than allowed.")
	}
	return req, nil
}

type passwordRequest struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

func decodePassword(body []byte) (passwordRequest, error) {
	var req passwordRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if err := requireFields([2]string{"current_password", req.Current}, [2]string{"new_password", req.New}); err != nil {
		return req, err
	}
	if len(req.Current) > 1024 || len(req.New) > 1024 {
		return req, badRequest("A password is longer than allowed.")
	}
	return req, nil
}

type createUserRequest struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Email       string `json:"email"`
	Password    string `json:"password"`
	Role        string `json:"role"`
}

func decodeCreateUser(body []byte) (createUserRequest, error) {
	var req createUserRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	req.Username = strings.TrimSpace(req.Username)
	req.DisplayName = strings.TrimSpace(req.DisplayName)
	req.Email = strings.TrimSpace(req.Email)
	if req.Role == "" {
		req.Role = "advisor"
	}
	if err := requireFields([2]string{"username", req.Username}, [2]string{"password", req.Password}); err != nil {
		return req, err
	}
	if req.Role != "advisor" && req.Role != "admin" {
		return req, badRequest("Field \"role\" must be \"advisor\" or \"admin\".")
	}
	if len(req.DisplayName) > 200 || len(req.Email) > 254 || len(req.Password) > 1024 {
		return req, badRequest("A field is longer than allowed.")
	}
	return req, nil
}

type updateUserRequest struct {
	Disabled *bool `json:"disabled"`
}

func decodeUpdateUser(body []byte) (updateUserRequest, error) {
	var req updateUserRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if req.Disabled == nil {
		return req, badRequest("Nothing to change: send \"disabled\".")
	}
	return req, nil
}
