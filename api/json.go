package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/socred/socred"
)

// errorBody is the body of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// writeError answers with err: its code, safe message and field. Internal
// errors are logged, and their message never shows internals.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, route string, err error) {
	d := errorDetail{Code: socred.ErrorCode(err), Message: socred.ErrorMessage(err), Field: socred.ErrorField(err)}
	status := socred.HTTPStatus(d.Code)
	switch {
	case status == http.StatusInternalServerError:
		if errors.Is(err, context.Canceled) {
			a.log.InfoContext(r.Context(), "request canceled", "route", route, "err", err)
		} else {
			a.log.ErrorContext(r.Context(), "internal error", "route", route, "err", err)
		}
		d = errorDetail{Code: socred.EINTERNAL, Message: "internal error"}
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="socred"`)
	}
	writeJSON(w, status, errorBody{Error: d})
}

// writeJSON answers with v as JSON. It encodes into a buffer first, so a
// value that cannot be encoded becomes a 500, never half an answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer putJSONBuffer(buf)
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"internal error","field":""}}` + "\n")
	}
	writeBody(w, status, buf.Bytes())
}

// writeDecision answers with a check's decision, as writeJSON would.
func writeDecision(w http.ResponseWriter, d *socred.Decision) {
	p := decisionBuffers.Get().(*[]byte)
	b, ok := appendDecision((*p)[:0], d)
	if !ok {
		decisionBuffers.Put(p)
		writeJSON(w, http.StatusOK, d)
		return
	}
	writeBody(w, http.StatusOK, b)
	if cap(b) <= 64<<10 {
		*p = b
		decisionBuffers.Put(p)
	}
}

// decisionBuffers holds the buffers decisions are encoded in.
var decisionBuffers = sync.Pool{New: func() any { return new([]byte) }}

// writeBody writes an answer of JSON already encoded.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	// Set directly, with values shared by every answer (net/http copies
	// the header before it writes it, and an append to a value of
	// capacity one makes a new one): Header.Set allocates per call.
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["X-Content-Type-Options"] = noSniff
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	_, _ = w.Write(body) // #nosec G705 -- JSON, sent as application/json with nosniff; never read as HTML
}

var (
	jsonContentType = []string{"application/json"}[:1:1]
	noSniff         = []string{"nosniff"}[:1:1]
	noStore         = []string{"no-store"}[:1:1]
)

// jsonBuffers holds the buffers answers are encoded in.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putJSONBuffer returns a buffer to the pool, unless an unusually large
// answer grew it.
func putJSONBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 {
		jsonBuffers.Put(buf)
	}
}

// decode reads a request's JSON body into v, strictly: the Content-Type
// must be application/json, the body one JSON value with no trailing data
// and no unknown fields. Errors name the field where they can.
func decode(r *http.Request, v any) error {
	data, err := body(r)
	if err != nil {
		return err
	}
	return unmarshal(data, v)
}

// body reads a request's JSON body: application/json, within the limit,
// UTF-8. A body that is not UTF-8 is returned with its error.
func body(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if ct != "application/json" { // the common case, without parsing
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, socred.Errorf(socred.EINVALID, "Content-Type must be application/json, not %q", ct)
		}
	}
	data, err := readBody(r)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge(mbe.Limit)
	case err != nil:
		return nil, socred.Errorf(socred.EINVALID, "could not read the request body")
	}
	// encoding/json would take bytes that are not UTF-8 as U+FFFD.
	if !utf8.Valid(data) {
		return data, socred.Errorf(socred.EINVALID, "the request body is not UTF-8: a byte that is not at %s", position(data, int64(socred.InvalidUTF8(data))+1))
	}
	return data, nil
}

