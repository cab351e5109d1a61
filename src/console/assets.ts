/**
 * The console's stylesheet and script, served by the Worker at /admin/assets/console.css and
 * /admin/assets/console.js: static strings in the bundle, no build step. Every page works without
 * the script; it only adds "select all" checkboxes and a confirmation before forms that change
 * things (`data-confirm`).
 */

export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #ffffff; --panel: #f5f7fa; --line: #d8dde6;
  --accent: #2457c5; --ok: #1f7a3a; --warn: #a35b00; --bad: #b3261e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #a0a8b8; --bg: #14171d; --panel: #1c2028; --line: #2f3541;
  --accent: #7aa2ff; --ok: #5fcf80; --warn: #f0a640; --bad: #ff7b72; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.5rem; padding: 0.6rem 1.25rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top .brand { font-weight: 600; }
nav.main ul { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; list-style: none; margin: 0; padding: 0; }
nav.main a { color: var(--fg); text-decoration: none; padding: 0.2rem 0; border-bottom: 2px solid transparent; }
nav.main a[aria-current="page"] { border-bottom-color: var(--accent); font-weight: 600; }
header.top .who { margin-left: auto; display: flex; align-items: center; gap: 0.75rem; color: var(--muted); }
main { padding: 1rem 1.25rem 3rem; max-width: 80rem; }
h1 { font-size: 1.4rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
a { color: var(--accent); }
.notice { padding: 0.5rem 0.75rem; border-left: 4px solid var(--accent); background: var(--panel); }
.error { padding: 0.5rem 0.75rem; border-left: 4px solid var(--bad); background: var(--panel); }
.muted, .hint { color: var(--muted); }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); grid-auto-flow: dense; gap: 1rem; }
section.panel { border: 1px solid var(--line); border-radius: 6px; padding: 0.75rem 1rem; background: var(--bg); min-width: 0; }
section.panel h2 { margin-top: 0; }
section.wide { grid-column: 1 / -1; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
/* Long ids and URLs wrap inside their cell instead of pushing the table past its panel or the page. */
td { overflow-wrap: anywhere; }
th { font-weight: 600; color: var(--muted); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.big { font-size: 1.8rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.status-ok, .status-applied, .status-completed, .status-delivered { color: var(--ok); }
.status-error, .status-failed, .status-dead_lettered, .status-rejected, .status-guard_tripped { color: var(--bad); }
.status-held, .status-quarantined, .status-running, .status-pending, .status-not_configured, .status-not_checked { color: var(--warn); }
form.inline { display: inline; }
button, input, select { font: inherit; }
button { padding: 0.3rem 0.8rem; border: 1px solid var(--line); border-radius: 4px; background: var(--panel); color: var(--fg); cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.link { border: none; background: none; color: var(--accent); padding: 0; text-decoration: underline; }
form.sign-in { max-width: 24rem; display: grid; gap: 0.6rem; }
form.sign-in input { padding: 0.4rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
figure.chart { margin: 0; }
figure.chart svg { width: 100%; height: auto; max-height: 16rem; }
.legend { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; list-style: none; padding: 0; margin: 0.25rem 0; font-size: 0.9em; }
.legend .swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; vertical-align: -0.05em; }
.swatch-applied { background: #2e8b57; } .swatch-ignored { background: #9aa5b1; } .swatch-failed { background: #d9822b; }
.swatch-dead_lettered { background: #c0392b; } .swatch-held { background: #8e6bbf; } .swatch-quarantined { background: #b8860b; } .swatch-rejected { background: #6d4c41; }
details.data summary { cursor: pointer; color: var(--muted); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

export const CONSOLE_JS = `
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // <input type="checkbox" data-select-all="id">: checks or clears every checkbox named "id" in its form.
  document.querySelectorAll("input[data-select-all]").forEach(function (toggle) {
    toggle.hidden = false;
    var label = toggle.closest("label");
    if (label) label.hidden = false;
    toggle.addEventListener("change", function () {
      var form = toggle.form;
      if (!form) return;
      form.querySelectorAll('input[type="checkbox"][name="' + toggle.getAttribute("data-select-all") + '"]').forEach(function (box) {
        box.checked = toggle.checked;
      });
    });
  });
  // <form data-confirm="…">: asks before submitting.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
});
`;
