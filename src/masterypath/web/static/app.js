// masterypath pages: plain JavaScript, no build step, no CDN. Every page reads the API with
// the bearer token kept in sessionStorage; the API decides what the caller may see.
"use strict";

const STATUS = {
  mastered: { label: "mastered", mark: "\u2713" },
  proficient: { label: "proficient", mark: "\u25C6" },
  in_progress: { label: "in progress", mark: "\u25D0" },
  insufficient_evidence: { label: "not enough evidence yet", mark: "\u2026" },
  needs_review: { label: "needs review", mark: "\u21BB" },
  not_started: { label: "not started", mark: "\u25CB" },
};
const ALERT_KINDS = {  // in the order the educator's page lists them: the most pressing first
  wheel_spinning: "Not mastered after many attempts",
  falling_estimate: "Falling estimates",
  audit_mastery_gap: "Fairness audit: mastery gap",
  audit_calibration_gap: "Fairness audit: calibration gap",
  audit_item_dif: "Fairness audit: item bias",
};
const ALERTS_SHOWN = 50;
const LOCK = "\u2298";  // ⊘, in every common font (the padlock emoji is not)

function token() { return sessionStorage.getItem("mp-token"); }

function embedded() { return document.body.dataset.embed === "1"; }
// an embed link's page, or a guardian's: the learner's records to read, nothing to send
function readOnly() { return embedded() || sessionStorage.getItem("mp-role") === "guardian"; }

// an embed link carries its token in the URL's fragment (never sent to a server): keep it
// for this tab and take it out of the address
function takeEmbedToken() {
  const match = location.hash.match(/^#token=(.+)$/);
  if (!embedded() || !match) return;
  sessionStorage.setItem("mp-token", decodeURIComponent(match[1]));
  history.replaceState(null, "", location.pathname + location.search);
}

function goLogin() {
  location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers.Authorization = "Bearer " + token();
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401 && path !== "/auth/login" && !embedded()) {
    goLogin();
    throw Object.assign(new Error("not logged in"), { status: 401 });
  }
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; }
  catch (e) {  // not JSON: a proxy's or gateway's own page, not this server's answer
    if (response.ok) throw new Error("the answer was not JSON");
  }
  if (!response.ok) {
    const error = new Error((body && body.message) || response.statusText || "HTTP " + response.status);
    error.status = response.status;
    error.code = body && body.error;
    throw error;
  }
  return body;
}

// Saves what `path` answers as the file `name` (the API's token sent along); a failure says
// why in `message`, after `failed` ("Not exported: ..."), and saves no error JSON as the file.
async function downloadFile(path, name, message, failed) {
  try {
    const response = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      throw new Error((problem && problem.message) || response.statusText || "HTTP " + response.status);
    }
    const link = el("a", { href: URL.createObjectURL(await response.blob()), download: name });
    document.body.append(link); link.click(); link.remove();
    message.textContent = "";
  } catch (error) { message.textContent = failed + error.message; }
}

// A failure that may pass when tried again: no answer at all (network down; the error has no
// status), a timeout, too many requests, or the server's own trouble (5xx, e.g. a busy database).
function transient(error) {
  return error.status === undefined || error.status === 408 || error.status === 429 || error.status >= 500;
}

// Calls `load` after `first` ms, then `every` ms after each call has ended (never two at
// once), so a page follows changes without a reload; a load that keeps the server busy
// longer (a big cohort's grid) is asked for less often, keeping the server's time for it
// at about a tenth. While the server cannot be reached the page keeps what it shows, says
// so in `notice`, and tries again less often (up to every 30 s); any other failure (403,
// 404) stops it and goes to `stop`.
function keepLive(load, { every, first = 0, notice, stop }) {
  let wait = every, lost = false, shown = null;
  async function tick() {
    try {
      const began = performance.now();
      await load();
      shown = new Date();
      wait = Math.max(every, 10 * (performance.now() - began));
      if (lost) { lost = false; notice.replaceChildren(); say("Back in contact with the server: the page is up to date."); }
    } catch (error) {
      if (!transient(error)) return stop(error);
      if (!lost) { lost = true; say("Lost contact with the server; trying again."); }
      notice.replaceChildren(el("p", { class: "error", text: `The page cannot be brought up to date right now (${error.message}). `
        + (shown ? `What you see is as of ${shown.toLocaleTimeString()}; ` : "") + "trying again." }));
      wait = Math.min(wait * 2, 30000);
    }
    setTimeout(tick, wait);
  }
  return first ? new Promise((done) => setTimeout(() => tick().then(done), first)) : tick();
}

// Redraws what `container` holds (through `draw`) without taking the reader's place: the
// element that had keyboard focus (found again by its data-key) has it again. The scroll
// position stays by itself: the container is kept, and its content is swapped before the
// browser lays it out again.
function redraw(container, draw) {
  const had = container.contains(document.activeElement) ? document.activeElement.closest("[data-key]") : null;
  const key = had ? had.dataset.key : null;
  draw();
  const again = key === null ? null : container.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (again) again.focus({ preventScroll: true });
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function svgEl(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function say(message) {  // announced to screen readers
  const live = document.getElementById("live");
  if (live) live.textContent = message;
}

function fail(where, error) {
  const box = document.getElementById(where);
  box.replaceChildren(el("p", { class: "error", role: "alert", text:
    error.status === 403 ? "You may not see this: " + error.message : "Error: " + error.message }));
}

function cell(text) { return el("td", { text: String(text) }); }

function heads(...names) { return el("thead", {}, el("tr", {}, ...names.map((h) => el("th", { scope: "col", text: h })))); }

function statusWord(status) { return STATUS[status] ? STATUS[status].label : String(status).replaceAll("_", " "); }

function statusOf(item) { return item.unlocked || item.status === "mastered" ? item.status : "locked"; }

function statusBadge(status) {
  const s = STATUS[status];
  if (status === "locked") return el("span", { class: "status s-locked", text: LOCK + " locked" });
  return el("span", { class: "status s-" + status, text: s.mark + " " + s.label });
}

// Times come from the API in UTC; each reader sees them in their own time zone and manner
// (an embed link "until 13:40" must mean 13:40 where the educator is).
const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
function localDay(iso) { return DATE.format(new Date(iso)); }
function localTime(iso) { return DATE_TIME.format(new Date(iso)); }
// the API's sentences give a review's date as its UTC day (YYYY-MM-DD): the reader's own instead
function withLocalDay(text, iso) { return iso ? text.replaceAll(iso.slice(0, 10), localDay(iso)) : text; }

function param(name) { return new URLSearchParams(location.search).get(name); }

async function chooseFramework() {
  const wanted = param("framework");
  if (wanted) return wanted;
  const frameworks = await api("/api/v1/frameworks");
  if (!frameworks.length) throw new Error("no framework is stored yet");
  return frameworks[0].id;
}

function logoutButton() {
  const role = sessionStorage.getItem("mp-role");
  if (role === "learner" || role === "guardian") {  // the grid is an educator's
    for (const link of document.querySelectorAll('nav a[href="/app/educator"]')) link.remove();
  }
  if (role === "guardian") {  // their learners' list instead
    const nav = document.querySelector("nav");
    if (nav && !nav.querySelector('a[href="/app/guardian"]')) nav.prepend(el("a", { href: "/app/guardian", text: "Your learners" }), " ");
  }
  if (sessionStorage.getItem("mp-lti") === "1") {  // launched from a platform: no password here
    for (const link of document.querySelectorAll('nav a[href="/app/account"]')) link.remove();
  }
  if (role !== "admin") {  // accounts are an admin's
    for (const link of document.querySelectorAll('nav a[href="/app/admin"]')) link.remove();
  }
  const button = document.getElementById("logout");
  if (!button) return;
  button.addEventListener("click", async () => {
    try { await api("/auth/logout", { method: "POST" }); } catch (e) { /* already out */ }
    for (const key of ["mp-token", "mp-role", "mp-home", "mp-first", "mp-lti"]) sessionStorage.removeItem(key);
    location.href = "/login";
  });
}

// ---- login --------------------------------------------------------------------------------
async function loginPage() {
  const form = document.getElementById("login-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = document.getElementById("login-message");
    message.textContent = "";
    try {
      const issued = await api("/auth/login", { method: "POST", json: {
        username: form.username.value, password: form.password.value } });
      sessionStorage.setItem("mp-token", issued.token);
      sessionStorage.removeItem("mp-lti");
      const me = await api("/auth/me");
      sessionStorage.setItem("mp-role", me.role);
      sessionStorage.setItem("mp-home", me.role === "learner" ? "/app/learner/" + encodeURIComponent(me.learner_id)
        : me.role === "guardian" ? "/app/guardian" : "/app/educator");
      const next = param("next");
      if (issued.must_change_password) {  // a first password: the account page before any other
        sessionStorage.setItem("mp-first", "1");
        location.href = "/app/account";
      } else if (next && next.startsWith("/")) location.href = next;
      else location.href = sessionStorage.getItem("mp-home");
    } catch (error) {
      sessionStorage.removeItem("mp-token");
      sessionStorage.removeItem("mp-role");
      // a throttled login, or the right password of a disabled account: the server says why
      message.textContent = error.status === 429 || error.code === "account_disabled" ? error.message : "Wrong username or password.";
    }
  });
}

// ---- an LTI launch -------------------------------------------------------------------------
function ltiPage() {
  // the server checked the platform's signed launch and logged the user in: keep the login
  // in this tab, as the login page does, and open their page (an error is shown as served)
  const launch = document.body.dataset;
  if (!launch.token) return;
  sessionStorage.removeItem("mp-first");
  sessionStorage.setItem("mp-token", launch.token);
  sessionStorage.setItem("mp-role", launch.role);
  sessionStorage.setItem("mp-home", launch.home);
  sessionStorage.setItem("mp-lti", "1");  // no password here: the platform logs them in
  location.replace(launch.home);
}

// ---- the account's password ----------------------------------------------------------------
async function accountPage() {
  logoutButton();
  if (!token()) return goLogin();
  const form = document.getElementById("password-form");
  const message = document.getElementById("password-message");
  const home = document.getElementById("home");
  const first = () => sessionStorage.getItem("mp-first") === "1";
  home.href = sessionStorage.getItem("mp-home") || "/login";
  document.getElementById("first-note").hidden = !first();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [current, fresh, again] = ["current-password", "new-password", "repeat-password"].map((id) => document.getElementById(id).value);
    message.className = "error";
    if (fresh !== again) { message.textContent = "The two new passwords differ."; return; }
    try {
      const issued = await api("/auth/password", { method: "POST", json: { current_password: current, new_password: fresh } });
      sessionStorage.setItem("mp-token", issued.token);  // every other token of the account is revoked
      const wasFirst = first();
      sessionStorage.removeItem("mp-first");
      form.reset();
      message.className = "";
      message.textContent = "Your password is changed; the account's other logins are logged out.";
      if (wasFirst) location.href = home.href;
    } catch (error) {
      const said = { current_password: "The current password ", new_password: "The new password " };
      const [field, reason] = error.message.split(/: (.*)/s);
      message.textContent = "Not changed: " + (error.status === 422 && said[field] ? said[field] + reason : error.message);
    }
  });
}

