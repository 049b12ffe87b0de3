// Package runner dispatches queued rollouts to agents from inside the
// collector, with the semantics of Agent Lightning's runners
// (agent-lightning-spec.md §7.1): each worker registers itself and sends
// heartbeats with UpdateWorker, claims work with DequeueRollouts under its
// worker id, runs the rollout, and reports the outcome with UpdateAttempt
// only (the rollout status follows from the attempt, as in the store).
//
// An Executor runs one claimed rollout: CommandExecutor starts a process
// per rollout (the task on stdin, the rollout ids and the OTLP endpoint in
// its environment), HTTPExecutor posts the rollout to an agent service.
//
// Differences from Agent Lightning's runner, all deliberate:
//   - The attempt's last_heartbeat_time is refreshed through UpdateAttempt
//     on a ticker while the agent runs. Agent Lightning relies on the
//     agent's spans for that; a command that prints its answer without
//     tracing would otherwise become unresponsive.
//   - timeout_seconds is enforced here too: past it the process group is
//     killed (or the request cancelled) and the attempt set to timeout, so
//     the retry policy applies exactly as when the watchdog finds it.
//   - When the resources the rollout names cannot be read, the attempt is
//     set to failed instead of being left in preparing for the watchdog.
//   - On Stop the workers stop claiming, the running rollouts get a grace
//     period, and those still running are killed and their attempts set to
//     failed with metadata.error = "collector shutdown": the rollout's
//     retry_condition then decides whether it is requeued for the next
//     start (list "failed" there to get that).
//   - On Start, attempts still preparing or running under this runner's
//     worker ids (the collector stopped without draining, e.g. it crashed)
//     are set to failed the same way, so their rollouts retry per config.
//   - A rollout cancelled while it runs is abandoned: the agent is stopped
//     and the attempt is left alone, since any attempt update would move
//     the rollout out of cancelled (fact 4 of the spec).
package runner // import "github.com/otelcol-lightning/otelcol-lightning/pkg/runner"
