// A run's timeline: one lane (column) per agent, one row per step, in the order they
// happened. Fed with ``delta.troupe`` events, live (playground) or replayed (runs page).

import { h, ms, money, pretty, tag } from "./core.js";

export class Timeline {
  // onAnswer(text): answer an input request in place (the playground); none: read only.
  constructor(root, { onAnswer = null } = {}) {
    this.root = root;
    this.onAnswer = onAnswer;
    this.lanes = new Map();
    this.messages = new Map();
    this.calls = new Map();
    this.runs = new Map();
    this.head = h("div.lanes-head");
    this.grid = h("div.lanes");
    this.row = 0;
    root.replaceChildren(h("div.timeline", {}, this.head, this.grid));
  }

  lane(agent) {
    if (!this.lanes.has(agent)) {
      const index = this.lanes.size + 1;
      this.lanes.set(agent, index);
      this.head.append(h("div.lane-head", { dataset: { agent } }, agent));
      const columns = `repeat(${this.lanes.size}, minmax(190px, 1fr))`;
      this.head.style.gridTemplateColumns = columns;
      this.grid.style.gridTemplateColumns = columns;
    }
    return this.lanes.get(agent);
  }

  place(agent, el, { wide = false } = {}) {
    this.row += 1;
    el.style.gridRow = String(this.row);
    if (wide) {
      el.style.gridColumn = "1 / -1";
    } else {
      el.style.gridColumn = String(this.lane(agent));
    }
    this.grid.append(el);
    el.scrollIntoView?.({ block: "nearest" });
    return el;
  }

  card(ev, meta, title, ...body) {
    const stamp = meta && meta.t !== undefined ? h("span.t", {}, `+${ms(meta.t)}`) : null;
    const took = meta && meta.duration_ms !== undefined && meta.duration_ms !== null
      ? h("span.took", { title: "how long this step took" }, ms(meta.duration_ms)) : null;
    return h(`div.step.step-${ev.type}`, { dataset: { type: ev.type, agent: ev.agent || "" } },
      h("div.step-title", {}, title, h("span.meta", {}, took, stamp)), ...body);
  }

  // Text that came as ``delta.content`` (the answer) for the message being written.
  text(agent, text) {
    const last = [...this.messages.values()].reverse().find((m) => m.agent === agent && !m.done)
      || [...this.messages.values()].reverse().find((m) => !m.done);
    if (last) last.body.textContent += text;
  }

  add(ev, meta = {}) {
    const handler = this[`on_${ev.type}`];
    if (handler) handler.call(this, ev, meta);
  }

  on_run_start(ev, meta) {
    this.place(ev.agent, this.card(ev, meta, h("span", {}, tag("run"), ` ${ev.run_id} started`)), { wide: true });
  }

  on_run_resumed(ev, meta) {
    this.place(ev.agent, this.card(ev, meta, h("span", {}, tag("resumed"), ` ${ev.reason}`)), { wide: true });
  }

  on_agent_start(ev, meta) {
    const body = h("div.body.message");
    const thinking = h("details.thinking", { hidden: true }, h("summary", {}, "thinking"), h("pre"));
    const el = this.place(ev.agent, this.card(ev, meta, h("span", {}, tag("message"), ` ${ev.agent}`), thinking, body));
    this.messages.set(ev.message_id, { agent: ev.agent, body, thinking, el, done: false });
  }

  on_text(ev) {
    const m = this.messages.get(ev.message_id);
    if (m) m.body.textContent += ev.text;
  }

  on_reasoning(ev) {
    const m = this.messages.get(ev.message_id);
    if (m) { m.thinking.hidden = false; m.thinking.querySelector("pre").textContent += ev.text; }
  }

  on_agent_end(ev, meta) {
    const m = this.messages.get(ev.message_id);
    if (!m) return;
    m.done = true;
    m.el.classList.add("done");
    if (meta.duration_ms !== undefined && meta.duration_ms !== null) {
      m.el.querySelector(".meta").prepend(h("span.took", {}, ms(meta.duration_ms)));
    }
    if (!m.body.textContent) m.body.remove();
  }

  on_tool_call(ev, meta) {
    const result = h("div.result.pending", {}, "running…");
    const el = this.card(ev, meta, h("span", {}, tag("tool"), " ", h("b.tool-name", {}, ev.name)),
      h("pre.args", {}, pretty(ev.arguments)), result);
    this.calls.set(ev.call_id, { el, result });
    this.place(ev.agent, el);
  }

  on_tool_result(ev, meta) {
    const call = this.calls.get(ev.call_id);
    if (!call) {
      this.place(ev.agent, this.card(ev, meta, h("span", {}, tag("tool"), ` ${ev.name}`), h("pre.result", {}, ev.content)));
      return;
    }
    call.result.className = ev.is_error ? "result error" : "result";
    call.result.replaceChildren(h("span.label", {}, ev.is_error ? "error" : "result"),
      h("pre", {}, ev.content));
    call.el.dataset.result = "1";
    if (meta.duration_ms !== undefined && meta.duration_ms !== null) {
      call.el.querySelector(".meta").prepend(h("span.took", {}, ms(meta.duration_ms)));
    }
  }

