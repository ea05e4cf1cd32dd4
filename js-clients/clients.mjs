// Node clients against a real `troupe serve`: the openai package's Responses API and the
// Vercel AI SDK's OpenAI Responses provider. Prints one JSON object with what each saw.
import OpenAI from "openai";
import { createOpenAI } from "@ai-sdk/openai";
import { streamText } from "ai";

const baseURL = process.env.TROUPE_BASE_URL;
const apiKey = process.env.TROUPE_API_KEY;
const team = process.env.TROUPE_TEAM;
const out = {};

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const created = await client.responses.create({ model: team, input: "hello from node" });
out.create = { status: created.status, text: created.output_text, id: created.id };

const stream = await client.responses.create({ model: team, input: "stream please", stream: true });
const types = [];
const numbers = [];
let streamed = "";
for await (const event of stream) {
  types.push(event.type);
  numbers.push(event.sequence_number);
  if (event.type === "response.output_text.delta") streamed += event.delta;
}
out.stream = { types, numbers, text: streamed };

const chained = await client.responses.create({
  model: team,
  input: "and again",
  previous_response_id: created.id,
});
out.chained = { text: chained.output_text, previous: chained.previous_response_id };

const troupe = createOpenAI({ baseURL, apiKey });
const result = streamText({ model: troupe.responses(team), prompt: "hello from the ai sdk" });
let aiText = "";
for await (const piece of result.textStream) aiText += piece;
out.aiSdk = { text: aiText, finishReason: await result.finishReason };

console.log(JSON.stringify(out));
