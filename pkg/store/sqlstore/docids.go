package sqlstore

import (
	"bytes"
	"encoding/json"

	"go.uber.org/zap"
)

// idKeys are the identifying fields of stored documents, which json.Marshal
// of the model writes before the values (attributes, input, metadata) that
// can make a document undecodable.
var idKeys = []string{"rollout_id", "attempt_id", "span_id", "sequence_id", "worker_id", "resources_id"}

// docIDs finds the ids of a document that does not decode, for the log: the
// first occurrence of each id key in its first KiB, read as a JSON string
// or number.
func docIDs(doc []byte) []zap.Field {
	head := doc[:min(len(doc), 1024)]
	var fields []zap.Field
	for _, key := range idKeys {
		i := bytes.Index(head, []byte(`"`+key+`":`))
		if i < 0 {
			continue
		}
		rest := head[i+len(key)+3:]
		var v any
		dec := json.NewDecoder(bytes.NewReader(rest))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			continue
		}
		switch x := v.(type) {
		case string:
			fields = append(fields, zap.String(key, x))
		case json.Number:
			fields = append(fields, zap.String(key, x.String()))
		}
	}
	return fields
}
