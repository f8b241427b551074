/**
 * OTLP/protobuf: a reader for ExportTraceServiceRequest (opentelemetry-proto trace/v1), the few
 * messages of it that carry spans, straight into the plain span objects otlp.ts converts. Protobuf's
 * wire format is small (varints, 64- and 32-bit fixed, length-delimited); unknown fields are skipped,
 * as the format requires, so newer exporters' additions pass through.
 *
 *   ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1 }
 *   ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2 }
 *   Resource { repeated KeyValue attributes = 1 }
 *   ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2 }
 *   Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; SpanKind kind = 6;
 *          fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9;
 *          repeated Event events = 11; Status status = 15 }
 *   Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3 }
 *   Status { string message = 2; StatusCode code = 3 }
 *   KeyValue { string key = 1; AnyValue value = 2 }
 *   AnyValue { string 1 | bool 2 | int64 3 | double 4 | ArrayValue 5 | KeyValueList 6 | bytes 7 }
 */
import type { Attributes, OtlpResourceSpans, OtlpSpan } from './otlp.js';

export class ProtobufError extends Error {}

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint');
      const b = this.buf[this.pos++];
      // past 2^53 the low bits are lost, as for any JavaScript number
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new ProtobufError('varint too long');
    }
  }

  /** A length-delimited field's bounds. */
  sub(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new ProtobufError('truncated field');
    this.pos += len;
    return [start, start + len];
  }

  fixed64(): number {
    if (this.pos + 8 > this.end) throw new ProtobufError('truncated fixed64');
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    return hi * 4294967296 + lo;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new ProtobufError('truncated double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  skip(wireType: number) {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.sub();
    else if (wireType === 5) this.pos += 4;
    else throw new ProtobufError(`unsupported wire type ${wireType}`);
    if (this.pos > this.end) throw new ProtobufError('truncated field');
  }

  /** Calls fn(field, wireType) for each field up to the end of this message. */
  fields(fn: (field: number, wireType: number) => boolean | void) {
    while (this.pos < this.end) {
      const tag = this.varint();
      const field = Math.floor(tag / 8);
      const wt = tag & 7;
      if (fn(field, wt) !== true) this.skip(wt);
    }
  }

  at(range: [number, number]) {
    return new Reader(this.buf, range[0], range[1]);
  }
  text(range: [number, number]) {
    return this.buf.toString('utf8', range[0], range[1]);
  }
  hex(range: [number, number]) {
    return this.buf.toString('hex', range[0], range[1]);
  }
}

function anyValue(r: Reader): unknown {
  let v: unknown;
  r.fields((f, wt) => {
    if (f === 1 && wt === 2) v = r.text(r.sub());
    else if (f === 2 && wt === 0) v = r.varint() !== 0;
    else if (f === 3 && wt === 0) {
      const n = r.varint();
      v = n >= 2 ** 63 ? n - 2 ** 64 : n;
    } else if (f === 4 && wt === 1) v = r.double();
    else if (f === 5 && wt === 2) {
      const list: unknown[] = [];
      const a = r.at(r.sub());
      a.fields((ff, wtt) => {
        if (ff !== 1 || wtt !== 2) return false;
        list.push(anyValue(a.at(a.sub())));
        return true;
      });
      v = list;
    } else if (f === 6 && wt === 2) v = keyValues(r.at(r.sub()), 1);
    else if (f === 7 && wt === 2) v = r.buf.toString('base64', ...r.sub());
    else return false;
    return true;
  });
  return v;
}

/** The KeyValue messages at `field` of the message `r` reads, as an object. */
function keyValues(r: Reader, field: number, into: Attributes = {}): Attributes {
  r.fields((f, wt) => {
    if (f !== field || wt !== 2) return false;
    keyValue(r.at(r.sub()), into);
    return true;
  });
  return into;
}

function keyValue(r: Reader, into: Attributes) {
  let key = '';
  let value: unknown;
  r.fields((f, wt) => {
    if (f === 1 && wt === 2) key = r.text(r.sub());
    else if (f === 2 && wt === 2) value = anyValue(r.at(r.sub()));
    else return false;
    return true;
  });
  into[key] = value;
}

function span(r: Reader): OtlpSpan {
  const s: OtlpSpan = { traceId: '', spanId: '', name: '', kind: 0, start: 0, end: 0, attributes: {}, events: [], status: { code: 0 } };
  r.fields((f, wt) => {
    if (wt === 2) {
      const range = r.sub();
      if (f === 1) s.traceId = r.hex(range);
      else if (f === 2) s.spanId = r.hex(range);
      else if (f === 4) s.parentSpanId = range[1] > range[0] ? r.hex(range) : undefined;
      else if (f === 5) s.name = r.text(range);
      else if (f === 9) keyValue(r.at(range), s.attributes);
      else if (f === 11) {
        const e = { time: 0, name: '', attributes: {} as Attributes };
        const er = r.at(range);
        er.fields((ef, ewt) => {
          if (ef === 1 && ewt === 1) e.time = er.fixed64() / 1e9;
          else if (ef === 2 && ewt === 2) e.name = er.text(er.sub());
          else if (ef === 3 && ewt === 2) keyValue(er.at(er.sub()), e.attributes);
          else return false;
          return true;
        });
        s.events.push(e);
      } else if (f === 15) {
        const sr = r.at(range);
        sr.fields((sf, swt) => {
          if (sf === 2 && swt === 2) s.status.message = sr.text(sr.sub());
          else if (sf === 3 && swt === 0) s.status.code = sr.varint();
          else return false;
          return true;
        });
      }
      return true;
    }
    if (f === 6 && wt === 0) s.kind = r.varint();
    else if (f === 7 && wt === 1) s.start = r.fixed64() / 1e9;
    else if (f === 8 && wt === 1) s.end = r.fixed64() / 1e9;
    else return false;
    return true;
  });
  return s;
}

/** Decodes an ExportTraceServiceRequest; throws ProtobufError on bytes that are not one. */
export function decodeTraceRequest(buf: Buffer): OtlpResourceSpans[] {
  const out: OtlpResourceSpans[] = [];
  const r = new Reader(buf);
  r.fields((f, wt) => {
    if (f !== 1 || wt !== 2) return false;
    const rs: OtlpResourceSpans = { resource: {}, scopes: [] };
    const rr = r.at(r.sub());
    rr.fields((rf, rwt) => {
      if (rf === 1 && rwt === 2) keyValues(rr.at(rr.sub()), 1, rs.resource);
      else if (rf === 2 && rwt === 2) {
        const scope = { name: '', spans: [] as OtlpSpan[] };
        const sr = rr.at(rr.sub());
        sr.fields((sf, swt) => {
          if (sf === 1 && swt === 2) {
            const ir = sr.at(sr.sub());
            ir.fields((i, iwt) => {
              if (i !== 1 || iwt !== 2) return false;
              scope.name = ir.text(ir.sub());
              return true;
            });
          } else if (sf === 2 && swt === 2) scope.spans.push(span(sr.at(sr.sub())));
          else return false;
          return true;
        });
        rs.scopes.push(scope);
      } else return false;
      return true;
    });
    out.push(rs);
    return true;
  });
  return out;
}

/** A google.rpc.Status { int32 code = 1; string message = 2 } for an OTLP error response. */
export function encodeStatus(code: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const len: number[] = [];
  let n = msg.length;
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x08, code, 0x12, ...len]), msg]);
}