  on_handoff(ev, meta) {
    // The handoff's own tool call says what the handoff card says: keep it to its title.
    for (const call of [...this.calls.values()].reverse()) {
      if (call.el.dataset.agent === ev.agent && call.el.querySelector(".tool-name")?.textContent.endsWith(ev.target)) {
        call.el.classList.add("handoff-call");
        break;
      }
    }
    this.place(ev.agent, this.card(ev, meta,
      h("span", {}, tag("handoff"), " to ", h("b.target", {}, ev.target)),
      ev.message ? h("div.body", {}, ev.message) : null));
  }

  on_speaker_selected(ev, meta) {
    this.place(ev.agent, this.card(ev, meta, h("span", {}, tag("selected"), ` ${ev.agent} speaks next`),
      ev.reason ? h("div.body.reason", {}, ev.reason) : null));
  }

  on_memory_result(ev, meta) {
    const items = ev.contents.map((text, i) =>
      h("li", {}, ev.scores[i] !== undefined ? `${text} (${ev.scores[i].toFixed(2)})` : text));
    this.place(ev.agent, this.card(ev, meta,
      h("span", {}, tag("memory"), ` ${ev.agent} recalls ${ev.contents.length} from ${ev.memory}`),
      items.length ? h("ol.body", {}, ...items) : null));
  }

  on_code_execution(ev, meta) {
    const output = h("div.result.pending", {}, "running…");
    const el = this.card(ev, meta, h("span", {}, tag("code"), ` ${ev.language}`), h("pre.code", {}, ev.code), output);
    this.calls.set(ev.execution_id, { el, result: output });
    this.place(ev.agent, el);
  }

  on_code_result(ev, meta) {
    const run = this.calls.get(ev.execution_id);
    const failed = ev.exit_code !== 0 || ev.timed_out;
    const out = [h("span.label", {}, ev.timed_out ? "timed out" : `exit ${ev.exit_code}`),
      h("pre", {}, ev.output + (ev.truncated ? "\n…(truncated)" : ""))];
    if (!run) { this.place(ev.agent, this.card(ev, meta, h("span", {}, tag("code"), " output"), ...out)); return; }
    run.result.className = failed ? "result error" : "result";
    run.result.replaceChildren(...out);
    if (meta.duration_ms !== undefined && meta.duration_ms !== null) {
      run.el.querySelector(".meta").prepend(h("span.took", {}, ms(meta.duration_ms)));
    }
  }

  on_input_requested(ev, meta) {
    const el = this.card(ev, meta, h("span", {}, tag(ev.kind === "approval" ? "approval" : "input"), ev.kind === "approval" ? " approval needed" : " input requested"),
      h("div.body.prompt", {}, ev.prompt));
    if (this.onAnswer) {
      const answer = (text) => {
        el.querySelectorAll("button, input").forEach((x) => { x.disabled = true; });
        el.append(h("div.answered", {}, `answered: ${text}`));
        this.onAnswer(text);
      };
      if (ev.kind === "approval") {
        el.append(h("div.actions", {},
          h("button.approve", { type: "button", onclick: () => answer("approve") }, "Approve"),
          h("button.reject", {
            type: "button",
            onclick: () => answer(`reject: ${el.querySelector("input")?.value || "not approved"}`),
          }, "Reject"),
          h("input", { placeholder: "why not (optional)" })));
      } else {
        const input = h("input.answer", { placeholder: "your answer", "aria-label": "answer" });
        const form = h("form.actions", {
          onsubmit: (e) => { e.preventDefault(); if (input.value.trim()) answer(input.value.trim()); },
        }, input, h("button", { type: "submit" }, "Answer"));
        el.append(form);
      }
    }
    this.place(ev.agent, el);
  }

  on_usage(ev, meta) {
    const u = ev.usage || {};
    const parts = [`${u.prompt_tokens || 0} in · ${u.completion_tokens || 0} out`];
    if (meta.model) parts.push(meta.model);
    if (meta.cost !== undefined && meta.cost !== null) parts.push(money(meta.cost));
    this.place(ev.agent, this.card(ev, meta, h("span.usage", {}, `model call: ${parts.join(" · ")}`)));
  }

  on_run_end(ev, meta) {
    const u = ev.usage || {};
    const tokens = (u.prompt_tokens || 0) + (u.completion_tokens || 0);
    this.place(ev.agent, this.card(ev, meta,
      h("span", {}, tag("end"), ` ${ev.stop_reason}`),
      h("div.body", {}, `${ev.turns} turn(s) · ${tokens} tokens · ${ms(ev.duration_ms)}`)), { wide: true });
  }

  on_error(ev, meta) {
    this.place(ev.agent, this.card(ev, meta, h("span", {}, tag("error"), ` ${ev.code}`), h("div.body", {}, ev.message)), { wide: true });
  }
}
