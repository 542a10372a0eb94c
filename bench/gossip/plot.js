// Draws bench/gossip/swim.svg from bench/out/gossip-swim.json (written by swim.js):
// dissemination rounds, detection time (all members) and per-member load against N on a
// log axis, next to SWIM's expectations (2·log2 N rounds; the suspicion bounds).
// Usage: node bench/gossip/plot.js
import { readFileSync, writeFileSync } from 'node:fs';

export function plotSvg(results) {
  const W = 720;
  const H = 300;
  const panels = [
    {
      title: 'dissemination (gossip rounds)',
      y: (r) => r.rounds,
      ref: (r) => 2 * Math.log2(r.n),
      refName: '2·log2 N target',
    },
    {
      title: 'detection by all members (s)',
      y: (r) => r.all / 1000,
      ref: (r) => (6 * r.suspicionMin) / 1000,
      refName: 'max suspicion timeout',
    },
    {
      title: 'load (packets/s per member)',
      y: (r) => r.load,
      ref: () => 2,
      refName: 'SWIM: constant',
    },
  ];
  const pw = W / panels.length;
  const xs = results.map((r) => Math.log10(r.n));
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`;
  svg += `<rect width="${W}" height="${H}" fill="white"/>`;
  panels.forEach((p, i) => {
    const left = i * pw + 40;
    const right = (i + 1) * pw - 10;
    const top = 30;
    const bottom = H - 40;
    const vals = results.flatMap((r) => [p.y(r), p.ref(r)]);
    const ymax = Math.max(...vals) * 1.1 || 1;
    const X = (n) => left + ((Math.log10(n) - x0) / (x1 - x0)) * (right - left);
    const Y = (v) => bottom - (v / ymax) * (bottom - top);
    svg += `<text x="${left}" y="18" font-weight="bold">${p.title}</text>`;
    svg += `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="black"/>`;
    svg += `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="black"/>`;
    svg += `<text x="${left - 4}" y="${top + 4}" text-anchor="end">${ymax.toFixed(1)}</text>`;
    svg += `<text x="${left - 4}" y="${bottom}" text-anchor="end">0</text>`;
    for (const r of results)
      svg += `<text x="${X(r.n)}" y="${bottom + 14}" text-anchor="middle">${r.n}</text>`;
    svg += `<text x="${(left + right) / 2}" y="${bottom + 28}" text-anchor="middle">members (log scale)</text>`;
    const line = (f, color, dash) =>
      `<polyline fill="none" stroke="${color}" stroke-width="2"${dash ? ' stroke-dasharray="4 3"' : ''} points="${results.map((r) => `${X(r.n).toFixed(1)},${Y(f(r)).toFixed(1)}`).join(' ')}"/>` +
      results
        .map(
          (r) =>
            `<circle cx="${X(r.n).toFixed(1)}" cy="${Y(f(r)).toFixed(1)}" r="3" fill="${color}"/>`,
        )
        .join('');
    svg += line(p.ref, '#999', true) + line(p.y, '#c33', false);
    svg += `<text x="${right}" y="${top + 12}" text-anchor="end" fill="#c33">ghostnet</text>`;
    svg += `<text x="${right}" y="${top + 26}" text-anchor="end" fill="#999">${p.refName}</text>`;
  });
  return `${svg}</svg>\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = JSON.parse(
    readFileSync(new URL('../out/gossip-swim.json', import.meta.url), 'utf8'),
  );
  writeFileSync(new URL('./swim.svg', import.meta.url), plotSvg(results));
  console.log('wrote bench/gossip/swim.svg');
}
