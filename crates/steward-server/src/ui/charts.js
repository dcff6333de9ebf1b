// Time-series charts (uPlot, from npm, loaded only on pages that chart).
let uplot;
async function lib() {
  if (!uplot) {
    const [module] = await Promise.all([import("./vendor/uplot.mjs"), css("/ui/vendor/uplot.css")]);
    uplot = module.default;
  }
  return uplot;
}

const loaded = new Set();
export function css(href) {
  if (loaded.has(href)) return Promise.resolve();
  loaded.add(href);
  return new Promise((resolve) => {
    const el = document.createElement("link");
    el.rel = "stylesheet";
    el.href = href;
    el.onload = el.onerror = resolve;
    document.head.append(el);
  });
}

const PALETTE = ["#2d6cdf", "#1a9f5a", "#d9822b", "#b44bd1", "#c9252d", "#0f9bb0", "#8a8f2b", "#6b6b6b"];

// series: [{label, samples: [[ts_ms, value], ...]}]; every series is put on
// the union of timestamps (missing points are gaps). `insight` (the
// answer of …/metrics/{name}/insight for the first series) adds the
// anomaly detector's expected range as a shaded band, its anomalies as
// points, and the forecast's projection past the last sample with its
// band.
export async function lineChart(el, { series, format = (v) => v, max, insight }) {
  const UPlot = await lib();
  series = [...series];
  const bands = [];
  const overlay = (label, samples, style) => { series.push({ label, samples, ...style }); return series.length; };
  if (insight?.bands?.length) {
    const low = overlay("Expected low", insight.bands.map((b) => [b[0], b[1]]), { stroke: "#8a9bb8", dash: [4, 4], width: 1 });
    const high = overlay("Expected high", insight.bands.map((b) => [b[0], b[2]]), { stroke: "#8a9bb8", dash: [4, 4], width: 1 });
    bands.push({ series: [high, low], fill: "rgba(45,108,223,0.10)" });
  }
  if (insight?.anomalies?.length) {
    overlay("Anomaly", insight.anomalies.map((a) => [a.at, a.value]), { stroke: "#c9252d", width: 0, points: { show: true, size: 8, fill: "#c9252d" } });
  }
  const points = insight?.projection?.points || [];
  if (points.length) {
    overlay("Projection", points.map((p) => [p[0], p[1]]), { stroke: "#d9822b", dash: [6, 3], width: 1.5 });
    const low = overlay("Projection low", points.map((p) => [p[0], p[2]]), { stroke: "rgba(217,130,43,0.5)", width: 1 });
    const high = overlay("Projection high", points.map((p) => [p[0], p[3]]), { stroke: "rgba(217,130,43,0.5)", width: 1 });
    bands.push({ series: [high, low], fill: "rgba(217,130,43,0.12)" });
  }
  const times = [...new Set(series.flatMap((s) => s.samples.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const column = new Array(times.length).fill(null);
    for (const [t, v] of s.samples) column[index.get(t)] = v;
    return column;
  });
  const style = getComputedStyle(document.documentElement);
  const axis = { stroke: style.getPropertyValue("--muted").trim(), grid: { stroke: style.getPropertyValue("--line").trim(), width: 1 }, ticks: { show: false } };
  const width = Math.max(280, el.clientWidth - 4);
  const options = {
    width,
    height: 180,
    scales: { x: { time: true }, y: max ? { range: [0, max] } : { range: (_u, lo, hi) => [Math.min(0, lo), hi > 0 ? hi * 1.1 : 1] } },
    // The value axis as wide as its longest label (no clipped "46.5 KiB/s")
    // and its ticks far enough apart that labels never touch.
    axes: [axis, { ...axis, values: (_u, ticks) => ticks.map(format), space: 36,
      size: (_u, values) => Math.max(48, 14 + 7 * Math.max(0, ...(values || []).map((v) => String(v).length))) }],
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: s.stroke || PALETTE[i % PALETTE.length], width: s.width ?? 1.5, dash: s.dash, points: s.points, value: (_u, v) => (v == null ? "–" : format(v)), spanGaps: !!s.dash || !!s.stroke }))],
    bands,
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
  const chart = new UPlot(options, [times.map((t) => t / 1000), ...columns], el);
  const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(280, el.clientWidth - 4), height: 180 }));
  resize.observe(el);
  return () => { resize.disconnect(); chart.destroy(); };
}

// A counter (bytes sent so far) as a rate per second; a reset is a gap.
export function rate(samples) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const [t0, v0] = samples[i - 1];
    const [t1, v1] = samples[i];
    const dt = (t1 - t0) / 1000;
    if (dt > 0 && v1 >= v0) out.push([t1, (v1 - v0) / dt]);
  }
  return out;
}
