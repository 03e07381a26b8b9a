import { countryOfGln } from "./countries";

/**
 * Hand-overs faster than the locations allow (pure). Goods cannot be at a location in one country
 * and, less than MIN_CROSS_BORDER_TRANSIT_HOURS later, at a location in another: two consecutive
 * located entries of the same batch (registration, hand-overs, observations, EPCIS events) at
 * different GLNs whose GS1 prefixes belong to different countries, closer in time than that, are
 * flagged. 6 h is a deliberately low bar — the shortest cross-border legs of European road freight
 * (a neighbouring country's nearest distribution centre, loading and unloading included) — so
 * that a flag means a record is wrong (a hand-over recorded without the goods moving, a wrong GLN,
 * a clock error) rather than a fast lorry. Same-country moves are not judged: GS1 prefixes do not
 * say how far apart two sites are. The country is the GS1 Member Organisation's of the prefix
 * (see countries.ts), an approximation.
 */
export const MIN_CROSS_BORDER_TRANSIT_HOURS = 6;

export interface LocatedEntry {
  /** Epoch ms. */
  at: number;
  gln: string;
  /** The timeline entry or EPCIS business step. */
  type: string;
  source: "chain" | "epcis";
  /** A transaction hash or an eventID. */
  ref?: string;
}

export interface FastHandover {
  from: LocatedEntry & { country: string };
  to: LocatedEntry & { country: string };
  hours: number;
  minimumHours: number;
}

export function fastHandovers(entries: readonly LocatedEntry[], minimumHours = MIN_CROSS_BORDER_TRANSIT_HOURS): FastHandover[] {
  const sorted = entries.filter((e) => /^[0-9]{13}$/.test(e.gln)).sort((a, b) => a.at - b.at);
  const flagged: FastHandover[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (a.gln === b.gln) continue;
    const ca = countryOfGln(a.gln);
    const cb = countryOfGln(b.gln);
    if (!ca || !cb || ca === cb) continue;
    const hours = (b.at - a.at) / 3_600_000;
    if (hours < minimumHours) {
      flagged.push({
        from: { ...a, country: ca },
        to: { ...b, country: cb },
        hours: Math.round(hours * 1000) / 1000,
        minimumHours,
      });
    }
  }
  return flagged;
}
