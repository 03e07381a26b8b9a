import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { glnFor } from "../gs1/keys";
import { insertCapture } from "../epcis/store";
import { validateEpcisDocument } from "../epcis/validate";
import { lotIdOf } from "../epcis/mapping/plan";
import { DEMO_MEMBERS, demoWallet } from "./roster";

/**
 * The demo's EPCIS 2.0 events: what the members' systems would have captured along the demo's
 * dairy chain, with the temperature readings of bulk tanks, tankers and pallets.
 *
 *   farm (producer)         commissioning of raw milk lots A and B (bulk-tank readings); shipping
 *                           12,000 l of lot A to the carrier's tanker
 *   carrier                 receiving lot A in the tanker; transporting it (tanker readings)
 *   dairy (processor)       receiving lot A at its intake: 6.8 °C, above the milk's 2–6 °C range
 *   cheese maker            shipping the butter pallet (SSCC) to the carrier (pallet reading), with
 *                           the freight leg it declares (DEMO_PALLET_LEG: road, distance, gross mass)
 *   distributor             receiving the pallet (pallet reading within the butter's 0–8 °C)
 *
 * Each organisation's events are one capture by its own wallet, stored by the capture job exactly as
 * POST /epcis/capture stores them (validated, hashed, queued for anchoring with the organisation's
 * key and for mapping). The chain already holds these hand-overs (the demo seeds the chain first),
 * so their mapping ends `not_applied` with the reason (nothing is sent twice); the transport
 * readings are kept. Times are the chain times of the demo's own batches. Idempotent: a capture is
 * made once per organisation (a fixed capture id); only for the organisations `serves` names.
 */
const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
const orgOf = (key: string) => DEMO_MEMBERS.indexOf(member(key)) + 1;
const gln = (key: string, ref = 1) => glnFor(member(key).companyPrefixes[0], ref);
const place = (key: string, ref = 1) => ({ id: `https://id.gs1.org/414/${gln(key, ref)}` });
const party = (key: string, ref = 1) => `https://id.gs1.org/417/${gln(key, ref)}`;
const lotClass = (gtin: string, lot: string) => `https://id.gs1.org/01/${gtin}/10/${lot}`;
const MINUTE = 60_000;

/** Fixed capture ids: the demo's captures are made once per organisation. */
const CAPTURE_IDS: Record<string, string> = {
  producer: "5eed0001-0000-4000-8000-000000000001",
  carrier: "5eed0001-0000-4000-8000-000000000004",
  processor: "5eed0001-0000-4000-8000-000000000002",
  processor2: "5eed0001-0000-4000-8000-000000000003",
  distributor: "5eed0001-0000-4000-8000-000000000005",
};

type Event = Record<string, unknown>;

/**
 * The freight leg the cheese maker declares on the butter pallet's shipping event (Lotline's EPCIS
 * transport fields, docs/analytics.md "Transport legs"): by road from its Lyon plant to the carrier's
 * cross-dock, the pallet's gross mass (900 kg of butter in cartons, and the pallet). No carrier factor
 * is given, so the road default applies (emissions.ts). The pallet holds the butter lot alone, so the
 * lot carries the whole leg: 180 km × 0.96 t × 0.107 kg CO2e/tkm = 18.4896 kg CO2e.
 */
export const DEMO_PALLET_LEG = { transportMode: "road", distanceKm: 180, tonnes: 0.96 } as const;

/** Lotline's EPCIS namespace, declared in @context by a document whose events carry its fields. */
const LOTLINE_CONTEXT = { lotline: "https://lotline.dev/epcis/" };

/** The demo goods the events name (supply-chain.ts's DEMO_GOODS, passed in: supply-chain.ts calls this module). */
export interface DemoGoods {
  rawMilk: string;
  butter: string;
  butterUnit: string;
}

/** Temperature readings (°C) at the given times, one sensor element each (EPCIS 2.0 sensorElementList). */
function temperatures(deviceId: string, readings: [number, number][]): Event[] {
  return readings.map(([at, value]) => ({
    sensorMetadata: { time: new Date(at).toISOString(), deviceID: deviceId },
    sensorReport: [{ type: "gs1:Temperature", value, uom: "CEL" }],
  }));
}

function objectEvent(at: number, fields: Event): Event {
  return { type: "ObjectEvent", eventTime: new Date(at).toISOString(), eventTimeZoneOffset: "+00:00", ...fields };
}