// ---- accounts (admin) -----------------------------------------------------------------------
async function adminPage() {
  logoutButton();
  if (!token()) return goLogin();
  const list = el("div", { id: "accounts" });
  // a first password is shown here once, in words a screen reader says too
  const shown = el("div", { id: "first-password", role: "status" });
  const showPassword = (username, password) => shown.replaceChildren(el("p", { class: "panel" },
    `First password of ${username}: `, el("code", { text: password }),
    ". Hand it over now: it is not shown again, and it is to be changed at the first login."));
  // a guardian's learners, each with "Unlink", and a learner id to link
  function guardianLearners(u) {
    const id = `ward-${u.id}`;
    const ward = el("input", { id, autocomplete: "off", size: "12" });
    const change = async (method, learnerId, said) => {
      try {
        await api(`/api/v1/users/${encodeURIComponent(u.id)}/learners/${encodeURIComponent(learnerId)}`, { method });
        shown.replaceChildren(el("p", { class: "panel", text: said }));
        await showAccounts();
      } catch (error) { shown.replaceChildren(el("p", { class: "error", text: `${u.username}: ${error.message}` })); }
    };
    return el("td", {},
      ...u.learners.map((l) => el("span", {}, `${l} `, el("button", { type: "button", text: "Unlink", "aria-label": `Unlink ${l} from ${u.username}`,
        onclick: () => change("DELETE", l, `${u.username} no longer reads the records of ${l}.`) }), " ")),
      el("label", { for: id, class: "visually-hidden", text: `Learner id to link to ${u.username}` }), ward, " ",
      el("button", { type: "button", text: "Link", "aria-label": `Link a learner to ${u.username}`, onclick: () => {
        if (ward.value) change("PUT", ward.value, `${u.username} reads the records of ${ward.value}.`);
      } }));
  }
  async function showAccounts() {
    const users = await api("/api/v1/users");
    const rows = users.map((u) => el("tr", {}, cell(u.username), cell(u.role),
      u.role === "guardian" ? guardianLearners(u) : cell(u.learner_id || "\u2013"),
      cell(u.must_change_password ? "first (to be changed)" : "own"),
      cell(u.disabled ? `disabled${u.disabled_by === "roster" ? " by the roster" : ""}` : "enabled"),
      el("td", {},
        el("button", { type: "button", text: "New first password", "aria-label": `New first password for ${u.username}`, onclick: async () => {
          try {
            const reset = await api(`/api/v1/users/${encodeURIComponent(u.id)}/first-password`, { method: "POST" });
            showPassword(reset.username, reset.password);
            await showAccounts();
          } catch (error) { fail("accounts", error); }
        } }), " ",
        el("button", { type: "button", text: "Log out everywhere", "aria-label": `Log out everywhere: ${u.username}`, onclick: async () => {
          try {
            const done = await api(`/api/v1/users/${encodeURIComponent(u.id)}/tokens`, { method: "DELETE" });
            say(`${u.username}: ${done.revoked} login${done.revoked === 1 ? "" : "s"} ended.`);
            shown.replaceChildren(el("p", { class: "panel", text: `${u.username}: ${done.revoked} login${done.revoked === 1 ? "" : "s"} ended.` }));
          } catch (error) { fail("accounts", error); }
        } }), " ",
        // a teacher who left, a lost account: no login or launch until enabled again
        el("button", { type: "button", text: u.disabled ? "Enable" : "Disable", "aria-label": `${u.disabled ? "Enable" : "Disable"} ${u.username}`, onclick: async () => {
          try {
            await api(`/api/v1/users/${encodeURIComponent(u.id)}`, { method: "PATCH", json: { disabled: !u.disabled } });
            const said = u.disabled ? `${u.username} enabled: it can log in again.` : `${u.username} disabled: it can no longer log in, and its logins ended.`;
            say(said);
            shown.replaceChildren(el("p", { class: "panel", text: said }));
            await showAccounts();
          } catch (error) { shown.replaceChildren(el("p", { class: "error", text: `${u.username} not ${u.disabled ? "enabled" : "disabled"}: ${error.message}` })); }
        } }))));
    list.replaceChildren(el("table", {}, el("caption", { text: `${users.length} accounts` }),
      heads("Username", "Role", "Learner", "Password", "Account", ""), el("tbody", {}, ...rows)));
  }
  const username = el("input", { id: "new-username", required: "required", autocomplete: "off" });
  const role = el("select", { id: "new-role" }, ...["educator", "learner", "guardian", "admin"].map((r) => el("option", { value: r, text: r })));
  const learner = el("input", { id: "new-learner", autocomplete: "off" });
  const added = el("p", { id: "add-message", class: "error", role: "alert" });
  const form = el("form", { id: "add-account", class: "panel narrow" },
    el("label", { for: "new-username", text: "Username" }), username,
    el("label", { for: "new-role", text: "Role" }), role,
    el("label", { for: "new-learner", text: "Learner id (a learner's account: whose it is; a guardian's: whose records it reads)" }), learner,
    el("p", {}, el("button", { class: "primary", type: "submit", text: "Add account" })), added);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    added.textContent = "";
    const body = { username: username.value, role: role.value };
    const ward = role.value === "guardian" ? learner.value : "";  // linked once the account is made
    if (learner.value && !ward) body.learner_id = learner.value;  // the server says when it is missing or out of place
    try {
      const made = await api("/api/v1/users", { method: "POST", json: body });
      if (ward) await api(`/api/v1/users/${encodeURIComponent(made.id)}/learners/${encodeURIComponent(ward)}`, { method: "PUT" });
      showPassword(made.username, made.password);
      form.reset();
      await showAccounts();
    } catch (error) { added.textContent = "Not added: " + error.message; }
  });
  try { await showAccounts(); } catch (error) { return fail("content", error); }
  document.getElementById("content").replaceChildren(
    el("h2", { text: "Accounts" }), shown, list,
    el("section", {}, el("h2", { text: "Add an account" }), form,
      el("p", { class: "muted", text: "A school's whole roster: masterypath roster import (see the README)." })),
    rosterImport(showAccounts), ltiPlatforms(), serverChecks(), scheduledJobs(), learnerData(), inactiveLearners());
  document.body.dataset.updated = String(Date.now());
}

