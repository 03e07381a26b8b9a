import { expect } from "chai";
import fc from "fast-check";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { propertyRuns } from "../../helpers/coverage";
import { LOT, portionIdOf, provenanceFixture, type OrgKey } from "../../helpers/provenance-fixture";

/**
 * Random sequences of provenance and identity actions by random agents (every organisation's agent,
 * an unbound outsider), each attempted whether or not it should succeed, checked after every step:
 * - one owner and one custodian per portion, both admitted organisations;
 * - quantities conserved: the portions of each lot (split off by partial offers and splits; ended
 *   ones included) add up to what was registered;
 * - nothing recalled moves: a recalled portion keeps its owner, custodian and quantity;
 * - only permitted agents change state: an outsider or an agent of a suspended organisation changes
 *   nothing; an offer, split or end succeeds only for an agent of the portion's owner or
 *   custodian, an acceptance only for the receiver named by the offer, a cancellation only for the
 *   sender or that receiver (who rejects it), a recall only for the producer
 *   or an auditor it appointed (or the governor); a suspension only by the governor.
 * PROPERTY_RUNS sets the number of sequences (the reliability harness raises it).
 */
// Under coverage (instrumented contracts, several times slower) 8 sequences unless the env var says otherwise.
const RUNS = propertyRuns(process.env.PROPERTY_RUNS, 40, 8);
const SEED = Number(process.env.PROPERTY_SEED ?? 20_240_501);
const ORG_KEYS: OrgKey[] = ["producer", "processor", "carrier", "retailer", "auditor"];
const GAS = 3_000_000n;

type Action =
  | { kind: "offer"; actor: number; batch: number; share: number; to: number; handover: number }
  | { kind: "accept" | "cancel" | "recall" | "withdrawRecall"; actor: number; batch: number }
  | { kind: "split"; actor: number; batch: number; share: number }
  | { kind: "end"; actor: number; batch: number }
  | { kind: "suspend" | "reinstate"; actor: number; org: number };