// readBody reads the whole body, into a buffer of the size the request
// declares when it declares one (io.ReadAll grows its buffer from 512
// bytes, copying as it goes).
func readBody(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	// Up to 1 MiB as declared; a larger declared length (only a record
	// batch may be larger) is read as it comes, so that a false length
	// does not make the server set aside more than the limit of most
	// endpoints before the body's limit is met.
	if n <= 0 || n > MaxBody {
		return io.ReadAll(r.Body)
	}
	data := make([]byte, n, n+1)
	if _, err := io.ReadFull(r.Body, data); err != nil {
		return nil, err
	}
	// A body longer than it declared is read whole, as io.ReadAll would.
	if k, err := io.ReadFull(r.Body, data[n:n+1]); k == 0 {
		if err != io.EOF {
			return nil, err
		}
		return data, nil
	}
	rest, err := io.ReadAll(r.Body)
	return append(data[:n+1], rest...), err
}

// unmarshal decodes data into v; see decode.
func unmarshal(data []byte, v any) error {
	if fastUnmarshal(data, v) {
		return nil
	}
	if len(bytes.Trim(data, jsonSpace)) == 0 {
		return socred.Errorf(socred.EINVALID, "a JSON request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(data, v, err)
	}
	off := dec.InputOffset()
	if rest := bytes.TrimLeft(data[off:], jsonSpace); len(rest) > 0 {
		off = int64(len(data) - len(rest))
		return socred.Errorf(socred.EINVALID, "malformed JSON at %s: unexpected data after the JSON value", position(data, off+1))
	}
	if field, ok := duplicateName(data); ok {
		return socred.FieldErrorf(field, "is given twice: each name may appear once in an object (encoding/json would keep the last, another reader the first)")
	}
	return nil
}

// duplicateName returns the path of the first member of an object whose
// name repeats one before it in that object, compared as encoding/json
// matches names to fields (without regard to case), if there is one. data
// is one JSON value, already decoded once.
func duplicateName(data []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	field, dup, err := walkNames(dec, "")
	return field, dup && err == nil
}

func walkNames(dec *json.Decoder, path string) (string, bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", false, err
	}
	switch tok {
	case json.Delim('{'):
		var seen map[string]bool
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", false, err
			}
			k, _ := kt.(string)
			p := k
			if path != "" {
				p = path + "." + k
			}
			folded := strings.ToLower(strings.ToUpper(k)) // K (Kelvin) and ſ fold as encoding/json folds them
			if seen[folded] {
				return p, true, nil
			}
			if seen == nil {
				seen = make(map[string]bool)
			}
			seen[folded] = true
			if q, dup, err := walkNames(dec, p); err != nil || dup {
				return q, dup, err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if q, dup, err := walkNames(dec, path+"["+strconv.Itoa(i)+"]"); err != nil || dup {
				return q, dup, err
			}
		}
		_, err = dec.Token()
	}
	return "", false, err
}

const jsonSpace = " \t\r\n"

// decodeError turns a decoding error into an application error: a syntax
// error with its position, or an error naming the offending field.
func decodeError(data []byte, v any, err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return socred.Errorf(socred.EINVALID, "malformed JSON at %s: %s", position(data, syn.Offset), syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return socred.Errorf(socred.EINVALID, "malformed JSON at %s: unexpected end of input", position(data, int64(len(data))))
	}
	if field, msg, ok := locate(data, v); ok {
		if field == "" {
			return socred.Errorf(socred.EINVALID, "the request body %s", msg)
		}
		return socred.FieldErrorf(field, "%s", msg)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field != "" {
		return socred.FieldErrorf(typ.Field, "must be %s", describe(typ.Type))
	}
	return socred.Errorf(socred.EINVALID, "invalid JSON body")
}

// position describes a byte offset (counted from 1) of data as a line and
// column.
func position(data []byte, off int64) string {
	off = min(max(off, 1), int64(len(data)))
	line, col := 1, 1
	for _, b := range data[:off-1] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return "line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col)
}

// tooLarge is the error for a body over the limit.
func tooLarge(limit int64) error {
	return socred.Errorf(socred.ETOOLARGE, "the request body exceeds the limit of %s", byteSize(limit))
}

func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// orEmpty returns s, or an empty slice when s is nil, so that JSON answers
// carry [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