// a school's roster (OneRoster CSV files): learners, cohorts and, if asked, accounts
const ROSTER_FILES = ["users.csv", "classes.csv", "enrollments.csv", "demographics.csv"];
function rosterImport(afterwards) {
  const files = el("input", { id: "roster-files", type: "file", multiple: "multiple", accept: ".csv,text/csv", required: "required" });
  const accounts = el("input", { id: "roster-accounts", type: "checkbox" });
  const out = el("div", { id: "roster-out", role: "status" });
  const form = el("form", { id: "roster", class: "panel narrow" },
    el("label", { for: "roster-files", text: "OneRoster CSV files: users.csv, and classes.csv, enrollments.csv, demographics.csv if there are" }), files,
    el("p", {}, accounts, " ", el("label", { for: "roster-accounts", text: "Make accounts for students, teachers and parents (first passwords shown once)" })),
    el("p", {}, el("button", { type: "submit", text: "Import" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = [...files.files];
    const known = chosen.filter((f) => ROSTER_FILES.includes(f.name));
    const unread = chosen.filter((f) => !ROSTER_FILES.includes(f.name)).map((f) => `${f.name}: not needed, not read`);
    const body = { files: Object.fromEntries(await Promise.all(known.map(async (f) => [f.name, await f.text()]))), accounts: accounts.checked };
    if (!await storeRoster(out, "Imported", "Not imported", () => api("/api/v1/roster", { method: "POST", json: body }), unread)) return;
    form.reset();
    await afterwards();
  });
  // with a student information system set up: read the roster from it now
  const sync = el("div", { id: "roster-sync" });
  (async () => {
    try {
      const source = await api("/api/v1/roster/sync");
      if (!source.configured) return;
      const syncAccounts = el("input", { id: "sync-accounts", type: "checkbox" });
      const button = el("button", { type: "button", text: "Sync now" });
      button.addEventListener("click", async () => {
        button.disabled = true;
        out.replaceChildren(el("p", { text: "Reading the roster from the school's system\u2026" }));
        try {
          if (await storeRoster(out, "Synced", "Not synced", () => api("/api/v1/roster/sync", { method: "POST", json: { accounts: syncAccounts.checked } }), [])) await afterwards();
        } finally { button.disabled = false; }
      });
      sync.replaceChildren(el("div", { class: "panel narrow" },
        el("p", {}, "The school's system: ", el("code", { text: source.url }), " (masterypath roster sync reads it from cron)"),
        el("p", {}, syncAccounts, " ", el("label", { for: "sync-accounts", text: "Make accounts for its new students, teachers and parents (first passwords shown once)" })),
        el("p", {}, button)));
    } catch (error) { sync.replaceChildren(el("p", { class: "error", text: "The school's system: " + error.message })); }
  })();
  return el("section", {}, el("h2", { text: "Import a roster" }), sync, form, out);
}

// what a roster import or sync changed, the accounts it made (passwords shown this once), or why nothing was stored; whether it was
async function storeRoster(out, done, notDone, send, notes) {
  try {
    const answer = await send();
    const counts = Object.entries(answer).filter(([, v]) => typeof v === "number").map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`);
    const leftOut = [...answer.left_out, ...notes];
    const since = answer.changes_since ? ` (the changes since ${answer.changes_since})` : "";
    const shown = [el("p", { text: `${done}${since}: ` + counts.join(", ") + "." })];
    if (leftOut.length) shown.push(el("ul", {}, ...leftOut.map((n) => el("li", { text: "Left out: " + n }))));
    if (answer.accounts.length) {
      const csv = "username,password,role\n" + answer.accounts.map((a) => [a.username, a.password, a.role].join(",")).join("\n") + "\n";
      shown.push(el("table", {}, el("caption", { text: `${answer.accounts.length} new accounts and their first passwords: hand them over now, they are not shown again` }),
        heads("Username", "First password", "Role"), el("tbody", {}, ...answer.accounts.map((a) => el("tr", {}, cell(a.username), el("td", {}, el("code", { text: a.password })), cell(a.role))))),
        el("p", {}, el("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: "first-passwords.csv", text: "Download the first passwords (CSV)" })));
    }
    out.replaceChildren(...shown);
    return true;
  } catch (error) {  // the problems, one a line, each by file, line and column
    const [head, ...lines] = error.message.split("\n");
    out.replaceChildren(el("p", { class: "error", text: `${notDone}: ` + head }), el("ul", {}, ...lines.map((l) => el("li", { text: l.trim() }))));
    return false;
  }
}

// whether the server can do its work (masterypath check): the failed checks first; again after a job ran
function serverChecks() {
  const section = el("section", { id: "checks" });
  async function show() {
    const answer = await api("/api/v1/checks");
    const failed = answer.checks.filter((c) => !c.ok);
    const rows = [...failed, ...answer.checks.filter((c) => c.ok)];
    section.replaceChildren(el("h2", { text: "Server checks" }),
      el("p", { class: failed.length ? "error" : "", text: failed.length ? `${failed.length} of ${rows.length} checks failed: ${failed.map((c) => c.name).join(", ")}.` : `All ${rows.length} checks pass.` }),
      el("table", {}, el("caption", { text: "Whether the server can do its work (masterypath check)" }),
        heads("Check", "Outcome", "Found"),
        el("tbody", {}, ...rows.map((c) => el("tr", {}, cell(c.name), el("td", { class: c.ok ? "" : "error", text: c.ok ? "ok" : "failed" }), cell(c.detail))))));
  }
  document.addEventListener("jobs-ran", () => show().catch(() => {}));
  show().catch((error) => section.replaceChildren(el("p", { class: "error", text: "Server checks: " + error.message })));
  return section;
}

// the server's scheduled jobs (roster sync, grades, members, backups): how each went, run one now
function scheduledJobs() {
  const section = el("section", { id: "jobs", hidden: "hidden" });
  const out = el("div", { id: "jobs-out", role: "status" });
  const hours = (seconds) => seconds >= 3600 ? `${seconds / 3600} h` : `${seconds / 60} min`;
  async function show() {
    const jobs = await api("/api/v1/jobs");
    if (!jobs.length) return;  // none set up: nothing to show
    section.hidden = false;
    section.replaceChildren(el("h2", { text: "Scheduled jobs" }),
      el("table", {}, el("caption", { text: "What the server does on its own (settings MASTERYPATH_*_HOURS, _MINUTES, _AT)" }),
        heads("Job", "Every", "Last run", "Outcome", "Due", ""),
        el("tbody", {}, ...jobs.map((j) => el("tr", {}, cell(j.name), cell(j.daily_at ? `daily at ${j.daily_at}` : hours(j.every_seconds)),
          cell(j.started_at ? localTime(j.started_at) : "never"),
          el("td", { class: j.outcome === "failed" ? "error" : "" }, j.running ? "running" : j.outcome ? `${j.outcome}${j.summary ? ": " + j.summary : ""}` : "\u2013"),
          cell(j.due_at ? localTime(j.due_at) : "at the server's start"),
          el("td", {}, el("button", { type: "button", text: "Run now", "aria-label": `Run now: ${j.name}`, onclick: async (event) => {
            event.target.disabled = true;
            out.replaceChildren(el("p", { text: `Running ${j.name}\u2026` }), el("progress", { "aria-label": `${j.name} running` }));
            try {
              // the run goes on in the server's background: look every second until it has finished
              let done = await api(`/api/v1/jobs/${encodeURIComponent(j.name)}/run`, { method: "POST" });
              while (done.running) {
                await new Promise((resolve) => setTimeout(resolve, 1000));
                done = (await api("/api/v1/jobs")).find((x) => x.name === j.name);
              }
              out.replaceChildren(el("p", { class: done.outcome === "failed" ? "error" : "", text: `${j.name}: ${done.outcome}.` }));
              document.dispatchEvent(new Event("jobs-ran"));
              await show();
            } catch (error) { out.replaceChildren(el("p", { class: "error", text: `${j.name} not run: ${error.message}` })); event.target.disabled = false; }
          } })))))), out);
  }
  show().catch((error) => { section.hidden = false; section.replaceChildren(el("p", { class: "error", text: "Scheduled jobs: " + error.message })); });
  return section;
}

// a learner's data, for a data officer: everything stored (a file), who read it, erasure
function learnerData() {
  const learner = el("input", { id: "data-learner", required: "required", autocomplete: "off" });
  const out = el("div", { id: "data-out", role: "status" });
  const form = el("form", { id: "learner-data", class: "panel narrow" },
    el("label", { for: "data-learner", text: "Learner id" }), learner,
    el("p", {},
      el("button", { type: "button", text: "Download everything stored", onclick: () => learner.reportValidity()
        && downloadFile(`/api/v1/learners/${encodeURIComponent(learner.value)}/export`, `${learner.value}-export.json`, out, "Not exported: ") }), " ",
      el("button", { type: "button", text: "Who read it", onclick: async () => {
        if (!learner.reportValidity()) return;
        try {
          const rows = await api(`/api/v1/learners/${encodeURIComponent(learner.value)}/access-log?limit=50`);
          out.replaceChildren(el("table", {}, el("caption", { text: `The first ${rows.length} reads of ${learner.value}'s records` }),
            heads("When", "Who", "What"), el("tbody", {}, ...rows.map((r) => el("tr", {}, cell(localTime(r.at)), cell(r.actor_name), cell(r.what))))));
        } catch (error) { out.replaceChildren(el("p", { class: "error", text: "Not shown: " + error.message })); }
      } })));
  const confirm = el("input", { id: "erase-confirm", required: "required", autocomplete: "off" });
  const erase = el("form", { id: "erase-learner", class: "panel narrow" },
    el("label", { for: "erase-confirm", text: "To erase everything about the learner above, type their id again" }), confirm,
    el("p", {}, el("button", { type: "submit", text: "Erase" })));
  erase.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (confirm.value !== learner.value) {
      out.replaceChildren(el("p", { class: "error", text: "Not erased: the two ids differ." }));
      return;
    }
    try {
      const done = await api(`/api/v1/learners/${encodeURIComponent(learner.value)}`, { method: "DELETE" });
      const rows = Object.entries(done.deleted).filter(([, n]) => n).map(([what, n]) => `${n} ${what.replaceAll("_", " ")}`);
      out.replaceChildren(el("p", { text: `${done.learner_id} erased: ${rows.join(", ") || "nothing was stored"}. A tombstone with these counts stays in the audit log.` }));
      erase.reset();
    } catch (error) { out.replaceChildren(el("p", { class: "error", text: "Not erased: " + error.message })); }
  });
  return el("section", {}, el("h2", { text: "A learner's data" }), form, erase, out);
}

