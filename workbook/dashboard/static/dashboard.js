"use strict";
// Polls the progress JSON every second and redraws the board. Text goes in with textContent only:
// names come from the hub, but nothing a learner controls is ever parsed as HTML.
(function () {
  const config = JSON.parse(document.getElementById("config").textContent);
  const MARK = { "passing": "✔", "failing": "✘", "not attempted": "–" };
  const el = (tag, attrs, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const clock = (t) => t ? new Date(t * 1000).toLocaleTimeString() : "never";
  const ago = (s) => s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;

  function draw(data) {
    const board = document.getElementById("board");
    const head = el("tr");
    head.append(el("th", { "class": "learner" }, "learner"));
    for (const ex of data.exercises) head.append(el("th", {}, ex));
    head.append(el("th", {}, "last check"));
    board.tHead.replaceChildren(head);
    const rows = data.learners.map((learner) => {
      const tr = el("tr", { "data-learner": learner.name });
      tr.append(el("td", { "class": "learner" }, learner.name));
      for (const ex of data.exercises) {
        const cell = learner.cells[ex];
        const cls = cell.state.replace(" ", "-");
        const title = cell.at ? `${ex}: ${cell.state}, last checked ${clock(cell.at)}` +
          (cell.total ? ` (${cell.passed}/${cell.total} checks)` : "") : `${ex}: not checked yet`;
        tr.append(el("td", { "class": cls, "data-exercise": ex, "data-state": cell.state, "title": title },
          MARK[cell.state] || "?"));
      }
      tr.append(el("td", { "class": "when" }, clock(learner.last_at)));
      return tr;
    });
    board.tBodies[0].replaceChildren(...rows);
    const foot = el("tr");
    foot.append(el("td", { "class": "learner" }, "pass rate"));
    for (const ex of data.exercises) {
      const r = data.pass_rate[ex];
      foot.append(el("td", { "data-exercise": ex, "title": `${r.passing} of ${r.learners} learners` },
        `${Math.round(r.rate * 100)}%`));
    }
    foot.append(el("td"));
    board.tFoot.replaceChildren(foot);
    const stuck = data.failing_longest.slice(0, 10).map((s) =>
      el("li", { "data-learner": s.learner }, `${s.learner} — ${s.exercise}, failing for ${ago(s.seconds)}`));
    document.getElementById("stuck").replaceChildren(...(stuck.length ? stuck : [el("li", {}, "nobody")]));
    const updated = document.getElementById("updated");
    updated.textContent = `updated ${clock(data.generated_at)}`;
    updated.className = "";
  }

  async function poll() {
    try {
      const got = await fetch(config.progress, { credentials: "same-origin", cache: "no-store" });
      if (!got.ok) throw new Error(`the service answered ${got.status}`);
      draw(await got.json());
    } catch (err) {
      const note = document.getElementById("updated");
      note.textContent = `not updated: ${err.message}`;
      note.className = "error";
    } finally {
      setTimeout(poll, config.interval_ms);
    }
  }
  poll();
})();
