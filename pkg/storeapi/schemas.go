package storeapi

import "github.com/otelcol-lightning/otelcol-lightning/pkg/model"

// Request models of the Agent Lightning v0.3 server, field for field.

func literals[T ~string](values []T) *schema {
	s := &schema{kind: kindLiteral}
	for _, v := range values {
		s.literals = append(s.literals, string(v))
	}
	return s
}

func list(elem *schema) *schema { return &schema{kind: kindList, elem: elem} }

func object(fields ...field) *schema { return &schema{kind: kindModel, fields: fields} }

func opt(name string, s *schema) field { return field{name: name, schema: s} }

func req(name string, s *schema) field { return field{name: name, schema: s, required: true} }

var (
	anyValue = &schema{kind: kindAny}
	str      = &schema{kind: kindString}
	integer  = &schema{kind: kindInt}
	number   = &schema{kind: kindNumber}
	boolean  = &schema{kind: kindBool}
	dict     = &schema{kind: kindDict}

	rolloutStatus = literals(model.RolloutStatuses)
	attemptStatus = literals(model.AttemptStatuses)
	workerStatus  = literals([]model.WorkerStatus{model.WorkerIdle, model.WorkerBusy, model.WorkerUnknown})
	rolloutMode   = literals([]model.RolloutMode{model.ModeTrain, model.ModeVal, model.ModeTest})
	sortOrder     = literals([]string{"asc", "desc"})
	filterLogic   = literals([]string{"and", "or"})
	statusCode    = literals([]string{model.StatusUnset, model.StatusOK, model.StatusError})
	engine        = literals([]string{"jinja", "f-string", "poml"})

	maxAttemptsMin = int64(1)

	rolloutConfig = object(
		opt("timeout_seconds", number.orNull()),
		opt("unresponsive_seconds", number.orNull()),
		opt("max_attempts", &schema{kind: kindInt, min: &maxAttemptsMin}),
		opt("retry_condition", list(attemptStatus)),
	)

	enqueueRolloutRequest = object(
		req("input", anyValue),
		opt("mode", rolloutMode.orNull()),
		opt("resources_id", str.orNull()),
		opt("config", rolloutConfig.orNull()),
		opt("metadata", dict.orNull()),
	)

	enqueueManyRequest = object(req("rollouts", list(enqueueRolloutRequest)))

	dequeueRequest = object(
		opt("limit", integer),
		opt("worker_id", str.orNull()),
	)

	startRolloutRequest = object(
		req("input", anyValue),
		opt("mode", rolloutMode.orNull()),
		opt("resources_id", str.orNull()),
		opt("config", rolloutConfig.orNull()),
		opt("metadata", dict.orNull()),
		opt("worker_id", str.orNull()),
	)

	updateRolloutRequest = object(
		opt("input", anyValue),
		opt("mode", rolloutMode.orNull()),
		opt("resources_id", str.orNull()),
		opt("status", rolloutStatus.orNull()),
		opt("config", rolloutConfig.orNull()),
		opt("metadata", dict.orNull()),
	)

	startAttemptRequest = object(opt("worker_id", str.orNull()))

	updateAttemptRequest = object(
		opt("status", attemptStatus.orNull()),
		opt("worker_id", str.orNull()),
		opt("last_heartbeat_time", number.orNull()),
		opt("metadata", dict.orNull()),
	)

	updateWorkerRequest = object(opt("heartbeat_stats", dict.orNull()))

	pageFields = []field{
		opt("limit", integer),
		opt("offset", integer),
		opt("sort_by", str.orNull()),
		opt("sort_order", sortOrder),
	}

	queryRolloutsRequest = object(append(append([]field{
		opt("status_in", list(rolloutStatus).orNull()),
		opt("rollout_id_in", list(str).orNull()),
		opt("rollout_id_contains", str.orNull()),
	}, pageFields...), opt("filter_logic", filterLogic))...)

	queryAttemptsRequest = object(pageFields...)

	queryWorkersRequest = object(append(append([]field{
		opt("status_in", list(workerStatus).orNull()),
		opt("worker_id_contains", str.orNull()),
	}, pageFields...), opt("filter_logic", filterLogic))...)

	queryResourcesRequest = object(append([]field{
		opt("resources_id", str.orNull()),
		opt("resources_id_contains", str.orNull()),
	}, pageFields...)...)

	querySpansRequest = object(append([]field{
		req("rollout_id", str),
		opt("attempt_id", str.orNull()),
		opt("trace_id", str.orNull()),
		opt("trace_id_contains", str.orNull()),
		opt("span_id", str.orNull()),
		opt("span_id_contains", str.orNull()),
		opt("parent_id", str.orNull()),
		opt("parent_id_contains", str.orNull()),
		opt("name", str.orNull()),
		opt("name_contains", str.orNull()),
		opt("filter_logic", filterLogic),
	}, pageFields...)...)

	nextSequenceIDRequest = object(req("rollout_id", str), req("attempt_id", str))

	waitRequest = object(req("rollout_ids", list(str)), opt("timeout", number.orNull()))

	attributes = &schema{kind: kindMap, elem: &schema{kind: kindAttr}}

	spanContext = object(
		req("trace_id", str),
		req("span_id", str),
		req("is_remote", boolean),
		req("trace_state", &schema{kind: kindMap, elem: str}),
	)

	spanRequest = object(
		req("rollout_id", str),
		req("attempt_id", str),
		req("sequence_id", integer),
		req("trace_id", str),
		req("span_id", str),
		req("parent_id", str.orNull()),
		req("name", str),
		req("status", object(req("status_code", statusCode), opt("description", str.orNull()))),
		req("attributes", attributes),
		req("events", list(object(req("name", str), req("attributes", attributes), opt("timestamp", number.orNull())))),
		req("links", list(object(req("context", spanContext), opt("attributes", attributes.orNull())))),
		req("start_time", number.orNull()),
		req("end_time", number.orNull()),
		req("context", spanContext.orNull()),
		req("parent", spanContext.orNull()),
		req("resource", object(req("attributes", attributes), req("schema_url", str))),
	)

	llmResource = func(tag string) *schema {
		return object(
			opt("resource_type", literals([]string{tag})),
			req("endpoint", str),
			req("model", str),
			opt("api_key", str.orNull()),
			opt("sampling_parameters", dict),
		)
	}

	// namedResources is the bare map of POST /resources: each value is an
	// LLM, ProxyLLM or PromptTemplate chosen by resource_type.
	namedResources = &schema{kind: kindMap, elem: &schema{
		kind: kindTagged,
		tag:  "resource_type",
		order: []string{
			model.ResourceLLM, model.ResourceProxyLLM, model.ResourcePromptTemplate,
		},
		variants: map[string]*schema{
			model.ResourceLLM:      llmResource(model.ResourceLLM),
			model.ResourceProxyLLM: llmResource(model.ResourceProxyLLM),
			model.ResourcePromptTemplate: object(
				opt("resource_type", literals([]string{model.ResourcePromptTemplate})),
				req("template", str),
				req("engine", engine),
			),
		},
	}}
)
