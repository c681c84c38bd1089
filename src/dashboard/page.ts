/**
 * The runs page: one HTML document with its style and script inline (the dashboard must work with no
 * network but its own server). A Content-Security-Policy pins exactly that script and style by hash and
 * allows fetches only to this origin, so nothing a run's data contains can run or call out.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const SCRIPT = readFileSync(new URL('./client.js', import.meta.url), 'utf8');

const STYLE = `
:root { --fg:#1d2330; --muted:#6b7385; --line:#e3e6ee; --bg:#f6f7fa; --card:#fff; --accent:#2f6fde; --ok:#1f8a4c; --warn:#b7791f; --bad:#c53030; --rate:#8a4fd8; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; align-items:baseline; gap:20px; padding:12px 24px; background:#151a24; color:#fff; }
header h1 { margin:0; font-size:18px; letter-spacing:.3px; }
header nav a { color:#c9d3ea; margin-right:14px; text-decoration:none; }
header nav a.active { color:#fff; border-bottom:2px solid var(--accent); }
header #updated { margin-left:auto; color:#9aa4ba; font-size:12px; }
header #updated.bad { color:#ff8a8a; }
main { padding:18px 24px; max-width:1280px; }
table { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:6px; }
th, td { text-align:left; padding:8px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; text-transform:uppercase; letter-spacing:.4px; color:var(--muted); background:#fafbfd; }
#runs tbody tr { cursor:pointer; }
#runs tbody tr:hover { background:#f3f6fc; }
#runs tbody tr.selected { background:#e9f0fd; }
td.num { text-align:right; white-space:nowrap; }
td.progress { min-width:300px; }
.run-id { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-weight:600; color:var(--accent); text-decoration:none; }
.muted { color:var(--muted); }
.small { font-size:12px; }
.big { font-size:18px; font-weight:600; }
.bad { color:var(--bad); font-weight:600; }
.bar { height:8px; background:#e8ebf2; border-radius:4px; overflow:hidden; margin:3px 0 4px; min-width:120px; }
.bar .fill { height:100%; background:var(--accent); transition:width .4s; }
.bar.budget .fill { background:var(--ok); }
.bar.over .fill { background:var(--warn); }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; background:#e8ebf2; white-space:nowrap; }
.status-running, .status-stopping { background:#dce8fd; color:#1d4fa8; }
.status-completed { background:#d7f2e2; color:#17663a; }
.status-completed_with_failures { background:#fcefd5; color:#8a5a12; }
.status-stopped_budget, .status-stopped_error { background:#fbdada; color:#9b2222; }
.status-cancelled { background:#e6e6e6; color:#555; }
.via-batch { background:#efe4fb; color:#5b2c99; margin-left:4px; } .via-batch[hidden] { display:none; }
#batches td.id { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12px; word-break:break-all; }
#batches td, #batches th { font-size:12px; padding:5px 8px; }
#empty { color:var(--muted); }
#detail { margin-top:22px; background:var(--card); border:1px solid var(--line); border-radius:6px; padding:16px 18px; }
.detail-head { display:flex; align-items:baseline; gap:12px; }
.detail-head h2 { margin:0; font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:17px; }
.detail-head a { margin-left:auto; color:var(--muted); }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(170px, 1fr)); gap:10px; margin:14px 0; }
.card { border:1px solid var(--line); border-radius:6px; padding:10px 12px; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 14px; margin:0 0 12px; font-size:12px; }
dt { color:var(--muted); } dd { margin:0; font-family:ui-monospace, SFMono-Regular, Menlo, monospace; word-break:break-all; }
figure { margin:8px 0 16px; }
figcaption { font-weight:600; margin-bottom:4px; }
#chart { width:100%; max-width:760px; height:auto; border:1px solid var(--line); border-radius:6px; background:#fff; }
#chart .grid { stroke:#eef0f5; }
#chart .axis { font-size:11px; fill:var(--muted); }
#chart .axis.cost { fill:var(--accent); } #chart .axis.rate { fill:var(--rate); }
#chart .line { fill:none; stroke-width:2; } #chart .line.cost { stroke:var(--accent); } #chart .line.rate { stroke:var(--rate); stroke-dasharray:5 3; }
#chart .dot.cost { fill:var(--accent); } #chart .dot.rate { fill:var(--rate); }
.legend { font-size:12px; color:var(--muted); } .legend .cost { color:var(--accent); } .legend .rate { color:var(--rate); }
.code-chip { display:inline-block; margin:0 8px 6px 0; padding:2px 8px; border-radius:4px; background:#fbe9e9; }
td.uri { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12px; word-break:break-all; }
h3 { margin:14px 0 8px; font-size:15px; }
#files td, #files th { font-size:12px; padding:5px 8px; }
#files td.uri { max-width:420px; }
#files a { margin-right:6px; color:var(--accent); }
.state-failed { color:var(--bad); font-weight:600; } .state-succeeded { color:var(--ok); } .state-pending { color:#1d4fa8; }
#review .review-grid { display:grid; grid-template-columns:minmax(260px, 1fr) 2fr; gap:14px; align-items:start; }
#review-list { list-style:none; margin:0; padding:0; border:1px solid var(--line); border-radius:6px; max-height:560px; overflow:auto; background:#fff; }
#review-list li { padding:6px 10px; border-bottom:1px solid var(--line); cursor:pointer; font-size:12px; }
#review-list li:hover { background:#f3f6fc; } #review-list li.selected { background:#e9f0fd; }
#review-list li .uri { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; word-break:break-all; }
.sev { display:inline-block; padding:0 6px; border-radius:8px; font-size:11px; font-weight:600; margin-right:4px; background:#e8ebf2; }
.sev-high { background:#fbdada; color:#9b2222; } .sev-medium { background:#fcefd5; color:#8a5a12; } .sev-low { background:#e6f0e9; color:#17663a; }
.decided { color:var(--muted); }
#review-file { border:1px solid var(--line); border-radius:6px; padding:10px 12px; background:#fff; }
#review-file h4 { margin:0 0 6px; font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:13px; word-break:break-all; }
#rf-player video { max-width:100%; max-height:280px; } #rf-player audio { width:100%; }
#rf-spans td { font-size:12px; }
#rf-decision { margin-top:10px; display:flex; gap:8px; align-items:center; flex-wrap:wrap; }
#rf-note { flex:1 1 100%; min-height:48px; font:inherit; }
`;

const BODY = `
<header>
  <h1>omnibatch</h1>
  <nav><a href="./" class="active">Runs</a><a href="queues">Queues</a></nav>
  <span id="updated">loading…</span>
</header>
<main>
  <table id="runs">
    <thead><tr><th>Run</th><th>Status</th><th>Progress</th><th>Media</th><th>Cost so far</th><th>Failed</th></tr></thead>
    <tbody></tbody>
  </table>
  <p id="empty" hidden>No runs yet. Start one with <code>omnibatch run &lt;source&gt; --out &lt;destination&gt; --task caption</code>.</p>
  <section id="detail" hidden>
    <div class="detail-head"><h2 id="d-title"></h2><a href="#" id="d-close">close</a></div>
    <div class="cards" id="d-cards"></div>
    <dl id="d-spec"></dl>
    <section id="d-batches" hidden>
      <h3>Batches</h3>
      <p id="batches-text" class="small"></p>
      <table id="batches">
        <thead><tr><th>Batch</th><th>Status</th><th>Requests</th><th>Age of the completion window</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <figure>
      <figcaption>Cost and throughput over time</figcaption>
      <svg id="chart" role="img" aria-label="cost and throughput over time" viewBox="0 0 760 270"></svg>
      <div class="legend"><span class="cost">━ cost so far (left axis)</span> &nbsp; <span class="rate">╍ files finished per minute (right axis)</span></div>
    </figure>
    <section id="review" hidden>
      <h3>Review queue</h3>
      <p id="review-counts" class="small"></p>
      <div class="review-grid">
        <ol id="review-list"></ol>
        <div id="review-file" hidden>
          <h4 id="rf-uri"></h4>
          <div id="rf-summary" class="small muted"></div>
          <div id="rf-player"></div>
          <table id="rf-spans">
            <thead><tr><th>Time</th><th>Category</th><th>Severity</th><th>The model's words</th><th></th></tr></thead>
            <tbody></tbody>
          </table>
          <div id="rf-decision">
            <textarea id="rf-note" maxlength="2000" placeholder="note (why)"></textarea>
            <button type="button" id="rf-confirm">Confirm flag</button>
            <button type="button" id="rf-clear">Clear</button>
            <span id="rf-status" class="small"></span>
          </div>
        </div>
      </div>
    </section>
    <h3>Files</h3>
    <table id="files">
      <thead><tr><th>Object</th><th>State</th><th>Chunks</th><th>Retries</th><th>Cost</th><th>Code</th><th>Outputs</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="files-more" class="muted small"></p>
    <h3>Failures</h3>
    <div id="d-codes"></div>
    <table id="failures" hidden>
      <thead><tr><th>Code</th><th>Object</th><th>Message</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="d-more" class="muted small"></p>
  </section>
</main>`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The page and the CSP that lets exactly its own inline script and style run. */
export function runsPage(): { html: string; csp: string } {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>omnibatch · runs</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}
<script>${SCRIPT}</script>
</body>
</html>
`;
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(SCRIPT)}`,
    `style-src ${sha256(STYLE)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    // the review page's player: the source, streamed by this dashboard
    "media-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}
