// bench:lab's picture: for each mode a panel, for each metric a group of bars,
// eth1 beside ring0 (and transparent when measured), each bar's length relative to
// the longest in its group, its value written at its end. Plain string
// templating, no dependency. Pure: test/unit/bench-report.test.ts.
import { PATHS, fmt, metricRows } from './report.mjs';

export const COLORS = { eth1: '#8c8c8c', ring0: '#1f6fb4', transparent: '#2e9d4a' };

const BAR_H = 11;
const LABEL_W = 250;
const BAR_W = 230;
const PANEL_W = LABEL_W + BAR_W + 90;
const TOP = 70;

export function escapeXml(s) {
  return String(s).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]);
}

function panel(mode, x0) {
  const rows = metricRows(mode);
  const paths = PATHS.filter(({ key }) => mode.paths[key]);
  const groupH = paths.length * BAR_H + 10;
  const out = [`<text x="${x0}" y="${TOP - 14}" class="h">${escapeXml(mode.mode)} mode</text>`];
  out.push(`<text x="${x0}" y="${TOP}" class="s">what the guests see (TCG distorts it: their copies are emulated)</text>`);
  let y = TOP + 10;
  let hostHeading = false;
  for (const { metric, values } of rows) {
    if (metric.host && !hostHeading) {
      hostHeading = true;
      y += 8;
      out.push(`<text x="${x0}" y="${y + 4}" class="s">the host's work outside the vCPUs, lower is better (QEMU's own work runs natively under TCG)</text>`);
      y += 14;
    }
    const max = Math.max(0, ...paths.map(({ key }) => values[key]).filter(Number.isFinite));
    const label = `${metric.label}${metric.unit ? `, ${metric.unit}` : ''}`;
    out.push(`<text x="${x0}" y="${y + (paths.length * BAR_H) / 2 + 4}" class="l">${escapeXml(label)}</text>`);
    paths.forEach(({ key }, i) => {
      const v = values[key];
      const w = Number.isFinite(v) && max > 0 ? Math.max(1, (v / max) * BAR_W) : 0;
      const by = y + i * BAR_H;
      out.push(
        `<rect x="${x0 + LABEL_W}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H - 2}" fill="${COLORS[key]}"><title>${escapeXml(`${key}: ${fmt(v)}`)}</title></rect>`,
        `<text x="${(x0 + LABEL_W + w + 4).toFixed(1)}" y="${by + BAR_H - 3}" class="v">${escapeXml(fmt(v))}</text>`,
      );
    });
    y += groupH;
  }
  return { svg: out.join('\n'), height: y };
}

/** The whole picture for results: { modes: [{ mode, paths }], seconds, date, accel }. */
export function renderSvg(results) {
  const panels = results.modes.map((m, i) => panel(m, 20 + i * PANEL_W));
  const width = 20 + results.modes.length * PANEL_W;
  const height = Math.max(...panels.map((p) => p.height)) + 20;
  const legend = PATHS.filter(({ key }) => results.modes.some((m) => m.paths[key]))
    .map(({ key, label }, i) => {
      const x = width - 330 + i * 105;
      return `<rect x="${x}" y="12" width="12" height="12" fill="${COLORS[key]}"/><text x="${x + 16}" y="22" class="l">${escapeXml(label)}</text>`;
    })
    .join('\n');
  const title = `bench:lab: ring0 beside eth1 between two guests (${results.accel ?? 'QEMU'}, ${results.seconds} s runs, ${String(results.date).slice(0, 10)})`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<style>.h{font-size:15px;font-weight:bold}.l{font-size:11px}.v{font-size:10px;fill:#333}.s{font-size:11px;font-style:italic;fill:#555}.t{font-size:13px}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="20" y="22" class="t">${escapeXml(title)}</text>
${legend}
${panels.map((p) => p.svg).join('\n')}
</svg>
`;
}
