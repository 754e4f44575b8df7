// A small authoritative DNS server on loopback UDP for the resolver tests: records are set and
// changed while it runs, every query is logged, and it can be told to stay silent. Names with no
// record at all get NXDOMAIN; names with records of other types get NODATA (NOERROR, no answer).
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
// dns-packet: a maintained encoder/decoder of DNS messages (NAPTR included), so the tests speak the
// real wire format to Node's resolver without a hand-written packet codec.
import * as packet from 'dns-packet';

type Data = {
  A: string;
  AAAA: string;
  SRV: packet.SrvData;
  NAPTR: packet.NaptrData;
};
type ServedType = keyof Data;

const RCODE_NXDOMAIN = 3;

export class TestDnsServer {
  readonly #socket = dgram.createSocket('udp4');
  readonly #zone = new Map<string, Map<ServedType, { data: unknown[]; ttl: number }>>();
  /** Every question received, in order, as `TYPE name`. */
  readonly queries: string[] = [];
  /** When true, queries are logged but never answered (a server that does not respond). */
  silent = false;

  /** Starts on 127.0.0.1, a free port; resolves to `127.0.0.1:port` for `setServers`. */
  async start(): Promise<string> {
    this.#socket.on('message', (msg, from) => this.#answer(msg, from));
    await new Promise<void>((resolve) => this.#socket.bind(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.#socket.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  /** Replaces the records of one name and type. */
  set<T extends ServedType>(name: string, type: T, data: Data[T][], ttl = 300): void {
    const key = name.toLowerCase();
    const byType = this.#zone.get(key) ?? new Map();
    byType.set(type, { data, ttl });
    this.#zone.set(key, byType);
  }

  /** Removes one record type of a name, or the whole name (then NXDOMAIN). */
  remove(name: string, type?: ServedType): void {
    const key = name.toLowerCase();
    if (type) this.#zone.get(key)?.delete(type);
    else this.#zone.delete(key);
  }

  /** How many questions were `TYPE name` (name case-insensitive). */
  count(type: ServedType, name: string): number {
    const wanted = `${type} ${name.toLowerCase()}`;
    return this.queries.filter((q) => q === wanted).length;
  }

  #answer(msg: Buffer, from: dgram.RemoteInfo): void {
    let query: packet.DecodedPacket;
    try {
      query = packet.decode(msg);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase();
    this.queries.push(`${question.type} ${name}`);
    if (this.silent) return;
    const byType = this.#zone.get(name);
    const rrset = byType?.get(question.type as ServedType);
    const answers = (rrset?.data ?? []).map(
      (data) => ({ type: question.type, name: question.name, ttl: rrset!.ttl, data }) as packet.Answer,
    );
    const reply = packet.encode({
      type: 'response',
      id: query.id,
      flags: packet.AUTHORITATIVE_ANSWER | packet.RECURSION_AVAILABLE | (byType ? 0 : RCODE_NXDOMAIN),
      questions: query.questions,
      answers,
    });
    this.#socket.send(reply, from.port, from.address);
  }
}
