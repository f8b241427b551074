/**
 * The message on its way to one subscription, and how it is stored in sns_deliveries (JSON, binary
 * attribute values in base64) so a restart can resume its delivery.
 */

/** One message on its way to one subscription: what Publish accepted, resolved for that protocol. */
export interface Outgoing {
  type: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  messageId: string;
  message: string;
  subject?: string;
  timestamp: string;
  token?: string;
  attributes?: Record<string, { DataType: string; StringValue?: string; BinaryValue?: Buffer }>;
  sequenceNumber?: string;
  /** Signatures already made for this message, shared by its fan-out: the signed fields are the same for every subscription. */
  signatures?: Map<string, Promise<string>>;
}

export type Attributes = NonNullable<Outgoing['attributes']>;

type StoredAttributes = Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }>;

/** Message attributes as JSON: binary values in base64. */
export function encodeAttributes(attrs: Attributes | undefined): StoredAttributes | undefined {
  if (!attrs) return undefined;
  return Object.fromEntries(
    Object.entries(attrs).map(([k, a]) => [
      k,
      a.BinaryValue !== undefined
        ? { ...a, BinaryValue: Buffer.from(a.BinaryValue).toString('base64') }
        : { DataType: a.DataType, StringValue: a.StringValue },
    ]),
  );
}

export function decodeAttributes(attrs: StoredAttributes | undefined): Attributes | undefined {
  if (!attrs) return undefined;
  return Object.fromEntries(
    Object.entries(attrs).map(([k, a]) => [
      k,
      a.BinaryValue !== undefined
        ? { ...a, BinaryValue: Buffer.from(a.BinaryValue, 'base64') }
        : { DataType: a.DataType, StringValue: a.StringValue },
    ]),
  );
}

/** An Outgoing as stored in sns_deliveries (the signature cache stays in memory). */
export function encodeOutgoing(out: Outgoing): string {
  const { signatures: _, attributes, ...rest } = out;
  return JSON.stringify({ ...rest, attributes: encodeAttributes(attributes) });
}

export function decodeOutgoing(text: string): Outgoing {
  const o = JSON.parse(text);
  return { ...o, attributes: decodeAttributes(o.attributes) };
}
