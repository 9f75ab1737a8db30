/** One point of a chart: a time (ms since the epoch) and the figure then. */
export interface ChartPoint {
  atMs: number;
  value: number;
}

const width = 320;
const height = 120;
const left = 28;
const right = 8;
const top = 8;
const bottom = 20;

/**
 * A small step line chart in SVG, written by hand (no chart library): a figure holds its value
 * until the next sample, so steps, not slopes. Colours come from the theme's variables (CSS).
 */
export function LineChart(props: { title: string; points: ChartPoint[]; windowMs: number }) {
  const { points } = props;
  const last = points.at(-1);
  const endMs = last?.atMs ?? 0;
  const startMs = endMs - props.windowMs;
  const maxValue = Math.max(1, ...points.map((point) => point.value));
  const x = (atMs: number) =>
    left + ((Math.max(atMs, startMs) - startMs) / props.windowMs) * (width - left - right);
  const y = (value: number) => top + (1 - value / maxValue) * (height - top - bottom);
  let path = '';
  points.forEach((point, index) => {
    const previous = points[index - 1];
    if (!previous) path += `M${x(point.atMs).toFixed(1)},${y(point.value).toFixed(1)}`;
    else path += `H${x(point.atMs).toFixed(1)}V${y(point.value).toFixed(1)}`;
  });
  const minutes = Math.round(props.windowMs / 60_000);
  const summary = last
    ? `${props.title}: ${last.value} now, at most ${maxValue} over the last ${minutes} minutes`
    : `${props.title}: no samples yet`;
  return (
    <figure class="chart" data-chart={props.title} data-points={points.length}>
      <figcaption>
        {props.title}: <strong class="chart-value">{last ? last.value : '—'}</strong>
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={summary}>
        <title>{summary}</title>
        <line
          class="chart-axis"
          x1={left}
          y1={height - bottom}
          x2={width - right}
          y2={height - bottom}
        />
        <line class="chart-axis" x1={left} y1={top} x2={left} y2={height - bottom} />
        <text class="chart-label" x={left - 4} y={top + 8} text-anchor="end">
          {maxValue}
        </text>
        <text class="chart-label" x={left - 4} y={height - bottom} text-anchor="end">
          0
        </text>
        <text class="chart-label" x={left} y={height - 4}>
          −{minutes} min
        </text>
        <text class="chart-label" x={width - right} y={height - 4} text-anchor="end">
          now
        </text>
        {path ? <path class="chart-line" d={path} /> : null}
        {last ? <circle class="chart-dot" cx={x(last.atMs)} cy={y(last.value)} r={3} /> : null}
      </svg>
    </figure>
  );
}