// 0–4 the organisations' agents, 5 an outsider, 6 the governor; -1 (three times in four) the agent
// the action needs (the portion's custodian, the offer's receiver, the producer, the governor), so
// that sequences get somewhere; the others attempt what they may not.
const actor = fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat({ max: 6 }) });
const batch = fc.nat({ max: 1_000 });
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("offer" as const), actor, batch, share: fc.integer({ min: 1, max: 120 }), to: fc.nat({ max: 5 }), handover: fc.nat({ max: 2 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("accept" as const), actor, batch }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), actor, batch }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("split" as const), actor, batch, share: fc.integer({ min: 1, max: 99 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("recall" as const), actor, batch }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("withdrawRecall" as const), actor, batch }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("end" as const), actor, batch }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("suspend" as const), actor, org: fc.nat({ max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reinstate" as const), actor, org: fc.nat({ max: 4 }) }) },
);

describe("ProvenanceRegistry and ConsortiumRegistry: invariants under random sequences of actions", function () {
  it(`hold after every step of ${RUNS} random sequences`, async function () {
    this.timeout(0);
    const tally = new Map<string, { ok: number; refused: number }>();
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 4, maxLength: 14 }), async (actions) => {
        const f = await loadFixture(provenanceFixture);
        const { provenance, registry, orgs, agents, governor, outsider } = f;
        const signers: HardhatEthersSigner[] = [...ORG_KEYS.map((k) => agents[k]), outsider, governor];
        const orgOfSigner = (i: number): bigint | null => (i < 5 ? orgs[ORG_KEYS[i]!] : null);
        const admitted = new Set(ORG_KEYS.map((k) => orgs[k]));
        const roots = (Object.keys(LOT) as (keyof typeof LOT)[]).map((k) => ({ id: f.lotIds[k], quantity: LOT[k].quantity }));
        const rootOf = new Map<string, string>(roots.map((r) => [r.id, r.id]));
        const known: string[] = roots.map((r) => r.id);

        type View = { quantity: bigint; owner: bigint; custodian: bigint; producer: bigint; status: bigint; recalled: boolean; splits: bigint; offerTo: bigint };
        async function view(id: string): Promise<View> {
          const b = await provenance.batch(id);
          const o = await provenance.pendingOffer(id);
          return { quantity: b.quantity, owner: b.owner, custodian: b.custodian, producer: b.producer, status: b.status, recalled: await provenance.isRecalled(id), splits: b.splits, offerTo: o.to };
        }
        async function snapshot(): Promise<Map<string, View>> {
          // Discover portions split off since the last step.
          for (let i = 0; i < known.length; i++) {
            const b = await provenance.batch(known[i]!);
            for (let s = 0; s < Number(b.splits); s++) {
              const p = portionIdOf(known[i]!, s);
              if (!rootOf.has(p)) {
                rootOf.set(p, rootOf.get(known[i]!)!);
                known.push(p);
              }
            }
          }
          const out = new Map<string, View>();
          for (const id of known) out.set(id, await view(id));
          return out;
        }
        const suspended = new Set<bigint>();

        let before = await snapshot();
        for (const planned of actions) {
          // Acceptances and cancellations go, when there are any, to portions with an offer pending.
          const offered = known.filter((k) => before.get(k)!.offerTo !== 0n);
          const pool = (planned.kind === "accept" || planned.kind === "cancel") && offered.length ? offered : known;
          const id = "batch" in planned ? pool[planned.batch % pool.length]! : null;
          const b = id ? before.get(id)! : null;
          const indexOfOrg = (org: bigint) => ORG_KEYS.findIndex((k) => orgs[k] === org);
          let chosen = planned.actor;
          if (chosen === -1) {
            const wanted =
              planned.kind === "suspend" || planned.kind === "reinstate" ? null
              : planned.kind === "accept" ? b!.offerTo
              : planned.kind === "recall" || planned.kind === "withdrawRecall" ? b!.producer
              : b!.custodian;
            chosen = wanted === null ? 6 : Math.max(0, indexOfOrg(wanted));
          }
          const action = { ...planned, actor: chosen } as Action;
          const signer = signers[action.actor]!;
          const actorOrg = orgOfSigner(action.actor);
          let call: () => Promise<unknown>;
          switch (action.kind) {
            case "offer": {
              const quantity = (b!.quantity * BigInt(action.share)) / 100n || 1n;
              const to = action.to < 5 ? orgs[ORG_KEYS[action.to]!] : 99n;
              call = () => provenance.connect(signer).offer(id!, quantity, to, action.handover, { gasLimit: GAS });
              break;
            }
            case "accept": {
              const offer = await provenance.pendingOffer(id!);
              call = () => provenance.connect(signer).accept(id!, offer.quantity, offer.kind, "", { gasLimit: GAS });
              break;
            }
            case "cancel":
              call = () => provenance.connect(signer).cancelOffer(id!, "changed plans", { gasLimit: GAS });
              break;
            case "split": {
              const first = (b!.quantity * BigInt(action.share)) / 100n;
              call = () => provenance.connect(signer).split(id!, [first], { gasLimit: GAS });
              break;
            }
            case "recall":
              call = () => provenance.connect(signer).recall(id!, "contamination", { gasLimit: GAS });
              break;
            case "withdrawRecall":
              call = () => provenance.connect(signer).withdrawRecall(id!, "false alarm", { gasLimit: GAS });
              break;
            case "end":
              call = () => provenance.connect(signer).end(id!, false, "sold out", { gasLimit: GAS });
              break;
            case "suspend":
              call = () => registry.connect(signer).suspendOrganisation(orgs[ORG_KEYS[action.org]!], "audit", { gasLimit: GAS });
              break;
            case "reinstate":
              call = () => registry.connect(signer).reinstateOrganisation(orgs[ORG_KEYS[action.org]!], { gasLimit: GAS });
              break;
          }
          let ok = true;
          try {
            await ((await call()) as { wait(): Promise<unknown> }).wait();
          } catch {
            ok = false;
          }
          const after = await snapshot();
          const label = `${JSON.stringify(action)} by ${action.actor === 5 ? "an outsider" : action.actor === 6 ? "the governor" : ORG_KEYS[action.actor]}`;
          const changed = [...before.entries()].some(([k, v]) => JSON.stringify(after.get(k), (_, x) => (typeof x === "bigint" ? x.toString() : x)) !== JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x))) || after.size !== before.size;

          // Only permitted agents change state.
          if (action.kind === "suspend" || action.kind === "reinstate") {
            if (ok) {
              expect(action.actor, `${label}: only the governor suspends or reinstates`).to.equal(6);
              const org = orgs[ORG_KEYS[action.org]!];
              if (action.kind === "suspend") suspended.add(org);
              else suspended.delete(org);
            }
          } else {
            const governing = action.actor === 6 && (action.kind === "recall" || action.kind === "withdrawRecall");
            if (!governing && (actorOrg === null || suspended.has(actorOrg))) {
              expect(ok, `${label}: an unbound or suspended caller is refused`).to.equal(false);
            }
            if (ok && action.kind === "cancel") {
              expect([b!.owner, b!.custodian, b!.offerTo], `${label}: only the sender or the receiver withdraws an offer`).to.include(actorOrg);
            }
            if (ok && (action.kind === "offer" || action.kind === "split" || action.kind === "end")) {
              expect([b!.owner, b!.custodian], `${label}: only the owner's or custodian's agents act on a portion`).to.include(actorOrg);
            }
            if (ok && action.kind === "accept") expect(actorOrg, `${label}: only the receiver accepts`).to.equal(b!.offerTo);
            if (ok && action.kind === "recall" && !governing) {
              const appointed = actorOrg === b!.producer || (await provenance.recallAuditor(b!.producer, actorOrg!)) !== 0n;
              expect(appointed, `${label}: only the producer or its recall auditor recalls`).to.equal(true);
            }
          }
          const t = tally.get(action.kind) ?? { ok: 0, refused: 0 };
          t[ok ? "ok" : "refused"]++;
          tally.set(action.kind, t);
          if (!ok) expect(changed, `${label}: a refused call changes nothing`).to.equal(false);

          // Nothing recalled moves.
          for (const [k, v] of before) {
            if (!v.recalled) continue;
            const now = after.get(k)!;
            expect([now.owner, now.custodian, now.quantity], `${label}: recalled ${k} does not move`).to.deep.equal([v.owner, v.custodian, v.quantity]);
          }
          // One owner and one custodian per portion; quantities conserved per lot.
          const live = new Map<string, bigint>();
          for (const [k, v] of after) {
            expect(admitted.has(v.owner) && admitted.has(v.custodian), `${label}: ${k} has one admitted owner and custodian`).to.equal(true);
            live.set(rootOf.get(k)!, (live.get(rootOf.get(k)!) ?? 0n) + v.quantity);
          }
          for (const r of roots) expect(live.get(r.id), `${label}: lot ${r.id} conserves its quantity`).to.equal(r.quantity);
          before = after;
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The reliability harness reports what was tried (and that the sequences did more than fail).
    if (process.env.PROPERTY_RUNS)
      console.log(`invariants: provenance ${RUNS} sequences; ${[...tally].map(([k, t]) => `${k} ${t.ok} ok/${t.refused} refused`).join(", ")}`);
    for (const kind of ["offer", "accept", "split", "recall"]) expect(tally.get(kind)?.ok ?? 0, `some ${kind} succeeded`).to.be.above(0);
  });
});
