// Budget versus actual per period, drawn by Chart.js (react-chartjs-2): hover a period for its
// summary, click it to list the deals or activities behind it, export the chart as PNG.
import { forwardRef, useImperativeHandle, useMemo, useRef, useState, type KeyboardEvent } from "react";
import {
  BarElement,
  CategoryScale,
  Chart as ChartJS,
  Legend,
  LinearScale,
  Title,
  Tooltip,
  type ChartData,
  type ChartOptions,
} from "chart.js";
import { Bar } from "react-chartjs-2";
import type { PeriodFieldsFragment } from "../gql/graphql";
import { amount, date, num, percent, percentOf, periodLabel, STATUS_COLOUR, STATUS_LABEL } from "../format";

ChartJS.register(BarElement, CategoryScale, LinearScale, Title, Tooltip, Legend);

export interface PeriodChartHandle {
  /** The chart as a PNG data URL, from Chart.js's toBase64Image() on a white background. */
  toPng(): Promise<string>;
}

interface Props {
  periods: PeriodFieldsFragment[];
  currency: string | null | undefined;
  selected: number | null;
  onSelect: (index: number) => void;
  title: string;
}

export const PeriodChart = forwardRef<PeriodChartHandle, Props>(function PeriodChart(
  { periods, currency, selected, onSelect, title },
  ref,
) {
  const chartRef = useRef<ChartJS<"bar">>(null);
  // Keyboard: the focused chart has one active period (arrow keys move it, Enter/Space opens it).
  const [active, setActive] = useState<number | null>(null);

  useImperativeHandle(ref, () => ({
    async toPng() {
      const chart = chartRef.current;
      if (!chart) throw new Error("The chart is not drawn yet");
      // Export without the hover tooltip and with the goal's title, then put the chart back.
      chart.tooltip?.setActiveElements([], { x: 0, y: 0 });
      chart.options.plugins!.title = { ...chart.options.plugins!.title, display: true, text: title };
      chart.update("none");
      const image = new Image();
      image.src = chart.toBase64Image("image/png", 1);
      chart.options.plugins!.title = { ...chart.options.plugins!.title, display: false };
      chart.update("none");
      await image.decode();
      const canvas = document.createElement("canvas");
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      const context = canvas.getContext("2d")!;
      context.fillStyle = "#ffffff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(image, 0, 0);
      return canvas.toDataURL("image/png");
    },
  }));

  const data = useMemo<ChartData<"bar">>(
    () => ({
      labels: periods.map((p) => periodLabel(p.label)),
      datasets: [
        {
          label: "Target",
          data: periods.map((p) => num(p.target)),
          backgroundColor: "#cbd5e1",
          hoverBackgroundColor: "#94a3b8",
          borderRadius: 3,
          categoryPercentage: 0.7,
          barPercentage: 0.9,
        },
        {
          label: "Actual",
          data: periods.map((p) => num(p.actual)),
          backgroundColor: periods.map((p) => STATUS_COLOUR[p.status] + (selected == null || selected === p.index ? "" : "b3")),
          borderColor: periods.map((p) => (selected === p.index ? "#0f172a" : "transparent")),
          borderWidth: periods.map((p) => (selected === p.index ? 2 : 0)),
          borderRadius: 3,
          categoryPercentage: 0.7,
          barPercentage: 0.9,
        },
      ],
    }),
    [periods, selected],
  );

  const options = useMemo<ChartOptions<"bar">>(
    () => ({
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      onHover: (event, elements) => {
        const target = event.native?.target as HTMLElement | undefined;
        if (target) target.style.cursor = elements.length ? "pointer" : "default";
      },
      onClick: (_event, elements) => {
        const hit = elements[0];
        if (hit) onSelect(periods[hit.index].index);
      },
      animation: {
        duration: 400,
        // Publish where each period's actual bar stands, for automation (the e2e test clicks a bar
        // and checks that it moved) and for anyone reading the page without the canvas.
        onComplete: ({ chart }) => {
          const holder = chart.canvas.parentElement;
          if (!holder) return;
          const meta = chart.getDatasetMeta(1);
          holder.dataset.bars = JSON.stringify(
            meta.data.map((bar, i) => {
              const { x, y, base } = bar.getProps(["x", "y", "base"], true) as { x: number; y: number; base: number };
              return { index: periods[i]?.index, label: periods[i]?.label, x, top: y, base, actual: periods[i]?.actual };
            }),
          );
          holder.dataset.ready = "true";
        },
      },
      scales: {
        x: { grid: { display: false } },
        y: {
          beginAtZero: true,
          ticks: { callback: (value) => amount(String(value), currency, true) },
        },
      },
      plugins: {
        legend: { position: "top", align: "end", labels: { boxWidth: 12, boxHeight: 12 } },
        title: { display: false, text: title, align: "start", font: { size: 15, weight: "bold" }, color: "#0f172a" },
        tooltip: {
          backgroundColor: "#0f172a",
          padding: 10,
          callbacks: {
            title: (items) => {
              const p = periods[items[0].dataIndex];
              return `${periodLabel(p.label)}  (${date(p.startDate)} – ${date(p.endDate)})`;
            },
            label: (item) => `${item.dataset.label}: ${amount(String(item.raw), currency)}`,
            footer: (items) => {
              const p = periods[items[0].dataIndex];
              const lines = [
                num(p.target) === 0 ? `No target · ${STATUS_LABEL[p.status]}` : `${percent(p.ratio)} of target · ${STATUS_LABEL[p.status]}`,
                `${p.facts} ${p.facts === 1 ? "fact" : "facts"} counted`,
              ];
              if (p.pace) lines.push(`Expected by now ${amount(p.pace.expectedByNow, currency)}; projected ${amount(p.pace.projectedAtEnd, currency)}`);
              if (p.unconverted.length) {
                lines.push(`Not converted (no exchange rate): ${p.unconverted.map((u) => `${u.facts} in ${u.currency}`).join(", ")}`);
              }
              for (const e of p.elements) lines.push(`  ${e.element || "(none)"}: ${amount(e.actual, currency)} of ${amount(e.target, currency)}`);
              if (p.snapshotTakenAt) lines.push(`Frozen ${date(p.snapshotTakenAt)}`);
              lines.push("Click to see what counted");
              return lines;
            },
          },
        },
      },
    }),
    [periods, currency, onSelect, title],
  );

  function showActive(position: number) {
    const chart = chartRef.current;
    setActive(position);
    if (!chart) return;
    const bar = chart.getDatasetMeta(1).data[position];
    chart.tooltip?.setActiveElements(
      [{ datasetIndex: 0, index: position }, { datasetIndex: 1, index: position }],
      { x: bar?.x ?? 0, y: bar?.y ?? 0 },
    );
    chart.update("none");
  }

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (!periods.length) return;
    const at = active ?? Math.max(0, periods.findIndex((p) => p.index === selected || p.isCurrent));
    const moves: Record<string, number> = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: periods.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      showActive(Math.max(0, Math.min(periods.length - 1, moves[event.key])));
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onSelect(periods[at].index);
      showActive(at);
    }
  }

  function onBlur() {
    setActive(null);
    const chart = chartRef.current;
    chart?.tooltip?.setActiveElements([], { x: 0, y: 0 });
    chart?.update("none");
  }

  const current = active == null ? null : periods[active];
  const first = periods[0];
  const last = periods[periods.length - 1];
  const summary = first
    ? `Bar chart of target and actual for ${periods.length} period${periods.length === 1 ? "" : "s"}, ${periodLabel(first.label)} to ${periodLabel(last.label)}; the table below lists the same figures.`
    : "No periods yet.";

  return (
    <div
      className="chart-holder"
      data-testid="period-chart"
      role="group"
      aria-label={`${title}: budget versus actual per period. Arrow keys choose a period, Enter lists what counted.`}
      tabIndex={0}
      onKeyDown={onKeyDown}
      onBlur={onBlur}
    >
      <Bar ref={chartRef} data={data} options={options} aria-label={`${title}: ${summary}`} fallbackContent={<p>{summary}</p>} />
      <p className="visually-hidden" aria-live="polite" data-testid="chart-active">
        {current
          ? `${periodLabel(current.label)}: actual ${amount(current.actual, currency)} of ${amount(current.target, currency)}, ${percentOf(current.ratio, current.target)}, ${STATUS_LABEL[current.status]}.`
          : ""}
      </p>
    </div>
  );
});