// who has been inactive for a school's retention period (erased from the command line)
function inactiveLearners() {
  const days = el("input", { id: "inactive-days", type: "number", min: "1", max: "36500", value: "365", required: "required" });
  const out = el("div", { id: "inactive-out" });
  const form = el("form", { id: "inactive", class: "panel narrow" },
    el("label", { for: "inactive-days", text: "No activity for at least (days)" }), days,
    el("p", {}, el("button", { type: "submit", text: "List inactive learners" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const span = `${days.value} day${days.value === "1" ? "" : "s"}`;
    try {
      const found = await api(`/api/v1/inactive-learners?days=${encodeURIComponent(days.value)}`);
      out.replaceChildren(found.length ? el("table", {}, el("caption", { text: `${found.length} learner${found.length === 1 ? "" : "s"} inactive for ${span} or more` }),
        heads("Learner", "Last active"), el("tbody", {}, ...found.map((f) => el("tr", {}, cell(f.learner_id), cell(localTime(f.last_activity))))))
        : el("p", { text: `No learner has been inactive for ${span}.` }),
      el("p", { class: "muted", text: "To erase them: masterypath learners erase-inactive --days " + days.value }));
    } catch (error) { out.replaceChildren(el("p", { class: "error", text: "Not listed: " + error.message })); }
  });
  return el("section", {}, el("h2", { text: "Inactive learners" }), form, out);
}

// the learning platforms (Moodle, Canvas, ...) that launch this tool, and grades sent back
const PLATFORM_FIELDS = [
  ["id", "Short name (lower-case letters, digits, - and _)"], ["title", "Name"],
  ["issuer", "Issuer (the platform's URL)"], ["client_id", "Client id the platform gave this tool"],
  ["auth_login_url", "Authentication request URL"], ["key_set_url", "Public key set URL"],
  ["deployment_ids", "Deployment ids (separated by commas)"], ["token_url", "Access token URL (to send grades back; optional)"],
  ["service_origins", "Other sites of its services, e.g. Canvas's school host (separated by commas; optional)"],
];
const LISTED = ["deployment_ids", "service_origins"];
const OPTIONAL = ["token_url", "service_origins"];
function ltiPlatforms() {
  const list = el("div", { id: "platforms" });
  const out = el("div", { id: "platforms-out", role: "status" });
  const said = (text, bad) => out.replaceChildren(el("p", { class: bad ? "error" : "", text }));
  async function show() {
    const platforms = await api("/api/v1/lti/platforms");
    list.replaceChildren(platforms.length ? el("table", {}, el("caption", { text: `${platforms.length} registered platform${platforms.length === 1 ? "" : "s"}` }),
      heads("Name", "Issuer", "Client id", "Deployments", "Grades back", ""),
      el("tbody", {}, ...platforms.map((p) => el("tr", {}, cell(`${p.title} (${p.id})`), cell(p.issuer), cell(p.client_id),
        cell(p.deployment_ids.join(", ")), cell(p.token_url ? "yes" : "no"),
        el("td", {}, el("button", { type: "button", text: "Edit", "aria-label": `Edit ${p.title}`, onclick: () => edit(p) }), " ",
          el("button", { type: "button", text: "Remove", "aria-label": `Remove ${p.title}`, onclick: async () => {
          try {
            await api(`/api/v1/lti/platforms/${encodeURIComponent(p.id)}`, { method: "DELETE" });
            said(`${p.title} removed: its launches stop working; its users' accounts stay.`);
            await show();
          } catch (error) { said("Not removed: " + error.message, true); }
        } }))))))
      : el("p", { text: "No platform is registered." }));
  }
  const inputs = Object.fromEntries(PLATFORM_FIELDS.map(([name]) => [name, el("input", { id: `platform-${name}`, autocomplete: "off", ...(OPTIONAL.includes(name) ? {} : { required: "required" }) })]));
  // one form registers a platform, or changes the one picked with "Edit" (its id stays)
  let editing = null;
  const submit = el("button", { type: "submit", text: "Register platform" });
  const cancel = el("button", { type: "button", text: "Cancel", hidden: "hidden", onclick: () => { editing = null; form.reset(); inputs.id.disabled = false; submit.textContent = "Register platform"; cancel.hidden = true; } });
  const form = el("form", { id: "add-platform", class: "panel narrow" },
    ...PLATFORM_FIELDS.flatMap(([name, label]) => [el("label", { for: `platform-${name}`, text: label }), inputs[name]]),
    el("p", {}, submit, " ", cancel));
  function edit(platform) {
    editing = platform.id;
    for (const [name] of PLATFORM_FIELDS) {
      const value = platform[name];
      inputs[name].value = Array.isArray(value) ? value.join(", ") : (value || "");
    }
    inputs.id.disabled = true;
    submit.textContent = `Save ${platform.title}`;
    cancel.hidden = false;
    inputs.title.focus();
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = Object.fromEntries(PLATFORM_FIELDS.map(([name]) => [name, inputs[name].value.trim()]));
    for (const name of LISTED) body[name] = body[name].split(",").map((d) => d.trim()).filter(Boolean);
    try {
      if (editing) {
        delete body.id;
        body.token_url = body.token_url || null;
        await api(`/api/v1/lti/platforms/${encodeURIComponent(editing)}`, { method: "PATCH", json: body });
        said(`${body.title} saved.`);
        cancel.click();
      } else {
        if (!body.token_url) delete body.token_url;
        await api("/api/v1/lti/platforms", { method: "POST", json: body });
        said(`${body.title} registered.`);
        form.reset();
      }
      await show();
    } catch (error) { said((editing ? "Not saved: " : "Not registered: ") + error.message, true); }
  });
  const send = el("button", { type: "button", id: "send-grades", text: "Send grades now", onclick: async () => {
    try {
      const done = await api("/api/v1/lti/grades", { method: "POST" });
      out.replaceChildren(el("p", { text: `Grades sent ${done.sent}, unchanged ${done.unchanged}.` }),
        el("ul", {}, ...done.skipped.map((s) => el("li", { text: "Skipped: " + s })), ...done.failed.map((f) => el("li", { class: "error", text: "Refused: " + f }))));
    } catch (error) { said("Not sent: " + error.message, true); }
  } });
  const fetchMembers = el("button", { type: "button", id: "sync-members", text: "Fetch course members", onclick: async () => {
    try {
      const done = await api("/api/v1/lti/members", { method: "POST" });
      out.replaceChildren(el("p", { text: `Courses read ${done.courses}: members ${done.members}, accounts linked ${done.accounts_linked}, removed from their course ${done.removed}.` }),
        el("ul", {}, ...done.skipped.map((s) => el("li", { text: "Skipped: " + s })), ...done.failed.map((f) => el("li", { class: "error", text: "Refused: " + f }))));
    } catch (error) { said("Not read: " + error.message, true); }
  } });
  const tool = el("dl", { class: "panel" });
  const showTool = async () => {
    const urls = await api("/api/v1/lti/tool");
    tool.replaceChildren(
      el("dt", { text: "Tool URL (target link URI)" }), el("dd", {}, el("code", { text: urls.tool_url })),
      el("dt", { text: "Login URL" }), el("dd", {}, el("code", { text: urls.login_url })),
      el("dt", { text: "Launch (redirect) URL" }), el("dd", {}, el("code", { text: urls.launch_url })),
      el("dt", { text: "Public key set URL" }), el("dd", {}, el("code", { text: urls.key_set_url })));
  };
  showTool().catch((error) => fail("tool URLs", error));
  const linkOut = el("div", { id: "registration-link", role: "status" });
  const makeLink = el("button", { type: "button", text: "Make a registration link", onclick: async () => {
    try {
      const link = await api("/api/v1/lti/registration-links", { method: "POST", json: { hours: 24 } });
      linkOut.replaceChildren(el("p", { text: `Paste this link into the platform (Moodle: "Tool URL" of a new tool; Canvas: "LTI Registration"). It registers one platform, until ${localTime(link.expires_at)}, and is shown once:` }),
        el("p", { class: "panel" }, el("code", { text: link.url })));
      await awaitRegistration(new Date(link.expires_at));
    } catch (error) { linkOut.replaceChildren(el("p", { class: "error", text: "Not made: " + error.message })); }
  } });
  // the platform registers itself elsewhere (its admin's browser): list it here when it has
  let watching = null;
  async function awaitRegistration(until) {
    clearInterval(watching);
    const platformIds = async () => (await api("/api/v1/lti/platforms")).map((p) => p.id);
    const known = await platformIds().catch(() => null);
    if (known === null) return;  // the list cannot be read: reload to see a new platform
    watching = setInterval(async () => {
      if (new Date() > until || !document.body.contains(linkOut)) { clearInterval(watching); return; }
      try {
        const ids = await platformIds();
        const added = ids.filter((id) => !known.includes(id));
        if (!added.length) return;
        clearInterval(watching);
        await show();
        say(`${added.join(", ")} registered itself.`);
        linkOut.replaceChildren(el("p", { class: "panel", text: `${added.join(", ")} registered itself: it is listed below. The link is used.` }));
      } catch (error) { /* a failed look: the next one tries again */ }
    }, 3000);
  }
  show().catch((error) => fail("platforms", error));
  return el("section", {}, el("h2", { text: "Learning platforms (LTI 1.3)" }),
    el("p", { text: "A platform that supports LTI Dynamic Registration registers this tool itself from a one-time link:" }), el("p", {}, makeLink), linkOut,
    el("p", { text: "Otherwise give a platform these values of this tool, then register the platform with the values it shows for it." }), tool,
    list, form, el("p", {}, send, " ", fetchMembers), out);
}

// ---- the progress map ---------------------------------------------------------------------
const BOX = { w: 196, h: 60, gx: 30, gy: 50 };

function wrap(text, width, lines) {  // at most `lines` lines of about `width` characters
  const out = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && (line + " " + word).length > width) { out.push(line); line = word; }
    else line = line ? line + " " + word : word;
  }
  if (line) out.push(line);
  if (out.length > lines) { out.length = lines; out[lines - 1] = out[lines - 1].slice(0, width - 1) + "\u2026"; }
  return out;
}

function drawMap(svg, map, byId, onPick) {
  svg.replaceChildren();
  const layers = Math.max(0, ...map.nodes.map((n) => n.layer)) + 1;
  const width = Math.max(...map.nodes.map((n) => n.order), 0) + 1;
  svg.setAttribute("viewBox", `0 0 ${width * (BOX.w + BOX.gx) + BOX.gx} ${layers * (BOX.h + BOX.gy) + BOX.gy}`);
  svg.setAttribute("width", width * (BOX.w + BOX.gx) + BOX.gx);
  const at = {};
  for (const n of map.nodes) {
    at[n.id] = { x: BOX.gx + n.order * (BOX.w + BOX.gx), y: BOX.gy / 2 + n.layer * (BOX.h + BOX.gy) };
  }
  for (const [from, to] of map.edges) {
    const a = at[from], b = at[to];
    svg.append(svgEl("path", { class: "edge", d: `M${a.x + BOX.w / 2},${a.y + BOX.h} C${a.x + BOX.w / 2},${a.y + BOX.h + 30} ${b.x + BOX.w / 2},${b.y - 30} ${b.x + BOX.w / 2},${b.y}`, "marker-end": "url(#arrow)" }));
  }
  const defs = svgEl("defs");
  const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "6", markerHeight: "6", orient: "auto-start-reverse" });
  marker.append(svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#4a4a4a" }));
  defs.append(marker);
  svg.prepend(defs);
  for (const n of map.nodes) {
    const item = byId ? byId[n.id] : null;
    const status = item ? statusOf(item) : "not_started";
    const g = svgEl("g", { class: "node" + (status === "locked" ? " locked" : ""), "data-id": n.id, "data-key": n.id });
    if (onPick) { g.setAttribute("tabindex", "0"); g.setAttribute("role", "button"); }
    // without evidence the estimate is the model's starting guess, not the learner's: not shown
    const e = item && item.explanation.n_evidence > 0 ? item.explanation : null;
    const est = e && e.estimate !== null ? ` P=${e.estimate.toFixed(2)}` : "";
    const spread = e && e.uncertainty !== null && e.uncertainty !== undefined ? ` \u00B1${e.uncertainty.toFixed(2)}` : "";
    const state = item ? (status === "locked" ? "locked" : STATUS[status].label) + est + spread : "";
    const lines = wrap(n.title, 22, 2);
    // no aria-label: the node's name is the text drawn in it, so what is seen is what is read
    const fill = { mastered: "#009e73", proficient: "#56b4e9", in_progress: "#e69f00", insufficient_evidence: "#e69f00", needs_review: "#cc79a7", not_started: "#ffffff", locked: "#e8e8e8" }[status];
    g.append(svgEl("rect", { x: at[n.id].x, y: at[n.id].y, width: BOX.w, height: BOX.h, rx: 6, fill }));
    lines.forEach((line, i) => {
      const t = svgEl("text", { x: at[n.id].x + 8, y: at[n.id].y + 16 + i * 15 });
      t.textContent = line;
      g.append(t);
    });
    if (item) {
      const mark = svgEl("text", { x: at[n.id].x + 8, y: at[n.id].y + BOX.h - 8, "aria-hidden": "true" });
      mark.textContent = status === "locked" ? LOCK : STATUS[status].mark;
      const t = svgEl("text", { x: at[n.id].x + 26, y: at[n.id].y + BOX.h - 8 });
      t.textContent = state;
      g.append(mark, t);
    }
    if (onPick) {
      g.addEventListener("click", () => onPick(n.id, g));
      g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onPick(n.id, g); } });
    }
    svg.append(g);
  }
}

