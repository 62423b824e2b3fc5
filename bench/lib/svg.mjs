// Renders the results JSON as one hand-written SVG: replication lag per scenario (p50, p99, max,
// on a log scale, with the 250 ms goal; walship and Litestream side by side), and each headline ratio or figure against its goal.

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const fmt = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x >= 100 ? x.toFixed(0) : x.toFixed(d));

export function renderSvg(results) {
  const W = 900;
  const out = [];
  const text = (x, y, s, attrs = '') => out.push(`<text x="${x}" y="${y}" ${attrs}>${esc(s)}</text>`);
  const title = `walship benchmark — ${results.mode} run, ${results.date}`;

  // Panel 1: lag per scenario.
  const arms = Object.values(results.compare?.arms ?? {}).filter((a) => a.lagMs);
  const scen = [
    ...arms.map((a) => ({ label: `${a.label}, ${results.compare.rate} tx/s`, lagMs: a.lagMs })),
    ...(results.lag?.scenarios ?? []).map((s) => ({ label: `walship ${s.rate} tx/s, sync-interval ${s.syncInterval}`, lagMs: s.lagMs })),
  ];
  const p1Top = 60;
  const rowH = 44;
  const p1H = Math.max(1, scen.length) * rowH + 50;
  const x0 = 300;
  const x1 = W - 40;
  const lo = 1;
  const hi = 100_000;
  const xs = (ms) => x0 + ((Math.log10(Math.min(hi, Math.max(lo, ms))) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (x1 - x0);
  text(20, p1Top - 14, 'Replication lag: commit → LTX renamed on the SFTP replica (ms, log scale)', 'font-weight="bold"');
  for (const t of [1, 10, 100, 1000, 10_000, 100_000]) {
    out.push(`<line x1="${xs(t)}" y1="${p1Top}" x2="${xs(t)}" y2="${p1Top + p1H - 40}" stroke="#ddd"/>`);
    text(xs(t), p1Top + p1H - 24, t >= 1000 ? `${t / 1000}s` : `${t}ms`, 'text-anchor="middle" font-size="11" fill="#666"');
  }
  out.push(`<line x1="${xs(250)}" y1="${p1Top}" x2="${xs(250)}" y2="${p1Top + p1H - 40}" stroke="#c00" stroke-dasharray="4 3"/>`);
  text(xs(250) + 4, p1Top + 10, 'goal p99 ≤ 250 ms', 'font-size="11" fill="#c00"');
  scen.forEach((s, i) => {
    const y = p1Top + 8 + i * rowH;
    text(20, y + 18, s.label, 'font-size="12"');
    const bars = [
      ['p50', s.lagMs.p50, '#4a90d9'],
      ['p99', s.lagMs.p99, '#f5a623'],
      ['max', s.lagMs.max, '#999'],
    ];
    bars.forEach(([label, v, color], j) => {
      const by = y + j * 11;
      const w = Number.isFinite(v) ? Math.max(1, xs(v) - x0) : 0;
      out.push(`<rect x="${x0}" y="${by}" width="${w}" height="9" fill="${color}"/>`);
      text(x0 + w + 4, by + 8, `${label} ${fmt(v)}`, 'font-size="10"');
    });
  });

  // Panel 2: headline figures against goals.
  const h = results.headline ?? {};
  const rows = [
    ['CPU walship 1s / Litestream default', h.cpu_ratio_default, 1.0, 'le', 2],
    ['CPU walship 0s / Litestream fast', h.cpu_ratio_fast, 2.0, 'le', 4],
    ['level-0 files walship 1s / Litestream', h.files_ratio_default, 1.0, 'le', 2],
    ['peak RSS walship / Litestream', h.rss_ratio, 1.5, 'le', 3],
    ['app commit p99 with / without walship', h.commit_p99_ratio, 1.1, 'le', 2],
    ['bulk time walship / Litestream', h.bulk_time_ratio_vs_litestream, 1.0, 'le', 2],
    ['restore time walship / Litestream', h.restore_time_ratio_vs_litestream, 1.0, 'le', 2],
    ['restore time walship / raw sftp get', h.restore_ratio, 1.5, 'le', 2],
    ['idle CPU s per minute', h.idle_cpu_s_per_min, 0.1, 'le', 1],
  ];

  const p2Top = p1Top + p1H + 40;
  const bx0 = 300;
  const bx1 = W - 120;
  text(20, p2Top - 14, 'Headline figures (bar) against goals (red mark)', 'font-weight="bold"');
  rows.forEach(([label, v, goal, dir, scaleMax], i) => {
    const y = p2Top + i * 30;
    const max = Math.max(scaleMax, goal * 1.5, Number.isFinite(v) ? v * 1.05 : 0) || 1;
    const sx = (x) => bx0 + (Math.max(0, x) / max) * (bx1 - bx0);
    const ok = Number.isFinite(v) && (dir === 'le' ? v <= goal : v >= goal);
    text(20, y + 14, label, 'font-size="13"');
    out.push(`<rect x="${bx0}" y="${y + 3}" width="${bx1 - bx0}" height="14" fill="#f3f3f3"/>`);
    if (Number.isFinite(v)) out.push(`<rect x="${bx0}" y="${y + 3}" width="${Math.max(1, sx(v) - bx0)}" height="14" fill="${ok ? '#5cb85c' : '#d9534f'}"/>`);
    out.push(`<line x1="${sx(goal)}" y1="${y}" x2="${sx(goal)}" y2="${y + 20}" stroke="#c00" stroke-width="2"/>`);
    text(bx1 + 8, y + 14, `${fmt(v, 2)} (goal ${dir === 'le' ? '≤' : '≥'} ${goal}) ${ok ? '✓' : '✗'}`, 'font-size="12"');
  });
  const H = p2Top + rows.length * 30 + 30;
  text(20, H - 10, results.machine ?? '', 'font-size="10" fill="#888"');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="20" y="28" font-size="18" font-weight="bold">${esc(title)}</text>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
