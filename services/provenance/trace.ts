/**
 * Lineage walks over the batch graph, as pure functions of a neighbour lookup so they are tested
 * without a database. Edges point the way material flows (`from` = input, `to` = output).
 */
export interface LineageEdge {
  from: string;
  to: string;
  type: string;
  quantity: string;
  unit: string;
}

export type Direction = "upstream" | "downstream";

/** Edges touching `batchId`: its inputs (upstream) or its outputs (downstream). */
export type Neighbours = (batchId: string, direction: Direction) => LineageEdge[];

export interface TraceResult {
  root: string;
  /** Node ids with their distance from the root (negative upstream, positive downstream). */
  nodes: { id: string; depth: number }[];
  edges: LineageEdge[];
  truncated: boolean;
}

/**
 * Breadth-first walk from `root` in one or both directions, at most `maxDepth` edges away. Each
 * node and each edge appears once however many paths reach it (a diamond or a shared ancestor does
 * not duplicate anything), so the work is linear in the graph's size. `truncated` says whether
 * `maxDepth` left edges unexplored.
 */
/** A walk that reached more batches than its caller allows (the answer would be too large to serve). */
export class LineageTooLargeError extends Error {
  override name = "LineageTooLargeError";
  constructor(readonly limit: number) {
    super(`the lineage reaches more than ${limit} batches`);
  }
}

export function traceLineage(
  root: string,
  directions: Direction[],
  maxDepth: number,
  neighbours: Neighbours,
  limits: { maxNodes?: number } = {},
): TraceResult {
  const maxNodes = limits.maxNodes ?? Number.MAX_SAFE_INTEGER;
  const depthOf = new Map<string, number>([[root, 0]]);
  // Each edge once, in the order first met (a later copy of the same edge takes its place), looked
  // up by its two ends: a key made of both was a new 133-character string to hash per edge.
  const edges: LineageEdge[] = [];
  const edgeAt = new Map<string, Map<string, number>>();
  let truncated = false;
  for (const direction of directions) {
    const sign = direction === "upstream" ? -1 : 1;
    let frontier = [root];
    const seen = new Set<string>([root]);
    for (let depth = 1; frontier.length > 0; depth++) {
      const next: string[] = [];
      for (const id of frontier) {
        const found = neighbours(id, direction);
        if (depth > maxDepth) {
          if (found.length > 0) truncated = true;
          continue;
        }
        for (const edge of found) {
          let byTo = edgeAt.get(edge.from);
          if (!byTo) edgeAt.set(edge.from, (byTo = new Map()));
          const at = byTo.get(edge.to);
          if (at === undefined) {
            byTo.set(edge.to, edges.length);
            edges.push(edge);
          } else edges[at] = edge;
          const other = direction === "upstream" ? edge.from : edge.to;
          if (seen.has(other)) continue;
          seen.add(other);
          if (!depthOf.has(other)) {
            depthOf.set(other, sign * depth);
            // Stops as soon as the answer is known to be too large: the walk's work stays bounded too.
            if (depthOf.size > maxNodes) throw new LineageTooLargeError(maxNodes);
          }
          next.push(other);
        }
      }
      if (depth > maxDepth) break;
      frontier = next;
    }
  }
  return {
    root,
    nodes: [...depthOf].map(([id, depth]) => ({ id, depth })),
    edges,
    truncated,
  };
}

/** Every batch downstream of `root` (excluding it): what a recall of `root` affects. */
export function downstreamClosure(root: string, neighbours: Neighbours, limits: { maxNodes?: number } = {}): string[] {
  return traceLineage(root, ["downstream"], Number.MAX_SAFE_INTEGER, neighbours, limits)
    .nodes.filter((n) => n.id !== root)
    .map((n) => n.id);
}

/**
 * Parent → child pairs that carry a recall from the recalled set to every descendant, in
 * breadth-first order (each parent is flagged before it is used): the chunks a propagator submits.
 */
export function recallEdgePairs(
  recalled: string[],
  neighbours: Neighbours,
  isRecallEdge: (from: string, to: string) => boolean,
): [string, string][] {
  // Every edge out of a recalled batch counts on-chain, also into a child another recall already
  // reached (it stays recalled until every recall reaching it is withdrawn; docs/adr/0009).
  const pairs: [string, string][] = [];
  const reached = new Set<string>(recalled);
  let frontier = [...recalled];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const edge of neighbours(id, "downstream")) {
        if (!isRecallEdge(id, edge.to)) pairs.push([id, edge.to]);
        if (reached.has(edge.to)) continue;
        reached.add(edge.to);
        next.push(edge.to);
      }
    }
    frontier = next;
  }
  return pairs;
}

/**
 * Parent → child pairs that reach every unflagged descendant of the recalled set, in
 * breadth-first order (kept for callers that only need the recall to reach each batch once).
 */
export function propagationPairs(recalled: string[], neighbours: Neighbours, isFlagged: (id: string) => boolean): [string, string][] {
  const pairs: [string, string][] = [];
  const reached = new Set<string>(recalled);
  let frontier = [...recalled];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const edge of neighbours(id, "downstream")) {
        if (reached.has(edge.to)) continue;
        reached.add(edge.to);
        if (!isFlagged(edge.to)) pairs.push([id, edge.to]);
        next.push(edge.to);
      }
    }
    frontier = next;
  }
  return pairs;
}
