package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// maxBodyDepth bounds the nesting of a converted body. The parser already
// bounds what it decodes (genai.DefaultMaxDepth); this is the backstop.
const maxBodyDepth = 256

// jsonToValue decodes the JSON document b into v, keeping the key order
// of objects (a Go map would lose it and make records differ run to run)
// and integers as integers.
func jsonToValue(b []byte, v pcommon.Value) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := decodeValue(dec, v, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func decodeValue(dec *json.Decoder, v pcommon.Value, depth int) error {
	if depth > maxBodyDepth {
		return fmt.Errorf("nesting deeper than %d", maxBodyDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case nil:
		// Stays an empty value, which is JSON null.
	case bool:
		v.SetBool(t)
	case string:
		v.SetStr(t)
	case json.Number:
		setNumber(v, t)
	case json.Delim:
		switch t {
		case '{':
			m := v.SetEmptyMap()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := kt.(string)
				if err := decodeValue(dec, m.PutEmpty(key), depth+1); err != nil {
					return err
				}
			}
		case '[':
			s := v.SetEmptySlice()
			for dec.More() {
				if err := decodeValue(dec, s.AppendEmpty(), depth+1); err != nil {
					return err
				}
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return err
		}
	}
	return nil
}

func setNumber(v pcommon.Value, n json.Number) {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			v.SetInt(i)
			return
		}
	}
	f, err := n.Float64()
	if err != nil {
		v.SetStr(s)
		return
	}
	v.SetDouble(f)
}
