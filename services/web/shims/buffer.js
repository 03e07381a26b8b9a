// The part of Node's Buffer the EPCIS hash code uses (UTF-8 bytes, and comparing them), for the
// page's verifier bundle: esbuild injects it wherever that code names Buffer (routes/explorer.ts,
// verifierModule).
export const Buffer = {
  from: (text) => new TextEncoder().encode(text),
  compare(a, b) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  },
};
