import { expect } from "chai";
import fc from "fast-check";
import {
  downstreamClosure,
  propagationPairs,
  recallEdgePairs,
  traceLineage,
  type Direction,
  type LineageEdge,
  type Neighbours,
} from "../../../services/provenance/trace";

/**
 * The lineage walks as pure functions over hand-built graphs: no chain, no database. Edges point
 * the way material flows (`from` = input, `to` = output), as in lineage_edges.
 */
type EdgeSpec = [from: string, to: string, type?: string];

interface Graph {
  neighbours: Neighbours;
  /** Every neighbour lookup made so far, as `direction:id`. */
  calls: string[];
  edges: LineageEdge[];
}

function graph(specs: EdgeSpec[]): Graph {
  const edges = specs.map(([from, to, type = "process"]) => ({ from, to, type, quantity: "1", unit: "KGM" }));
  const outs = new Map<string, LineageEdge[]>();
  const ins = new Map<string, LineageEdge[]>();
  for (const e of edges) {
    outs.set(e.from, [...(outs.get(e.from) ?? []), e]);
    ins.set(e.to, [...(ins.get(e.to) ?? []), e]);
  }
  const calls: string[] = [];
  const neighbours: Neighbours = (id: string, direction: Direction) => {
    calls.push(`${direction}:${id}`);
    return (direction === "upstream" ? ins : outs).get(id) ?? [];
  };
  return { neighbours, calls, edges };
}

const key = (e: { from: string; to: string }) => `${e.from}>${e.to}`;
const edgeKeys = (edges: { from: string; to: string }[]) => edges.map(key).sort();
const depths = (nodes: { id: string; depth: number }[]) => Object.fromEntries(nodes.map((n) => [n.id, n.depth]));

/** Every node reachable from `root` along edges (excluding `root`), by plain depth-first search. */
function bruteForceReachable(specs: EdgeSpec[], root: string): string[] {
  const outs = new Map<string, string[]>();
  for (const [from, to] of specs) outs.set(from, [...(outs.get(from) ?? []), to]);
  const seen = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    for (const to of outs.get(stack.pop()!) ?? []) {
      if (seen.has(to)) continue;
      seen.add(to);
      stack.push(to);
    }
  }
  seen.delete(root);
  return [...seen].sort();
}

