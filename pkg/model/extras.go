package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Extras holds JSON keys a model does not declare. Agent Lightning declares its
// span types with extra="allow", so such keys must be stored and returned as
// they came.
type Extras map[string]json.RawMessage

// decodeWithExtras decodes b into the struct pointed to by dst (through a
// plain alias type without custom methods) and returns the keys dst does not
// declare. Numbers are kept as json.Number so ints and floats round-trip.
func decodeWithExtras(b []byte, dst any) (Extras, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	known := jsonKeys(reflect.TypeOf(dst).Elem())
	var extra Extras
	for k, v := range all {
		if _, ok := known[k]; ok {
			continue
		}
		if extra == nil {
			extra = Extras{}
		}
		extra[k] = v
	}
	return extra, nil
}

// encodeWithExtras encodes v (a plain alias value) and appends extra keys.
// Declared keys win over extras with the same name.
func encodeWithExtras(v any, extra Extras) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	known := jsonKeys(reflect.TypeOf(v))
	var buf bytes.Buffer
	buf.Write(b[:len(b)-1])
	for _, k := range sortedKeys(extra) {
		if _, ok := known[k]; ok {
			continue
		}
		kb, _ := json.Marshal(k)
		val := extra[k]
		if len(val) == 0 {
			val = json.RawMessage("null")
		}
		fmt.Fprintf(&buf, ",%s:%s", kb, val)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// keyCache memoises jsonKeys per type: spans are decoded on the hot path.
var keyCache sync.Map

func jsonKeys(t reflect.Type) map[string]struct{} {
	if cached, ok := keyCache.Load(t); ok {
		return cached.(map[string]struct{})
	}
	keys := computeKeys(t)
	keyCache.Store(t, keys)
	return keys
}

func computeKeys(t reflect.Type) map[string]struct{} {
	keys := map[string]struct{}{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		keys[name] = struct{}{}
	}
	return keys
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