function legend() {
  const box = el("div", { class: "legend", "aria-label": "Legend" });
  for (const s of Object.keys(STATUS)) box.append(statusBadge(s));  // every mark a map or grid shows
  box.append(statusBadge("locked"));
  return box;
}

// ---- a guardian's page: the learners whose progress it may follow ---------------------------
async function guardianPage() {
  logoutButton();
  if (!token()) return goLogin();
  const said = el("div", { id: "guardian-out", role: "status" });
  async function show() {
    const me = await api("/auth/me");
    const frameworks = await api("/api/v1/frameworks");
    const framework = frameworks.length ? frameworks[0] : null;
    const items = await Promise.all((me.learners || []).map(async (id) => {
      let profile = null;
      try { profile = await api(`/api/v1/learners/${encodeURIComponent(id)}`); } catch (e) { /* no personal data stored: the id only */ }
      const name = (profile && profile.name) || id;
      const item = el("li", {}, el("a", { href: "/app/learner/" + encodeURIComponent(id), text: `Progress of ${name}` }));
      if (framework) {  // at a glance: how far they are in the course
        const progress = await api(`/api/v1/learners/${encodeURIComponent(id)}/progress?framework_id=${encodeURIComponent(framework.id)}`);
        const count = (status) => progress.filter((p) => p.status === status).length;
        item.append(el("p", { class: "muted", text: `${framework.title || framework.id}: ${count("mastered")} of ${progress.length} mastered, ${count("needs_review")} to review.` }));
      }
      if (profile && profile.under_13) item.append(consent(id, name, profile.guardian_consent));
      return item;
    }));
    document.getElementById("content").replaceChildren(el("h2", { text: "Your learners" }), said,
      items.length ? el("ul", { id: "wards" }, ...items)
        : el("p", { text: "No learner is linked to your account yet: ask the school to link your child's records." }));
    document.body.dataset.updated = String(Date.now());
  }
  // a learner under 13: nothing of their work is kept until a guardian consents
  function consent(id, name, given) {
    const path = `/api/v1/learners/${encodeURIComponent(id)}/guardian-consent`;
    const change = async (options, done) => {
      try { await api(path, options); said.replaceChildren(el("p", { class: "panel", text: done })); await show(); }
      catch (error) { said.replaceChildren(el("p", { class: "error", text: `${name}: ${error.message}` })); }
    };
    if (given) {
      return el("p", {}, `Consent given by ${given.guardian} on ${localDay(given.recorded_at)}. `,
        el("button", { type: "button", text: `Withdraw consent for ${name}`, onclick: () => change({ method: "DELETE" }, `Consent for ${name} withdrawn: nothing new of their work is kept.`) }));
    }
    const field = `consent-${id}`;
    const guardian = el("input", { id: field, required: "required", autocomplete: "name" });
    const form = el("form", { class: "panel narrow" },
      el("p", { text: `${name} is under 13: nothing of their work is kept until a guardian consents.` }),
      el("label", { for: field, text: `Your name, as the guardian who consents for ${name}` }), guardian,
      el("p", {}, el("button", { type: "submit", text: `Give consent for ${name}` })));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      change({ method: "PUT", json: { guardian: guardian.value } }, `Consent for ${name} recorded.`);
    });
    return form;
  }
  try { await show(); } catch (error) { fail("content", error); }
}

