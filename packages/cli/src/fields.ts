/** A dissected field value, in tshark's conventions: numbers as numbers, MACs and IPv4 addresses as strings. */
export type FieldValue = number | string;

/**
 * The fields of one frame in the order they were decoded. A field that occurs
 * more than once (the outer and the quoted IP header of an ICMP error) keeps
 * every value.
 */
export class FieldList {
  private readonly map = new Map<string, FieldValue[]>();

  add(name: string, value: FieldValue): void {
    const list = this.map.get(name);
    if (list === undefined) this.map.set(name, [value]);
    else list.push(value);
  }

  get(name: string): FieldValue[] | undefined {
    return this.map.get(name);
  }

  names(): string[] {
    return [...this.map.keys()];
  }

  /** One value per field, an array where the field occurred more than once. */
  toJSON(): Record<string, FieldValue | FieldValue[]> {
    const out: Record<string, FieldValue | FieldValue[]> = {};
    for (const [k, v] of this.map) out[k] = v.length === 1 ? v[0]! : v;
    return out;
  }
}
