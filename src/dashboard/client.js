// The runs page's script, inlined into the page by page.ts (no bundler, no CDN, no network besides our
// own JSON). It polls api/runs every second and, when a run is open (#run=<id>), api/runs/<id>. Every
// value from the server goes into the DOM as text, never as HTML: run ids, object keys and error
// messages come from users' buckets.
'use strict';
(() => {
  const POLL_MS = 1000;
  const HIDDEN_POLL_MS = 5000;
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (sel) => document.querySelector(sel);

  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  function s(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text != null) e.textContent = text;
    return e;
  }

  const runHref = (id) => `#run=${encodeURIComponent(id)}`;
  const selectedRun = () => {
    const m = /^#run=(.+)$/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  };
  const time = (iso) => new Date(iso).toLocaleString();
  const clock = (ms) => new Date(ms).toLocaleTimeString();

  async function getJson(url) {
    const res = await fetch(url, { cache: 'no-store', headers: { accept: 'application/json' } });
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  }

  function bar(fraction, cls) {
    const outer = h('div', { class: `bar ${cls || ''}` });
    const inner = h('div', { class: 'fill' });
    inner.style.width = `${Math.max(0, Math.min(100, fraction * 100)).toFixed(1)}%`;
    outer.append(inner);
    return outer;
  }

  function setBar(outer, fraction, over) {
    outer.firstChild.style.width = `${Math.max(0, Math.min(100, fraction * 100)).toFixed(1)}%`;
    outer.classList.toggle('over', !!over);
  }

  // ---- the list -----------------------------------------------------------------------------------

  const rows = new Map();

  function makeRow(run) {
    const r = {};
    r.tr = h('tr', { 'data-run-id': run.runId, tabindex: '0' });
    r.id = h('a', { class: 'run-id', href: runHref(run.runId), text: run.runId });
    r.what = h('div', { class: 'muted small' });
    r.status = h('span', { class: 'badge' });
    r.via = h('span', { class: 'badge via-batch', text: 'via batch' });
    r.bar = bar(0);
    r.progress = h('div', { class: 'progress-text small' });
    r.media = h('span', { class: 'media' });
    r.cost = h('div', { class: 'cost-text' });
    r.budgetBar = bar(0, 'budget');
    r.budget = h('div', { class: 'budget-text muted small' });
    r.failed = h('span', { class: 'failed-count' });
    r.tr.append(
      h('td', {}, r.id, r.what),
      h('td', {}, r.status, r.via),
      h('td', { class: 'progress' }, r.bar, r.progress),
      h('td', { class: 'num' }, r.media),
      h('td', {}, r.cost, r.budgetBar, r.budget),
      h('td', { class: 'num' }, r.failed),
    );
    r.tr.addEventListener('click', (ev) => {
      if (ev.target === r.id) return; // the link itself sets the hash
      location.hash = runHref(run.runId);
    });
    r.tr.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') location.hash = runHref(run.runId);
    });
    return r;
  }

  function updateRow(r, run) {
    r.what.textContent = `${run.task} · ${run.model} · ${time(run.createdAt)} · ${run.source}`;
    r.status.textContent = run.status.replace(/_/g, ' ');
    r.status.className = `badge status-${run.status}`;
    r.via.hidden = run.via !== 'batch';
    setBar(r.bar, run.progress.fraction, false);
    r.progress.textContent = run.progress.text;
    r.media.textContent = run.media.text;
    r.cost.textContent = run.cost.text;
    r.budgetBar.hidden = !run.budget;
    r.budget.textContent = run.budget ? run.budget.text : 'no budget';
    if (run.budget) setBar(r.budgetBar, run.budget.fraction, run.budget.fraction >= 0.8);
    r.failed.textContent = String(run.files.failed);
    r.failed.classList.toggle('bad', run.files.failed > 0);
    r.tr.classList.toggle('selected', selectedRun() === run.runId);
  }

  function renderList(runs) {
    const tbody = $('#runs tbody');
    const seen = new Set();
    runs.forEach((run, i) => {
      seen.add(run.runId);
      let r = rows.get(run.runId);
      if (!r) {
        r = makeRow(run);
        rows.set(run.runId, r);
      }
      // rows are updated in place, so a click is never lost to a re-render between mousedown and mouseup
      if (tbody.children[i] !== r.tr) tbody.insertBefore(r.tr, tbody.children[i] || null);
      updateRow(r, run);
    });
    for (const [id, r] of rows) {
      if (!seen.has(id)) {
        r.tr.remove();
        rows.delete(id);
      }
    }
    $('#empty').hidden = runs.length > 0;
  }

  // ---- the chart ----------------------------------------------------------------------------------

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    // quarters of these are short numbers (0.25, 0.5, 1, 2.5): the grid has four rows
    for (const m of [1, 2, 4, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function moneyLabel(micros) {
    const units = micros / 1e6;
    const digits = units === 0 ? 0 : units >= 100 ? 0 : units >= 1 ? 2 : units >= 0.01 ? 4 : 6;
    return units.toFixed(digits);
  }

  function drawChart(svg, chart) {
    const W = 760,
      H = 270,
      L = 76,
      R = 64,
      T = 28,
      B = 30;
    svg.replaceChildren();
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const pts = chart.points;
    svg.dataset.points = String(pts.length);
    if (!pts.length) {
      svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' }, 'no samples yet'));
      return;
    }
    const t0 = chart.start;
    const t1 = Math.max(chart.end, t0 + 1000);
    const cMax = niceMax(chart.maxCostMicros);
    const rMax = niceMax(chart.maxFilesPerMin);
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const yc = (v) => H - B - (v / cMax) * (H - T - B);
    const yr = (v) => H - B - (v / rMax) * (H - T - B);
    for (let i = 0; i <= 4; i++) {
      const y = T + ((H - T - B) * i) / 4;
      svg.append(s('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'grid' }));
      svg.append(s('text', { x: L - 6, y: y + 4, 'text-anchor': 'end', class: 'axis cost' }, moneyLabel((cMax * (4 - i)) / 4)));
      svg.append(s('text', { x: W - R + 6, y: y + 4, class: 'axis rate' }, String(Number(((rMax * (4 - i)) / 4).toFixed(2)))));
    }
    svg.append(s('text', { x: L, y: 14, 'text-anchor': 'end', class: 'axis cost' }, chart.currency || 'cost'));
    svg.append(s('text', { x: W - R + 6, y: 14, class: 'axis rate' }, 'files/min'));
    svg.append(s('text', { x: L, y: H - 8, class: 'axis' }, clock(t0)));
    svg.append(s('text', { x: W - R, y: H - 8, 'text-anchor': 'end', class: 'axis' }, clock(t1)));
    const line = (fy, key, cls) => {
      const p = pts.map((pt) => `${x(pt.t).toFixed(1)},${fy(pt[key]).toFixed(1)}`).join(' ');
      svg.append(s('polyline', { points: p, class: `line ${cls}` }));
      if (pts.length <= 80) for (const pt of pts) svg.append(s('circle', { cx: x(pt.t), cy: fy(pt[key]), r: 2.5, class: `dot ${cls}` }));
    };
    line(yr, 'filesPerMin', 'rate');
    line(yc, 'costMicros', 'cost');
  }

  // ---- the detail ---------------------------------------------------------------------------------

  function renderDetail(d) {
    const section = $('#detail');
    section.hidden = false;
    if (!d) {
      $('#d-title').textContent = `Run not found: ${selectedRun()}`;
      for (const id of ['#d-cards', '#d-spec', '#d-codes']) $(id).replaceChildren();
      $('#d-batches').hidden = true;
      $('#failures tbody').replaceChildren();
      return;
    }
    const run = d.run;
    section.dataset.runId = run.runId;
    $('#d-title').textContent = run.runId;
    const status = h('span', { class: `badge status-${run.status}`, text: run.status.replace(/_/g, ' ') });
    const card = (label, ...content) => h('div', { class: 'card' }, h('div', { class: 'muted small', text: label }), ...content);
    const w = run.work;
    $('#d-cards').replaceChildren(
      card('Status', status, run.stopReason ? h('div', { class: 'small', text: `stopped: ${run.stopReason}` }) : null),
      card(
        'Progress',
        bar(run.progress.fraction),
        h('div', { class: 'small detail-progress', text: run.progress.text }),
        h('div', {
          class: 'small muted detail-work',
          text:
            w.requestsPlanned === null
              ? `${w.requestsDone} requests done`
              : `${w.requestsDone} / ${w.requestsPlanned}${w.plannedEstimated ? '~' : ''} requests`,
        }),
      ),
      card('ETA', h('div', { class: 'big detail-eta', text: w.etaText })),
      card(
        'Time',
        h('div', { class: 'small detail-started', text: `started ${time(run.times.startedAt)}` }),
        h('div', { class: 'small detail-finished', text: run.times.finishedAt ? `finished ${time(run.times.finishedAt)}` : 'running' }),
        h('div', { class: 'small detail-elapsed', text: `elapsed ${run.times.elapsedText}` }),
      ),
      card(
        run.cost.label,
        h('div', { class: 'big', text: run.cost.text }),
        run.budget ? bar(run.budget.fraction, `budget${run.budget.fraction >= 0.8 ? ' over' : ''}`) : null,
        h('div', { class: 'small muted', text: run.budget ? run.budget.text : 'no budget' }),
        d.estimate ? h('div', { class: 'small muted', text: `estimate ${d.estimate.amount}${d.estimate.currency ? ` ${d.estimate.currency}` : ''}` }) : null,
      ),
      card('Media', h('div', { class: 'big', text: run.media.text })),
      card('Requests', h('div', { class: 'big', text: String(d.requests.total) }), h('div', { class: 'small muted', text: `${d.requests.retries} retries` })),
    );
    const dl = [];
    for (const [k, v] of Object.entries(d.spec)) if (v !== null && v !== '') dl.push(h('dt', { text: k }), h('dd', { text: String(v) }));
    $('#d-spec').replaceChildren(...dl);
    renderBatches(d.batches);
    drawChart($('#chart'), d.chart);
    const f = d.failures;
    $('#d-codes').replaceChildren(
      ...(f.total
        ? f.byCode.map((c) => h('span', { class: 'code-chip' }, h('code', { text: c.code }), ` × ${c.count}`))
        : [h('span', { class: 'muted', text: 'no failures' })]),
    );
    $('#failures').hidden = f.rows.length === 0;
    $('#failures tbody').replaceChildren(
      ...f.rows.map((row) =>
        h('tr', {}, h('td', {}, h('code', { text: row.code })), h('td', { class: 'uri', text: row.uri }), h('td', { class: 'muted small', text: row.message })),
      ),
    );
    $('#d-more').textContent = f.total > f.rows.length ? `showing the first ${f.rows.length} of ${f.total} failed files` : '';
  }

  // A --via batch run's batches: the provider's id and status are its text, shown as text like everything else.
  function renderBatches(b) {
    $('#d-batches').hidden = !b;
    if (!b) return;
    $('#batches-text').textContent = b.text;
    $('#batches tbody').replaceChildren(
      ...b.rows.map((r) =>
        h(
          'tr',
          { 'data-input': String(r.input) },
          h('td', { class: 'id', text: r.batch_id === null ? `input ${r.input} (no batch yet)` : r.batch_id }),
          h('td', {}, h('span', { class: 'badge', text: r.status.replace(/_/g, ' ') })),
          h('td', { class: 'num requests', text: r.counts_text }),
          h(
            'td',
            { class: 'age' },
            r.age_s === null ? null : bar(r.age_s / r.window_s, r.age_s >= 0.8 * r.window_s ? 'over' : ''),
            h('div', { class: 'small', text: r.age_text === null ? '-' : r.age_text }),
          ),
        ),
      ),
    );
  }

  // ---- the run's files ----------------------------------------------------------------------------

  const FILES_EVERY_MS = 3000;
  const filesSeen = { runId: null, at: 0 };

  function renderFiles(r) {
    $('#files tbody').replaceChildren(
      ...r.rows.map((f) =>
        h(
          'tr',
          { 'data-file-id': f.fileId },
          h('td', { class: 'uri', text: f.uri }),
          h('td', { class: `state-${f.status}`, text: f.status.replace(/_/g, ' ') }),
          h('td', { class: 'num', text: `${f.chunks.done ?? '-'} / ${f.chunks.planned ?? '?'}` }),
          h('td', { class: 'num', text: f.retries === null ? '-' : String(f.retries) }),
          h('td', { class: 'num', text: f.cost.text }),
          h('td', {}, f.code ? h('code', { text: f.code }) : null),
          h('td', {}, ...f.outputs.map((o) => h('a', { href: o.href, target: '_blank', rel: 'noopener', text: o.name }))),
        ),
      ),
    );
    $('#files-more').textContent = r.total > r.rows.length ? `showing ${r.rows.length} of ${r.total} files` : `${r.total} files`;
  }

  async function refreshFiles(runId, force) {
    if (!force && filesSeen.runId === runId && Date.now() - filesSeen.at < FILES_EVERY_MS) return;
    filesSeen.runId = runId;
    filesSeen.at = Date.now();
    const r = await getJson(`api/runs/${encodeURIComponent(runId)}/files?limit=200`);
    if (r) renderFiles(r);
  }

  // ---- the moderation review queue ----------------------------------------------------------------

  const review = { runId: null, fileId: null, at: 0, file: null };

  function sevChip(s) {
    return h('span', { class: `sev sev-${s || 'none'}`, text: s || 'none' });
  }

  function stamp(sec) {
    const t = Math.max(0, Math.floor(sec));
    return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
  }

  function countsText(c) {
    const sev = ['high', 'medium', 'low'].filter((k) => c.by_severity[k]).map((k) => `${c.by_severity[k]} ${k}`);
    return [
      `${c.by_verdict.flagged} flagged${sev.length ? ` (${sev.join(', ')})` : ''}`,
      c.by_verdict.provider_blocked ? `${c.by_verdict.provider_blocked} refused by the provider` : null,
      `${c.by_verdict.clear} clear`,
      `${c.needs_review} need review`,
      `${c.decisions.confirmed} confirmed`,
      `${c.decisions.cleared} cleared`,
      `${c.decisions.pending} to decide`,
    ]
      .filter(Boolean)
      .join(' · ');
  }

  function renderQueue(q) {
    $('#review').hidden = false;
    $('#review-counts').textContent = countsText(q.counts);
    $('#review-list').replaceChildren(
      ...q.files.map((f) => {
        const m = f.moderation;
        const li = h(
          'li',
          { 'data-file-id': f.fileId, class: f.fileId === review.fileId ? 'selected' : '' },
          sevChip(m.max_severity),
          h('span', { class: 'small', text: `${m.verdict.replace(/_/g, ' ')}${m.needs_review ? ' · needs review' : ''} · ${m.categories.join(', ') || '-'}` }),
          f.review ? h('span', { class: 'decided small', text: ` · ${f.review.decision === 'confirm' ? 'confirmed' : 'cleared'}` }) : null,
          h('div', { class: 'uri', text: f.uri }),
        );
        li.addEventListener('click', () => openReviewFile(q.runId, f.fileId));
        return li;
      }),
    );
    $('#rf-confirm').disabled = !q.allowActions;
    $('#rf-clear').disabled = !q.allowActions;
    if (!q.allowActions) $('#rf-status').textContent = 'read-only: start the dashboard with --allow-actions to record decisions';
  }

  async function refreshQueue(runId, force) {
    if (!force && review.runId === runId && Date.now() - review.at < FILES_EVERY_MS) return;
    if (review.runId !== runId) {
      review.fileId = null;
      $('#review-file').hidden = true;
    }
    review.runId = runId;
    review.at = Date.now();
    const q = await getJson(`api/runs/${encodeURIComponent(runId)}/review?limit=200`);
    if (q) renderQueue(q);
  }

  function playAt(seconds) {
    const player = $('#rf-player').firstChild;
    if (!player) return;
    const go = () => {
      player.currentTime = seconds;
      player.play().catch(() => undefined);
    };
    // the media's metadata first: a seek before it is lost
    if (player.readyState >= 1) go();
    else player.addEventListener('loadedmetadata', go, { once: true });
  }

  function renderReviewFile(d) {
    review.file = d;
    $('#review-file').hidden = false;
    $('#review-file').dataset.fileId = d.fileId;
    $('#rf-uri').textContent = d.uri;
    const v = d.verdict;
    $('#rf-summary').textContent = v ? v.summary : `no verdict (${d.status})`;
    const player = h(d.video ? 'video' : 'audio', { controls: '', preload: 'metadata', src: d.media });
    $('#rf-player').replaceChildren(player);
    const sev = new Map((v ? v.categories : []).map((c) => [c.name, c.severity]));
    const spans = v ? v.segments : d.moderation ? d.moderation.spans : [];
    $('#rf-spans tbody').replaceChildren(
      ...spans.map((s, i) => {
        const play = h('button', { type: 'button', class: 'play-span', 'data-span': String(i), 'data-start': String(s.start_s), text: '▶ play' });
        play.addEventListener('click', () => playAt(s.start_s));
        return h(
          'tr',
          {},
          h('td', { class: 'num', text: `${stamp(s.start_s)}–${stamp(s.end_s)}` }),
          h('td', { text: s.category }),
          h('td', {}, sevChip(sev.get(s.category) || s.severity || 'low')),
          h('td', { class: 'small', text: s.evidence }),
          h('td', {}, play),
        );
      }),
    );
    $('#rf-note').value = d.review ? d.review.note : '';
    $('#rf-status').textContent = d.review ? `decided: ${d.review.decision} (${time(d.review.decided_at)})` : '';
  }

  async function openReviewFile(runId, fileId) {
    review.fileId = fileId;
    for (const li of document.querySelectorAll('#review-list li')) li.classList.toggle('selected', li.dataset.fileId === fileId);
    const d = await getJson(`api/runs/${encodeURIComponent(runId)}/files/${encodeURIComponent(fileId)}/verdict`);
    if (d) renderReviewFile(d);
  }

  async function decide(decision) {
    const d = review.file;
    if (!d || !review.runId) return;
    $('#rf-status').textContent = 'saving…';
    try {
      const res = await fetch(`api/runs/${encodeURIComponent(review.runId)}/files/${encodeURIComponent(d.fileId)}/review`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ decision, note: $('#rf-note').value }),
      });
      const body = await res.json();
      if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`);
      $('#rf-status').textContent = `decided: ${body.decision} (${time(body.decided_at)})`;
      $('#review-file').dataset.decided = body.decision;
      await refreshQueue(review.runId, true);
    } catch (err) {
      $('#rf-status').textContent = `not saved: ${err.message}`;
    }
  }
  $('#rf-confirm').addEventListener('click', () => decide('confirm'));
  $('#rf-clear').addEventListener('click', () => decide('clear'));

  // ---- polling ------------------------------------------------------------------------------------

  // One poll at a time: a hash change during a poll asks for another right after it, instead of
  // starting a second loop.
  let timer = null;
  let busy = false;
  let again = false;
  async function tick() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    clearTimeout(timer);
    try {
      const list = await getJson('api/runs');
      renderList(list.runs);
      const id = selectedRun();
      if (id) {
        const d = await getJson(`api/runs/${encodeURIComponent(id)}`);
        renderDetail(d);
        if (d) {
          await refreshFiles(id, false);
          if (d.spec.task === 'moderate') await refreshQueue(id, false);
          else $('#review').hidden = true;
        }
      } else $('#detail').hidden = true;
      $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
      $('#updated').classList.remove('bad');
    } catch (err) {
      $('#updated').textContent = `cannot reach the dashboard server (${err.message}), retrying`;
      $('#updated').classList.add('bad');
    } finally {
      busy = false;
      if (again) {
        again = false;
        tick();
      } else {
        timer = setTimeout(tick, document.hidden ? HIDDEN_POLL_MS : POLL_MS);
      }
    }
  }

  window.addEventListener('hashchange', () => {
    for (const r of rows.values()) r.tr.classList.toggle('selected', selectedRun() === r.tr.dataset.runId);
    tick();
  });
  $('#d-close').addEventListener('click', (ev) => {
    ev.preventDefault();
    history.pushState(null, '', location.pathname + location.search);
    $('#detail').hidden = true;
    for (const r of rows.values()) r.tr.classList.remove('selected');
  });
  tick();
})();
