import type { Db } from "../store/db";
import { reportSubscriptions } from "../epcis/subscriptions";
import { fanOutNotifications } from "../notifications/store";
import { deliverDue, reinstateRolledBack, type SendOptions } from "./outbox";
import { liveStreamsFor } from "./live";

export interface DeliveryJobOptions extends SendOptions {
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

/**
 * The node's delivery job (one of its background jobs, services/node): queues the reports of due
 * EPCIS subscriptions and the notifications not yet handed out (pushing them to the open sockets
 * that take them too, services/delivery/live.ts, with the sockets' schedules and heartbeat), puts
 * back notifications whose rolled-back event was indexed again, then sends what is due from the
 * outbox. One run at a time.
 */
export function createDeliveryJob(db: Db, options: DeliveryJobOptions = {}) {
  const now = options.now ?? (() => new Date());
  let busy: Promise<void> | null = null;
  return {
    name: "webhook-deliveries",
    async runOnce(): Promise<void> {
      if (busy) return busy;
      busy = (async () => {
        reportSubscriptions(db, now);
        const live = liveStreamsFor(db);
        live.publish(fanOutNotifications(db, now));
        live.round(now());
        reinstateRolledBack(db);
        await deliverDue(db, { ...options, now });
      })().finally(() => {
        busy = null;
      });
      return busy;
    },
  };
}
export type DeliveryJob = ReturnType<typeof createDeliveryJob>;

const jobs = new WeakMap<Db, DeliveryJob>();

/** The delivery job of a database: one per database (the node's job loop, the WebSocket streams and tests share it). */
export function deliveryJobFor(db: Db, options?: DeliveryJobOptions): DeliveryJob {
  let job = jobs.get(db);
  if (!job) jobs.set(db, (job = createDeliveryJob(db, options)));
  return job;
}
