// The evaluation table of a report page: the ledger is embedded as JSON (`#ledger`), shown a
// page at a time; a header click sorts by that column (numbers as numbers, blanks last), the
// filter keeps the rows with a cell containing its text. The view lives in the address
// (`#sort=COLUMN:asc|desc&page=N&filter=TEXT`), so a sorted page can be linked to. A page
// served by `archforge serve` (`data-live` on the body) asks for the rows added since it
// loaded, and again after each answer, while the run is going; the server answers when a new
// row is recorded.
(function () {
  "use strict";
  const PAGE = 50;
  const ledger = JSON.parse(document.getElementById("ledger").textContent);
  const columns = ledger.columns;
  const rows = ledger.rows;
  const table = document.getElementById("evaluations");
  const body = table.tBodies[0];
  const info = document.getElementById("page-info");
  const filterBox = document.getElementById("filter");
  let view = [];
  const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

  function readState() {
    const state = { column: -1, desc: false, page: 0, filter: "" };
    for (const part of location.hash.replace(/^#/, "").split("&")) {
      const eq = part.indexOf("=");
      if (eq < 0) continue;
      const key = part.slice(0, eq);
      const value = decodeURIComponent(part.slice(eq + 1));
      if (key === "sort") {
        const colon = value.lastIndexOf(":");
        const name = colon < 0 ? value : value.slice(0, colon);
        state.column = columns.indexOf(name);
        state.desc = colon >= 0 && value.slice(colon + 1) === "desc";
      } else if (key === "page") {
        state.page = Math.max(0, (parseInt(value, 10) || 1) - 1);
      } else if (key === "filter") {
        state.filter = value;
      }
    }
    return state;
  }

  function writeState(state) {
    const parts = [];
    if (state.column >= 0) {
      parts.push("sort=" + encodeURIComponent(columns[state.column]) + ":" + (state.desc ? "desc" : "asc"));
    }
    if (state.filter) parts.push("filter=" + encodeURIComponent(state.filter));
    if (state.page > 0) parts.push("page=" + (state.page + 1));
    location.hash = parts.join("&");
  }

  // The rows' order under `state`: filtered, then sorted (stably, by original position).
  function order(state) {
    let kept = [];
    const needle = state.filter.toLowerCase();
    for (let i = 0; i < rows.length; i++) {
      if (!needle || rows[i].some((cell) => cell.toLowerCase().includes(needle))) kept.push(i);
    }
    const c = state.column;
    if (c >= 0) {
      const numeric = kept.every((i) => rows[i][c] === "" || NUMBER.test(rows[i][c]));
      const key = numeric
        ? (i) => (rows[i][c] === "" ? NaN : parseFloat(rows[i][c]))
        : (i) => rows[i][c];
      const keys = new Array(rows.length);
      for (const i of kept) keys[i] = key(i);
      const sign = state.desc ? -1 : 1;
      kept.sort((a, b) => {
        const x = keys[a], y = keys[b];
        const blankX = numeric ? Number.isNaN(x) : x === "";
        const blankY = numeric ? Number.isNaN(y) : y === "";
        if (blankX !== blankY) return blankX ? 1 : -1;
        if (!blankX && x !== y) return (x < y ? -1 : 1) * sign;
        return a - b;
      });
    }
    return kept;
  }

  // The last order computed, and for what: paging reuses it instead of sorting again.
  let ordered = { key: null, view: [] };

  function render() {
    const state = readState();
    const key = [state.column, state.desc, state.filter, rows.length].join("\u0000");
    if (ordered.key !== key) ordered = { key, view: order(state) };
    view = ordered.view;
    const pages = Math.max(1, Math.ceil(view.length / PAGE));
    const page = Math.min(state.page, pages - 1);
    const fragment = document.createDocumentFragment();
    for (const i of view.slice(page * PAGE, (page + 1) * PAGE)) {
      const tr = document.createElement("tr");
      for (const cell of rows[i]) {
        const td = document.createElement("td");
        td.textContent = cell;
        tr.appendChild(td);
      }
      fragment.appendChild(tr);
    }
    body.replaceChildren(fragment);
    for (const [j, th] of Array.from(table.tHead.rows[0].cells).entries()) {
      th.setAttribute("aria-sort", j === state.column ? (state.desc ? "descending" : "ascending") : "none");
    }
    const first = view.length === 0 ? 0 : page * PAGE + 1;
    info.textContent = "rows " + first + "–" + Math.min(view.length, (page + 1) * PAGE) +
      " of " + view.length + " (page " + (page + 1) + " of " + pages + ")";
    if (filterBox.value !== state.filter) filterBox.value = state.filter;
  }

  for (const [j, th] of Array.from(table.tHead.rows[0].cells).entries()) {
    th.addEventListener("click", () => {
      const state = readState();
      state.desc = state.column === j ? !state.desc : false;
      state.column = j;
      state.page = 0;
      writeState(state);
    });
  }
  function step(by) {
    const state = readState();
    const pages = Math.max(1, Math.ceil(view.length / PAGE));
    state.page = Math.min(pages - 1, Math.max(0, state.page + by));
    writeState(state);
  }
  document.getElementById("previous").addEventListener("click", () => step(-1));
  document.getElementById("next").addEventListener("click", () => step(1));
  filterBox.addEventListener("change", () => {
    const state = readState();
    state.filter = filterBox.value;
    state.page = 0;
    writeState(state);
  });
  window.addEventListener("hashchange", render);
  render();

  const live = document.body.dataset.live;
  if (live) {
    const status = document.getElementById("live");
    const poll = () => {
      fetch(live + "?after=" + rows.length)
        .then((response) => response.json())
        .then((added) => {
          if (added.rows.length > 0) {
            rows.push(...added.rows);
            render();
          }
          status.textContent = "live: " + rows.length + " rows, " + added.status;
          // The server holds the answer until a row comes; a run that ended has no more.
          if (added.status === "running") setTimeout(poll, 200);
        })
        .catch(() => {
          status.textContent = "live: the server does not answer";
          setTimeout(poll, 2000);
        });
    };
    poll();
  }
})();
