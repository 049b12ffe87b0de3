package store

import (
	"encoding/json"
	"errors"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// checkSpanDepth refuses a span whose attributes, events, links, resource
// or extra keys nest deeper than depthlimit.Max. Every door checks the raw
// request before decoding; this is the defence in depth behind them, so a
// value that reached the store some other way is refused, never stored
// where it would make the rollout unreadable.
func checkSpanDepth(s *model.Span) error {
	err := checkAttributes(s.Attributes)
	if err == nil {
		err = checkAttributes(s.Resource.Attributes)
	}
	for i := 0; err == nil && i < len(s.Events); i++ {
		err = errors.Join(checkAttributes(s.Events[i].Attributes), checkExtras(s.Events[i].Extra))
	}
	for i := 0; err == nil && i < len(s.Links); i++ {
		err = errors.Join(checkAttributes(s.Links[i].Attributes), checkExtras(s.Links[i].Extra))
	}
	if err == nil {
		err = checkExtras(s.Extra)
	}
	if err != nil {
		return &InvalidArgumentError{Message: "Span " + s.SpanID + " is invalid: " + err.Error(), Err: err}
	}
	return nil
}

func checkAttributes(a model.Attributes) error {
	for _, v := range a {
		if err := depthlimit.CheckValue(v, depthlimit.Max, "span attribute value"); err != nil {
			return err
		}
	}
	return nil
}

func checkExtras(x model.Extras) error {
	for _, v := range x {
		if err := depthlimit.CheckJSON(v, depthlimit.Max); err != nil {
			return err
		}
	}
	return nil
}

// checkDocsDepth refuses rollout documents (input, metadata) nested deeper
// than depthlimit.Max. The REST doors check request bodies already; this
// covers in-process writers (the trainer enqueuing a dataset's rows), so a
// rollout can never break the sorts over its JSON fields.
func checkDocsDepth(docs map[string]*json.RawMessage) error {
	for name, doc := range docs {
		if doc == nil {
			continue
		}
		if err := depthlimit.CheckJSON(*doc, depthlimit.Max); err != nil {
			return &InvalidArgumentError{Message: name + " is invalid: " + err.Error(), Err: err}
		}
	}
	return nil
}
