// The playground: chat with a team; the answer streams, the timeline beside it follows the
// run live. Runs are started with ``background: true``, so a dropped connection loses
// nothing: the page follows the run again from the last event id it saw.

import { API, ApiError, getJSON, h, headers, notice, postJSON, sse } from "./core.js";
import { Timeline } from "./timeline.js";

// "**billing:** text": the speaker lines a team with several answering agents writes.
function speakers(el) {
  const parts = el.textContent.split(/\*\*([A-Za-z0-9_]+):\*\*/);
  if (parts.length < 2) return;
  el.replaceChildren(...parts.map((part, i) => (i % 2 ? h("b.speaker", {}, `${part}: `) : part)));
}

export async function playPage(main, teamName) {
  const teams = (await getJSON("/studio/api/teams")).data;
  const team = teamName && teams.find((t) => t.name === teamName) ? teamName : teams[0]?.name;
  const select = h("select#team", { "aria-label": "team" },
    teams.map((t) => h("option", { value: t.name, selected: t.name === team }, `${t.name} (${t.kind})`)));
  const chat = h("div.chat");
  const input = h("textarea#prompt", { rows: 2, placeholder: "Ask the team…", "aria-label": "message" });
  const send = h("button#send.primary", { type: "submit" }, "Send");
  const stop = h("button#stop.danger", { type: "button", disabled: true }, "Stop");
  const status = h("span#run-status.status");
  const timelineRoot = h("div#timeline");
  const fresh = h("button.ghost", { type: "button" }, "New conversation");
  const state = { conversation: null, run: null, last: 0, busy: false };
  let timeline;

  const reset = () => {
    state.conversation = null;
    chat.replaceChildren(h("p.hint", {}, "Each message runs the team; its work appears on the right."));
    timeline = new Timeline(timelineRoot, { onAnswer: (text) => submit(text) });
    status.textContent = "";
  };

  const setBusy = (busy) => {
    state.busy = busy;
    send.disabled = busy;
    stop.disabled = !busy;
  };

  async function follow(response, bubble) {
    for await (const frame of sse(response)) {
      if (frame.id) state.last = Number(frame.id);
      if (frame.data === "[DONE]") return true;
      const chunk = JSON.parse(frame.data);
      const delta = chunk.choices?.[0]?.delta || {};
      const ev = delta.troupe;
      if (ev) {
        timeline.add(ev);
        if (ev.type === "run_end") status.textContent = `ended: ${ev.stop_reason}`;
        if (ev.type === "input_requested") bubble.append(h("div.asks", {}, ev.prompt));
      }
      // A message's first piece comes with its ``text`` event (shown from the event); the
      // pieces after it come bare, as the answer (content) or, for agents that are not the
      // answer, as reasoning text: both belong to the message being written.
      if (!ev && (delta.content || delta.reasoning_content)) {
        timeline.text(undefined, (delta.content || "") + (delta.reasoning_content || ""));
      }
      if (delta.content) bubble.querySelector(".text").textContent += delta.content;
      if (chunk.error) bubble.append(h("div.error", {}, chunk.error.message));
    }
    return false;
  }

  async function submit(text) {
    if (state.busy) return;
    notice("");
    const model = select.value;
    chat.querySelector(".hint")?.remove();
    chat.append(h("div.msg.user", {}, text));
    const bubble = h("div.msg.assistant", {}, h("div.who", {}, model), h("div.text"));
    chat.append(bubble);
    setBusy(true);
    status.textContent = "running…";
    const extra = { "Content-Type": "application/json" };
    if (state.conversation) extra["X-Conversation-Id"] = state.conversation;
    try {
      const response = await fetch(`${API}/chat/completions`, {
        method: "POST",
        headers: headers(extra),
        body: JSON.stringify({
          model,
          messages: [{ role: "user", content: text }],
          stream: true,
          background: true,
          stream_options: { include_usage: true },
        }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new ApiError(response.status, body);
      }
      state.run = response.headers.get("X-Run-Id");
      state.conversation = response.headers.get("X-Conversation-Id") || state.conversation;
      state.last = 0;
      stop.dataset.run = state.run || "";
      let done = false;
      try { done = await follow(response, bubble); } catch { done = false; }
      // The connection broke: follow the run again from the last event seen.
      for (let attempt = 0; !done && state.run && attempt < 20; attempt += 1) {
        const again = await fetch(`${API}/runs/${state.run}/stream`, {
          headers: headers({ "Last-Event-ID": String(state.last) }),
        });
        if (again.status === 204) break;
        if (!again.ok) throw new ApiError(again.status, await again.json().catch(() => null));
        try { done = await follow(again, bubble); } catch { done = false; }
      }
    } catch (err) {
      bubble.append(h("div.error", {}, err.message));
      status.textContent = "failed";
    } finally {
      setBusy(false);
      speakers(bubble.querySelector(".text"));
      if (state.run) {
        chat.append(h("a.run-link", { href: `#/runs/${state.run}` }, `open run ${state.run} →`));
      }
    }
  }

  stop.addEventListener("click", async () => {
    if (!state.run) return;
    stop.disabled = true;
    try {
      const run = await postJSON(`${API}/runs/${state.run}/cancel`, {});
      status.textContent = run.status;
    } catch (err) {
      notice(err.message);
    }
  });
  select.addEventListener("change", () => { location.hash = `#/play/${select.value}`; });
  fresh.addEventListener("click", reset);
  const form = h("form.composer", {
    onsubmit: (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (text) { input.value = ""; submit(text); }
    },
  }, input, h("div.buttons", {}, send, stop));
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });

  main.replaceChildren(h("section.play", {},
    h("div.pane.chat-pane", {},
      h("div.toolbar", {}, h("label", {}, "Team ", select), fresh, status), chat, form),
    h("div.pane.timeline-pane", {}, h("h2", {}, "Timeline"), timelineRoot)));
  reset();
  input.focus();
}
