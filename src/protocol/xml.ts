/**
 * XML in both directions for awsQuery responses and rest-xml bodies, driven by shapes:
 * element names from locationName, lists wrapped in <member> (or the list member's locationName)
 * unless flattened, maps as <entry><key/><value/></entry>, timestamps ISO 8601, blobs base64.
 */
import { XMLParser } from 'fast-xml-parser';
import type { Shape, ServiceModel } from '../model/model.js';
import { formatTimestamp, scalarFromString, type TimestampFormat } from './values.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };
export const escapeXml = (s: string) => (/[&<>"'\r]/.test(s) ? s.replace(/[&<>"'\r]/g, (c) => ESCAPES[c]) : s);

function scalarText(shape: Shape, value: unknown): string {
  switch (shape.type) {
    case 'timestamp':
      return String(formatTimestamp(value as Date, (shape.timestampFormat as TimestampFormat) ?? 'iso8601'));
    case 'blob':
      return Buffer.isBuffer(value) ? value.toString('base64') : Buffer.from(String(value)).toString('base64');
    case 'float':
    case 'double': {
      const n = value as number;
      return Number.isNaN(n) ? 'NaN' : n === Infinity ? 'Infinity' : n === -Infinity ? '-Infinity' : String(n);
    }
    default:
      return escapeXml(String(value));
  }
}

/** Appends the XML for the members of structure `shape` (without a wrapping element) to `out`. */
export function writeMembers(model: ServiceModel, shape: Shape, value: Record<string, unknown>, out: string[]) {
  for (const name in shape.members) {
    const v = value[name];
    if (v === undefined || v === null) continue;
    const member = model.member(shape, name);
    if (member.location || member.xmlAttribute) continue;
    writeElement(model, member, member.locationName ?? name, v, out);
  }
}

export function writeElement(model: ServiceModel, shape: Shape, tag: string, value: unknown, out: string[], nsAttr = '') {
  switch (shape.type) {
    case 'structure': {
      let attrs = nsAttr;
      for (const name in shape.members) {
        const m = model.member(shape, name);
        const v = (value as Record<string, unknown>)[name];
        if (m.xmlAttribute && v !== undefined) attrs += ` ${m.locationName ?? name}="${escapeXml(String(v))}"`;
      }
      if (shape.xmlNamespace && !nsAttr) {
        const ns = shape.xmlNamespace;
        attrs += ns.prefix ? ` xmlns:${ns.prefix}="${ns.uri}"` : ` xmlns="${ns.uri}"`;
      }
      out.push(`<${tag}${attrs}>`);
      writeMembers(model, shape, value as Record<string, unknown>, out);
      out.push(`</${tag}>`);
      return;
    }
    case 'list': {
      const member = model.resolve(shape.member!);
      const items = value as unknown[];
      if (shape.flattened) {
        const itemTag = member.locationName ?? tag;
        for (const item of items) writeElement(model, member, itemTag, item, out);
      } else {
        out.push(`<${tag}>`);
        const itemTag = member.locationName ?? 'member';
        for (const item of items) writeElement(model, member, itemTag, item, out);
        out.push(`</${tag}>`);
      }
      return;
    }
    case 'map': {
      const key = model.resolve(shape.key!);
      const val = model.resolve(shape.value!);
      const keyTag = key.locationName ?? 'key';
      const valTag = val.locationName ?? 'value';
      const entries = value instanceof Map ? [...value.entries()] : Object.entries(value as object);
      if (!shape.flattened) out.push(`<${tag}>`);
      for (const [k, v] of entries) {
        out.push(shape.flattened ? `<${tag}>` : '<entry>');
        writeElement(model, key, keyTag, k, out);
        writeElement(model, val, valTag, v, out);
        out.push(shape.flattened ? `</${tag}>` : '</entry>');
      }
      if (!shape.flattened) out.push(`</${tag}>`);
      return;
    }
    default:
      out.push(`<${tag}${nsAttr}>${scalarText(shape, value)}</${tag}>`);
  }
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  isArray: () => true,
  removeNSPrefix: true,
  processEntities: true,
});

export type XmlNode = Record<string, unknown> | string;

/** Parses an XML document into fast-xml-parser's tree (every element an array); throws on malformed XML. */
export function parseXmlDocument(text: string): Record<string, XmlNode[]> {
  return parser.parse(text, true) as Record<string, XmlNode[]>;
}

const textOf = (node: XmlNode): string =>
  typeof node === 'string'
    ? node
    : typeof node['#text'] === 'string'
      ? (node['#text'] as string)
      : Array.isArray(node['#text'])
        ? String((node['#text'] as string[]).join(''))
        : '';

/** Reads the members of structure `shape` from an element node. */
export function readStructure(model: ServiceModel, shape: Shape, node: XmlNode, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof node === 'string') return out;
  for (const name in shape.members) {
    const member = model.member(shape, name);
    if (member.location) continue;
    const tag = member.locationName ?? name;
    if (member.xmlAttribute) {
      const attr = node[`@${tag}`];
      if (attr !== undefined) out[name] = scalarFromString(member, String(attr), `${path}${name}`);
      continue;
    }
    if (member.type === 'list' && member.flattened) {
      const item = model.resolve(member.member!);
      const nodes = node[item.locationName ?? tag] as XmlNode[] | undefined;
      if (nodes) out[name] = nodes.map((n) => readValue(model, item, n, `${path}${name}.member`));
      continue;
    }
    const nodes = node[tag] as XmlNode[] | undefined;
    if (nodes && nodes.length) out[name] = readValue(model, member, nodes[0], `${path}${name}`);
  }
  return out;
}

export function readValue(model: ServiceModel, shape: Shape, node: XmlNode, path: string): unknown {
  switch (shape.type) {
    case 'structure':
      return readStructure(model, shape, node, path + '.');
    case 'list': {
      const item = model.resolve(shape.member!);
      if (typeof node === 'string') return [];
      const nodes = (node[item.locationName ?? 'member'] as XmlNode[]) ?? [];
      return nodes.map((n) => readValue(model, item, n, `${path}.member`));
    }
    case 'map': {
      const key = model.resolve(shape.key!);
      const val = model.resolve(shape.value!);
      const out: Record<string, unknown> = {};
      if (typeof node === 'string') return out;
      for (const entry of (node.entry as XmlNode[]) ?? []) {
        if (typeof entry === 'string') continue;
        const k = textOf(((entry[key.locationName ?? 'key'] as XmlNode[]) ?? [''])[0]);
        const v = ((entry[val.locationName ?? 'value'] as XmlNode[]) ?? [])[0];
        out[k] = v === undefined ? undefined : readValue(model, val, v, `${path}.${k}`);
      }
      return out;
    }
    default:
      return scalarFromString(shape, textOf(node), path);
  }
}
