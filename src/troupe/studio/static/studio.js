// The studio's page: a few views switched by the address's #fragment.

import { SECURED, getJSON, h, key, notice, postJSON, setKey, pretty } from "./core.js";
import { playPage } from "./play.js";
import { runsPage } from "./runs.js";

const main = document.getElementById("main");
document.getElementById("version").textContent = document.body.dataset.version;

function agentRow(agent) {
  const tools = [...(agent.tool_names || agent.tools || []), ...(agent.team_tools || [])];
  const handoffs = agent.handoff_targets || (agent.handoffs || []).map((x) => x.target || x);
  return h("tr", {},
    h("td", {}, h("b", {}, agent.name), agent.description ? h("div.muted", {}, agent.description) : null),
    h("td", {}, agent.kind), h("td", {}, agent.model || "—"),
    h("td", {}, tools.length ? tools.map((t) => h("code.chip", {}, t)) : "—"),
    h("td", {}, handoffs.length ? handoffs.map((t) => h("code.chip", {}, `→ ${t}`)) : "—"),
    h("td", {}, agent.executor ? h("code.chip", {}, typeof agent.executor === "string" ? agent.executor : pretty(agent.executor)) : "—"));
}

async function teamsPage() {
  const teams = (await getJSON("/studio/api/teams")).data;
  let recent = [];
  try { recent = (await getJSON("/studio/api/runs")).data.slice(0, 6); } catch { recent = []; }
  main.replaceChildren(h("section.teams", {},
    recent.length ? h("div.recent", {}, h("h2", {}, "Recent runs"), h("div.chips", {},
      recent.map((r) => h("a.run-chip", { href: `#/runs/${r.id}` },
        h("b", {}, r.team), h(`span.badge.s-${r.status}`, {}, r.status))))) : h("div.welcome", {},
      h("h2", {}, "Welcome to troupe studio"),
      h("p", {}, "These are the teams this server runs. Pick one and ", h("b", {}, "Try it"),
        ": its agents' messages, tool calls and handoffs appear live beside the answer, ",
        "and every run stays under ", h("a", { href: "#/runs" }, "Runs"), " to replay.")),
    h("h2", {}, `Teams (${teams.length})`),
    teams.map((team) => h("article.team", { id: `team-${team.name}`, dataset: { team: team.name } },
      h("header", {}, h("h3", {}, team.name), h(`span.kind.k-${team.kind}`, {}, team.kind),
        h("a.try", { href: `#/play/${team.name}` }, "Try it →")),
      h("p.muted", {}, team.description),
      h("div.team-body", {},
        h("table.agents", {}, h("tr", {}, ["Agent", "Kind", "Model", "Tools", "Handoffs", "Executor"].map((c) => h("th", {}, c))),
          team.agents.map(agentRow)),
        team.svg ? svgBox(team.svg) : null),
      h("div.terms", {},
        h("span", {}, `max turns ${team.max_turns}`),
        team.termination ? h("span.termination", {}, "stops on ", conditions(team.termination)) : null,
        team.selector ? h("span", {}, "selector ", conditions(team.selector)) : null,
        team.answer_agents ? h("span", {}, `answers: ${team.answer_agents.join(", ")}`) : null)))));
}

// {max_messages: 7, text_mention: "APPROVE"} -> "max_messages 7" or "text_mention APPROVE"
function conditions(value) {
  if (typeof value === "string") return h("code", {}, value);
  const out = [];
  for (const [k, v] of Object.entries(value)) {
    if (out.length) out.push(" or ");
    const shown = typeof v === "object" ? JSON.stringify(v) : v === true ? "" : ` ${v}`;
    out.push(h("code.chip", {}, `${k}${shown}`));
  }
  return out;
}

function svgBox(svg) {
  const box = h("figure.graph");
  // The server drew it from the team's definition, names escaped.
  box.innerHTML = svg;
  return box;
}

const configTab = document.querySelector('nav a[data-page="config"]');

// The config and its checker are the operator's: a tenant's key is answered 403.
function operatorsOnly(locked) {
  configTab.classList.toggle("locked", locked);
  configTab.title = locked ? "operators only: this key cannot read the server's config" : "";
}

async function configPage() {
  let loaded;
  try { loaded = await getJSON("/studio/api/config"); }
  catch (err) {
    if (err.status !== 403) throw err;
    operatorsOnly(true);
    main.replaceChildren(h("section.config", {}, h("div#operators-only.pane", {},
      h("h2", {}, "Config: operators only"), h("p.muted", {}, err.message))));
    return;
  }
  operatorsOnly(false);
  const editor = h("textarea#config-editor", { spellcheck: "false", "aria-label": "config to check" });
  editor.value = loaded.yaml || "teams:\n  mine:\n    agents:\n      - {name: helper, model: main}\n";
  const result = h("div#check-result.check");
  let timer = null;
  let asked = 0;
  const check = async () => {
    const mine = ++asked;
    let answer;
    try { answer = await postJSON("/studio/api/check", { yaml: editor.value }); }
    catch (err) { result.replaceChildren(h("p.error", {}, err.message)); return; }
    if (mine !== asked) return;  // a newer check is on its way
    result.replaceChildren(answer.ok
      ? h("p.ok", {}, `✓ valid: ${answer.teams.length} team(s) (${answer.teams.join(", ")}), ${answer.models.length} model(s)`)
      : h("ul.issues", {}, answer.errors.map((e) => h("li.issue", {}, h("code.path", {}, e.path), " ", e.message))));
  };
  editor.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 250); });
  main.replaceChildren(h("section.config", {},
    h("div.pane", {}, h("h2", {}, loaded.file ? `Loaded: ${loaded.file}` : "Loaded config"),
      h("p.muted", {}, "Secrets are masked. The studio never writes this file."),
      h("pre#loaded-config.yaml", {}, loaded.yaml || "(teams built in Python: no config file)")),
    h("div.pane", {}, h("h2", {}, "Checker"),
      h("p.muted", {}, "Edit and see what `troupe check` says, with the path of every error."),
      editor, result)));
  check();
}

async function route() {
  const [page, arg] = location.hash.replace(/^#\/?/, "").split("/");
  const name = page || "teams";
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === name));
  notice("");
  try {
    if (name === "play") await playPage(main, arg && decodeURIComponent(arg));
    else if (name === "runs") await runsPage(main, arg && decodeURIComponent(arg));
    else if (name === "config") await configPage();
    else await teamsPage();
  } catch (err) {
    main.replaceChildren(h("p.error.big", {}, err.message));
  }
}

const form = document.getElementById("key-form");
if (SECURED) {
  form.hidden = false;
  const state = document.getElementById("key-state");
  state.textContent = key() ? "key set" : "no key";
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const input = document.getElementById("key-input");
    setKey(input.value.trim());
    input.value = "";
    state.textContent = key() ? "key set" : "no key";
    notice("");
    route();
  });
}
window.addEventListener("hashchange", route);
route();
