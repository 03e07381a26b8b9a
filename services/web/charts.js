// The explorer's line charts (a lot's temperature readings against its storage range, an
// organisation's KPIs by month) drawn in SVG, as the lineage graph is. Chart.js cost a cold lot page
// about 200 kB of script to compile and a first chart of 100–150 ms on the page's main thread (a
// Chromium trace at load 3), for a dozen points; these charts take a few milliseconds
// (docs/adr/0041-charts-in-svg.md). The values are also in the tables beside each chart.

const SVG = "http://www.w3.org/2000/svg";
const MARGIN = { top: 26, right: 12, bottom: 30, left: 46 };
const FONT = 11;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  node.append(...children);
  return node;
}

/** About `count` round tick values covering [min, max]; pure. */
export function ticks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    min -= 1;
    max += 1;
  }
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const ratio = raw / magnitude;
  const step = (ratio >= 7.5 ? 10 : ratio >= 3.5 ? 5 : ratio >= 1.5 ? 2 : 1) * magnitude;
  const out = [];
  for (let v = Math.floor(min / step) * step; v <= Math.ceil(max / step) * step + step / 2; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

/**
 * Draws a line chart into `target` (an <svg> already in the page, sized by its container):
 * `labels` along the x axis (evenly spaced), and `series` of { label, values (numbers, null for a
 * gap the line spans), color, dashed, points (false: no markers), pointColors }. Each point carries
 * its value as a tooltip. Returns the number of points drawn.
 */
export function lineChart(target, { labels, series }) {
  const box = target.parentNode?.getBoundingClientRect?.() ?? { width: 0, height: 0 };
  const width = Math.max(240, Math.round(box.width) || 600);
  const height = Math.max(160, Math.round(box.height) || 260);
  const plot = { x: MARGIN.left, y: MARGIN.top, w: width - MARGIN.left - MARGIN.right, h: height - MARGIN.top - MARGIN.bottom };
  const values = series.flatMap((s) => s.values).filter((v) => typeof v === "number" && Number.isFinite(v));
  const yTicks = ticks(Math.min(...values), Math.max(...values));
  const [low, high] = [yTicks[0], yTicks[yTicks.length - 1]];
  const x = (i) => plot.x + (labels.length <= 1 ? plot.w / 2 : (i * plot.w) / (labels.length - 1));
  const y = (v) => plot.y + plot.h - ((v - low) / (high - low || 1)) * plot.h;

  const parts = [];
  for (const t of yTicks) {
    parts.push(svg("line", { x1: plot.x, x2: plot.x + plot.w, y1: y(t), y2: y(t), stroke: "#e3e7ec" }));
    parts.push(svg("text", { x: plot.x - 6, y: y(t) + FONT / 3, "text-anchor": "end", "font-size": FONT, fill: "#5d6775" }, String(t)));
  }
  // As many x labels as fit, evenly picked, the last one always.
  const longest = Math.max(1, ...labels.map((l) => String(l).length));
  const fit = Math.max(1, Math.floor(plot.w / (longest * FONT * 0.6 + 12)));
  const every = Math.ceil(labels.length / fit);
  labels.forEach((label, i) => {
    if (i % every !== 0 && i !== labels.length - 1) return;
    if (i !== labels.length - 1 && labels.length - 1 - i < every) return; // leave room for the last one
    parts.push(svg("text", { x: x(i), y: plot.y + plot.h + FONT + 6, "text-anchor": labels.length <= 1 ? "middle" : i === 0 ? "start" : i === labels.length - 1 ? "end" : "middle", "font-size": FONT, fill: "#5d6775" }, String(label)));
  });
  parts.push(svg("line", { x1: plot.x, x2: plot.x, y1: plot.y, y2: plot.y + plot.h, stroke: "#9aa3ad" }));
  parts.push(svg("line", { x1: plot.x, x2: plot.x + plot.w, y1: plot.y + plot.h, y2: plot.y + plot.h, stroke: "#9aa3ad" }));

  let points = 0;
  let legendX = plot.x;
  for (const s of series) {
    const at = s.values.map((v, i) => (typeof v === "number" && Number.isFinite(v) ? [x(i), y(v), v, i] : null)).filter(Boolean);
    if (at.length > 1) {
      const d = at.map(([px, py], k) => `${k ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join("");
      parts.push(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-dasharray": s.dashed ? "6 4" : undefined }));
    }
    if (s.points !== false || at.length === 1) {
      for (const [px, py, v, i] of at) {
        parts.push(svg("circle", { cx: px.toFixed(1), cy: py.toFixed(1), r: 3, fill: s.pointColors?.[i] ?? s.color }, svg("title", {}, `${labels[i]}: ${s.label} ${v}`)));
        points++;
      }
    }
    // The legend: a swatch and the series' name, left to right above the plot.
    parts.push(svg("line", { x1: legendX, x2: legendX + 18, y1: 10, y2: 10, stroke: s.color, "stroke-width": 2, "stroke-dasharray": s.dashed ? "6 4" : undefined }));
    parts.push(svg("text", { x: legendX + 22, y: 10 + FONT / 3, "font-size": FONT, fill: "#1c2430" }, s.label));
    legendX += 22 + s.label.length * FONT * 0.6 + 16;
  }
  target.setAttribute("viewBox", `0 0 ${width} ${height}`);
  target.replaceChildren(...parts);
  return points;
}
