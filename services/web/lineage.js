// The lineage graph of a lot page: batches as SVG links laid out in columns by depth (upstream on
// the left, downstream on the right), flows as arrows labelled with what moved. Pan and zoom with
// d3-zoom (drag, wheel, pinch, and the buttons for keyboards), loaded only once the page has settled
// or the reader first reaches for the graph (see drawLineage). SVG rather than a canvas library:
// each batch is a real link (Tab, Enter, a screen reader's list of links), and drawing a few
// hundred elements takes milliseconds, where a canvas graph library spent half a second of a cold
// page compiling and rendering (docs/adr/0037-lineage-graph-in-svg.md).
const SVG = "http://www.w3.org/2000/svg";
const NODE = { width: 120, height: 40, columnGap: 170, rowGap: 70 };
const PADDING = 24;

/**
 * Where everything goes, from a trace answer ({ root, nodes: [{ id, depth, lot, gtin, portionIndex,
 * recall }], edges: [{ from, to, type, quantity, unit }] }); pure. Columns by depth, rows in the
 * order the trace lists the batches of a depth. Edges whose ends were not drawn are left out.
 */
export function lineageLayout(trace) {
  const rows = new Map();
  const nodes = trace.nodes.map((n) => {
    const row = rows.get(n.depth) ?? 0;
    rows.set(n.depth, row + 1);
    return {
      id: n.id,
      x: n.depth * NODE.columnGap,
      y: row * NODE.rowGap,
      lines: [`${n.lot}${n.portionIndex ? ` #${n.portionIndex}` : ""}`, String(n.gtin ?? "").slice(-6)],
      title: `GTIN ${n.gtin} · lot ${n.lot}${n.portionIndex ? ` #${n.portionIndex}` : ""}${n.recall ? " · RECALLED" : ""}`,
      recalled: Boolean(n.recall),
      root: n.id === trace.root,
    };
  });
  const at = new Map(nodes.map((n) => [n.id, n]));
  const edges = [];
  for (const e of trace.edges) {
    const from = at.get(e.from);
    const to = at.get(e.to);
    if (!from || !to) continue;
    // From the right side of the input to the left side of the output (a flow within one column
    // runs from the bottom of one box to the top of the other).
    const sameColumn = from.x === to.x;
    const [x1, y1] = sameColumn ? [from.x, from.y + NODE.height / 2] : [from.x + (to.x > from.x ? 1 : -1) * (NODE.width / 2), from.y];
    const [x2, y2] = sameColumn ? [to.x, to.y - (to.y > from.y ? 1 : -1) * (NODE.height / 2)] : [to.x - (to.x > from.x ? 1 : -1) * (NODE.width / 2), to.y];
    const bend = sameColumn ? `C ${x1 + 40} ${y1}, ${x2 + 40} ${y2}` : `C ${(x1 + x2) / 2} ${y1}, ${(x1 + x2) / 2} ${y2}`;
    edges.push({ id: `${e.from}>${e.to}`, path: `M ${x1} ${y1} ${bend}, ${x2} ${y2}`, label: `${e.type} ${e.quantity} ${e.unit}`, labelAt: [(x1 + x2) / 2 + (sameColumn ? 30 : 0), (y1 + y2) / 2 - 4] });
  }
  const xs = nodes.map((n) => n.x);
  const ys = nodes.map((n) => n.y);
  const box = nodes.length
    ? { x: Math.min(...xs) - NODE.width / 2 - PADDING, y: Math.min(...ys) - NODE.height / 2 - PADDING, width: Math.max(...xs) - Math.min(...xs) + NODE.width + 2 * PADDING, height: Math.max(...ys) - Math.min(...ys) + NODE.height + 2 * PADDING }
    : { x: 0, y: 0, width: 1, height: 1 };
  return { nodes, edges, box };
}

const svg = (name, attrs = {}, ...children) => {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  node.append(...children);
  return node;
};

/**
 * Draws `trace` into `container` (sized by the stylesheet); returns the number of batches and flows
 * drawn, and `panAndZoom()`, which loads d3 and makes the graph pannable and zoomable (once; the
 * container gets `data-pan-zoom="ready"`). The graph is drawn without d3: d3's pan and zoom is the
 * largest script a cold lot page compiled before it settled (docs/explorer.md, "Twelfth session"),
 * and a graph is read before it is moved. The page calls `panAndZoom` once it has settled; the
 * reader's first press, wheel or touch on the graph, or a press of its buttons, calls it sooner.
 * `href(id)` is a batch's page.
 */
export function drawLineage(container, trace, { href }) {
  const { nodes, edges, box } = lineageLayout(trace);
  const scene = svg("g", { class: "scene" });
  const root = svg(
    "svg",
    { viewBox: `${box.x} ${box.y} ${box.width} ${box.height}`, preserveAspectRatio: "xMidYMid meet", width: "100%", height: "100%", role: "group", "aria-label": `Lineage: ${nodes.length} batches, ${edges.length} flows` },
    svg("defs", {}, svg("marker", { id: "lineage-arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" }))),
    scene,
  );
  const flows = svg("g", { class: "flows" });
  for (const e of edges) {
    flows.append(
      svg("path", { d: e.path, class: "flow", "marker-end": "url(#lineage-arrow)" }, svg("title", {}, e.label)),
      svg("text", { x: e.labelAt[0], y: e.labelAt[1], class: "flow-label", "text-anchor": "middle" }, e.label),
    );
  }
  const batches = svg("g", { class: "batches" });
  for (const n of nodes) {
    batches.append(
      svg(
        "a",
        { href: href(n.id), class: `batch${n.recalled ? " recalled" : ""}${n.root ? " root" : ""}`, "data-batch": n.id, "aria-label": n.title },
        svg("title", {}, n.title),
        svg("rect", { x: n.x - NODE.width / 2, y: n.y - NODE.height / 2, width: NODE.width, height: NODE.height, rx: 6 }),
        svg("text", { x: n.x, y: n.y - 3, "text-anchor": "middle" }, n.lines[0]),
        svg("text", { x: n.x, y: n.y + 11, "text-anchor": "middle", class: "gtin" }, n.lines[1]),
      ),
    );
  }
  scene.append(flows, batches);

  let installed = null;
  const panAndZoom = () => (installed ??= installPanAndZoom());
  async function installPanAndZoom() {
    const { select, zoom, zoomIdentity } = await import("d3");
    const zoomer = zoom()
      .scaleExtent([0.2, 8])
      .on("zoom", (event) => scene.setAttribute("transform", event.transform.toString()));
    const surface = select(root).call(zoomer).on("dblclick.zoom", null);
    container.dataset.panZoom = "ready";
    return { zoomer, surface, zoomIdentity };
  }
  const reach = () => void panAndZoom().catch(() => undefined); // the buttons report a failure
  for (const type of ["pointerdown", "wheel", "touchstart"]) root.addEventListener(type, reach, { once: true, passive: true });
  const button = (label, title, act) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.title = title;
    b.setAttribute("aria-label", title);
    b.addEventListener("click", () =>
      panAndZoom().then(act, (err) => (b.title = `Pan and zoom could not load: ${err.message}`)),
    );
    return b;
  };
  const controls = document.createElement("div");
  controls.className = "graph-controls";
  controls.append(
    button("+", "Zoom in", ({ zoomer, surface }) => zoomer.scaleBy(surface, 1.5)),
    button("−", "Zoom out", ({ zoomer, surface }) => zoomer.scaleBy(surface, 1 / 1.5)),
    button("⤢", "Fit the whole lineage", ({ zoomer, surface, zoomIdentity }) => zoomer.transform(surface, zoomIdentity)),
  );
  container.replaceChildren(root, controls);
  return { nodes: batches.childElementCount, edges: edges.length, panAndZoom };
}