/** The demo's events by capturing organisation, or null when the index lacks the demo's batches. */
export function demoEpcisEvents(db: Db, DEMO_GOODS: DemoGoods): Record<string, Event[]> | null {
  const createdAt = (batchId: string) =>
    (prepared(db, `SELECT created_at FROM batches WHERE batch_id = ?`).get(batchId) as { created_at: string } | undefined)?.created_at;
  const portions = (lotId: string) =>
    prepared(db, `SELECT batch_id, created_at FROM batches WHERE lot_id = ? ORDER BY created_block, rowid`).all(lotId) as {
      batch_id: string;
      created_at: string;
    }[];
  const lotA = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-A");
  const lotB = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-B");
  const butter = lotIdOf(DEMO_GOODS.butter, "BTR-2611");
  const [registered, butterMade] = [createdAt(lotA), createdAt(butter)].map((t) => (t ? Date.parse(t) : NaN));
  // Lot A's first portion: the 12,000 l offered to the carrier.
  const shipped = portions(lotA)[1]?.created_at;
  if (!Number.isFinite(registered) || !Number.isFinite(butterMade) || !shipped || !createdAt(lotB)) return null;
  const ship = Date.parse(shipped);
  const milkA = lotClass(DEMO_GOODS.rawMilk, "MILK-2611-A");
  const milkB = lotClass(DEMO_GOODS.rawMilk, "MILK-2611-B");
  const pallet = `https://id.gs1.org/00/${DEMO_GOODS.butterUnit}`;
  const tanker = "urn:lotline:demo:sensor:rijnvaart-tanker-12";
  const palletLogger = "urn:lotline:demo:sensor:lyon-pallet-logger-3";
  // The pallet is packed two days after churning and unpacked by the distributor a day later (supply-chain.ts): it
  // leaves the cheese maker half an hour after packing and reaches the distributor 23 h later, before the unpacking —
  // an event naming the pallet is about what the chain says it held at the event's time (services/store/logistic-units.ts).
  const palletOut = butterMade + 2 * 24 * 60 * MINUTE + 30 * MINUTE;
  const palletIn = palletOut + 23 * 60 * MINUTE;

  return {
    producer: [
      objectEvent(registered - 20 * MINUTE, {
        action: "ADD",
        bizStep: "commissioning",
        disposition: "active",
        readPoint: place("producer", 1),
        bizLocation: place("producer", 1),
        quantityList: [{ epcClass: milkA, quantity: 20000, uom: "LTR" }],
        sensorElementList: temperatures("urn:lotline:demo:sensor:alpenmilch-tank-1", [
          [registered - 140 * MINUTE, 3.9],
          [registered - 80 * MINUTE, 4.1],
          [registered - 20 * MINUTE, 3.8],
        ]),
      }),
      objectEvent(registered - 15 * MINUTE, {
        action: "ADD",
        bizStep: "commissioning",
        disposition: "active",
        readPoint: place("producer", 2),
        bizLocation: place("producer", 2),
        quantityList: [{ epcClass: milkB, quantity: 15000, uom: "LTR" }],
        sensorElementList: temperatures("urn:lotline:demo:sensor:alpenmilch-tank-2", [[registered - 15 * MINUTE, 4.3]]),
      }),
      objectEvent(ship - 10 * MINUTE, {
        action: "OBSERVE",
        bizStep: "shipping",
        disposition: "in_transit",
        readPoint: place("producer", 1),
        quantityList: [{ epcClass: milkA, quantity: 12000, uom: "LTR" }],
        destinationList: [{ type: "possessing_party", destination: party("carrier") }],
        sensorElementList: temperatures("urn:lotline:demo:sensor:alpenmilch-tank-1", [[ship - 10 * MINUTE, 4.0]]),
      }),
    ],
    carrier: [
      objectEvent(ship + 5 * MINUTE, {
        action: "OBSERVE",
        bizStep: "receiving",
        disposition: "in_transit",
        readPoint: place("carrier", 1),
        bizLocation: place("carrier", 1),
        quantityList: [{ epcClass: milkA, quantity: 12000, uom: "LTR" }],
        sensorElementList: temperatures(tanker, [[ship + 5 * MINUTE, 4.2]]),
      }),
      objectEvent(ship + 5 * 60 * MINUTE, {
        action: "OBSERVE",
        bizStep: "transporting",
        disposition: "in_transit",
        readPoint: place("carrier", 1),
        quantityList: [{ epcClass: milkA, quantity: 12000, uom: "LTR" }],
        sensorElementList: temperatures(tanker, [
          [ship + 60 * MINUTE, 3.1],
          [ship + 2 * 60 * MINUTE, 3.6],
          [ship + 3 * 60 * MINUTE, 4.4],
          [ship + 4 * 60 * MINUTE, 4.1],
          [ship + 5 * 60 * MINUTE, 3.9],
        ]),
      }),
    ],
    processor: [
      objectEvent(ship + 6 * 60 * MINUTE + 20 * MINUTE, {
        action: "OBSERVE",
        bizStep: "receiving",
        disposition: "in_progress",
        readPoint: place("processor", 1),
        bizLocation: place("processor", 1),
        quantityList: [{ epcClass: milkA, quantity: 12000, uom: "LTR" }],
        // The intake probe: above the raw milk's 2–6 °C (the tanker's last reading was 3.9 °C).
        sensorElementList: temperatures("urn:lotline:demo:sensor:brabant-intake-probe", [[ship + 6 * 60 * MINUTE + 20 * MINUTE, 6.8]]),
      }),
    ],
    processor2: [
      objectEvent(palletOut, {
        action: "OBSERVE",
        bizStep: "shipping",
        disposition: "in_transit",
        readPoint: place("processor2", 1),
        epcList: [pallet],
        sourceList: [{ type: "location", source: place("processor2", 1).id }],
        destinationList: [
          { type: "possessing_party", destination: party("carrier", 2) },
          { type: "location", destination: place("carrier", 2).id },
        ],
        sensorElementList: temperatures(palletLogger, [[palletOut, 4.8]]),
        "lotline:transportMode": DEMO_PALLET_LEG.transportMode,
        "lotline:distanceKm": DEMO_PALLET_LEG.distanceKm,
        "lotline:tonnes": DEMO_PALLET_LEG.tonnes,
      }),
    ],
    distributor: [
      objectEvent(palletIn, {
        action: "OBSERVE",
        bizStep: "receiving",
        disposition: "in_progress",
        readPoint: place("distributor", 1),
        bizLocation: place("distributor", 1),
        epcList: [pallet],
        sensorElementList: temperatures(palletLogger, [
          [palletOut + 8 * 60 * MINUTE, 5.6],
          [palletOut + 16 * 60 * MINUTE, 6.1],
          [palletIn, 5.2],
        ]),
      }),
    ],
  };
}

