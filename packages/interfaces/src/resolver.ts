/** Name resolution, in the shape of `node:dns`'s `lookup`. */

export interface LookupAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

export interface LookupOptions {
  /** 4, 6, or 0 (default) for either. */
  readonly family?: 0 | 4 | 6;
  /** Resolve with every address instead of the first. */
  readonly all?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Looks up host names. Errors use `node:dns` codes: `ENOTFOUND` (the name does
 * not exist), `ENODATA` (no address of that family), `ETIMEOUT`, `ESERVFAIL`,
 * `EREFUSED`, with `hostname` set. A literal IP address resolves to itself.
 */
export interface Resolver {
  lookup(hostname: string, opts: LookupOptions & { readonly all: true }): Promise<LookupAddress[]>;
  lookup(hostname: string, opts?: LookupOptions): Promise<LookupAddress>;
}