/** Numerical Recipes' LCG: a fixed-seed stream of pseudo-random integers in [0, n). */
function lcg(seed: number) {
  let state = seed >>> 0;
  return (n: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
}

/** A random DAG: nodes in layers, each node fed by 1–`fanIn` nodes of the layers above it. */
function layeredDag(seed: number, layers: number, width: number, fanIn: number): { specs: EdgeSpec[]; nodes: string[] } {
  const rand = lcg(seed);
  const name = (layer: number, i: number) => `L${layer}N${i}`;
  const nodes: string[] = [];
  const specs: EdgeSpec[] = [];
  for (let layer = 0; layer < layers; layer++) {
    for (let i = 0; i < width; i++) {
      nodes.push(name(layer, i));
      if (layer === 0) continue;
      const inputs = new Set<string>();
      const count = 1 + rand(fanIn);
      for (let k = 0; k < count; k++) {
        const from = layer - 1 - rand(Math.min(layer, 3));
        inputs.add(name(from, rand(width)));
      }
      for (const input of inputs) specs.push([input, name(layer, i)]);
    }
  }
  return { specs, nodes };
}

/**
 * The known DAG (a small dairy):
 *
 *   farm0 ─split→ farm1 ─merge→ pool ─process→ cream ─split→ shelf
 *   farm1 ─split→ sibling       farm2 ─merge→ pool
 *   pool ─process→ skim ←process─ additive (a side input of skim)
 */
const DAIRY: EdgeSpec[] = [
  ["farm0", "farm1", "split"],
  ["farm1", "sibling", "split"],
  ["farm1", "pool", "merge"],
  ["farm2", "pool", "merge"],
  ["pool", "cream", "process"],
  ["pool", "skim", "process"],
  ["additive", "skim", "process"],
  ["cream", "shelf", "split"],
];

describe("provenance lineage walks (pure)", function () {
  describe("traceLineage", function () {
    it("walks upstream to exactly the inputs' ancestors, with negative depths", function () {
      const g = graph(DAIRY);
      const result = traceLineage("pool", ["upstream"], 50, g.neighbours);
      expect(result.root).to.equal("pool");
      expect(depths(result.nodes)).to.deep.equal({ pool: 0, farm1: -1, farm2: -1, farm0: -2 });
      expect(edgeKeys(result.edges)).to.deep.equal(["farm0>farm1", "farm1>pool", "farm2>pool"]);
      expect(result.truncated).to.equal(false);
    });

    it("walks downstream to exactly the outputs' descendants, with positive depths", function () {
      const g = graph(DAIRY);
      const result = traceLineage("pool", ["downstream"], 50, g.neighbours);
      expect(depths(result.nodes)).to.deep.equal({ pool: 0, cream: 1, skim: 1, shelf: 2 });
      expect(edgeKeys(result.edges)).to.deep.equal(["cream>shelf", "pool>cream", "pool>skim"]);
      expect(result.truncated).to.equal(false);
    });

    it("walks both ways to the union, without climbing from descendants to their other inputs or descending from ancestors to siblings", function () {
      const g = graph(DAIRY);
      const result = traceLineage("pool", ["upstream", "downstream"], 50, g.neighbours);
      expect(depths(result.nodes)).to.deep.equal({ pool: 0, farm1: -1, farm2: -1, farm0: -2, cream: 1, skim: 1, shelf: 2 });
      expect(result.nodes.map((n) => n.id)).to.not.include.members(["additive", "sibling"]);
      expect(edgeKeys(result.edges)).to.deep.equal([
        "cream>shelf",
        "farm0>farm1",
        "farm1>pool",
        "farm2>pool",
        "pool>cream",
        "pool>skim",
      ]);
    });

    it("lists the root first with depth 0, exactly once", function () {
      const result = traceLineage("pool", ["upstream", "downstream"], 50, graph(DAIRY).neighbours);
      expect(result.nodes[0]).to.deep.equal({ id: "pool", depth: 0 });
      expect(result.nodes.filter((n) => n.id === "pool")).to.have.length(1);
    });

    it("returns each edge as the neighbour lookup gave it (type, quantity, unit)", function () {
      const g = graph(DAIRY);
      const result = traceLineage("shelf", ["upstream"], 50, g.neighbours);
      const byKey = new Map(g.edges.map((e) => [key(e), e]));
      for (const edge of result.edges) expect(edge).to.deep.equal(byKey.get(key(edge)));
      expect(result.edges.find((e) => key(e) === "farm1>pool")!.type).to.equal("merge");
    });

    it("returns only the root, no edges and no truncation for a batch without lineage", function () {
      const result = traceLineage("lonely", ["upstream", "downstream"], 50, graph(DAIRY).neighbours);
      expect(result).to.deep.equal({ root: "lonely", nodes: [{ id: "lonely", depth: 0 }], edges: [], truncated: false });
    });

    it("lists each node and edge of a diamond once, downstream and upstream", function () {
      const diamond: EdgeSpec[] = [
        ["A", "B"],
        ["A", "C"],
        ["B", "D"],
        ["C", "D"],
      ];
      const down = traceLineage("A", ["downstream"], 50, graph(diamond).neighbours);
      expect(down.nodes).to.deep.equal([
        { id: "A", depth: 0 },
        { id: "B", depth: 1 },
        { id: "C", depth: 1 },
        { id: "D", depth: 2 },
      ]);
      expect(edgeKeys(down.edges)).to.deep.equal(["A>B", "A>C", "B>D", "C>D"]);
      const up = traceLineage("D", ["upstream"], 50, graph(diamond).neighbours);
      expect(up.nodes).to.deep.equal([
        { id: "D", depth: 0 },
        { id: "B", depth: -1 },
        { id: "C", depth: -1 },
        { id: "A", depth: -2 },
      ]);
      expect(edgeKeys(up.edges)).to.deep.equal(["A>B", "A>C", "B>D", "C>D"]);
    });

    it("lists a shared ancestor and the edges above it once, however many inputs lead to it", function () {
      // R is made of P and Q; both come from S, which comes from T; U is an input of both P and Q.
      const shared: EdgeSpec[] = [
        ["P", "R"],
        ["Q", "R"],
        ["S", "P"],
        ["S", "Q"],
        ["U", "P"],
        ["U", "Q"],
        ["T", "S"],
      ];
      const g = graph(shared);
      const up = traceLineage("R", ["upstream"], 50, g.neighbours);
      expect(up.nodes.map((n) => n.id).sort()).to.deep.equal(["P", "Q", "R", "S", "T", "U"]);
      expect(depths(up.nodes)).to.deep.equal({ R: 0, P: -1, Q: -1, S: -2, U: -2, T: -3 });
      expect(up.edges).to.have.length(shared.length);
      expect(edgeKeys(up.edges)).to.deep.equal(edgeKeys(shared.map(([from, to]) => ({ from, to }))));
      expect(g.calls.filter((c) => c === "upstream:S")).to.have.length(1);
    });

    it("gives a node reached by paths of different lengths its shortest distance", function () {
      const result = traceLineage(
        "A",
        ["downstream"],
        50,
        graph([
          ["A", "B"],
          ["B", "C"],
          ["C", "D"],
          ["A", "D"],
        ]).neighbours,
      );
      expect(depths(result.nodes)).to.deep.equal({ A: 0, B: 1, D: 1, C: 2 });
      expect(edgeKeys(result.edges)).to.deep.equal(["A>B", "A>D", "B>C", "C>D"]);
    });

    describe("maxDepth", function () {
      const CHAIN: EdgeSpec[] = [
        ["a", "b"],
        ["b", "c"],
        ["c", "d"],
      ];

      it("stops maxDepth edges from the root and sets truncated when edges lie beyond", function () {
        const result = traceLineage("a", ["downstream"], 2, graph(CHAIN).neighbours);
        expect(depths(result.nodes)).to.deep.equal({ a: 0, b: 1, c: 2 });
        expect(edgeKeys(result.edges)).to.deep.equal(["a>b", "b>c"]);
        expect(result.truncated).to.equal(true);
      });

      it("returns the root alone, truncated, at maxDepth 0 when it has lineage", function () {
        const result = traceLineage("b", ["upstream", "downstream"], 0, graph(CHAIN).neighbours);
        expect(result).to.deep.equal({ root: "b", nodes: [{ id: "b", depth: 0 }], edges: [], truncated: true });
      });

      it("leaves truncated false when maxDepth reaches exactly the deepest node", function () {
        const result = traceLineage("a", ["downstream"], 3, graph(CHAIN).neighbours);
        expect(depths(result.nodes)).to.deep.equal({ a: 0, b: 1, c: 2, d: 3 });
        expect(result.truncated).to.equal(false);
      });

      it("sets truncated when only one of the two directions is cut", function () {
        // From b: one edge upstream (a), two downstream (c, d); maxDepth 1 cuts only downstream.
        const result = traceLineage("b", ["upstream", "downstream"], 1, graph(CHAIN).neighbours);
        expect(depths(result.nodes)).to.deep.equal({ b: 0, a: -1, c: 1 });
        expect(result.truncated).to.equal(true);
      });

      it("sets truncated when the only edges beyond maxDepth lead to nodes already listed", function () {
        // A→B→D and A→D: at maxDepth 1 both B and D are listed, but the edge B→D is not.
        const result = traceLineage(
          "A",
          ["downstream"],
          1,
          graph([
            ["A", "B"],
            ["B", "D"],
            ["A", "D"],
          ]).neighbours,
        );
        expect(depths(result.nodes)).to.deep.equal({ A: 0, B: 1, D: 1 });
        expect(edgeKeys(result.edges)).to.deep.equal(["A>B", "A>D"]);
        expect(result.truncated).to.equal(true);
      });
    });

    describe("on a wide, deep random DAG (fixed seed)", function () {
      // 40 layers of 60 nodes, each fed by 1–4 nodes of the three layers above: the number of
      // paths explodes, the number of nodes does not.
      const { specs, nodes } = layeredDag(20_261_128, 40, 60, 4);
      const root = "L20N7";

      it("asks for each node's neighbours at most once per direction, within nodes × 2 lookups in all", function () {
        const g = graph(specs);
        const result = traceLineage(root, ["upstream", "downstream"], Number.MAX_SAFE_INTEGER, g.neighbours);
        expect(g.calls.length).to.be.at.most(nodes.length * 2);
        expect(new Set(g.calls).size, "repeated lookups").to.equal(g.calls.length);
        // One lookup per node reached in each direction, the root in both.
        expect(g.calls.length).to.equal(result.nodes.length + 1);
      });

      it("lists exactly the ancestors and descendants a brute-force search finds, each once", function () {
        const result = traceLineage(root, ["upstream", "downstream"], Number.MAX_SAFE_INTEGER, graph(specs).neighbours);
        const reversed = specs.map(([from, to]) => [to, from] as EdgeSpec);
        const ancestors = bruteForceReachable(reversed, root);
        const descendants = bruteForceReachable(specs, root);
        expect(ancestors.length, "the root has ancestors").to.be.greaterThan(10);
        expect(descendants.length, "the root has descendants").to.be.greaterThan(10);
        expect(result.nodes.map((n) => n.id).sort()).to.deep.equal([root, ...ancestors, ...descendants].sort());
        // Upstream: every edge into the root or an ancestor; downstream: every edge out of the root or a descendant.
        const up = new Set([root, ...ancestors]);
        const down = new Set([root, ...descendants]);
        const expectedEdges = specs.filter(([from, to]) => up.has(to) || down.has(from)).map(([from, to]) => ({ from, to }));
        expect(edgeKeys(result.edges)).to.deep.equal(edgeKeys(expectedEdges));
      });
    });
  });

  describe("downstreamClosure", function () {
    it("returns every descendant of the known DAG's root, without the root", function () {
      expect(downstreamClosure("farm1", graph(DAIRY).neighbours).sort()).to.deep.equal([
        "cream",
        "pool",
        "shelf",
        "sibling",
        "skim",
      ]);
    });

    it("is empty for a batch nothing was made from", function () {
      expect(downstreamClosure("shelf", graph(DAIRY).neighbours)).to.deep.equal([]);
    });

    it("equals brute-force reachability on random DAGs", function () {
      const dag = fc.integer({ min: 2, max: 25 }).chain((n) =>
        fc.record({
          n: fc.constant(n),
          edges: fc.uniqueArray(
            fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 0, max: n - 1 })).filter(([a, b]) => a < b),
            { maxLength: 60, selector: ([a, b]) => `${a}>${b}` },
          ),
          root: fc.integer({ min: 0, max: n - 1 }),
        }),
      );
      fc.assert(
        fc.property(dag, ({ edges, root }) => {
          const specs = edges.map(([a, b]) => [`n${a}`, `n${b}`] as EdgeSpec);
          const closure = downstreamClosure(`n${root}`, graph(specs).neighbours);
          expect(new Set(closure).size).to.equal(closure.length);
          expect([...closure].sort()).to.deep.equal(bruteForceReachable(specs, `n${root}`));
        }),
        { seed: 6_006, numRuns: 300 },
      );
    });

    it("equals brute-force reachability on the wide, deep random DAG", function () {
      const { specs } = layeredDag(7, 30, 40, 3);
      for (const root of ["L0N0", "L5N13", "L29N39"]) {
        expect(downstreamClosure(root, graph(specs).neighbours).sort(), root).to.deep.equal(bruteForceReachable(specs, root));
      }
    });
  });

  describe("recallEdgePairs", function () {
    const merge = graph([
      ["a", "m"],
      ["b", "m"],
      ["m", "x"],
    ]).neighbours;

    it("counts every recalled parent's edge into a merged batch, also when another recall reached it first", function () {
      const pairs = recallEdgePairs(["a", "b"], merge, () => false);
      expect(pairs).to.deep.equal([
        ["a", "m"],
        ["b", "m"],
        ["m", "x"],
      ]);
    });

    it("skips only the edges already counted on-chain", function () {
      const counted = new Set(["a>m", "m>x"]);
      expect(recallEdgePairs(["a", "b"], merge, (from, to) => counted.has(`${from}>${to}`))).to.deep.equal([["b", "m"]]);
    });
  });

  describe("propagationPairs", function () {
    const none = () => false;

    it("pairs each descendant of a recalled batch with the parent that reaches it first, breadth first", function () {
      const pairs = propagationPairs(["farm2"], graph(DAIRY).neighbours, none);
      expect(pairs).to.deep.equal([
        ["farm2", "pool"],
        ["pool", "cream"],
        ["pool", "skim"],
        ["cream", "shelf"],
      ]);
    });

    it("orders every parent before its use: each pair's parent is recalled, already flagged, or a child of an earlier pair", function () {
      const { specs } = layeredDag(99, 25, 30, 3);
      const recalled = ["L0N3", "L2N17", "L9N0"];
      const flagged = new Set(["L5N5", "L6N6", "L10N1"]);
      const pairs = propagationPairs(recalled, graph(specs).neighbours, (id) => flagged.has(id));
      expect(pairs).to.not.be.empty;
      const ready = new Set([...recalled, ...flagged]);
      const edges = new Set(specs.map(([from, to]) => `${from}>${to}`));
      for (const [parent, child] of pairs) {
        expect(ready.has(parent), `${parent} used before it is flagged`).to.equal(true);
        expect(edges.has(`${parent}>${child}`), `${parent}>${child} is an edge`).to.equal(true);
        ready.add(child);
      }
    });

    it("flags exactly the descendants of the recalled batches that are not flagged yet, each once", function () {
      const { specs } = layeredDag(99, 25, 30, 3);
      const recalled = ["L0N3", "L2N17", "L9N0"];
      const flagged = new Set(["L5N5", "L6N6", "L10N1"]);
      const pairs = propagationPairs(recalled, graph(specs).neighbours, (id) => flagged.has(id));
      const children = pairs.map(([, child]) => child);
      expect(new Set(children).size, "a child paired twice").to.equal(children.length);
      const descendants = new Set(recalled.flatMap((r) => bruteForceReachable(specs, r)));
      const expected = [...descendants].filter((id) => !recalled.includes(id) && !flagged.has(id)).sort();
      expect([...children].sort()).to.deep.equal(expected);
    });

    it("skips a child that is already flagged but carries the recall on through it", function () {
      const pairs = propagationPairs(
        ["a"],
        graph([
          ["a", "b"],
          ["b", "c"],
          ["b", "d"],
        ]).neighbours,
        (id) => id === "b",
      );
      expect(pairs).to.deep.equal([
        ["b", "c"],
        ["b", "d"],
      ]);
    });

    it("pairs a diamond's bottom once", function () {
      const pairs = propagationPairs(
        ["A"],
        graph([
          ["A", "B"],
          ["A", "C"],
          ["B", "D"],
          ["C", "D"],
        ]).neighbours,
        none,
      );
      expect(pairs).to.deep.equal([
        ["A", "B"],
        ["A", "C"],
        ["B", "D"],
      ]);
    });

    it("does not pair a recalled batch that descends from another recalled batch", function () {
      const pairs = propagationPairs(
        ["a", "b"],
        graph([
          ["a", "b"],
          ["b", "c"],
        ]).neighbours,
        (id) => id === "a" || id === "b",
      );
      expect(pairs).to.deep.equal([["b", "c"]]);
    });

    it("returns nothing when nothing is recalled or every descendant is flagged", function () {
      expect(propagationPairs([], graph(DAIRY).neighbours, none)).to.deep.equal([]);
      expect(propagationPairs(["farm2"], graph(DAIRY).neighbours, () => true)).to.deep.equal([]);
    });
  });
});
