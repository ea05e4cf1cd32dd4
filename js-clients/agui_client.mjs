// The AG-UI TypeScript client (@ag-ui/client's HttpAgent) against a real `troupe serve`:
// runs on one thread, as a front end makes them: a question, an interrupt and its answer,
// then a front-end tool the team calls and the client runs. Prints what it saw, as JSON.
//   node agui_client.mjs <url of /v1/ag-ui/{team}> <api key>
import { HttpAgent, buildResumeArray } from "@ag-ui/client";

const [url, key] = process.argv.slice(2);
const agent = new HttpAgent({
  url,
  headers: { Authorization: `Bearer ${key}` },
  threadId: `thread-${Date.now()}`,
});

async function run(params = {}) {
  const events = [];
  const { newMessages } = await agent.runAgent(params, {
    onEvent({ event }) {
      events.push(event);
    },
  });
  return { events, newMessages, interrupts: agent.pendingInterrupts };
}

const runs = [];
agent.addMessage({ id: "u1", role: "user", content: "I was charged twice" });
runs.push(await run({ runId: "run-1" }));
agent.addMessage({ id: "u2", role: "user", content: "It is about my invoice" });
runs.push(await run({ runId: "run-2" }));
const answers = Object.fromEntries(
  agent.pendingInterrupts.map((i) => [i.id, { status: "resolved", payload: "Invoice 42" }]),
);
runs.push(await run({ runId: "run-3", resume: buildResumeArray(agent.pendingInterrupts, answers) }));

// A front-end tool: the team calls it, the run ends; the client runs it and sends the result.
const tools = [
  {
    name: "get_weather",
    description: "The weather in a city, as the browser sees it.",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
];
agent.addMessage({ id: "u3", role: "user", content: "And the weather in Paris?" });
const asked = await run({ runId: "run-4", tools });
runs.push(asked);
for (const message of asked.newMessages) {
  for (const call of message.toolCalls ?? []) {
    const { city } = JSON.parse(call.function.arguments);
    agent.addMessage({
      id: `result-${call.id}`,
      role: "tool",
      toolCallId: call.id,
      content: `Sunny in ${city}, 21 C`,
    });
  }
}
runs.push(await run({ runId: "run-5", tools }));
console.log(JSON.stringify({ runs, messages: agent.messages }));
