// The AG-UI TypeScript client (@ag-ui/client's HttpAgent) against a real `troupe serve`:
// three runs on one thread, as a front end makes them. Prints what the client saw, as JSON.
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
console.log(JSON.stringify({ runs, messages: agent.messages }));
