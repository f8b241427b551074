/**
 * The internal event bus. Services publish what happened as EventBridge-shaped events
 * ("CodeCommit Repository State Change", "CloudWatch Alarm State Change" …); pipelines, rules,
 * notifications, DORA metrics and the console subscribe. Delivery is synchronous and in order;
 * a subscriber that throws is logged and never breaks the publisher.
 */
import { randomUUID } from 'node:crypto';
import { log } from './log.js';

export interface BusEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export type Subscriber = (event: BusEvent) => void;

export class EventBus {
  private subscribers = new Set<Subscriber>();

  subscribe(fn: Subscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  publish(e: Omit<BusEvent, 'version' | 'id' | 'time'> & { time?: string }): BusEvent {
    const event: BusEvent = { version: '0', id: randomUUID(), time: e.time ?? new Date().toISOString(), ...e };
    for (const fn of this.subscribers) {
      try {
        fn(event);
      } catch (err) {
        log.error('event subscriber failed', { detailType: event['detail-type'], err: String(err) });
      }
    }
    return event;
  }
}
