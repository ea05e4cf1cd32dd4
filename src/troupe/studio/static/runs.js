// Runs: the caller's runs, filtered; a run replayed from its log with times, tokens, cost.

import { API, clock, getJSON, h, money, ms, when } from "./core.js";
import { Timeline } from "./timeline.js";

const STATUSES = ["", "in_progress", "requires_input", "completed", "failed", "cancelled", "queued"];
const SINCE = [["", "any time"], ["3600", "last hour"], ["86400", "last day"], ["604800", "last week"]];

export async function runsPage(main, runId) {
  const teams = (await getJSON("/studio/api/teams")).data;
  const params = new URLSearchParams(sessionStorage.getItem("troupe.studio.filters") || "");
  const team = h("select#filter-team", { "aria-label": "team" }, h("option", { value: "" }, "all teams"),
    teams.map((t) => h("option", { value: t.name, selected: params.get("team") === t.name }, t.name)));
  const status = h("select#filter-status", { "aria-label": "status" },
    STATUSES.map((s) => h("option", { value: s, selected: params.get("status") === s }, s || "any status")));
  const since = h("select#filter-since", { "aria-label": "since" },
    SINCE.map(([v, label]) => h("option", { value: v, selected: params.get("since") === v }, label)));
  const conversation = h("select#filter-conversation", { "aria-label": "conversation" },
    h("option", { value: "" }, "all conversations"));
  try {
    const conversations = (await getJSON(`${API}/conversations?limit=100`)).data;
    conversation.append(...conversations.map((c) => h("option", {
      value: c.id, selected: params.get("conversation") === c.id,
    }, `${c.title || c.id} (${c.team})`)));
  } catch { /* the runs still list */ }
  const list = h("div.run-list");
  const detail = h("div#run-detail.run-detail", {}, h("p.hint", {}, "Pick a run to replay its timeline."));

  async function load() {
    const query = new URLSearchParams();
    if (team.value) query.set("team", team.value);
    if (status.value) query.set("status", status.value);
    if (since.value) query.set("since", String(Date.now() / 1000 - Number(since.value)));
    if (conversation.value) query.set("conversation", conversation.value);
    sessionStorage.setItem("troupe.studio.filters", new URLSearchParams({
      team: team.value, status: status.value, since: since.value, conversation: conversation.value,
    }).toString());
    const runs = (await getJSON(`/studio/api/runs?${query}`)).data;
    list.replaceChildren(runs.length ? h("table.runs", {},
      h("thead", {}, h("tr", {}, ["Run", "Team", "Status", "Started", "Tokens"].map((c) => h("th", {}, c)))),
      h("tbody", {}, runs.map((r) => h("tr", {
        class: r.id === runId ? "selected" : null,
        dataset: { run: r.id },
        onclick: () => { location.hash = `#/runs/${r.id}`; },
      },
      h("td", {}, h("a", { href: `#/runs/${r.id}` }, r.id.slice(4, 14) + "…")),
      h("td", {}, r.team), h("td", {}, h(`span.badge.s-${r.status}`, {}, r.status)),
      h("td", { title: when(r.created_at) }, clock(r.created_at)), h("td.num", {}, r.usage.total_tokens)))))
      : h("p.hint", {}, "No runs yet. Start one in the Playground."));
  }

  for (const select of [team, status, since, conversation]) select.addEventListener("change", load);
  main.replaceChildren(h("section.runs-page", {},
    h("div.pane.list-pane", {}, h("div.toolbar", {}, team, status, since, conversation), list),
    h("div.pane", {}, detail)));
  await load();
  if (runId) await showRun(detail, runId);
}

async function showRun(root, runId) {
  let view;
  try {
    view = await getJSON(`/studio/api/runs/${encodeURIComponent(runId)}`);
  } catch (err) {
    root.replaceChildren(h("p.error", {}, err.message));
    return;
  }
  const run = view.run;
  const copy = h("button#copy-curl", { type: "button" }, "Copy curl");
  const curl = h("pre.curl", { hidden: true }, view.curl);
  copy.addEventListener("click", async () => {
    curl.hidden = false;
    try { await navigator.clipboard.writeText(view.curl); copy.textContent = "Copied"; }
    catch { copy.textContent = "Select the text below"; }
  });
  const facts = [
    ["Team", run.team], ["Status", h(`span.badge.s-${run.status}`, {}, run.status)],
    ["Stop reason", run.stop_reason || "—"], ["Conversation", run.conversation_id],
    ["Started", when(run.created_at)], ["Took", ms(view.duration_ms)],
    ["Tokens", `${run.usage.prompt_tokens} in · ${run.usage.completion_tokens} out`],
    ["Cost", money(view.cost)],
  ];
  const agents = Object.entries(view.agents);
  const timelineRoot = h("div#replay");
  root.replaceChildren(h("div.run-view", {},
    h("div.run-head", {}, h("h2", {}, run.id), copy, view.active ? h("span.badge.s-in_progress", {}, "live") : null),
    curl,
    h("dl.facts", {}, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    view.errors.length ? h("div.errors", {}, h("h3", {}, "Errors"), h("ul", {},
      view.errors.map((e) => h("li", {}, h("b", {}, `${e.agent} · ${e.kind}`), `: ${e.cause} (event ${e.seq})`)))) : null,
    agents.length ? h("div.usage-tables", {},
      h("table.agents", {}, h("caption", {}, "Per agent"),
        h("tr", {}, ["Agent", "Calls", "In", "Out", "Cost"].map((c) => h("th", {}, c))),
        agents.map(([name, a]) => h("tr", {}, h("td", {}, name), h("td.num", {}, a.calls),
          h("td.num", {}, a.prompt_tokens), h("td.num", {}, a.completion_tokens), h("td.num", {}, money(a.cost))))),
      h("table.calls", {}, h("caption", {}, "Per model call"),
        h("tr", {}, ["#", "Agent", "Model", "Took", "In", "Out", "Cost"].map((c) => h("th", {}, c))),
        view.calls.map((c) => h("tr", {}, h("td.num", {}, c.seq), h("td", {}, c.agent), h("td", {}, c.model || "—"),
          h("td.num", {}, ms(c.duration_ms)), h("td.num", {}, c.prompt_tokens),
          h("td.num", {}, c.completion_tokens), h("td.num", {}, money(c.cost)))))) : null,
    h("h3", {}, "Timeline"), timelineRoot));
  const timeline = new Timeline(timelineRoot);
  const calls = new Map(view.calls.map((c) => [c.seq, c]));
  for (const row of view.events) {
    const call = calls.get(row.seq);
    timeline.add(row.event, { t: row.t, duration_ms: row.duration_ms, model: call?.model, cost: call?.cost });
  }
  // A run still going: read it again in a moment, while its page is open.
  if (view.active) {
    setTimeout(() => { if (location.hash === `#/runs/${runId}`) showRun(root, runId); }, 1500);
  }
}
