package store

import (
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// The declared JSON fields of each model, in declaration order: the only
// valid sort keys, listed in the error message as Agent Lightning does.
var (
	rolloutFields   = []string{"rollout_id", "input", "start_time", "end_time", "mode", "resources_id", "status", "config", "metadata"}
	attemptFields   = []string{"rollout_id", "attempt_id", "sequence_id", "start_time", "end_time", "status", "worker_id", "last_heartbeat_time", "metadata"}
	spanFields      = []string{"rollout_id", "attempt_id", "sequence_id", "trace_id", "span_id", "parent_id", "name", "status", "attributes", "events", "links", "start_time", "end_time", "context", "parent", "resource"}
	resourcesFields = []string{"resources_id", "create_time", "update_time", "version", "resources"}
	workerFields    = []string{"worker_id", "status", "heartbeat_stats", "last_heartbeat_time", "last_dequeue_time", "last_busy_time", "last_idle_time", "current_rollout_id", "current_attempt_id"}
)

// validatePage checks sorting and paging with the REST server's messages.
// A limit of 0 is accepted here (an empty page); the REST layer refuses it.
func validatePage(p Page, fields []string) error {
	if p.SortBy != nil && !contains(fields, *p.SortBy) {
		return invalid("Invalid sort_by: %s, allowed fields are: %s", *p.SortBy, strings.Join(fields, ", "))
	}
	if p.SortOrder != "" && p.SortOrder != SortAsc && p.SortOrder != SortDesc {
		return invalid("Invalid sort_order: %s, allowed values are: asc, desc", p.SortOrder)
	}
	if p.Limit < -1 {
		return invalid("Limit must be greater than 0 or -1 for no limit")
	}
	if p.Offset < 0 {
		return invalid("Offset must be greater than or equal to 0")
	}
	return nil
}

func validateLogic(logic string) error {
	if logic != "" && logic != LogicAnd && logic != LogicOr {
		return invalid("Invalid filter_logic: %s, allowed values are: and, or", logic)
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func paginated[T any](items []T, total int, p Page) model.Paginated[T] {
	if items == nil {
		items = []T{}
	}
	return model.Paginated[T]{Items: items, Limit: p.Limit, Offset: p.Offset, Total: total}
}

func exact(field string, v *string) []Cond {
	if v == nil {
		return nil
	}
	return []Cond{{Field: field, Op: OpExact, Value: *v}}
}

func substring(field string, v *string) []Cond {
	if v == nil {
		return nil
	}
	return []Cond{{Field: field, Op: OpContains, Value: *v}}
}

func within[T ~string](field string, vs []T) []Cond {
	if vs == nil {
		return nil
	}
	values := make([]string, len(vs))
	for i, v := range vs {
		values[i] = string(v)
	}
	return []Cond{{Field: field, Op: OpWithin, Values: values}}
}

func concat(parts ...[]Cond) []Cond {
	var out []Cond
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
