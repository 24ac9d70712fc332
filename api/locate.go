package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// locate finds the first problem, in document order, that keeps data from
// decoding into v: an unknown field or a value of the wrong type. It returns
// the problem's field path (e.g. "records[2].occurred_at") and a message.
// It runs only after decoding failed, so it favours clarity over speed.
func locate(data []byte, v any) (field, msg string, ok bool) {
	return locateValue(data, reflect.TypeOf(v), "")
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
	rfc3339Type     = reflect.TypeFor[rfc3339]()
)

func locateValue(raw []byte, t reflect.Type, path string) (string, string, bool) {
	raw = bytes.Trim(raw, jsonSpace)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if string(raw) == "null" {
		return "", "", false
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		if json.Unmarshal(raw, reflect.New(t).Interface()) != nil {
			return path, "must be " + describe(t), true
		}
		return "", "", false
	}
	switch t.Kind() {
	case reflect.Struct:
		if len(raw) == 0 || raw[0] != '{' {
			return path, "must be " + describe(t), true
		}
		var problem [2]string
		found := false
		eachMember(raw, func(key string, val []byte) bool {
			f, ok := jsonField(t, key)
			if !ok {
				problem = [2]string{join(path, key), "unknown field; the fields are " + strings.Join(jsonFields(t), ", ")}
				if key == "" { // no path names it: name the object holding it
					problem = [2]string{path, `has a member with an empty name; the fields are ` + strings.Join(jsonFields(t), ", ")}
				}
				found = true
				return false
			}
			if p, m, ok := locateValue(val, f.Type, join(path, key)); ok {
				problem = [2]string{p, m}
				found = true
				return false
			}
			return true
		})
		return problem[0], problem[1], found
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			break
		}
		if len(raw) == 0 || raw[0] != '[' {
			return path, "must be " + describe(t), true
		}
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return "", "", false
		}
		for i, e := range elems {
			if p, m, ok := locateValue(e, t.Elem(), path+"["+strconv.Itoa(i)+"]"); ok {
				return p, m, true
			}
		}
		return "", "", false
	case reflect.Map:
		if len(raw) == 0 || raw[0] != '{' {
			return path, "must be " + describe(t), true
		}
		var problem [2]string
		found := false
		eachMember(raw, func(key string, val []byte) bool {
			if p, m, ok := locateValue(val, t.Elem(), join(path, key)); ok {
				problem, found = [2]string{p, m}, true
				return false
			}
			return true
		})
		return problem[0], problem[1], found
	case reflect.Interface:
		return "", "", false
	}
	if json.Unmarshal(raw, reflect.New(t).Interface()) != nil {
		return path, "must be " + describe(t), true
	}
	return "", "", false
}

// eachMember calls fn with every member of a JSON object, in order, until
// fn returns false.
func eachMember(raw []byte, fn func(key string, val []byte) bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return
		}
		if !fn(key, val) {
			return
		}
	}
}

// jsonField finds the struct field encoding/json decodes key into: an exact
// name match first, then a case-insensitive one.
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold reflect.StructField
	folded := false
	for _, f := range reflect.VisibleFields(t) {
		name, ok := jsonName(f)
		if !ok {
			continue
		}
		if name == key {
			return f, true
		}
		if !folded && strings.EqualFold(name, key) {
			fold, folded = f, true
		}
	}
	return fold, folded
}

// jsonFields returns the JSON names of a struct's fields.
func jsonFields(t reflect.Type) []string {
	var names []string
	for _, f := range reflect.VisibleFields(t) {
		if name, ok := jsonName(f); ok {
			names = append(names, name)
		}
	}
	return names
}

// jsonName returns the name a field has in JSON, if it has one.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
		return "", false // its fields are promoted
	}
	if name == "" {
		name = f.Name
	}
	return name, true
}

// describe says what JSON a value of t must be, for messages.
func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType, t == rfc3339Type:
		return "an RFC 3339 time such as \"2026-03-02T10:00:00Z\""
	case reflect.PointerTo(t).Implements(textUnmarshaler):
		return "a string in the right format"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a valid value"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