// ---- learner page -----------------------------------------------------------------------------
async function learnerPage() {
  logoutButton();
  if (!token()) {
    if (!embedded()) return goLogin();
    return fail("content", new Error("this embed link has no token: ask for a new one"));
  }
  const learner = document.body.dataset.learner;
  let framework, map;
  try {
    framework = await chooseFramework();
    map = await api(`/api/v1/frameworks/${encodeURIComponent(framework)}/map`);
  } catch (error) { return fail("content", error); }
  const svg = svgEl("svg", { class: "map", role: "group", "aria-label": "Progress map: competencies in prerequisite order, top to bottom" });
  const detail = el("div", { id: "detail", class: "panel", "aria-live": "polite" }, el("p", { class: "muted", text: "Choose a competency on the map or in the table to see why it has its status." }));
  const steps = el("div", { id: "steps", class: "panel" });
  const table = el("div", { id: "table", class: "panel" });
  const myBadges = el("div", { id: "my-badges", class: "panel" });
  const mapWrap = el("div", { class: "map-wrap panel" }, svg);
  const connection = el("div", { id: "connection" });
  document.getElementById("content").replaceChildren(
    el("h2", { text: map.title }), connection,
    el("div", { class: "columns" },
      el("section", { "aria-labelledby": "map-h" }, el("h3", { id: "map-h", text: "Progress map" }), legend(),
        mapWrap),
      el("aside", {}, el("h3", { text: "Next steps" }), steps, el("h3", { text: "Details" }), detail)),
    el("section", { "aria-labelledby": "table-h" }, el("h3", { id: "table-h", text: "The same, as a table" }), table),
    el("section", { "aria-labelledby": "badges-h" }, el("h3", { id: "badges-h", text: "Badges" }), myBadges));
  const titles = Object.fromEntries(map.nodes.map((n) => [n.id, n.title]));

  // every badge issued to the learner, a revoked one with when and why, a suspended one since when
  async function showBadges() {
    try {
      const issued = await api(`/api/v1/learners/${encodeURIComponent(learner)}/badges`);
      const items = issued.map((b) => el("li", { text: `${titles[b.competency_id] || b.competency_id}: issued ${localDay(b.issued_at)}, `
        + (b.revoked ? `revoked ${localDay(b.revoked_at)} (${b.reason})`
          : b.suspended ? `suspended since ${localDay(b.suspended_at)} (under review)` : "in force") }));
      myBadges.replaceChildren(items.length ? el("ul", {}, ...items)
        : el("p", { class: "muted", text: "None yet: a mastered competency offers one (choose it on the map)." }));
    } catch (error) { fail("my-badges", error); }
  }
  let last = "";
  let shownItems = {};  // competency id -> its progress as last drawn (JSON)
  let selected = null;
  let detailStale = false;  // the chosen competency changed while its details were in use
  let picks = 0;  // only the latest choice's details are shown, however the answers arrive
  let refused = false;

  // the details are in use: focus inside them, or a revised answer not yet sent
  function detailInUse() {
    return detail.contains(document.activeElement)
      || [...detail.querySelectorAll("textarea")].some((t) => t.value !== t.dataset.original);
  }

  async function pick(cid) {
    selected = cid;
    detailStale = false;
    const mine = ++picks;
    for (const node of svg.querySelectorAll(".node")) node.classList.toggle("selected", node.dataset.id === cid);
    try {
      const item = await api(`/api/v1/learners/${encodeURIComponent(learner)}/progress/${encodeURIComponent(cid)}?framework_id=${encodeURIComponent(framework)}`);
      const feedback = await feedbackSection(cid);
      if (mine !== picks) return;  // another competency was chosen meanwhile
      const ex = item.explanation;
      const trail = el("ul", { class: "trail" });
      for (const t of item.trail.slice(-10).reverse()) {
        const what = t.kind === "inferred"
          ? `inferred ${t.score >= 0.5 ? "known" : "not known"} from ${t.key.split(":").slice(0, 2).join(" ")}`
          : `${t.correct === true ? "correct" : t.correct === false ? "incorrect" : "score " + t.score}${t.item_id ? " on " + (t.item_title || t.item_id) : ""}${t.locked ? " (before it was unlocked)" : ""}`;
        const text = `${localTime(t.timestamp)}: ${what}`;
        trail.append(el("li", t.kind === "inferred" ? { class: "inferred", text } : { text }));
      }
      const ov = ex.override;
      const override = ov ? el("p", { text: `Set to ${statusWord(ov.status)} by an educator (${ov.reason.replaceAll("_", " ")}${ov.note ? ": " + ov.note : ""}).` }) : el("p", { class: "muted", text: "No educator override." });
      detail.replaceChildren(
        el("h4", { text: item.title }), statusBadge(statusOf(item)),
        el("p", { class: "why", text: withLocalDay(ex.learner_text, ex.review_due) }),
        item.missing_prerequisites.length ? el("p", { text: "Locked until: " + item.missing_prerequisites.map((m) => `${titles[m.competency_id] || m.competency_id} (${m.requires})`).join(", ") }) : el("span"),
        override,
        el("h5", { text: `Evidence (${ex.n_evidence})` }), item.trail.length ? trail : el("p", { class: "muted", text: "No evidence yet." }),
        item.trail.length > 10 ? el("p", { class: "muted", text: `The 10 most recent of ${item.trail.length}.` }) : el("span"),
        el("h5", { text: "Feedback" }), feedback);
      if (item.status === "mastered") detail.append(badgeSection(cid, item.title));
    } catch (error) { if (mine === picks) fail("detail", error); }
  }

  // the latest rubric feedback on the learner's work for this competency, to revise
  async function feedbackSection(cid) {
    const work = await api(`/api/v1/learners/${encodeURIComponent(learner)}/feedback?competency_id=${encodeURIComponent(cid)}`);
    if (!work.length) return el("p", { class: "muted", text: "No rubric feedback yet." });
    const box = el("div", { id: "feedback" });
    for (const w of work) {
      const levels = el("ul", {}, ...w.criteria.map((c) => el("li", { text: `${c.title}: ${c.level} (confidence ${Math.round(c.confidence * 100)}%)` })));
      const f = w.feedback;
      const notes = el("ul", {},
        ...f.strengths.map((t) => el("li", { text: "Done well: " + t })),
        ...f.gaps.map((t) => el("li", { text: "Missing: " + t })),
        el("li", { text: "Next step: " + f.next_step }));
      const id = `revise-${w.rubric_id}`;
      const answer = el("textarea", { id, rows: "5", cols: "40" });
      answer.value = w.text;
      answer.dataset.original = w.text;
      const status = el("p", { "aria-live": "polite" });
      const resubmit = el("form", { onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api(`/api/v1/learners/${encodeURIComponent(learner)}/submissions`, { method: "POST", json: { rubric_id: w.rubric_id, text: answer.value } });
          await pick(cid);
        } catch (error) { status.textContent = "Error: " + error.message; }
      } },
        el("label", { for: id, text: "Your revised answer" }), answer,
        el("button", { type: "submit", text: "Resubmit" }), status);
      box.append(el("h6", { text: `${w.rubric_title} (version ${w.version}${w.final ? ", final" : ""})` }), levels, notes,
        w.final || readOnly() ? el("span") : el("details", {}, el("summary", { text: "Revise and resubmit" }), resubmit));
    }
    return box;
  }

  // an Open Badges 3.0 credential for a mastered competency, saved as a file (VC-JWT)
  function badgeSection(cid, title) {
    const result = el("p", { id: "badge-result", "aria-live": "polite" });
    const own = embedded() || sessionStorage.getItem("mp-role") === "learner";  // else a parent's, a teacher's
    const button = el("button", { type: "button", id: "badge-button", text: own ? "Get my badge" : "Get the badge", onclick: async () => {
      button.disabled = true;
      try {
        const badge = await api(`/api/v1/learners/${encodeURIComponent(learner)}/badges/${encodeURIComponent(framework)}/${encodeURIComponent(cid)}`);
        const file = URL.createObjectURL(new Blob([badge.jwt], { type: "application/jwt" }));
        result.replaceChildren(
          el("a", { href: file, download: `${cid}.jwt`, id: "badge-link", text: `Save the badge for ${title}` }),
          ` (Open Badges 3.0, signed by ${badge.credential.issuer.name}).`);
        await showBadges();
      } catch (error) {
        result.replaceChildren(error.status === 503 ? "This server does not issue badges." : "Error: " + error.message);
        button.disabled = false;
      }
    } });
    return el("div", {}, el("h5", { text: "Badge" }), button, result);
  }

  // the progress map, its table and the next steps, redrawn when the learner's progress
  // changes (the chosen competency's details too, unless the learner is using them)
  async function refresh() {
    const progress = await api(`/api/v1/learners/${encodeURIComponent(learner)}/progress?framework_id=${encodeURIComponent(framework)}`);
    const fingerprint = JSON.stringify(progress);
    if (fingerprint === last) {
      if (detailStale && !detailInUse()) await pick(selected);
      return;
    }
    last = fingerprint;
    const byId = Object.fromEntries(progress.map((p) => [p.competency_id, p]));
    const items = Object.fromEntries(progress.map((p) => [p.competency_id, JSON.stringify(p)]));
    if (selected && items[selected] !== shownItems[selected]) detailStale = true;
    shownItems = items;
    redraw(mapWrap, () => drawMap(svg, map, byId, (cid) => pick(cid)));
    if (selected) for (const node of svg.querySelectorAll(".node")) node.classList.toggle("selected", node.dataset.id === selected);
    const rows = progress.map((p) => { const x = p.explanation, guess = x.n_evidence === 0; return el("tr", {},
      el("th", { scope: "row" }, el("a", { href: "#", "data-key": p.competency_id, onclick: (e) => { e.preventDefault(); pick(p.competency_id); }, text: p.title })),
      el("td", {}, statusBadge(statusOf(p))),
      el("td", { text: guess || x.estimate === null ? "\u2013" : x.estimate.toFixed(2) }),
      el("td", { text: guess || x.uncertainty === null || x.uncertainty === undefined ? "\u2013" : "\u00B1" + x.uncertainty.toFixed(2) }),
      el("td", { text: String(p.explanation.n_evidence) }),
      el("td", { text: p.unlocked ? "yes" : "no: needs " + p.missing_prerequisites.map((m) => titles[m.competency_id] || m.competency_id).join(", ") })); });
    redraw(table, () => table.replaceChildren(el("table", {},
      el("caption", { class: "visually-hidden", text: "Every competency with its status" }),
      el("thead", {}, el("tr", {}, ...["Competency", "Status", "Estimate", "Uncertainty", "Evidence", "Unlocked"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...rows))));
    if (detailStale && !detailInUse()) await pick(selected);
    try {
      const plan = await api(`/api/v1/learners/${encodeURIComponent(learner)}/plan?framework_id=${encodeURIComponent(framework)}&max_steps=5`);
      const list = el("ol", { class: "steps" });
      for (const s of plan.steps) {
        const p = byId[s.competency_id];
        const what = s.item_title || `${p ? p.title : s.competency_id}${s.item_id ? " (" + s.item_id + ")" : ""}`;
        list.append(el("li", { text: `${what} \u2013 ${p ? withLocalDay(s.reason, p.explanation.review_due) : s.reason}` }));
      }
      steps.replaceChildren(plan.steps.length ? list : el("p", { text: "Nothing to do right now: everything on the way is mastered." }));
    } catch (error) {
      fail("steps", error);
      if (transient(error)) last = "";  // asked again on the next round
    }
    say("Progress updated " + new Date().toLocaleTimeString());
    document.body.dataset.updated = String(Date.now());
  }
  // live: a change shows within a second; a lost connection keeps the map and tries again
  await keepLive(refresh, { every: 1000, notice: connection, stop: (error) => { refused = true; fail("content", error); } });
  if (!refused) await showBadges();
}

// ---- educator page ----------------------------------------------------------------------------
async function educatorPage() {
  logoutButton();
  if (!token()) return goLogin();
  let framework, cohorts;
  try {
    framework = await chooseFramework();
    cohorts = await api("/api/v1/cohorts");
  } catch (error) { return fail("content", error); }
  const cohort = param("cohort") || "";
  const query = cohort ? `?cohort_id=${encodeURIComponent(cohort)}` : "";
  const gridUrl = `/api/v1/frameworks/${encodeURIComponent(framework)}/grid${query}`;
  let grid;
  try { grid = await api(gridUrl); }
  catch (error) { return fail("content", error); }
  let gridText = JSON.stringify(grid);
  const competencyTitle = (id) => (grid.competencies.find((c) => c.id === id) || { title: id }).title;
  const filter = el("input", { id: "filter", type: "search", "aria-describedby": "filter-help" });
  const statusFilter = el("select", { id: "status-filter" }, el("option", { value: "", text: "any" }),
    ...Object.keys(STATUS).map((s) => el("option", { value: s, text: STATUS[s].label })),
    el("option", { value: "locked", text: "locked" }));
  const sort = el("select", { id: "sort" }, el("option", { value: "id", text: "learner id" }),
    el("option", { value: "mastered", text: "fewest mastered first" }), el("option", { value: "-mastered", text: "most mastered first" }));
  const cohortSelect = el("select", { id: "cohort" }, el("option", { value: "", text: "all my learners" }),
    ...cohorts.map((c) => el("option", { value: c.id, text: c.title || c.id })));
  cohortSelect.value = cohort;
  cohortSelect.addEventListener("change", () => { location.search = `?framework=${encodeURIComponent(framework)}${cohortSelect.value ? "&cohort=" + encodeURIComponent(cohortSelect.value) : ""}`; });
  const count = el("p", { id: "count", "aria-live": "polite" });
  const connection = el("div", { id: "connection" });
  // the grid for a spreadsheet (the server's CSV: every learner of the cohort, unfiltered)
  const saved = el("span", { id: "csv-message", "aria-live": "polite" });
  const csvButton = el("button", { type: "button", id: "csv", text: "Download CSV", onclick: () => downloadFile(
    `/api/v1/frameworks/${encodeURIComponent(framework)}/grid.csv${query}`, `${framework}-grid.csv`, saved, " Not downloaded: ") });
  const wrap = el("div", { class: "grid-wrap", tabindex: "0", role: "region", "aria-label": "Cohort grid" });
  const mastered = (row) => row.cells.filter((c) => c && c[0] === "mastered").length;

  function render() {
    const text = filter.value.trim().toLowerCase();
    const want = statusFilter.value;
    const has = (r) => want === "locked" ? r.locked.length > 0 : r.cells.some((c, i) => (c ? c[0] : "not_started") === want && !r.locked.includes(i));
    let rows = grid.learners.filter((r) => r.id.toLowerCase().includes(text) && (!want || has(r)));
    if (sort.value === "mastered") rows = rows.slice().sort((a, b) => mastered(a) - mastered(b) || a.id.localeCompare(b.id));
    if (sort.value === "-mastered") rows = rows.slice().sort((a, b) => mastered(b) - mastered(a) || a.id.localeCompare(b.id));
    const head = el("tr", {}, el("th", { scope: "col", text: "Learner" }), el("th", { scope: "col", text: "Mastered" }),
      ...grid.competencies.map((c) => el("th", { scope: "col", class: "comp", title: c.title, text: c.title.length > 22 ? c.title.slice(0, 21) + "\u2026" : c.title })));
    const body = document.createElement("tbody");
    const html = [];
    const esc = (s) => String(s).replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]);
    // a cell's mark and the word a screen reader says for it come from the style sheet
    // (table.grid td.s-...::before): no text or hidden word in ~55,000 cells of a 500 x 110
    // grid, and an empty cell is read "not started", not "white circle"
    for (const r of rows) {
      const locked = new Set(r.locked || []);
      const cells = r.cells.map((c, i) => {
        const title = esc(grid.competencies[i].title);
        if (locked.has(i)) {  // as the learner's map shows it; what evidence it has, in the tooltip
          const has = c ? `; ${STATUS[c[0]] ? STATUS[c[0]].label : c[0]}, ${c[3]} evidence` : "";
          return `<td class="c s-locked" title="${title}: locked (prerequisites not met)${esc(has)}"></td>`;
        }
        if (!c) return `<td class="c s-not_started" title="${title}: not started"></td>`;
        const s = STATUS[c[0]];
        const est = c[1] === null ? "" : c[1].toFixed(2);
        const unc = c[2] === null ? "" : " \u00B1" + c[2].toFixed(2);
        const shown = s ? "" : `${STATUS.not_started.mark}<span class="visually-hidden"> ${esc(c[0])}</span>`;  // a status this page does not know
        return `<td class="c s-${esc(c[0])}" title="${title}: ${esc(s ? s.label : c[0])} ${est}${unc}, ${c[3]} evidence">${shown}</td>`;
      });
      html.push(`<tr><th scope="row"><a data-key="${esc(r.id)}" href="/app/learner/${encodeURIComponent(r.id)}?framework=${encodeURIComponent(framework)}">${esc(r.id)}</a></th><td>${mastered(r)}</td>${cells.join("")}</tr>`);
    }
    body.innerHTML = html.join("");
    redraw(wrap, () => wrap.replaceChildren(el("table", { class: "grid" }, el("caption", { class: "visually-hidden", text: "Learners by competency; each cell shows the status mark, with the estimate and uncertainty in its tooltip" }), el("thead", {}, head), body)));
    const shown = `${rows.length} of ${grid.learners.length} learners shown`;
    if (count.textContent !== shown) count.textContent = shown;  // said again only when it changes
  }
  for (const control of [filter, statusFilter, sort]) control.addEventListener("input", render);

  // the grid as it is now: redrawn (and the alerts read again) only when something changed;
  // an answer to an earlier request that comes after a later one's is dropped
  let asked = 0;
  async function loadGrid() {
    const mine = ++asked;
    const fresh = await api(gridUrl);
    const text = JSON.stringify(fresh);
    if (mine !== asked || text === gridText) return;
    grid = fresh;
    gridText = text;
    render();
    offerLearners();
    loadAlerts();
    document.body.dataset.updated = String(Date.now());
  }
  // after the educator's own change: shown at once (or by the next round, if this fails)
  const refreshGrid = () => loadGrid().catch(() => {});

  // the open alerts, grouped by kind with the suggested action said once per group
  const alerts = el("div", { id: "alerts", class: "panel" });
  async function loadAlerts() {
    try {
      const found = await api(`/api/v1/alerts?framework_id=${encodeURIComponent(framework)}`);
      const groups = new Map();  // kind and suggestion -> the alerts shown
      for (const a of found.slice(0, ALERTS_SHOWN)) {
        const key = `${a.kind}\n${a.suggested_action}`;
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(a);
      }
      const rank = (group) => { const n = Object.keys(ALERT_KINDS).indexOf(group[0].kind); return n < 0 ? Infinity : n; };
      const sections = [...groups.values()].sort((a, b) => rank(a) - rank(b)).map((group) => el("section", { class: "alert-group" },
        el("h4", { text: `${ALERT_KINDS[group[0].kind] || group[0].kind.replaceAll("_", " ")} (${group.length})` }),
        el("p", { class: "muted", text: "Suggested: " + group[0].suggested_action }),
        el("ul", {}, ...group.map((a) => el("li", {},
          el("a", { href: `/app/learner/${encodeURIComponent(a.learner_id)}?framework=${encodeURIComponent(framework)}`, text: a.learner_id }),
          document.createTextNode(` \u2013 ${competencyTitle(a.competency_id)}: ${a.message} (${localDay(a.created_at)}) `),
          el("button", { type: "button", "data-key": String(a.id), "aria-label": `Acknowledge the alert for ${a.learner_id} on ${competencyTitle(a.competency_id)}`, onclick: async () => {
            try {
              await api(`/api/v1/alerts/${a.id}/acknowledge`, { method: "POST" });
              say(`Alert for ${a.learner_id} acknowledged.`);
              loadAlerts();
            } catch (error) { fail("alerts", error); }
          }, text: "Acknowledge" }))))));
      const more = found.length > ALERTS_SHOWN ? [el("p", { class: "muted", text: `The ${ALERTS_SHOWN} oldest of ${found.length >= 1000 ? "1,000 or more" : found.length} open alerts; acknowledge some to see the rest.` })] : [];
      redraw(alerts, () => alerts.replaceChildren(...(found.length ? [...more, ...sections] : [el("p", { class: "muted", text: "No open alerts." })])));
    } catch (error) { fail("alerts", error); }
  }

  // rubric judgements the scorer was unsure of: an educator confirms or corrects the level
  const reviews = el("div", { id: "reviews", class: "panel" });
  async function loadReviews() {
    try {
      const found = await api("/api/v1/reviews");
      const rubrics = {};
      for (const id of new Set(found.map((r) => r.rubric_id))) rubrics[id] = await api(`/api/v1/rubrics/${encodeURIComponent(id)}`);
      const list = el("ul", { class: "reviews" });
      for (const r of found.slice(0, 50)) {
        const criterion = rubrics[r.rubric_id].criteria.find((c) => c.id === r.criterion_id);
        const id = `review-${r.submission_id}-${r.criterion_id}`;
        const level = el("select", { id }, ...criterion.levels.map((lv) => el("option", { value: lv.id, text: lv.label })));
        level.value = r.proposed_level;
        const proposed = criterion.levels.find((lv) => lv.id === r.proposed_level);
        list.append(el("li", {},
          el("p", { text: `${r.learner_id}, ${rubrics[r.rubric_id].title} (version ${r.version}), ${criterion.title}: judged ${proposed ? proposed.label : r.proposed_level} with confidence ${Math.round(r.confidence * 100)}%` }),
          el("blockquote", { text: r.text }),
          el("label", { for: id, text: `Level for ${criterion.title}` }), level,
          el("button", { type: "button", text: "Confirm level", onclick: async () => {
            try {
              await api(`/api/v1/reviews/${r.submission_id}/${encodeURIComponent(r.criterion_id)}`, { method: "PUT", json: { level_id: level.value } });
              say(`Level recorded for ${r.learner_id}.`);
              loadReviews();
              refreshGrid();  // a confirmed level is evidence
            } catch (error) { fail("reviews", error); }
          } })));
      }
      reviews.replaceChildren(found.length ? list : el("p", { class: "muted", text: "No judgements waiting for review." }));
    } catch (error) { fail("reviews", error); }
  }

  // the cohort's learners, offered as each learner field is typed in (kept with the grid)
  const learnerOptions = el("datalist", { id: "cohort-learners" });
  const offerLearners = () => learnerOptions.replaceChildren(...grid.learners.map((r) => el("option", { value: r.id })));
  offerLearners();
  const ovLearner = el("input", { id: "ov-learner", required: "required", list: "cohort-learners", autocomplete: "off" });
  const ovCompetency = el("select", { id: "ov-competency" }, ...grid.competencies.map((c) => el("option", { value: c.id, text: c.title })));
  const ovStatus = el("select", { id: "ov-status" }, ...["mastered", "proficient", "needs_review", "in_progress", "not_started"].map((s) => el("option", { value: s, text: STATUS[s].label })));
  const ovReason = el("select", { id: "ov-reason" }, ...["demonstrated_elsewhere", "prior_learning", "assessment_error", "accommodation", "other"].map((s) => el("option", { value: s, text: s.replaceAll("_", " ") })));
  const ovNote = el("textarea", { id: "ov-note", rows: "2" });
  const ovMessage = el("p", { id: "ov-message", "aria-live": "polite" });
  const trail = el("div", { id: "trail" });
  async function showTrail(learner) {
    try {
      const found = await api(`/api/v1/learners/${encodeURIComponent(learner)}/overrides?framework_id=${encodeURIComponent(framework)}`);
      trail.replaceChildren(el("table", {}, el("caption", { text: `Override audit trail of ${learner}` }),
        el("thead", {}, el("tr", {}, ...["When", "Competency", "Set to", "Model said", "Reason", "Note", "By", "Active"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ...found.map((o) => el("tr", {}, ...[localTime(o.created_at), competencyTitle(o.competency_id), statusWord(o.status), statusWord(o.model_status), o.reason.replaceAll("_", " "), o.note, o.educator_name, o.active ? "yes" : `lifted by ${o.lifted_by_name}`].map((v) => el("td", { text: String(v) })))))));
    } catch (error) { fail("trail", error); }
  }
  const form = el("form", { id: "override-form" },
    el("label", { for: "ov-learner", text: "Learner id" }), ovLearner,
    el("label", { for: "ov-competency", text: "Competency" }), ovCompetency,
    el("label", { for: "ov-status", text: "Set status to" }), ovStatus,
    el("label", { for: "ov-reason", text: "Reason" }), ovReason,
    el("label", { for: "ov-note", text: "Note (why)" }), ovNote,
    el("p", {}, el("button", { type: "submit", class: "primary", text: "Apply override" })), ovMessage, learnerOptions);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`/api/v1/learners/${encodeURIComponent(ovLearner.value)}/overrides`, { method: "POST", json: {
        framework_id: framework, competency_id: ovCompetency.value, status: ovStatus.value, reason: ovReason.value, note: ovNote.value } });
      await Promise.all([showTrail(ovLearner.value), refreshGrid()]);
      ovMessage.textContent = `Override applied to ${ovLearner.value}.`;  // the grid shows it
    } catch (error) { ovMessage.textContent = "Not applied: " + error.message; }
  });

  // a learner's embed links (an LMS shows their map with one) and badges: make, stop, revoke
  const shLearner = el("input", { id: "sh-learner", required: "required", list: "cohort-learners", autocomplete: "off" });
  const shMinutes = el("select", { id: "sh-minutes" },
    ...[["60", "an hour"], ["480", "8 hours"], ["1440", "a day"]].map(([v, t]) => el("option", { value: v, text: t })));
  const shOut = el("div", { id: "sh-out", "aria-live": "polite" });
  const shLists = el("div", { id: "sh-lists" });
  async function showShared(learner) {
    const base = `/api/v1/learners/${encodeURIComponent(learner)}`;
    try {
      const [links, badges] = await Promise.all([api(`${base}/embed-links`), api(`${base}/badges`)]);
      const linkRows = links.map((l) => el("tr", {}, cell(l.id), cell(l.created_by_name), cell(localTime(l.expires_at)),
        el("td", {}, el("button", { type: "button", text: "Stop", "aria-label": `Stop link ${l.id}`, onclick: async () => {
          await api(`${base}/embed-links/${l.id}`, { method: "DELETE" });
          await showShared(learner);
          say(`Link ${l.id} stopped.`);
        } }))));
      const badgeRows = badges.map((b) => {
        const badge = `${base}/badges/${encodeURIComponent(b.framework_id)}/${encodeURIComponent(b.competency_id)}`;
        // POST badge/<what> (with a body, if any); then the lists redrawn and what was done said
        const act = async (what, json, done) => {
          try {
            await api(`${badge}/${what}`, json === undefined ? { method: "POST" } : { method: "POST", json });
            await showShared(learner);
            say(`Badge for ${b.competency_id} ${done}.`);
          } catch (error) { fail("sh-out", error); }
        };
        // a form that asks why, then acts: revoke, suspend
        const withReason = (what, button, done) => {
          const id = `${what}-${b.status_index}`;
          const reason = el("input", { id, required: "required" });
          const form = el("form", { class: "inline" }, el("label", { for: id, text: `Why ${what} ${b.competency_id}` }), reason,
            el("button", { type: "submit", text: button }));
          form.addEventListener("submit", (event) => { event.preventDefault(); act(what, { reason: reason.value }, done); });
          return form;
        };
        const reinstate = el("button", { type: "button", text: "Reinstate", "aria-label": `Reinstate ${b.competency_id}`,
          onclick: () => act("reinstate", undefined, "reinstated") });
        const actions = b.revoked ? [] : [withReason("revoke", "Revoke", "revoked"),
          b.suspended ? reinstate : withReason("suspend", "Suspend", "suspended")];
        return el("tr", {}, cell(b.competency_id), cell(localTime(b.issued_at)),
          cell(b.revoked ? `revoked ${localTime(b.revoked_at)}: ${b.reason}`
            : b.suspended ? `suspended since ${localTime(b.suspended_at)}` : "in force"), el("td", {}, ...actions));
      });
      const none = (what) => [el("tr", {}, el("td", { colspan: "4", class: "muted", text: what }))];
      shLists.replaceChildren(
        el("table", {}, el("caption", { text: `Embed links of ${learner} that still work` }), heads("Link", "Made by", "Until", ""),
          el("tbody", {}, ...(linkRows.length ? linkRows : none("None.")))),
        el("table", {}, el("caption", { text: `Badges issued to ${learner}` }), heads("Competency", "Issued", "Status", ""),
          el("tbody", {}, ...(badgeRows.length ? badgeRows : none("None yet.")))));
    } catch (error) { fail("sh-lists", error); }
  }
  const shareForm = el("form", { id: "share-form" },
    el("label", { for: "sh-learner", text: "Learner to share or check" }), shLearner,
    el("label", { for: "sh-minutes", text: "An embed link works for" }), shMinutes,
    el("p", {}, el("button", { type: "submit", class: "primary", text: "Make embed link" }), " ",
      el("button", { type: "button", id: "sh-show", text: "Show links and badges", onclick: () => shLearner.reportValidity() && showShared(shLearner.value) })),
    shOut);
  shareForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const made = await api(`/api/v1/learners/${encodeURIComponent(shLearner.value)}/embed-links`, { method: "POST",
        json: { framework_id: framework, minutes: Number(shMinutes.value) } });
      shOut.replaceChildren(el("label", { for: "sh-url", text: `Embed link ${made.id} (shown once; put it in an iframe)` }),
        el("input", { id: "sh-url", readonly: "readonly", value: made.url }));
      await showShared(shLearner.value);
    } catch (error) { fail("sh-out", error); }
  });

  // a learner's latest evidence: void a piece recorded in error, or undo a void made in error
  const evLearner = el("input", { id: "ev-learner", required: "required", list: "cohort-learners", autocomplete: "off" });
  const evList = el("div", { id: "ev-list" });
  const outcomeText = (o) => o.type === "binary" ? (o.correct ? "right" : "wrong")
    : o.type === "score" ? `score ${Math.round(o.value * 100)}%` : o.type;
  let itemTitles = null;  // the framework's items by id, fetched when first needed
  const whatOf = (e) => {
    const what = e.competency_ids.map(competencyTitle).join(", ");
    return e.item_id ? `${itemTitles[e.item_id] || e.item_id} (${what})` : what;
  };
  async function showEvidence(learner) {
    const base = `/api/v1/learners/${encodeURIComponent(learner)}`;
    try {
      if (!itemTitles) {
        const items = await api(`/api/v1/frameworks/${encodeURIComponent(framework)}/items`);
        itemTitles = Object.fromEntries(items.filter((i) => i.title).map((i) => [i.id, i.title]));
      }
      const found = await api(`/api/v1/evidence?${new URLSearchParams({ learner_id: learner, limit: "20", newest_first: "true" })}`);
      const rows = found.map((e, n) => {
        const id = `ev-reason-${n}`;
        const action = e.voided ? "Restore" : "Void";
        const reason = el("input", { id, required: "required" });
        const change = el("form", { class: "inline" },
          el("label", { for: id, text: `Why ${action.toLowerCase()} ${e.key}` }), reason,
          el("button", { type: "submit", text: action }));
        change.addEventListener("submit", async (event) => {
          event.preventDefault();
          try {
            await api(`${base}/${e.voided ? "evidence-restorations" : "evidence-voids"}`, { method: "POST", json: { key: e.key, reason: reason.value } });
            await Promise.all([showEvidence(learner), refreshGrid()]);
            say(`${e.key} ${e.voided ? "counts again" : "voided"}; ${learner}'s statuses were recomputed.`);
          } catch (error) { fail("ev-list", error); }
        });
        return el("tr", e.voided ? { class: "voided" } : {}, cell(e.key), cell(whatOf(e)),
          cell(localTime(e.timestamp)), cell(outcomeText(e.outcome)), cell(e.voided ? "voided" : "counts"), el("td", {}, change));
      });
      evList.replaceChildren(el("table", {}, el("caption", { text: `Latest evidence of ${learner}` }),
        heads("Key", "Item (competencies)", "When", "Outcome", "Status", ""),
        el("tbody", {}, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "6", class: "muted", text: "None." }))]))));
    } catch (error) { fail("ev-list", error); }
  }
  const evidenceForm = el("form", { id: "evidence-form" },
    el("label", { for: "ev-learner", text: "Learner whose evidence to check" }), evLearner,
    el("p", {}, el("button", { type: "submit", text: "Show latest evidence" })));
  evidenceForm.addEventListener("submit", (event) => { event.preventDefault(); showEvidence(evLearner.value); });

  document.getElementById("content").replaceChildren(
    el("h2", { text: "Cohort grid" }),
    el("div", { class: "controls panel" },
      el("div", {}, el("label", { for: "cohort", text: "Cohort" }), cohortSelect),
      el("div", {}, el("label", { for: "filter", text: "Filter learners" }), filter, el("span", { id: "filter-help", class: "visually-hidden", text: "Shows learners whose id contains this text" })),
      el("div", {}, el("label", { for: "status-filter", text: "With any competency" }), statusFilter),
      el("div", {}, el("label", { for: "sort", text: "Sort by" }), sort)),
    legend(), connection, el("div", { class: "count-bar" }, count, el("p", {}, csvButton, saved)), wrap,
    el("div", { class: "columns" },
      el("section", {}, el("h2", { text: "Override a status" }), el("div", { class: "panel" }, form, trail)),
      el("section", {}, el("h2", { text: "Alerts" }), alerts)),
    el("section", {}, el("h2", { text: "Rubric judgements to review" }), reviews),
    el("section", {}, el("h2", { text: "Embed links and badges" }), el("div", { class: "panel" }, shareForm, shLists)),
    el("section", {}, el("h2", { text: "Evidence recorded in error" }), el("div", { class: "panel" }, evidenceForm, evList)));
  render();
  loadAlerts();
  loadReviews();
  document.body.dataset.updated = String(Date.now());
  // live: new evidence shows within 2 seconds; a lost connection keeps the grid and tries again
  keepLive(loadGrid, { every: 2000, first: 2000, notice: connection, stop: (error) => fail("connection", error) });
}

