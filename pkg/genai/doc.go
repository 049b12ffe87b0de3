// Package genai recognises LLM-call spans and reads the call they record —
// messages, system instructions, tools, choices, model, usage, response id,
// token ids and logprobs — from whichever instrumentation convention
// produced them, normalised to the OpenAI chat format. It is the one GenAI
// parser of the distribution: the reward processor, the triplet processor
// and the messages connector all use it, so a convention is taught once.
//
// # Entry points
//
//   - IsLLMCall / Classify decide whether a span is a model call.
//   - Parse reads a pdata span (plus its resource and, with WithLogEvents,
//     the GenAI events that arrived as log records); ParseSpan reads an
//     Agent Lightning model.Span. Both return a Call and Stats.
//   - Call.ToOpenAI renders {"messages", "tools", "completion"}.
//   - EventsBySpan / EventFromLogRecord prepare log-signal events.
//   - ParsePythonLiteral reads the Python reprs LiteLLM writes.
//
// Parse never fails and never panics. Values it cannot use (invalid JSON, a
// wrong type, a string over Limits.MaxValueBytes, nesting over
// Limits.MaxDepth, an index over Limits.MaxIndex) are skipped and counted in
// Stats; invalid UTF-8 is repaired and counted. Recursion is bounded.
//
// # Classification
//
// The first rule whose attribute is present decides (the order of
// genai-conventions.md §0.2, which is also Langfuse's):
//
//  1. gen_ai.operation.name ∈ {chat, text_completion, generate_content,
//     completion, generate};
//  2. openinference.span.kind == LLM;
//  3. llm.request.type ∈ {chat, completion} (embedding and rerank say no);
//  4. agentops.span.kind == llm;
//  5. Vercel ai.operationId (or span name) ai.*.doGenerate / ai.*.doStream
//     only — the outer ai.generateText spans aggregate their calls;
//  6. the span name: DefaultNameFallback, or the regexp of WithNameMatch.
//
// WithNameMatchOnly replaces all rules by a name regexp, which reproduces
// Agent Lightning's llm_call_match. Agent spans (invoke_agent) are not model
// calls: their usage sums their children's, and Parse never reads Pydantic
// AI's gen_ai.aggregated_usage.* for the same reason.
//
// # Conventions and extraction order
//
// Messages, choices and tools are each taken from the first convention that
// has them, in this order (genai-conventions.md §2.9):
//
//  1. OTel ≥ 1.37 gen_ai.input.messages, gen_ai.output.messages,
//     gen_ai.system_instructions, gen_ai.tool.definitions, as JSON strings or
//     structured AnyValues (both forms give the same Call);
//  2. the same in a gen_ai.client.inference.operation.details event;
//  3. indexed gen_ai.prompt.N.* / gen_ai.completion.N.* (OpenLLMetry ≤ 0.53,
//     LiteLLM's litellm_request, AgentOps), tools from
//     llm.request.functions.N.*, gen_ai.request.functions.N.* or
//     gen_ai.request.tools.N.*;
//  4. OpenInference llm.input_messages.N.message.*, llm.output_messages.*,
//     llm.prompts / llm.choices, llm.tools.N.tool.json_schema;
//  5. Vercel AI SDK ai.prompt.messages, ai.response.text / .toolCalls /
//     .reasoning, ai.prompt.tools;
//  6. Pydantic AI pydantic_ai.all_messages, the Logfire events attribute,
//     model_request_parameters tools;
//  7. OTel ≤ 1.36 per-message events (gen_ai.system.message,
//     gen_ai.user.message, gen_ai.assistant.message, gen_ai.tool.message,
//     gen_ai.choice) as span events, else as log records, and the legacy
//     gen_ai.content.prompt / gen_ai.content.completion span events;
//  8. OpenInference input.value / output.value holding the OpenAI request
//     and response JSON;
//  9. an Agent Lightning (Weave) operation span: the flattened OpenAI request
//     and response under agentlightning.operation.input / .output;
//  10. LiteLLM's raw_gen_ai_request: llm.<provider>.<param> Python reprs.
//
// Call.Convention names the source of the messages (else of the choices,
// else of the tools). Sources 8–10 are read even when messages are known,
// because they also carry response ids, usage and token ids.
//
// Scalars come from the span attributes first, then from those bodies:
// model (gen_ai.request/response.model, ai.model.id, ai.response.model,
// llm.model_name, ...), provider (gen_ai.provider.name, gen_ai.system,
// llm.provider, ai.model.provider, the LiteLLM provider segment, then the
// resource), response id (gen_ai.response.id, ai.response.id,
// agentlightning.operation.output.id, the body id), usage in every
// spelling (gen_ai.usage.input_tokens and the deprecated prompt_tokens,
// llm.token_count.*, ai.usage.*, the cache and reasoning sub-counts, with
// semantic-conventions-genai's cache_write before semconv 1.40's
// cache_creation), finish reasons (gen_ai.response.finish_reasons, the
// older singular finish_reason, llm.finish_reason), the
// sampling parameters (gen_ai.request.*, llm.invocation_parameters,
// ai.settings.*).
//
// Token ids follow Agent Lightning: prompt_token_ids / response_token_ids
// on the span (lists, or stringified lists), the Weave operation output,
// then vLLM fields in a response body (prompt_token_ids, choices[0].token_ids,
// provider_specific_fields.token_ids, response_token_ids[0]). Logprobs come
// from logprobs.content or the first choice's logprobs. Call.Raw holds the
// unflattened gen_ai.prompt / completion / request / response trees that
// Agent Lightning's triplet adapter stores (package attrtree reproduces its
// flatten and unflatten).
//
// # Normalisation
//
// Output is OpenAI chat format. One text part becomes string content;
// several parts, or any non-text part, stay a content-part list (OpenAI
// input parts are never collapsed). Images become image_url parts (inline
// data as data URLs), audio input_audio parts, other files file parts;
// parts with no OpenAI equivalent keep their original fields. Reasoning
// ("reasoning", Pydantic AI's "thinking", Vercel's reasoning) goes to
// reasoning_content. Tool calls become tool_calls with function.arguments
// as a JSON string: strings are kept byte for byte, objects are encoded
// with sorted keys. Tool results (tool_call_response with "response" or,
// as in the registry example and Pydantic AI, "result"; Vercel tool-result;
// Anthropic tool_result) become role "tool" messages with tool_call_id,
// placed before the rest of their source message — which is how Pydantic
// AI's pre-v6 user-role tool results come out right. Tool call ids are
// trimmed (the registry example has " call_…"). Roles are lower-cased and
// otherwise kept (developer passes through). Finish reasons are mapped to
// OpenAI's by NormalizeFinishReason (tool_call, tool-calls, tool_use →
// tool_calls). Tool definitions become {"type":"function","function":{...}}.
//
// Duplicated representations (a JSON list and the same list flattened, as
// Strands and some OpenInference instrumentors write) are read once, from
// the higher-priority form. Two spans of one call (litellm_request and its
// raw_gen_ai_request child, an SDK span under a framework span) are not
// merged here: both parse to the same ResponseID, which callers dedupe on,
// as Agent Lightning does.
package genai