/**
 * Captures the demo's EPCIS events of the organisations this node serves (POST /epcis/capture's
 * path: validated, stored as a capture of the organisation's wallet, then the capture job hashes,
 * stores and queues them). Returns the number of captures made.
 */
export function seedDemoEpcis(db: Db, goods: DemoGoods, serves: (orgId: number) => boolean = () => true): number {
  const byOrg = demoEpcisEvents(db, goods);
  if (!byOrg) return 0;
  let made = 0;
  for (const [key, events] of Object.entries(byOrg)) {
    const orgId = orgOf(key);
    if (!serves(orgId)) continue;
    const captureId = CAPTURE_IDS[key];
    if (prepared(db, `SELECT 1 FROM epcis_captures WHERE capture_id = ?`).get(captureId)) continue;
    const extended = events.some((e) => Object.keys(e).some((k) => k.startsWith("lotline:")));
    const doc = {
      "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", ...(extended ? [LOTLINE_CONTEXT] : [])],
      type: "EPCISDocument",
      schemaVersion: "2.0",
      creationDate: new Date().toISOString(),
      epcisBody: { eventList: events },
    };
    const checked = validateEpcisDocument(doc);
    if (!checked.valid) throw new Error(`the demo's EPCIS events of ${key} are not valid EPCIS 2.0: ${checked.errors.map((e) => e.message).join("; ")}`);
    insertCapture(db, {
      captureId,
      orgId,
      agent: demoWallet(member(key).account).address,
      contentType: "application/ld+json",
      document: JSON.stringify(doc),
      errorBehaviour: "rollback",
      total: events.length,
    });
    made++;
  }
  // The node's job loop runs the capture job next (before anchoring), which stores, anchors and maps them.
  return made;
}