// ---- framework page ---------------------------------------------------------------------------
async function frameworkPage() {
  logoutButton();
  if (!token()) return goLogin();
  const framework = document.body.dataset.framework;
  let map;
  try { map = await api(`/api/v1/frameworks/${encodeURIComponent(framework)}/map`); }
  catch (error) { return fail("content", error); }
  const svg = svgEl("svg", { class: "map", role: "img", "aria-label": `Prerequisite graph of ${map.title}: ${map.nodes.length} competencies` });
  drawMap(svg, map, null, null);
  const titles = Object.fromEntries(map.nodes.map((n) => [n.id, n.title]));
  const list = el("ul", {}, ...map.nodes.map((n) => el("li", { text: n.title + (n.requires.length ? " \u2013 requires " + n.requires.map((r) => titles[r] || r).join(", ") : "") })));
  const exported = el("p", { id: "export-message", "aria-live": "polite" });
  const download = (format) => downloadFile(`/api/v1/frameworks/${encodeURIComponent(framework)}/export?format=${format}`,
    `${framework}.${format === "case" ? "json" : format}`, exported, "Not exported: ");
  const file = el("input", { id: "case-file", type: "file", accept: "application/json", required: "required" });
  const message = el("p", { "aria-live": "polite" });
  const importForm = el("form", {}, el("label", { for: "case-file", text: "CASE 1.1 package (JSON)" }), file,
    el("p", {}, el("button", { type: "submit", text: "Import" })), message);
  importForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const result = await api("/api/v1/frameworks/case?replace=true", { method: "POST", json: JSON.parse(await file.files[0].text()) });
      message.textContent = `Imported ${result.id}: ${result.competencies} competencies.`;
    } catch (error) { message.textContent = "Not imported: " + error.message; }
  });
  document.getElementById("content").replaceChildren(
    el("h2", { text: map.title }),
    el("div", { class: "panel map-wrap", tabindex: "0", role: "region", "aria-label": "Prerequisite graph (scrollable)" }, svg),
    el("section", {}, el("h3", { text: "Competencies and their prerequisites" }), list),
    el("section", { class: "panel" }, el("h3", { text: "Export" }),
      ...["case", "csv", "yaml"].map((f) => el("button", { type: "button", onclick: () => download(f), text: f.toUpperCase() })), exported),
    el("section", { class: "panel" }, el("h3", { text: "Import" }), importForm));
  document.body.dataset.updated = String(Date.now());
}

// the links page (deep linking) is plain forms posted to the platform: nothing to run
// a platform that opened the registration link closes its window or frame on this message
function registrationPage() {
  if (document.body.dataset.done !== "1") return;
  const platform = window.opener || (window.parent !== window ? window.parent : null);
  if (platform) platform.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
}
const PAGES = { guardian: guardianPage, lti: ltiPage, registration: registrationPage, links: () => {}, login: loginPage, account: accountPage, admin: adminPage, learner: learnerPage, educator: educatorPage, framework: frameworkPage };
window.addEventListener("DOMContentLoaded", () => {
  takeEmbedToken();
  const page = document.body.dataset.page;
  // a first password is changed before any other page
  if (sessionStorage.getItem("mp-first") === "1" && !["login", "account"].includes(page)) location.href = "/app/account";
  else PAGES[page]();
});
