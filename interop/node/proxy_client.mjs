// The OpenAI Node SDK against the collector's LLM proxy and, for comparison,
// the same vLLM mock directly (interop/test_llmproxy.py starts both and
// checks the output). Each request goes once to each, in the same order, so
// the two mocks stay in step. Prints one JSON object.
//
//   node proxy_client.mjs <proxy base URL> <direct base URL>
import OpenAI from "openai";

const [proxyURL, directURL] = process.argv.slice(2);
const proxied = new OpenAI({ baseURL: proxyURL, apiKey: "k", maxRetries: 0 });
const direct = new OpenAI({ baseURL: directURL, apiKey: "k", maxRetries: 0 });

const tools = [{ type: "function", function: { name: "calc", parameters: { type: "object" } } }];
const question = [{ role: "user", content: "What is 2 + 2?" }];
const other = [{ role: "user", content: "What is 1 + 3?" }];

async function raw(client, params) {
  const response = await client.chat.completions.create(params).asResponse();
  return await response.text();
}

const out = {};
// Non-streamed chat with tools: the raw bodies, and the parsed tool call.
out.chat = { proxied: await raw(proxied, { model: "qwen", messages: question, tools }), direct: await raw(direct, { model: "qwen", messages: question, tools }) };
out.toolCall = JSON.parse(out.chat.proxied).choices[0].message.tool_calls[0];
// Streamed chat: the raw event streams, and the SDK's own reassembly.
out.stream = {
  proxied: await raw(proxied, { model: "qwen", messages: other, stream: true }),
  direct: await raw(direct, { model: "qwen", messages: other, stream: true }),
};
let text = "";
for await (const chunk of await proxied.chat.completions.create({ model: "qwen", messages: [{ role: "user", content: "Say hi" }], stream: true })) {
  text += chunk.choices[0]?.delta?.content ?? "";
}
await raw(direct, { model: "qwen", messages: [{ role: "user", content: "Say hi" }], stream: true });
out.streamText = text;
console.log(JSON.stringify(out));
