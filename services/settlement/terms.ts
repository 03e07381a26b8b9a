/**
 * Defaults for the dispute fallback of an order's terms (docs/adr/0008-settlement-model.md): a
 * dispute or freeze nobody decides within `timeoutSeconds` may be settled by anyone at
 * `sellerShareBps` of the contested value to the seller (the rest to the buyer). The CLI and the
 * demo use these when the buyer names none.
 */
export const DISPUTE_DEFAULTS = { timeoutSeconds: 30 * 24 * 3600, sellerShareBps: 5_000 } as const;

/** The contract's bound on the dispute timeout (SettlementEscrow.MAX_DISPUTE_TIMEOUT). */
export const MAX_DISPUTE_TIMEOUT_SECONDS = 365 * 24 * 3600;
