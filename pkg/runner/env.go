package runner

import (
	"encoding/json"
	"net/url"
	"strings"
)

// Environment variables a command agent receives.
const (
	EnvOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	EnvRolloutID          = "AGL_ROLLOUT_ID"
	EnvAttemptID          = "AGL_ATTEMPT_ID"
	EnvResources          = "AGL_RESOURCES"
	EnvResourcesID        = "AGL_RESOURCES_ID"
	EnvTask               = "AGL_TASK"
	EnvMode               = "AGL_MODE"
	EnvWorkerID           = "AGL_WORKER_ID"

	attrRolloutID = "agentlightning.rollout_id"
	attrAttemptID = "agentlightning.attempt_id"
)

// commandEnv returns the environment of a command: the collector's own,
// then the configured variables, then the job's. exec.Cmd keeps the last
// value of a repeated key, so the job's variables win.
func commandEnv(base []string, configured map[string]string, job *Job) []string {
	env := append([]string(nil), base...)
	for k, v := range configured {
		env = append(env, k+"="+v)
	}
	existing, ok := configured[EnvResourceAttributes]
	if !ok {
		existing = lookup(base, EnvResourceAttributes)
	}
	resources, err := json.Marshal(job.Resources)
	if err != nil {
		resources = []byte("{}")
	}
	task := string(job.Rollout.Input)
	if task == "" {
		task = "null"
	}
	env = append(env,
		EnvOTLPEndpoint+"="+job.OTLPEndpoint,
		EnvResourceAttributes+"="+mergeResourceAttributes(existing, job),
		EnvRolloutID+"="+job.Rollout.RolloutID,
		EnvAttemptID+"="+job.Attempt.AttemptID,
		EnvResources+"="+string(resources),
		EnvResourcesID+"="+job.ResourcesID,
		EnvTask+"="+task,
		EnvMode+"="+job.Mode(),
		EnvWorkerID+"="+job.WorkerID,
	)
	return env
}

// lookup returns the last value of key in a KEY=VALUE list.
func lookup(env []string, key string) string {
	value := ""
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			value = v
		}
	}
	return value
}

// mergeResourceAttributes appends the rollout and attempt ids to an
// OTEL_RESOURCE_ATTRIBUTES value, dropping any ids it already had (the
// collector's own, for instance) so the SDK cannot pick a stale one.
func mergeResourceAttributes(existing string, job *Job) string {
	var kept []string
	for _, pair := range strings.Split(existing, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, _, _ := strings.Cut(pair, "=")
		if k = strings.TrimSpace(k); k == attrRolloutID || k == attrAttemptID {
			continue
		}
		kept = append(kept, pair)
	}
	kept = append(kept,
		attrRolloutID+"="+url.PathEscape(job.Rollout.RolloutID),
		attrAttemptID+"="+url.PathEscape(job.Attempt.AttemptID),
	)
	return strings.Join(kept, ",")
}
