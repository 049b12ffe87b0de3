package store

import "github.com/otelcol-lightning/otelcol-lightning/pkg/model"

// Sort orders for Page.SortOrder.
const (
	SortAsc  = "asc"
	SortDesc = "desc"
)

// Filter logics.
const (
	LogicAnd = "and"
	LogicOr  = "or"
)

// Page is the sort and pagination part of every query. Limit -1 means all.
type Page struct {
	SortBy    *string
	SortOrder string
	Limit     int
	Offset    int
}

// AllPage returns everything in insertion order.
func AllPage() Page { return Page{SortOrder: SortAsc, Limit: -1} }

// RolloutQuery filters rollouts. A nil slice means "no filter"; an empty
// non-nil slice matches nothing.
type RolloutQuery struct {
	StatusIn          []model.RolloutStatus
	RolloutIDIn       []string
	RolloutIDContains *string
	FilterLogic       string
	Page
}

// AttemptQuery lists the attempts of one rollout (sequence_id asc by default).
type AttemptQuery struct {
	RolloutID string
	Page
}

// SpanQuery filters the spans of one rollout. AttemptID may be LatestAttempt.
type SpanQuery struct {
	RolloutID        string
	AttemptID        *string
	TraceID          *string
	TraceIDContains  *string
	SpanID           *string
	SpanIDContains   *string
	ParentID         *string
	ParentIDContains *string
	Name             *string
	NameContains     *string
	FilterLogic      string
	Page
}

// ResourcesQuery filters resource snapshots; both conditions are ANDed.
type ResourcesQuery struct {
	ResourcesID         *string
	ResourcesIDContains *string
	Page
}

// WorkerQuery filters workers.
type WorkerQuery struct {
	StatusIn         []model.WorkerStatus
	WorkerIDContains *string
	FilterLogic      string
	Page
}
